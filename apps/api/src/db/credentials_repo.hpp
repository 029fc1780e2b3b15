#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/users_repo.hpp"

namespace medforge::db {

// A login cookie's row (auth_sessions).
struct AuthSessionRecord {
    std::string id;
    std::string user_id;
    std::string token_hash;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> revoked_at;
    std::int64_t last_seen_at = 0;
    std::string ip;
    std::string user_agent;
};

// A personal access token's row (access_tokens).
struct AccessTokenRecord {
    std::string id;
    std::string user_id;
    std::string name;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> last_used_at;
    std::optional<std::int64_t> revoked_at;
};

// What a presented credential resolves to: the credential's timestamps plus its user.
struct CredentialLookup {
    std::string credential_id;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;  // auth sessions only; 0 for access tokens
    std::optional<std::int64_t> revoked_at;
    std::int64_t last_seen_at = 0;  // last_used_at for access tokens (0 when never)
    UserRecord user;
};

namespace auth_sessions {
void insert(Connection& c, const AuthSessionRecord& s);
std::optional<CredentialLookup> find_by_hash(Connection& c, const std::string& token_hash);
// Revokes one token; returns whether a live row was revoked.
bool revoke_by_hash(Connection& c, const std::string& token_hash, std::int64_t now);
// Revokes every live token of the user except `keep_id` (may be empty).
std::int64_t revoke_all_for_user(Connection& c, const std::string& user_id,
                                 const std::string& keep_id, std::int64_t now);
// Slides the idle expiry, but only if nobody slid it since `stale_before` (so the write happens
// at most once a minute per token, even across processes).
bool slide(Connection& c, const std::string& id, std::int64_t now, std::int64_t new_expires_at,
           std::int64_t stale_before);
}  // namespace auth_sessions

namespace access_tokens {
void insert(Connection& c, const AccessTokenRecord& t, const std::string& token_hash);
std::optional<CredentialLookup> find_by_hash(Connection& c, const std::string& token_hash);
std::vector<AccessTokenRecord> list_for_user(Connection& c, const std::string& user_id,
                                             std::int64_t after_created_at,
                                             const std::string& after_id, int limit);
// Returns the token's hash if a live token of this user was revoked.
std::optional<std::string> revoke(Connection& c, const std::string& id, const std::string& user_id,
                                  std::int64_t now);
std::int64_t revoke_all_for_user(Connection& c, const std::string& user_id,
                                 const std::string& keep_id, std::int64_t now);
bool touch(Connection& c, const std::string& id, std::int64_t now, std::int64_t stale_before);
}  // namespace access_tokens

}  // namespace medforge::db
