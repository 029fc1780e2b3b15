#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace soci {
class session;
}

namespace medforge::db {

enum class Dialect { sqlite, mariadb };

// A bound parameter or a result cell: NULL, integer, real or text.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

class Row {
  public:
    explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
    bool is_null(std::size_t i) const;
    std::int64_t i64(std::size_t i) const;
    std::optional<std::int64_t> opt_i64(std::size_t i) const;
    double f64(std::size_t i) const;
    std::string str(std::size_t i) const;
    std::optional<std::string> opt_str(std::size_t i) const;
    std::size_t size() const { return values_.size(); }

  private:
    std::vector<Value> values_;
};

// The DB cannot be reached (connection lost, pool exhausted): the request fails with 503.
class DbUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A unique or primary-key constraint refused a write.
class UniqueViolation : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One pooled connection, held for a unit of work. SQL uses `:name` placeholders, bound in the
// order they appear; every value reaches the DB as a bound parameter, never by concatenation.
class Connection {
  public:
    Connection(soci::session& session, Dialect dialect) : session_(session), dialect_(dialect) {}

    std::vector<Row> query(std::string_view sql, const std::vector<Value>& params = {});
    std::optional<Row> query_one(std::string_view sql, const std::vector<Value>& params = {});
    // Returns the number of affected rows.
    std::int64_t exec(std::string_view sql, const std::vector<Value>& params = {});
    Dialect dialect() const { return dialect_; }
    soci::session& raw() { return session_; }
    // Whether an error showed the connection is lost (it is then reopened on next use).
    bool broken() const { return broken_; }

  private:
    // Rethrows the in-flight DB exception as UniqueViolation / DbUnavailable / itself, so
    // repository code can catch those inside a unit of work.
    [[noreturn]] void rethrow_translated();
    std::vector<Row> query_raw(std::string_view sql, const std::vector<Value>& params);
    std::int64_t exec_raw(std::string_view sql, const std::vector<Value>& params);

    soci::session& session_;
    Dialect dialect_;
    bool broken_ = false;
};

// RAII transaction: BEGIN IMMEDIATE (SQLite, so writers queue on the lock up front instead of
// deadlocking on an upgrade) or START TRANSACTION (MariaDB); rolls back unless committed.
class Transaction {
  public:
    explicit Transaction(Connection& conn);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

  private:
    Connection& conn_;
    bool done_ = false;
};

struct DatabaseUrl {
    Dialect dialect = Dialect::sqlite;
    std::string sqlite_path;  // for sqlite
    std::string host, user, password, database;
    int port = 3306;
    // Parses sqlite://<relative path>, sqlite:///<absolute path>, mariadb://u:p@h:port/db.
    // Throws std::invalid_argument.
    static DatabaseUrl parse(const std::string& url);
    std::string redacted() const;
};

class Database {
  public:
    Database(DatabaseUrl url, std::size_t pool_size);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Dialect dialect() const { return url_.dialect; }
    const DatabaseUrl& url() const { return url_; }

    // Runs f with a pooled connection. DB errors that mean "unreachable" become DbUnavailable
    // (and the connection is reopened on next use); unique violations become UniqueViolation.
    template <typename F>
    auto with_connection(F&& f) -> decltype(f(std::declval<Connection&>())) {
        Lease lease(*this);
        Connection conn(*lease.session, url_.dialect);
        struct MarkBroken {
            Lease& lease;
            Connection& conn;
            ~MarkBroken() { lease.broken = lease.broken || conn.broken(); }
        } mark{lease, conn};
        return f(conn);
    }

    // Cheap liveness probe for /readyz.
    bool ping(std::string& error);

    struct PoolStats {
        std::size_t size = 0;    // connections the pool may hold
        std::size_t in_use = 0;  // leased now
    };
    // Thread-safe.
    PoolStats pool_stats();

  private:
    struct Slot {
        std::unique_ptr<soci::session> session;
        bool broken = true;  // opened lazily
    };
    struct Lease {
        explicit Lease(Database& db);
        ~Lease();
        Database& db;
        std::size_t index;
        soci::session* session;
        bool broken = false;
    };
    std::size_t acquire();
    void release(std::size_t index, bool broken);
    void open_slot(Slot& slot);

    DatabaseUrl url_;
    std::vector<Slot> slots_;
    std::vector<std::size_t> free_;
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace medforge::db
