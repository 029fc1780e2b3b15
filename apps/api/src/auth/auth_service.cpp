#include "auth/auth_service.hpp"

#include <algorithm>
#include <cctype>

#include "auth/tokens.hpp"
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json_input.hpp"
#include "core/log.hpp"

namespace medforge::auth {

namespace {

constexpr Micros kSlideInterval = 60 * kMicrosPerSecond;

ApiError invalid_credentials() {
    return ApiError(401, "invalid_credentials", "The email or password is incorrect.");
}

ApiError email_taken() {
    return ApiError(409, "email_taken", "An account with this email already exists.");
}

Principal principal_of(const db::UserRecord& u, CredentialKind kind, const std::string& cred_id,
                       const std::string& hash) {
    Principal p;
    p.user_id = u.id;
    p.email = u.email;
    p.display_name = u.display_name;
    p.role = u.role;
    p.max_concurrent_sessions = u.max_concurrent_sessions;
    p.kind = kind;
    p.credential_id = cred_id;
    p.token_hash = hash;
    return p;
}

// Public pages (the leaderboard) show display names, never emails, so the default is derived
// from the user id, not from the email's local part.
std::string default_display_name(const std::string& user_id) {
    return "user-" + user_id.substr(0, 8);
}

}  // namespace

std::string normalise_email(const std::string& raw, const std::string& field) {
    auto b = raw.find_first_not_of(" \t\r\n");
    auto e = raw.find_last_not_of(" \t\r\n");
    std::string s = b == std::string::npos ? std::string{} : raw.substr(b, e - b + 1);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
        return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c);
    });
    const auto at = s.find('@');
    const bool ok =
        !s.empty() && utf8_length(s) <= 320 && at != std::string::npos && at != 0 &&
        at != s.size() - 1 && s.find('@', at + 1) == std::string::npos &&
        std::none_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
    if (!ok) {
        throw validation_error({{{"body", field},
                                 "must be an email address: one '@' not at either end, no spaces, "
                                 "at most 320 characters",
                                 "value_error.email"}});
    }
    return s;
}

void check_password_policy(const std::string& password, const std::string& field) {
    const auto n = utf8_length(password);
    if (n < 8 || n > 128) {
        throw validation_error(
            {{{"body", field}, "must be 8..128 characters", "value_error.password"}});
    }
}

AuthService::AuthService(db::Database& db, const Config& config, const PasswordHasher& hasher,
                         const Clock& clock, TokenCache& cache, Background background)
    : db_(db),
      config_(config),
      hasher_(hasher),
      clock_(clock),
      cache_(cache),
      background_(std::move(background)),
      dummy_hash_(hasher.hash(new_session_token())) {}

db::UserRecord AuthService::new_user_record(const std::string& email,
                                            const std::string& password_hash,
                                            const std::string& role) {
    db::UserRecord u;
    u.id = uuid_v4();
    u.email = email;
    u.password_hash = password_hash;
    u.role = role;
    u.max_concurrent_sessions = 1;
    u.display_name = default_display_name(u.id);
    u.created_at = clock_.now();
    return u;
}

IssuedLogin AuthService::issue_login(db::Connection& c, const db::UserRecord& user,
                                     const ClientInfo& client) {
    const Micros now = clock_.now();
    IssuedLogin out{user, new_session_token()};
    db::AuthSessionRecord s;
    s.id = uuid_v4();
    s.user_id = user.id;
    s.token_hash = token_hash(config_.session_secret, out.token);
    s.created_at = now;
    s.expires_at = now + config_.auth_idle_ttl_seconds * kMicrosPerSecond;
    s.last_seen_at = now;
    s.ip = client.ip;
    s.user_agent = client.user_agent.substr(0, 512);
    db::auth_sessions::insert(c, s);
    return out;
}

IssuedLogin AuthService::signup(const std::string& raw_email, const std::string& password,
                                const ClientInfo& client) {
    const std::string email = normalise_email(raw_email);
    check_password_policy(password, "password");
    const std::string hash = hasher_.hash(password);  // slow: outside the transaction
    try {
        return db_.with_connection([&](db::Connection& c) {
            db::Transaction tx(c);
            auto user = new_user_record(email, hash, "user");
            db::users::insert(c, user);
            auto issued = issue_login(c, user, client);
            tx.commit();
            log::info("auth.signup", {{"user_id", user.id}});
            return issued;
        });
    } catch (const db::UniqueViolation&) {
        throw email_taken();
    }
}

IssuedLogin AuthService::login(const std::string& raw_email, const std::string& password,
                               const ClientInfo& client) {
    // Malformed input is still answered with the same 401 after the same work, so nothing about
    // account existence leaks through validation differences.
    std::string email;
    try {
        email = normalise_email(raw_email);
    } catch (const ApiError&) {
        email.clear();
    }
    auto user = email.empty() ? std::nullopt : db_.with_connection([&](db::Connection& c) {
        return db::users::find_by_email(c, email);
    });
    // One verification on every path: against the user's hash, or a dummy hash of equal cost.
    const bool ok = hasher_.verify(user ? user->password_hash : dummy_hash_, password);
    if (!user || !ok) {
        log::info("auth.login_failed", {{"reason", "invalid_credentials"}});
        throw invalid_credentials();
    }
    auto issued =
        db_.with_connection([&](db::Connection& c) { return issue_login(c, *user, client); });
    log::info("auth.login", {{"user_id", user->id}});
    return issued;
}

void AuthService::logout(const std::string& token) {
    const std::string hash = token_hash(config_.session_secret, token);
    cache_.erase(token);
    const bool revoked = db_.with_connection([&](db::Connection& c) {
        return db::auth_sessions::revoke_by_hash(c, hash, clock_.now());
    });
    cache_.erase(token);  // a concurrent request may have re-cached it meanwhile
    if (revoked) log::info("auth.logout", {});
}

PrincipalPtr AuthService::check_and_slide(const std::string& token, CachedCredential entry) {
    const Micros now = clock_.now();
    if (entry.principal->kind == CredentialKind::session_cookie) {
        if (now >= entry.expires_at) return nullptr;
        if (now >= entry.created_at + config_.auth_max_ttl_seconds * kMicrosPerSecond) {
            return nullptr;
        }
    }
    if (now - entry.last_seen_at >= kSlideInterval) {
        const Micros new_expiry = now + config_.auth_idle_ttl_seconds * kMicrosPerSecond;
        if (cache_.claim_slide(token, now, kSlideInterval, new_expiry)) {
            const std::string id = entry.principal->credential_id;
            const CredentialKind kind = entry.principal->kind;
            background_([this, id, kind, now, new_expiry] {
                try {
                    db_.with_connection([&](db::Connection& c) {
                        if (kind == CredentialKind::session_cookie) {
                            db::auth_sessions::slide(c, id, now, new_expiry, now - kSlideInterval);
                        } else {
                            db::access_tokens::touch(c, id, now, now - kSlideInterval);
                        }
                    });
                } catch (const std::exception& e) {
                    log::warn("auth.slide_failed", {{"error", e.what()}});
                }
            });
        }
    }
    return std::move(entry.principal);
}

PrincipalPtr AuthService::authenticate_cached(const std::string& token, CredentialKind kind) {
    const Micros now = clock_.now();
    bool refresh = false;
    auto entry = cache_.get(token, now, &refresh);
    if (!entry || entry->principal->kind != kind) return nullptr;
    if (refresh) {
        // Re-read it in the background while it is still served, so a busy credential never
        // falls out of the cache onto the request path.
        background_([this, token, hash = entry->principal->token_hash, kind] {
            std::optional<CachedCredential> fresh;
            try {
                fresh = load_credential(hash, kind, clock_.now());
            } catch (const std::exception&) {
                cache_.erase(token);  // the next request asks the DB itself
                return;
            }
            cache_.finish_refresh(token, fresh);
        });
    }
    return check_and_slide(token, std::move(*entry));
}

PrincipalPtr AuthService::authenticate(const std::string& token, CredentialKind kind) {
    if (!plausible_token(token)) return nullptr;
    const Micros now = clock_.now();
    if (auto entry = cache_.get(token, now); entry && entry->principal->kind == kind) {
        return check_and_slide(token, std::move(*entry));
    }
    auto entry = load_credential(token_hash(config_.session_secret, token), kind, now);
    if (!entry) return nullptr;
    cache_.put(token, *entry);
    return check_and_slide(token, std::move(*entry));
}

std::optional<CachedCredential> AuthService::load_credential(const std::string& hash,
                                                             CredentialKind kind, Micros now) {
    auto found = db_.with_connection([&](db::Connection& c) {
        return kind == CredentialKind::session_cookie ? db::auth_sessions::find_by_hash(c, hash)
                                                      : db::access_tokens::find_by_hash(c, hash);
    });
    if (!found || found->revoked_at) return std::nullopt;
    CachedCredential entry;
    entry.principal = std::make_shared<const Principal>(
        principal_of(found->user, kind, found->credential_id, hash));
    entry.created_at = found->created_at;
    entry.expires_at = found->expires_at;
    entry.last_seen_at = found->last_seen_at;
    entry.fetched_at = now;
    return entry;
}

db::UserRecord AuthService::get_user(const std::string& user_id) {
    auto u =
        db_.with_connection([&](db::Connection& c) { return db::users::find_by_id(c, user_id); });
    if (!u) throw not_found("user_not_found", "No user has this id.");
    return *u;
}

db::UserRecord AuthService::update_profile(const Principal& me, const ProfilePatch& patch) {
    std::optional<std::string> email;
    if (patch.email) email = normalise_email(*patch.email);
    std::optional<std::string> new_hash;
    if (patch.new_password) {
        check_password_policy(*patch.new_password, "new_password");
        auto current = get_user(me.user_id);
        if (!patch.current_password ||
            !hasher_.verify(current.password_hash, *patch.current_password)) {
            throw ApiError(403, "current_password_incorrect",
                           "Changing the password needs the correct current password.");
        }
        new_hash = hasher_.hash(*patch.new_password);
    }
    db::UserRecord updated;
    try {
        updated = db_.with_connection([&](db::Connection& c) {
            db::Transaction tx(c);
            if (email) db::users::update_email(c, me.user_id, *email);
            if (patch.display_name)
                db::users::update_display_name(c, me.user_id, *patch.display_name);
            if (new_hash) {
                const Micros now = clock_.now();
                db::users::update_password_hash(c, me.user_id, *new_hash);
                // Every other credential goes; the one making this request stays.
                const bool cookie = me.kind == CredentialKind::session_cookie;
                db::auth_sessions::revoke_all_for_user(c, me.user_id,
                                                       cookie ? me.credential_id : "", now);
                db::access_tokens::revoke_all_for_user(c, me.user_id,
                                                       cookie ? "" : me.credential_id, now);
            }
            auto u = db::users::find_by_id(c, me.user_id);
            tx.commit();
            if (!u) throw not_found("user_not_found", "No user has this id.");
            return *u;
        });
    } catch (const db::UniqueViolation&) {
        throw email_taken();
    }
    cache_.erase_user(me.user_id);
    if (new_hash) log::info("auth.password_changed", {{"user_id", me.user_id}});
    return updated;
}

NewAccessToken AuthService::create_access_token(const Principal& me, const std::string& name) {
    NewAccessToken out;
    out.token = new_access_token();
    out.record.id = uuid_v4();
    out.record.user_id = me.user_id;
    out.record.name = name;
    out.record.created_at = clock_.now();
    db_.with_connection([&](db::Connection& c) {
        db::access_tokens::insert(c, out.record, token_hash(config_.session_secret, out.token));
    });
    log::info("auth.token_created", {{"user_id", me.user_id}, {"token_id", out.record.id}});
    return out;
}

std::vector<db::AccessTokenRecord> AuthService::list_access_tokens(const Principal& me,
                                                                   std::int64_t after_created_at,
                                                                   const std::string& after_id,
                                                                   int limit) {
    return db_.with_connection([&](db::Connection& c) {
        return db::access_tokens::list_for_user(c, me.user_id, after_created_at, after_id, limit);
    });
}

void AuthService::revoke_access_token(const Principal& me, const std::string& token_id) {
    auto hash = db_.with_connection([&](db::Connection& c) {
        return db::access_tokens::revoke(c, token_id, me.user_id, clock_.now());
    });
    if (!hash) throw not_found("token_not_found", "You have no live token with this id.");
    cache_.erase_hash(*hash);
    log::info("auth.token_revoked", {{"user_id", me.user_id}, {"token_id", token_id}});
}

std::vector<db::UserRecord> AuthService::list_users(std::int64_t after_created_at,
                                                    const std::string& after_id, int limit) {
    return db_.with_connection([&](db::Connection& c) {
        return db::users::list_after(c, after_created_at, after_id, limit);
    });
}

db::UserRecord AuthService::admin_update_user(const Principal& admin, const std::string& user_id,
                                              const AdminUserPatch& patch) {
    std::optional<std::string> new_hash;
    if (patch.new_password) {
        check_password_policy(*patch.new_password, "new_password");
        new_hash = hasher_.hash(*patch.new_password);
    }
    auto updated = db_.with_connection([&](db::Connection& c) {
        db::Transaction tx(c);
        auto u = db::users::find_by_id(c, user_id);
        if (!u) throw not_found("user_not_found", "No user has this id.");
        if (patch.role && *patch.role != u->role) {
            if (u->role == "admin") {
                // Refuse to demote the last admin: nobody could administer the platform after.
                auto admins = c.query_one("SELECT COUNT(*) FROM users WHERE role = 'admin'");
                if (admins && admins->i64(0) <= 1) {
                    throw ApiError(409, "last_admin", "The last administrator cannot be demoted.");
                }
            }
            db::users::update_role(c, user_id, *patch.role);
        }
        if (patch.max_concurrent_sessions) {
            db::users::update_max_sessions(c, user_id, *patch.max_concurrent_sessions);
        }
        if (new_hash) {
            const Micros now = clock_.now();
            db::users::update_password_hash(c, user_id, *new_hash);
            db::auth_sessions::revoke_all_for_user(c, user_id, "", now);
            db::access_tokens::revoke_all_for_user(c, user_id, "", now);
        }
        auto after = db::users::find_by_id(c, user_id);
        tx.commit();
        return *after;
    });
    cache_.erase_user(user_id);
    log::info("admin.user_updated", {{"admin_id", admin.user_id},
                                     {"user_id", user_id},
                                     {"role_changed", patch.role.has_value()},
                                     {"cap_changed", patch.max_concurrent_sessions.has_value()},
                                     {"password_reset", new_hash.has_value()}});
    return updated;
}

db::UserRecord AuthService::create_admin(const std::string& raw_email,
                                         const std::string& password) {
    const std::string email = normalise_email(raw_email);
    check_password_policy(password, "password");
    auto user = new_user_record(email, hasher_.hash(password), "admin");
    try {
        db_.with_connection([&](db::Connection& c) { db::users::insert(c, user); });
    } catch (const db::UniqueViolation&) {
        throw email_taken();
    }
    log::info("admin.created", {{"user_id", user.id}});
    return user;
}

void AuthService::set_password(const std::string& raw_email, const std::string& password) {
    const std::string email = normalise_email(raw_email);
    check_password_policy(password, "password");
    const std::string hash = hasher_.hash(password);
    const std::string user_id = db_.with_connection([&](db::Connection& c) {
        db::Transaction tx(c);
        auto u = db::users::find_by_email(c, email);
        if (!u) throw not_found("user_not_found", "No user has this email.");
        const Micros now = clock_.now();
        db::users::update_password_hash(c, u->id, hash);
        db::auth_sessions::revoke_all_for_user(c, u->id, "", now);
        db::access_tokens::revoke_all_for_user(c, u->id, "", now);
        tx.commit();
        return u->id;
    });
    cache_.erase_user(user_id);
    log::info("admin.password_set", {{"user_id", user_id}});
}

bool AuthService::bootstrap_admin(const std::string& raw_email, const std::string& password) {
    const std::string email = normalise_email(raw_email, "MEDFORGE_BOOTSTRAP_ADMIN_EMAIL");
    check_password_policy(password, "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD");
    const std::string hash = hasher_.hash(password);
    return db_.with_connection([&](db::Connection& c) {
        db::Transaction tx(c);
        if (db::users::any_admin(c)) return false;
        if (auto existing = db::users::find_by_email(c, email)) {
            db::users::update_role(c, existing->id, "admin");
            db::users::update_password_hash(c, existing->id, hash);
            db::auth_sessions::revoke_all_for_user(c, existing->id, "", clock_.now());
            db::access_tokens::revoke_all_for_user(c, existing->id, "", clock_.now());
            tx.commit();
            log::info("admin.bootstrap_promoted", {{"user_id", existing->id}});
            return true;
        }
        auto user = new_user_record(email, hash, "admin");
        db::users::insert(c, user);
        tx.commit();
        log::info("admin.bootstrap_created", {{"user_id", user.id}});
        return true;
    });
}

}  // namespace medforge::auth
