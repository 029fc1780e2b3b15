#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace medforge::db {

struct UserRecord {
    std::string id;
    std::string email;
    std::string password_hash;
    std::string role;  // "user" | "admin"
    std::int64_t max_concurrent_sessions = 1;
    std::string display_name;
    std::int64_t created_at = 0;
    std::int64_t active_sessions = 0;  // filled by list queries only
};

// SQL for the users table. Every function runs on a connection the caller holds, so a service
// can compose several calls into one transaction.
namespace users {

// Reads the seven user columns (id, email, password_hash, role, max_concurrent_sessions,
// display_name, created_at) starting at column `offset`.
UserRecord from_row(const Row& r, std::size_t offset = 0);

// Throws UniqueViolation when the email exists.
void insert(Connection& c, const UserRecord& u);
std::optional<UserRecord> find_by_id(Connection& c, const std::string& id);
std::optional<UserRecord> find_by_email(Connection& c, const std::string& email);
bool any_admin(Connection& c);
void update_email(Connection& c, const std::string& id, const std::string& email);
void update_display_name(Connection& c, const std::string& id, const std::string& name);
void update_password_hash(Connection& c, const std::string& id, const std::string& hash);
void update_role(Connection& c, const std::string& id, const std::string& role);
void update_max_sessions(Connection& c, const std::string& id, std::int64_t max);
// Users ordered by (created_at, id) after the given key; includes active session counts.
std::vector<UserRecord> list_after(Connection& c, std::int64_t after_created_at,
                                   const std::string& after_id, int limit);

}  // namespace users
}  // namespace medforge::db
