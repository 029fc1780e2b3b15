#include "db/users_repo.hpp"

namespace medforge::db::users {

namespace {

constexpr const char* kColumns =
    "id, email, password_hash, role, max_concurrent_sessions, display_name, created_at";

constexpr const char* kInsert =
    "INSERT INTO users (id, email, password_hash, role, max_concurrent_sessions, display_name, "
    "created_at) VALUES (:id, :email, :hash, :role, :max, :name, :created)";
constexpr const char* kAnyAdmin = "SELECT id FROM users WHERE role = 'admin' LIMIT 1";
constexpr const char* kUpdateEmail = "UPDATE users SET email = :e WHERE id = :id";
constexpr const char* kUpdateName = "UPDATE users SET display_name = :n WHERE id = :id";
constexpr const char* kUpdateHash = "UPDATE users SET password_hash = :h WHERE id = :id";
constexpr const char* kUpdateRole = "UPDATE users SET role = :r WHERE id = :id";
constexpr const char* kUpdateMax = "UPDATE users SET max_concurrent_sessions = :m WHERE id = :id";
constexpr const char* kListAfter =
    "SELECT u.id, u.email, u.password_hash, u.role, u.max_concurrent_sessions, u.display_name, "
    "u.created_at, (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.status IN "
    "('starting', 'running', 'stopping')) FROM users u WHERE u.created_at > :t1 OR "
    "(u.created_at = :t2 AND u.id > :id) ORDER BY u.created_at, u.id LIMIT :lim";

std::optional<UserRecord> find_by(Connection& c, const char* column, const std::string& value) {
    std::string sql = std::string("SELECT ") + kColumns + " FROM users WHERE " + column + " = :v";
    auto row = c.query_one(sql, {value});
    if (!row) return std::nullopt;
    return from_row(*row);
}

}  // namespace

UserRecord from_row(const Row& r, std::size_t o) {
    UserRecord u;
    u.id = r.str(o);
    u.email = r.str(o + 1);
    u.password_hash = r.str(o + 2);
    u.role = r.str(o + 3);
    u.max_concurrent_sessions = r.i64(o + 4);
    u.display_name = r.str(o + 5);
    u.created_at = r.i64(o + 6);
    return u;
}

void insert(Connection& c, const UserRecord& u) {
    c.exec(kInsert, {u.id, u.email, u.password_hash, u.role, u.max_concurrent_sessions,
                     u.display_name, u.created_at});
}

std::optional<UserRecord> find_by_id(Connection& c, const std::string& id) {
    return find_by(c, "id", id);
}

std::optional<UserRecord> find_by_email(Connection& c, const std::string& email) {
    return find_by(c, "email", email);
}

bool any_admin(Connection& c) { return c.query_one(kAnyAdmin).has_value(); }

void update_email(Connection& c, const std::string& id, const std::string& email) {
    c.exec(kUpdateEmail, {email, id});
}

void update_display_name(Connection& c, const std::string& id, const std::string& name) {
    c.exec(kUpdateName, {name, id});
}

void update_password_hash(Connection& c, const std::string& id, const std::string& hash) {
    c.exec(kUpdateHash, {hash, id});
}

void update_role(Connection& c, const std::string& id, const std::string& role) {
    c.exec(kUpdateRole, {role, id});
}

void update_max_sessions(Connection& c, const std::string& id, std::int64_t max) {
    c.exec(kUpdateMax, {max, id});
}

std::vector<UserRecord> list_after(Connection& c, std::int64_t after_created_at,
                                   const std::string& after_id, int limit) {
    std::vector<UserRecord> out;
    for (const auto& r :
         c.query(kListAfter, {after_created_at, after_created_at, after_id, std::int64_t{limit}})) {
        auto u = from_row(r);
        u.active_sessions = r.i64(7);
        out.push_back(std::move(u));
    }
    return out;
}

}  // namespace medforge::db::users
