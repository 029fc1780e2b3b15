#include "db/credentials_repo.hpp"

namespace medforge::db {

namespace {

constexpr const char* kUserColumns =
    "u.id, u.email, u.password_hash, u.role, u.max_concurrent_sessions, u.display_name, "
    "u.created_at";

constexpr const char* kInsertAuth =
    "INSERT INTO auth_sessions (id, user_id, token_hash, created_at, expires_at, revoked_at, "
    "last_seen_at, ip, user_agent) VALUES (:id, :uid, :h, :c, :e, NULL, :l, :ip, :ua)";
constexpr const char* kRevokeAuthByHash =
    "UPDATE auth_sessions SET revoked_at = :now WHERE token_hash = :h AND revoked_at IS NULL";
constexpr const char* kRevokeAuthForUser =
    "UPDATE auth_sessions SET revoked_at = :now WHERE user_id = :uid AND id <> :keep AND "
    "revoked_at IS NULL";
constexpr const char* kSlideAuth =
    "UPDATE auth_sessions SET last_seen_at = :now, expires_at = :e WHERE id = :id AND revoked_at "
    "IS NULL AND last_seen_at <= :stale";

constexpr const char* kInsertToken =
    "INSERT INTO access_tokens (id, user_id, name, token_hash, created_at, last_used_at, "
    "revoked_at) VALUES (:id, :uid, :n, :h, :c, NULL, NULL)";
constexpr const char* kListTokens =
    "SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM access_tokens WHERE "
    "user_id = :uid AND revoked_at IS NULL AND (created_at > :t1 OR (created_at = :t2 AND id > "
    ":id)) ORDER BY created_at, id LIMIT :lim";
constexpr const char* kFindTokenForRevoke =
    "SELECT token_hash FROM access_tokens WHERE id = :id AND user_id = :uid AND revoked_at IS NULL";
constexpr const char* kRevokeToken =
    "UPDATE access_tokens SET revoked_at = :now WHERE id = :id AND user_id = :uid AND revoked_at "
    "IS NULL";
constexpr const char* kRevokeTokensForUser =
    "UPDATE access_tokens SET revoked_at = :now WHERE user_id = :uid AND id <> :keep AND "
    "revoked_at IS NULL";
constexpr const char* kTouchToken =
    "UPDATE access_tokens SET last_used_at = :now WHERE id = :id AND revoked_at IS NULL AND "
    "(last_used_at IS NULL OR last_used_at <= :stale)";

}  // namespace

namespace auth_sessions {

void insert(Connection& c, const AuthSessionRecord& s) {
    c.exec(kInsertAuth, {s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.last_seen_at,
                         s.ip, s.user_agent});
}

std::optional<CredentialLookup> find_by_hash(Connection& c, const std::string& token_hash) {
    static const std::string sql =
        std::string("SELECT a.id, a.created_at, a.expires_at, a.revoked_at, a.last_seen_at, ") +
        kUserColumns + " FROM auth_sessions a JOIN users u ON u.id = a.user_id WHERE " +
        "a.token_hash = :h";
    auto r = c.query_one(sql, {token_hash});
    if (!r) return std::nullopt;
    CredentialLookup out;
    out.credential_id = r->str(0);
    out.created_at = r->i64(1);
    out.expires_at = r->i64(2);
    out.revoked_at = r->opt_i64(3);
    out.last_seen_at = r->i64(4);
    out.user = users::from_row(*r, 5);
    return out;
}

bool revoke_by_hash(Connection& c, const std::string& token_hash, std::int64_t now) {
    return c.exec(kRevokeAuthByHash, {now, token_hash}) > 0;
}

std::int64_t revoke_all_for_user(Connection& c, const std::string& user_id,
                                 const std::string& keep_id, std::int64_t now) {
    return c.exec(kRevokeAuthForUser, {now, user_id, keep_id});
}

bool slide(Connection& c, const std::string& id, std::int64_t now, std::int64_t new_expires_at,
           std::int64_t stale_before) {
    return c.exec(kSlideAuth, {now, new_expires_at, id, stale_before}) > 0;
}

}  // namespace auth_sessions

namespace access_tokens {

void insert(Connection& c, const AccessTokenRecord& t, const std::string& token_hash) {
    c.exec(kInsertToken, {t.id, t.user_id, t.name, token_hash, t.created_at});
}

std::optional<CredentialLookup> find_by_hash(Connection& c, const std::string& token_hash) {
    static const std::string sql =
        std::string("SELECT t.id, t.created_at, t.revoked_at, t.last_used_at, ") + kUserColumns +
        " FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :h";
    auto r = c.query_one(sql, {token_hash});
    if (!r) return std::nullopt;
    CredentialLookup out;
    out.credential_id = r->str(0);
    out.created_at = r->i64(1);
    out.revoked_at = r->opt_i64(2);
    out.last_seen_at = r->opt_i64(3).value_or(0);
    out.user = users::from_row(*r, 4);
    return out;
}

std::vector<AccessTokenRecord> list_for_user(Connection& c, const std::string& user_id,
                                             std::int64_t after_created_at,
                                             const std::string& after_id, int limit) {
    std::vector<AccessTokenRecord> out;
    for (const auto& r : c.query(kListTokens, {user_id, after_created_at, after_created_at,
                                               after_id, std::int64_t{limit}})) {
        AccessTokenRecord t;
        t.id = r.str(0);
        t.user_id = r.str(1);
        t.name = r.str(2);
        t.created_at = r.i64(3);
        t.last_used_at = r.opt_i64(4);
        t.revoked_at = r.opt_i64(5);
        out.push_back(std::move(t));
    }
    return out;
}

std::optional<std::string> revoke(Connection& c, const std::string& id, const std::string& user_id,
                                  std::int64_t now) {
    auto r = c.query_one(kFindTokenForRevoke, {id, user_id});
    if (!r) return std::nullopt;
    if (c.exec(kRevokeToken, {now, id, user_id}) == 0) return std::nullopt;
    return r->str(0);
}

std::int64_t revoke_all_for_user(Connection& c, const std::string& user_id,
                                 const std::string& keep_id, std::int64_t now) {
    return c.exec(kRevokeTokensForUser, {now, user_id, keep_id});
}

bool touch(Connection& c, const std::string& id, std::int64_t now, std::int64_t stale_before) {
    return c.exec(kTouchToken, {now, id, stale_before}) > 0;
}

}  // namespace access_tokens

}  // namespace medforge::db
