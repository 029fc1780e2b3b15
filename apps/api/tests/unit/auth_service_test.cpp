#include "auth/auth_service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "auth/tokens.hpp"
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "test_support.hpp"

namespace medforge::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr Micros kStart = 1'700'000'000'000'000;
constexpr Micros kSecond = kMicrosPerSecond;
constexpr CredentialKind kCookie = CredentialKind::session_cookie;
constexpr CredentialKind kPat = CredentialKind::access_token;

// The ApiError `f` throws, or a failure when it returns normally.
template <typename F>
ApiError api_error(F&& f) {
    try {
        f();
    } catch (const ApiError& e) {
        return e;
    }
    ADD_FAILURE() << "no ApiError was thrown";
    return ApiError(0, "", "");
}

bool is_lower_hex64(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class AuthServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        config = load_config(mftest::env_from({}));
        config.session_secret = std::string(64, 's');
        config.auth_idle_ttl_seconds = 600;
        config.auth_max_ttl_seconds = 1800;
        db = mftest::open_migrated_sqlite(tmp, 4);
        svc = make_service(cache);
        hasher.reset_counts();
    }

    // Another API process: same DB and config, its own token cache.
    std::unique_ptr<AuthService> make_service(TokenCache& own_cache) {
        return std::make_unique<AuthService>(*db, config, hasher, clock, own_cache,
                                             [this](std::function<void()> fn) {
                                                 ++background_runs;
                                                 fn();
                                             });
    }

    IssuedLogin signup(const std::string& email = "alice@example.org",
                       const std::string& password = "correct horse") {
        return svc->signup(email, password, ClientInfo{"10.0.0.1", "unit-test"});
    }

    Principal principal(const std::string& token, CredentialKind kind = kCookie) {
        auto p = svc->authenticate(token, kind);
        if (!p) throw std::runtime_error("token did not authenticate");
        return *p;
    }

    std::string hash_of(const std::string& token) const {
        return token_hash(config.session_secret, token);
    }

    std::int64_t session_column(const std::string& column, const std::string& token) {
        return mftest::query_i64(*db,
                                 "SELECT " + column + " FROM auth_sessions WHERE token_hash = :h",
                                 {hash_of(token)});
    }

    std::optional<std::string> role_of(const std::string& email) {
        return db->with_connection([&](db::Connection& c) -> std::optional<std::string> {
            auto u = db::users::find_by_email(c, email);
            if (!u) return std::nullopt;
            return u->role;
        });
    }

    mftest::TempDir tmp;
    Config config;
    mftest::FakeHasher hasher;
    ManualClock clock{kStart};
    TokenCache cache{5 * kSecond};
    std::unique_ptr<db::Database> db;
    std::atomic<int> background_runs{0};
    std::unique_ptr<AuthService> svc;
};

TEST_F(AuthServiceTest, SignupLoginAuthenticate) {
    const IssuedLogin s = signup();
    EXPECT_TRUE(is_uuid(s.user.id));
    EXPECT_EQ(s.user.email, "alice@example.org");
    EXPECT_EQ(s.user.role, "user");
    // Never the email's local part: display names are public (leaderboards).
    EXPECT_EQ(s.user.display_name, "user-" + s.user.id.substr(0, 8));
    EXPECT_EQ(s.user.max_concurrent_sessions, 1);
    EXPECT_EQ(s.user.created_at, kStart);
    EXPECT_TRUE(plausible_token(s.token));
    EXPECT_GE(s.token.size(), 43u);
    EXPECT_EQ(hasher.hash_calls(), 1);

    const IssuedLogin l = svc->login("alice@example.org", "correct horse", {});
    EXPECT_EQ(l.user.id, s.user.id);
    EXPECT_NE(l.token, s.token);

    const auto p = svc->authenticate(l.token, kCookie);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->user_id, s.user.id);
    EXPECT_EQ(p->email, "alice@example.org");
    EXPECT_EQ(p->role, "user");
    EXPECT_FALSE(p->is_admin());
    EXPECT_EQ(p->kind, kCookie);
    EXPECT_TRUE(is_uuid(p->credential_id));
    EXPECT_EQ(p->token_hash, hash_of(l.token));
    EXPECT_TRUE(svc->authenticate(s.token, kCookie) != nullptr) << "a login keeps other logins";

    EXPECT_EQ(mftest::query_i64(*db,
                                "SELECT COUNT(*) FROM auth_sessions WHERE user_id = :u AND "
                                "ip = '10.0.0.1' AND user_agent = 'unit-test'",
                                {s.user.id}),
              1);
    EXPECT_EQ(session_column("expires_at", s.token), kStart + 600 * kSecond);
    EXPECT_EQ(session_column("last_seen_at", s.token), kStart);
}

TEST_F(AuthServiceTest, UnknownAndMalformedTokensAreRefused) {
    signup();
    EXPECT_FALSE(svc->authenticate(new_session_token(), kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate("", kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate("short", kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate(std::string(43, '.'), kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate_cached(new_session_token(), kCookie) != nullptr);
}

TEST_F(AuthServiceTest, WrongPasswordAndUnknownEmailLookAlike) {
    signup();

    hasher.reset_counts();
    const ApiError wrong = api_error([&] { svc->login("alice@example.org", "wrong horse", {}); });
    EXPECT_EQ(hasher.verify_calls(), 1);
    EXPECT_EQ(hasher.hash_calls(), 0);

    hasher.reset_counts();
    const ApiError unknown =
        api_error([&] { svc->login("nobody@example.org", "correct horse", {}); });
    EXPECT_EQ(hasher.verify_calls(), 1) << "unknown emails still pay one verification";
    EXPECT_EQ(hasher.hash_calls(), 0);

    hasher.reset_counts();
    const ApiError malformed = api_error([&] { svc->login("not an email", "whatever1", {}); });
    EXPECT_EQ(hasher.verify_calls(), 1);

    for (const ApiError* e : {&wrong, &unknown, &malformed}) {
        EXPECT_EQ(e->status(), 401);
        EXPECT_EQ(e->code(), "invalid_credentials");
        EXPECT_EQ(e->detail(), wrong.detail());
        EXPECT_THAT(e->errors(), IsEmpty());
    }

    hasher.reset_counts();
    svc->login("alice@example.org", "correct horse", {});
    EXPECT_EQ(hasher.verify_calls(), 1);
}

TEST_F(AuthServiceTest, EmailIsNormalisedAndUnique) {
    const IssuedLogin s = signup("  Alice@Example.ORG\t", "correct horse");
    EXPECT_EQ(s.user.email, "alice@example.org");
    EXPECT_EQ(svc->login(" ALICE@example.org ", "correct horse", {}).user.id, s.user.id);

    for (const char* again : {"alice@example.org", " ALICE@EXAMPLE.ORG"}) {
        const ApiError e = api_error([&] { signup(again, "other password"); });
        EXPECT_EQ(e.status(), 409) << again;
        EXPECT_EQ(e.code(), "email_taken") << again;
    }
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM users"), 1);
}

TEST_F(AuthServiceTest, InvalidEmailsAre422) {
    for (const std::string& bad :
         {std::string(""), std::string("   "), std::string("alice"), std::string("@example.org"),
          std::string("alice@"), std::string("a@b@c"), std::string("al ice@example.org"),
          std::string("alice@exa\x01mple.org"), std::string(310, 'a') + "@example.org"}) {
        const ApiError e = api_error([&] { signup(bad, "correct horse"); });
        EXPECT_EQ(e.status(), 422) << bad;
        ASSERT_THAT(e.errors(), SizeIs(1)) << bad;
        EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "email"}));
        EXPECT_EQ(e.errors()[0].type, "value_error.email");
    }
    EXPECT_EQ(hasher.hash_calls(), 0) << "no hashing for refused input";
}

TEST_F(AuthServiceTest, PasswordPolicyIs8To128Characters) {
    const std::string e_acute = "\xc3\xa9";
    auto repeat = [](const std::string& s, int n) {
        std::string out;
        for (int i = 0; i < n; ++i) out += s;
        return out;
    };
    int n = 0;
    auto email = [&] { return "user" + std::to_string(++n) + "@example.org"; };
    for (const std::string& good :
         {std::string(8, 'p'), std::string(128, 'p'), repeat(e_acute, 8), repeat(e_acute, 128)}) {
        EXPECT_NO_THROW(signup(email(), good)) << good.size() << " bytes";
    }
    for (const std::string& bad : {std::string(""), std::string(7, 'p'), std::string(129, 'p'),
                                   repeat(e_acute, 7), repeat(e_acute, 129)}) {
        const ApiError e = api_error([&] { signup(email(), bad); });
        EXPECT_EQ(e.status(), 422) << bad.size() << " bytes";
        ASSERT_THAT(e.errors(), SizeIs(1));
        EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body", "password"}));
        EXPECT_EQ(e.errors()[0].type, "value_error.password");
    }
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM users"), 4);
}

TEST_F(AuthServiceTest, IdleTtlExpiresUnusedLogins) {
    const IssuedLogin s = signup();
    clock.advance_seconds(599);
    const IssuedLogin fresh = svc->login("alice@example.org", "correct horse", {});
    clock.advance_seconds(1);  // kStart + 600 == the first login's expires_at
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_TRUE(svc->authenticate(fresh.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, IdleTtlIsCheckedOnCachedEntriesToo) {
    config.auth_idle_ttl_seconds = 60;
    const IssuedLogin s = signup();
    clock.advance_seconds(59);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);  // cached; too early to slide
    clock.advance_seconds(1);
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate_cached(s.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, ActivitySlidesTheIdleExpiryAtMostOncePerMinute) {
    const IssuedLogin s = signup();
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_EQ(background_runs, 0) << "no slide right after login";

    clock.advance_seconds(61);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
    const Micros slid_at = kStart + 61 * kSecond;
    EXPECT_EQ(background_runs, 1);
    EXPECT_EQ(session_column("last_seen_at", s.token), slid_at);
    EXPECT_EQ(session_column("expires_at", s.token), slid_at + 600 * kSecond);

    clock.advance_seconds(1);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_EQ(background_runs, 1) << "second request within the minute must not write";
    EXPECT_EQ(session_column("last_seen_at", s.token), slid_at);

    // The slid expiry is what counts: at kStart + 600 the login is alive.
    clock.set(kStart + 600 * kSecond);
    EXPECT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, SlideIsWrittenOnceAcrossProcesses) {
    TokenCache other_cache(5 * kSecond);
    auto other = make_service(other_cache);
    const IssuedLogin s = signup();

    clock.set(kStart + 58 * kSecond);
    ASSERT_TRUE(other->authenticate(s.token, kCookie) != nullptr);  // caches last_seen = start

    clock.set(kStart + 61 * kSecond);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);  // slides in the DB
    EXPECT_EQ(session_column("last_seen_at", s.token), kStart + 61 * kSecond);

    clock.set(kStart + 62 * kSecond);
    ASSERT_TRUE(other->authenticate(s.token, kCookie) != nullptr);  // stale cache wants to slide
    EXPECT_EQ(session_column("last_seen_at", s.token), kStart + 61 * kSecond)
        << "the DB refuses a second slide within the minute";
    EXPECT_EQ(session_column("expires_at", s.token), kStart + 661 * kSecond);
}

// spec: "Sliding the idle expiry and last_seen_at is written at most once per 60 s per token".
// The cache grants a slide when now - last_seen >= 60 s but the UPDATE requires
// last_seen_at < now - 60 s, so a request exactly 60 s later claims the slide and writes nothing.
TEST_F(AuthServiceTest, SlideExactlyOneMinuteLaterIsWritten) {
    const IssuedLogin s = signup();
    clock.advance_seconds(60);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_EQ(session_column("last_seen_at", s.token), kStart + 60 * kSecond);
    // The user was active at +60 s, so the login must live until +660 s.
    clock.set(kStart + 630 * kSecond);
    EXPECT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, MaxTtlEndsEvenAnActiveLogin) {
    const IssuedLogin s = signup();
    for (int t = 300; t < 1800; t += 300) {
        clock.set(kStart + t * kSecond);
        ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr) << "t=" << t;
    }
    clock.set(kStart + 1799 * kSecond);
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);

    clock.set(kStart + 1800 * kSecond);
    EXPECT_GT(session_column("expires_at", s.token), clock.now()) << "idle TTL is not the reason";
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr) << "cached path";

    TokenCache cold(5 * kSecond);
    EXPECT_FALSE(make_service(cold)->authenticate(s.token, kCookie) != nullptr) << "DB path";
}

TEST_F(AuthServiceTest, LogoutRefusesTheTokenAtOnce) {
    const IssuedLogin s = signup();
    const IssuedLogin other = svc->login("alice@example.org", "correct horse", {});
    ASSERT_TRUE(svc->authenticate(s.token, kCookie) != nullptr);  // now cached
    ASSERT_TRUE(svc->authenticate(other.token, kCookie) != nullptr);

    svc->logout(s.token);
    EXPECT_FALSE(svc->authenticate_cached(s.token, kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_EQ(mftest::query_i64(*db,
                                "SELECT COUNT(*) FROM auth_sessions WHERE token_hash = :h AND "
                                "revoked_at = :t",
                                {hash_of(s.token), kStart}),
              1);
    EXPECT_TRUE(svc->authenticate(other.token, kCookie) != nullptr) << "only this token goes";

    EXPECT_NO_THROW(svc->logout(s.token)) << "idempotent";
    EXPECT_NO_THROW(svc->logout("garbage"));
}

TEST_F(AuthServiceTest, OtherProcessServesALoggedOutTokenForAtMostFiveSeconds) {
    TokenCache other_cache(5 * kSecond);
    auto other = make_service(other_cache);
    const IssuedLogin s = signup();
    ASSERT_TRUE(other->authenticate(s.token, kCookie) != nullptr);  // cached at kStart

    svc->logout(s.token);
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_TRUE(other->authenticate(s.token, kCookie) != nullptr) << "documented staleness";
    clock.advance_seconds(4);
    EXPECT_TRUE(other->authenticate(s.token, kCookie) != nullptr);
    clock.set(kStart + 5 * kSecond + 1);
    EXPECT_FALSE(other->authenticate(s.token, kCookie) != nullptr);
    EXPECT_FALSE(other->authenticate_cached(s.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, AccessTokensCreateListAuthenticateRevoke) {
    const IssuedLogin s = signup();
    const Principal me = principal(s.token);
    const NewAccessToken t = svc->create_access_token(me, "ci laptop");
    EXPECT_EQ(t.token.rfind(kAccessTokenPrefix, 0), 0u);
    EXPECT_TRUE(plausible_token(t.token));
    EXPECT_TRUE(is_uuid(t.record.id));
    EXPECT_EQ(t.record.user_id, me.user_id);
    EXPECT_EQ(t.record.name, "ci laptop");

    const auto p = svc->authenticate(t.token, kPat);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, kPat);
    EXPECT_EQ(p->user_id, me.user_id);
    EXPECT_EQ(p->credential_id, t.record.id);

    EXPECT_FALSE(svc->authenticate(t.token, kCookie) != nullptr) << "a PAT is not a cookie";
    EXPECT_FALSE(svc->authenticate(s.token, kPat) != nullptr) << "a cookie is not a PAT";
    EXPECT_FALSE(svc->authenticate_cached(s.token, kPat) != nullptr);

    const auto list = svc->list_access_tokens(me, 0, "", 50);
    ASSERT_THAT(list, SizeIs(1));
    EXPECT_EQ(list[0].id, t.record.id);
    EXPECT_EQ(list[0].name, "ci laptop");
    EXPECT_FALSE(list[0].revoked_at.has_value());

    svc->revoke_access_token(me, t.record.id);
    EXPECT_FALSE(svc->authenticate(t.token, kPat) != nullptr) << "revocation drops the cache";
    EXPECT_THAT(svc->list_access_tokens(me, 0, "", 50), IsEmpty());
    const ApiError again = api_error([&] { svc->revoke_access_token(me, t.record.id); });
    EXPECT_EQ(again.status(), 404);
    EXPECT_EQ(again.code(), "token_not_found");
}

TEST_F(AuthServiceTest, AccessTokenUseIsRecorded) {
    const Principal me = principal(signup().token);
    const NewAccessToken t = svc->create_access_token(me, "script");
    clock.advance_seconds(10);
    ASSERT_TRUE(svc->authenticate(t.token, kPat) != nullptr);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT last_used_at FROM access_tokens WHERE id = :id",
                                {t.record.id}),
              kStart + 10 * kSecond);
    // Access tokens have no idle expiry.
    clock.advance_seconds(365 * 24 * 3600);
    EXPECT_TRUE(svc->authenticate(t.token, kPat) != nullptr);
}

TEST_F(AuthServiceTest, AccessTokensBelongToTheirOwner) {
    const Principal alice = principal(signup().token);
    const Principal bob = principal(signup("bob@example.org").token);
    const NewAccessToken t = svc->create_access_token(alice, "alice's");
    const ApiError e = api_error([&] { svc->revoke_access_token(bob, t.record.id); });
    EXPECT_EQ(e.status(), 404);
    EXPECT_TRUE(svc->authenticate(t.token, kPat) != nullptr);
    EXPECT_THAT(svc->list_access_tokens(bob, 0, "", 50), IsEmpty());
}

TEST_F(AuthServiceTest, AccessTokenListPaginates) {
    const Principal me = principal(signup().token);
    std::vector<NewAccessToken> made;
    for (int i = 0; i < 3; ++i) {
        made.push_back(svc->create_access_token(me, "t" + std::to_string(i)));
        clock.advance_seconds(1);
    }
    const auto first = svc->list_access_tokens(me, 0, "", 2);
    ASSERT_THAT(first, SizeIs(2));
    EXPECT_EQ(first[0].id, made[0].record.id);
    EXPECT_EQ(first[1].id, made[1].record.id);
    const auto rest = svc->list_access_tokens(me, first[1].created_at, first[1].id, 2);
    ASSERT_THAT(rest, SizeIs(1));
    EXPECT_EQ(rest[0].id, made[2].record.id);
}

TEST_F(AuthServiceTest, StoredTokenHashesAreHmacHex) {
    const IssuedLogin s = signup();
    const NewAccessToken t = svc->create_access_token(principal(s.token), "x");
    const auto stored_session = db->with_connection([&](db::Connection& c) {
        return c.query_one("SELECT token_hash FROM auth_sessions")->str(0);
    });
    const auto stored_pat = db->with_connection([&](db::Connection& c) {
        return c.query_one("SELECT token_hash FROM access_tokens")->str(0);
    });
    for (const auto& [stored, token] :
         {std::pair{stored_session, s.token}, std::pair{stored_pat, t.token}}) {
        EXPECT_TRUE(is_lower_hex64(stored)) << stored;
        EXPECT_NE(stored, token);
        EXPECT_EQ(stored, hash_of(token));
    }
}

TEST_F(AuthServiceTest, PasswordChangeNeedsTheCurrentPasswordAndRevokesOtherLogins) {
    const IssuedLogin current = signup("alice@example.org", "old password");
    const IssuedLogin elsewhere = svc->login("alice@example.org", "old password", {});
    const Principal me = principal(current.token);
    const NewAccessToken pat = svc->create_access_token(me, "script");
    ASSERT_TRUE(svc->authenticate(elsewhere.token, kCookie) != nullptr);  // cached
    ASSERT_TRUE(svc->authenticate(pat.token, kPat) != nullptr);           // cached

    for (const auto& patch :
         {ProfilePatch{.new_password = "new password"},
          ProfilePatch{.current_password = "wrong password", .new_password = "new password"}}) {
        const ApiError e = api_error([&] { svc->update_profile(me, patch); });
        EXPECT_EQ(e.status(), 403);
        EXPECT_EQ(e.code(), "current_password_incorrect");
    }
    EXPECT_TRUE(svc->authenticate(elsewhere.token, kCookie) != nullptr) << "nothing changed";

    const ApiError weak = api_error([&] {
        svc->update_profile(me, {.current_password = "old password", .new_password = "short"});
    });
    EXPECT_EQ(weak.status(), 422);

    svc->update_profile(me, {.current_password = "old password", .new_password = "new password"});
    EXPECT_TRUE(svc->authenticate(current.token, kCookie) != nullptr) << "this login stays";
    EXPECT_FALSE(svc->authenticate(elsewhere.token, kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate(pat.token, kPat) != nullptr);
    EXPECT_EQ(api_error([&] { svc->login("alice@example.org", "old password", {}); }).status(),
              401);
    EXPECT_NO_THROW(svc->login("alice@example.org", "new password", {}));
}

TEST_F(AuthServiceTest, PasswordChangeThroughAnAccessTokenKeepsThatToken) {
    const IssuedLogin cookie = signup("alice@example.org", "old password");
    const NewAccessToken pat = svc->create_access_token(principal(cookie.token), "script");
    const Principal via_pat = principal(pat.token, kPat);
    svc->update_profile(via_pat,
                        {.current_password = "old password", .new_password = "new password"});
    EXPECT_TRUE(svc->authenticate(pat.token, kPat) != nullptr);
    EXPECT_FALSE(svc->authenticate(cookie.token, kCookie) != nullptr);
}

TEST_F(AuthServiceTest, ProfileEmailAndDisplayName) {
    const Principal me = principal(signup().token);
    signup("bob@example.org");
    const auto updated =
        svc->update_profile(me, {.email = " Alice2@Example.org", .display_name = "Alice A."});
    EXPECT_EQ(updated.email, "alice2@example.org");
    EXPECT_EQ(updated.display_name, "Alice A.");
    EXPECT_EQ(svc->get_user(me.user_id).email, "alice2@example.org");

    const ApiError taken =
        api_error([&] { svc->update_profile(me, {.email = "BOB@example.org"}); });
    EXPECT_EQ(taken.status(), 409);
    EXPECT_EQ(taken.code(), "email_taken");
    EXPECT_EQ(svc->get_user(me.user_id).email, "alice2@example.org");
}

TEST_F(AuthServiceTest, GetUnknownUserIs404) {
    const ApiError e = api_error([&] { svc->get_user(uuid_v4()); });
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.code(), "user_not_found");
}

TEST_F(AuthServiceTest, TheLastAdminCannotBeDemoted) {
    const auto root = svc->create_admin("root@example.org", "admin password");
    EXPECT_EQ(root.role, "admin");
    const Principal admin = principal(svc->login("root@example.org", "admin password", {}).token);
    EXPECT_TRUE(admin.is_admin());

    const ApiError e = api_error([&] { svc->admin_update_user(admin, root.id, {.role = "user"}); });
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "last_admin");
    EXPECT_EQ(role_of("root@example.org"), "admin");

    const auto second = svc->create_admin("two@example.org", "admin password");
    EXPECT_EQ(svc->admin_update_user(admin, root.id, {.role = "user"}).role, "user");
    const ApiError last =
        api_error([&] { svc->admin_update_user(admin, second.id, {.role = "user"}); });
    EXPECT_EQ(last.code(), "last_admin");
}

TEST_F(AuthServiceTest, AdminUpdatesApplyAtOnce) {
    const auto root = svc->create_admin("root@example.org", "admin password");
    const Principal admin = principal(svc->login("root@example.org", "admin password", {}).token);
    const IssuedLogin bob = signup("bob@example.org");
    ASSERT_EQ(principal(bob.token).role, "user");  // cached

    const auto updated =
        svc->admin_update_user(admin, bob.user.id, {.role = "admin", .max_concurrent_sessions = 3});
    EXPECT_EQ(updated.role, "admin");
    EXPECT_EQ(updated.max_concurrent_sessions, 3);
    const Principal now = principal(bob.token);
    EXPECT_EQ(now.role, "admin") << "the cached principal was dropped";
    EXPECT_EQ(now.max_concurrent_sessions, 3);

    svc->admin_update_user(admin, bob.user.id, {.new_password = "reset password"});
    EXPECT_FALSE(svc->authenticate(bob.token, kCookie) != nullptr) << "a reset revokes logins";
    EXPECT_NO_THROW(svc->login("bob@example.org", "reset password", {}));

    const ApiError missing =
        api_error([&] { svc->admin_update_user(admin, uuid_v4(), {.role = "user"}); });
    EXPECT_EQ(missing.status(), 404);
    EXPECT_EQ(missing.code(), "user_not_found");
    (void)root;
}

TEST_F(AuthServiceTest, CreateAdminRefusesATakenEmail) {
    signup("root@example.org");
    const ApiError e = api_error([&] { svc->create_admin("ROOT@example.org", "admin password"); });
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "email_taken");
}

TEST_F(AuthServiceTest, BootstrapAdminCreatesOnce) {
    EXPECT_TRUE(svc->bootstrap_admin(" Boot@Example.org ", "bootstrap password"));
    EXPECT_EQ(role_of("boot@example.org"), "admin");
    EXPECT_NO_THROW(svc->login("boot@example.org", "bootstrap password", {}));

    EXPECT_FALSE(svc->bootstrap_admin("other@example.org", "other password"));
    EXPECT_EQ(role_of("other@example.org"), std::nullopt);
    EXPECT_FALSE(svc->bootstrap_admin("boot@example.org", "changed password"));
    EXPECT_NO_THROW(svc->login("boot@example.org", "bootstrap password", {}))
        << "an existing admin's password is left alone";
}

TEST_F(AuthServiceTest, BootstrapAdminPromotesAnExistingAccount) {
    const IssuedLogin bob = signup("bob@example.org", "bob password");
    EXPECT_TRUE(svc->bootstrap_admin("bob@example.org", "bootstrap password"));
    EXPECT_EQ(role_of("bob@example.org"), "admin");
    EXPECT_FALSE(svc->authenticate(bob.token, kCookie) != nullptr);
    EXPECT_NO_THROW(svc->login("bob@example.org", "bootstrap password", {}));
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM users"), 1);
}

TEST_F(AuthServiceTest, BootstrapAdminValidatesItsInput) {
    const ApiError e = api_error([&] { svc->bootstrap_admin("nope", "bootstrap password"); });
    EXPECT_EQ(e.status(), 422);
    ASSERT_THAT(e.errors(), SizeIs(1));
    EXPECT_EQ(e.errors()[0].loc.back(), "MEDFORGE_BOOTSTRAP_ADMIN_EMAIL");
    EXPECT_EQ(api_error([&] { svc->bootstrap_admin("a@b.c", "short"); }).errors()[0].loc.back(),
              "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD");
}

TEST_F(AuthServiceTest, SetPasswordRevokesEverything) {
    const IssuedLogin s = signup("alice@example.org", "old password");
    const NewAccessToken pat = svc->create_access_token(principal(s.token), "x");
    svc->set_password("ALICE@example.org", "new password");
    EXPECT_FALSE(svc->authenticate(s.token, kCookie) != nullptr);
    EXPECT_FALSE(svc->authenticate(pat.token, kPat) != nullptr);
    EXPECT_NO_THROW(svc->login("alice@example.org", "new password", {}));
    EXPECT_EQ(api_error([&] { svc->set_password("nobody@example.org", "new password"); }).code(),
              "user_not_found");
}

TEST_F(AuthServiceTest, ListUsersPaginatesByCreation) {
    signup("a@example.org");
    clock.advance_seconds(1);
    signup("b@example.org");
    clock.advance_seconds(1);
    signup("c@example.org");
    const auto first = svc->list_users(0, "", 2);
    ASSERT_THAT(first, SizeIs(2));
    EXPECT_EQ(first[0].email, "a@example.org");
    EXPECT_EQ(first[1].email, "b@example.org");
    EXPECT_EQ(first[0].active_sessions, 0);
    const auto rest = svc->list_users(first[1].created_at, first[1].id, 2);
    ASSERT_THAT(rest, SizeIs(1));
    EXPECT_EQ(rest[0].email, "c@example.org");
}

// Two tests with the real Argon2id (each hash/verify costs tens of milliseconds).
TEST(AuthServiceArgon2, SignupAndLoginWithTheRealHasher) {
    mftest::TempDir tmp;
    auto db = mftest::open_migrated_sqlite(tmp);
    Config config = load_config(mftest::env_from({}));
    config.session_secret = std::string(64, 's');
    ManualClock clock(kStart);
    TokenCache cache(5 * kSecond);
    Argon2idHasher hasher;
    AuthService svc(*db, config, hasher, clock, cache, [](std::function<void()> fn) { fn(); });

    const IssuedLogin s = svc.signup("alice@example.org", "correct horse battery", {});
    const std::string stored = db->with_connection(
        [&](db::Connection& c) { return c.query_one("SELECT password_hash FROM users")->str(0); });
    EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u) << stored;
    EXPECT_THAT(stored, ::testing::Not(HasSubstr("correct horse")));
    EXPECT_NO_THROW(svc.login("alice@example.org", "correct horse battery", {}));
    EXPECT_EQ(api_error([&] { svc.login("alice@example.org", "wrong horse battery", {}); }).code(),
              "invalid_credentials");
    EXPECT_TRUE(svc.authenticate(s.token, kCookie) != nullptr);
}

TEST(AuthServiceArgon2, HasherSaltsAndVerifies) {
    Argon2idHasher hasher;
    const std::string a = hasher.hash("password one");
    const std::string b = hasher.hash("password one");
    EXPECT_NE(a, b) << "each hash has its own salt";
    EXPECT_TRUE(hasher.verify(a, "password one"));
    EXPECT_FALSE(hasher.verify(b, "password two"));
    EXPECT_FALSE(hasher.verify("not a hash", "password one"));
    EXPECT_FALSE(hasher.verify("", ""));
}

}  // namespace
}  // namespace medforge::auth
