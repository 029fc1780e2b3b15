#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/passwords.hpp"
#include "auth/token_cache.hpp"
#include "core/config.hpp"
#include "core/time.hpp"
#include "db/credentials_repo.hpp"
#include "db/database.hpp"
#include "db/users_repo.hpp"

namespace medforge::auth {

struct ClientInfo {
    std::string ip;
    std::string user_agent;
};

struct IssuedLogin {
    db::UserRecord user;
    std::string token;  // the raw cookie value; never logged, never stored
};

struct ProfilePatch {
    std::optional<std::string> email;
    std::optional<std::string> display_name;
    std::optional<std::string> current_password;
    std::optional<std::string> new_password;
};

struct AdminUserPatch {
    std::optional<std::string> role;
    std::optional<std::int64_t> max_concurrent_sessions;
    std::optional<std::string> new_password;
};

struct NewAccessToken {
    db::AccessTokenRecord record;
    std::string token;  // shown once
};

// Lowercases and trims; throws a 422 ApiError naming `field` when the result is not an email.
std::string normalise_email(const std::string& raw, const std::string& field = "email");
// Throws a 422 ApiError naming `field` unless the password has 8..128 characters.
void check_password_policy(const std::string& password, const std::string& field);

// Accounts, logins, tokens. Knows nothing of HTTP; every failure is an ApiError.
class AuthService {
  public:
    using Background = std::function<void(std::function<void()>)>;

    AuthService(db::Database& db, const Config& config, const PasswordHasher& hasher,
                const Clock& clock, TokenCache& cache, Background background);

    IssuedLogin signup(const std::string& email, const std::string& password,
                       const ClientInfo& client);
    // Exactly one password verification happens whether or not the email exists.
    IssuedLogin login(const std::string& email, const std::string& password,
                      const ClientInfo& client);
    void logout(const std::string& token);

    // Cache-only resolution (no I/O): the answer, or null when the DB must be asked.
    PrincipalPtr authenticate_cached(const std::string& token, CredentialKind kind);
    // Full resolution; returns null for an unknown, revoked or expired credential.
    PrincipalPtr authenticate(const std::string& token, CredentialKind kind);

    db::UserRecord get_user(const std::string& user_id);
    db::UserRecord update_profile(const Principal& me, const ProfilePatch& patch);

    NewAccessToken create_access_token(const Principal& me, const std::string& name);
    std::vector<db::AccessTokenRecord> list_access_tokens(const Principal& me,
                                                          std::int64_t after_created_at,
                                                          const std::string& after_id, int limit);
    void revoke_access_token(const Principal& me, const std::string& token_id);

    std::vector<db::UserRecord> list_users(std::int64_t after_created_at,
                                           const std::string& after_id, int limit);
    db::UserRecord admin_update_user(const Principal& admin, const std::string& user_id,
                                     const AdminUserPatch& patch);

    // `medforge admin create`; throws ApiError 409 email_taken when the email exists.
    db::UserRecord create_admin(const std::string& email, const std::string& password);
    // `medforge admin set-password`: new password, every credential of the user revoked.
    void set_password(const std::string& email, const std::string& password);
    // Bootstrap from env at start: creates (or promotes) the admin only if no admin exists.
    bool bootstrap_admin(const std::string& email, const std::string& password);

  private:
    IssuedLogin issue_login(db::Connection& c, const db::UserRecord& user,
                            const ClientInfo& client);
    PrincipalPtr check_and_slide(const std::string& token, CachedCredential entry);
    // The credential with this hash from the DB (nullopt: unknown or revoked).
    std::optional<CachedCredential> load_credential(const std::string& hash, CredentialKind kind,
                                                    Micros now);
    db::UserRecord new_user_record(const std::string& email, const std::string& password_hash,
                                   const std::string& role);

    db::Database& db_;
    const Config& config_;
    const PasswordHasher& hasher_;
    const Clock& clock_;
    TokenCache& cache_;
    Background background_;
    std::string dummy_hash_;  // verified against for unknown emails, to keep timing equal
};

}  // namespace medforge::auth
