// SOCI's sqlite3 header must come before anything that includes <sqlite3.h>.
#include <soci/sqlite3/soci-sqlite3.h>
// clang-format off
#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
// clang-format on

#include "db/database.hpp"

#include <filesystem>
#include <thread>

#include "core/log.hpp"
#include "core/strings.hpp"

namespace medforge::db {

namespace {

constexpr int kSqliteConstraint = 19;
constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kMysqlDuplicateKey = 1062;
constexpr auto kAcquireTimeout = std::chrono::seconds(10);

bool safe_conn_value(const std::string& v) {
    return v.find_first_of("'\" \\") == std::string::npos;
}

// Binds params to a statement; storage must outlive execution.
struct Binder {
    std::vector<long long> ints;
    std::vector<double> reals;
    std::vector<std::string> texts;
    std::vector<soci::indicator> inds;

    void bind(soci::statement& st, const std::vector<Value>& params) {
        ints.reserve(params.size());
        reals.reserve(params.size());
        texts.reserve(params.size());
        inds.reserve(params.size());
        for (const auto& p : params) {
            if (std::holds_alternative<std::int64_t>(p)) {
                ints.push_back(std::get<std::int64_t>(p));
                inds.push_back(soci::i_ok);
                st.exchange(soci::use(ints.back(), inds.back()));
            } else if (std::holds_alternative<double>(p)) {
                reals.push_back(std::get<double>(p));
                inds.push_back(soci::i_ok);
                st.exchange(soci::use(reals.back(), inds.back()));
            } else if (std::holds_alternative<std::string>(p)) {
                texts.push_back(std::get<std::string>(p));
                inds.push_back(soci::i_ok);
                st.exchange(soci::use(texts.back(), inds.back()));
            } else {
                texts.emplace_back();
                inds.push_back(soci::i_null);
                st.exchange(soci::use(texts.back(), inds.back()));
            }
        }
    }
};

Value cell(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return std::monostate{};
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_string:
        case soci::dt_xml:
        case soci::dt_blob:
            return r.get<std::string>(i);
        case soci::dt_double:
            return r.get<double>(i);
        case soci::dt_integer:
            return static_cast<std::int64_t>(r.get<int>(i));
        case soci::dt_long_long:
            return static_cast<std::int64_t>(r.get<long long>(i));
        case soci::dt_unsigned_long_long:
            return static_cast<std::int64_t>(r.get<unsigned long long>(i));
        case soci::dt_date:
            break;
    }
    throw std::runtime_error("unsupported column type in result");
}

}  // namespace

bool Row::is_null(std::size_t i) const {
    return std::holds_alternative<std::monostate>(values_.at(i));
}

std::int64_t Row::i64(std::size_t i) const {
    const auto& v = values_.at(i);
    if (auto p = std::get_if<std::int64_t>(&v)) return *p;
    if (auto p = std::get_if<double>(&v)) return static_cast<std::int64_t>(*p);
    if (auto p = std::get_if<std::string>(&v)) return std::stoll(*p);
    throw std::runtime_error("NULL where an integer was expected");
}

std::optional<std::int64_t> Row::opt_i64(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return i64(i);
}

double Row::f64(std::size_t i) const {
    const auto& v = values_.at(i);
    if (auto p = std::get_if<double>(&v)) return *p;
    if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<double>(*p);
    if (auto p = std::get_if<std::string>(&v)) return std::stod(*p);
    throw std::runtime_error("NULL where a number was expected");
}

std::string Row::str(std::size_t i) const {
    const auto& v = values_.at(i);
    if (auto p = std::get_if<std::string>(&v)) return *p;
    if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
    if (auto p = std::get_if<double>(&v)) return std::to_string(*p);
    throw std::runtime_error("NULL where text was expected");
}

std::optional<std::string> Row::opt_str(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return str(i);
}

std::vector<Row> Connection::query(std::string_view sql, const std::vector<Value>& params) {
    try {
        return query_raw(sql, params);
    } catch (...) {
        rethrow_translated();
    }
}

std::vector<Row> Connection::query_raw(std::string_view sql, const std::vector<Value>& params) {
    soci::statement st(session_);
    Binder binder;
    soci::row row;
    st.alloc();
    binder.bind(st, params);
    st.exchange(soci::into(row));
    st.prepare(std::string(sql));
    st.define_and_bind();
    std::vector<Row> out;
    bool got = st.execute(true);
    while (got) {
        std::vector<Value> values;
        values.reserve(row.size());
        for (std::size_t i = 0; i < row.size(); ++i) values.push_back(cell(row, i));
        out.emplace_back(std::move(values));
        got = st.fetch();
    }
    return out;
}

std::optional<Row> Connection::query_one(std::string_view sql, const std::vector<Value>& params) {
    auto rows = query(sql, params);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

std::int64_t Connection::exec(std::string_view sql, const std::vector<Value>& params) {
    try {
        return exec_raw(sql, params);
    } catch (...) {
        rethrow_translated();
    }
}

std::int64_t Connection::exec_raw(std::string_view sql, const std::vector<Value>& params) {
    soci::statement st(session_);
    Binder binder;
    st.alloc();
    binder.bind(st, params);
    st.prepare(std::string(sql));
    st.define_and_bind();
    st.execute(true);
    return st.get_affected_rows();
}

Transaction::Transaction(Connection& conn) : conn_(conn) {
    conn_.exec(conn_.dialect() == Dialect::sqlite ? "BEGIN IMMEDIATE" : "START TRANSACTION");
}

Transaction::~Transaction() {
    if (done_) return;
    try {
        conn_.exec("ROLLBACK");
    } catch (...) {
        // The connection may be gone; the server rolls back on disconnect.
    }
}

void Transaction::commit() {
    conn_.exec("COMMIT");
    done_ = true;
}

DatabaseUrl DatabaseUrl::parse(const std::string& url) {
    DatabaseUrl u;
    if (url.rfind("sqlite://", 0) == 0) {
        u.dialect = Dialect::sqlite;
        u.sqlite_path = url.substr(9);
        if (u.sqlite_path.empty()) throw std::invalid_argument("sqlite:// needs a path");
        if (!safe_conn_value(u.sqlite_path)) {
            throw std::invalid_argument("the SQLite path may not contain spaces or quotes");
        }
        return u;
    }
    std::string rest;
    if (url.rfind("mariadb://", 0) == 0)
        rest = url.substr(10);
    else if (url.rfind("mysql://", 0) == 0)
        rest = url.substr(8);
    else
        throw std::invalid_argument("DATABASE_URL must start with sqlite:// or mariadb://");
    u.dialect = Dialect::mariadb;
    auto q = rest.find('?');
    if (q != std::string::npos) rest.resize(q);
    auto at = rest.rfind('@');
    if (at == std::string::npos) throw std::invalid_argument("mariadb:// URL needs user@host");
    std::string creds = rest.substr(0, at);
    std::string hostpart = rest.substr(at + 1);
    auto colon = creds.find(':');
    u.user = percent_decode(creds.substr(0, colon), false);
    if (colon != std::string::npos) u.password = percent_decode(creds.substr(colon + 1), false);
    auto slash = hostpart.find('/');
    if (slash == std::string::npos || slash + 1 >= hostpart.size()) {
        throw std::invalid_argument("mariadb:// URL needs a database name: .../<db>");
    }
    u.database = hostpart.substr(slash + 1);
    std::string hp = hostpart.substr(0, slash);
    auto pc = hp.rfind(':');
    u.host = hp.substr(0, pc);
    if (pc != std::string::npos) {
        try {
            u.port = std::stoi(hp.substr(pc + 1));
        } catch (const std::exception&) {
            throw std::invalid_argument("bad port in DATABASE_URL");
        }
        if (u.port <= 0 || u.port > 65535) throw std::invalid_argument("bad port in DATABASE_URL");
    }
    if (u.host.empty() || u.user.empty())
        throw std::invalid_argument("mariadb:// URL needs user and host");
    for (const auto* v : {&u.user, &u.password, &u.database, &u.host}) {
        if (!safe_conn_value(*v)) {
            throw std::invalid_argument(
                "DATABASE_URL parts may not contain spaces, quotes or backslashes");
        }
    }
    return u;
}

std::string DatabaseUrl::redacted() const {
    if (dialect == Dialect::sqlite) return "sqlite://" + sqlite_path;
    return "mariadb://" + user + ":***@" + host + ":" + std::to_string(port) + "/" + database;
}

Database::Database(DatabaseUrl url, std::size_t pool_size) : url_(std::move(url)) {
    if (url_.dialect == Dialect::sqlite) {
        std::error_code ec;
        auto parent = std::filesystem::path(url_.sqlite_path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    }
    slots_.resize(pool_size);
    for (std::size_t i = 0; i < pool_size; ++i) free_.push_back(i);
}

Database::~Database() = default;

Database::PoolStats Database::pool_stats() {
    std::lock_guard lock(mu_);
    return {slots_.size(), slots_.size() - free_.size()};
}

void Database::open_slot(Slot& slot) {
    slot.session.reset();
    auto s = std::make_unique<soci::session>();
    if (url_.dialect == Dialect::sqlite) {
        s->open(soci::sqlite3, "db=" + url_.sqlite_path + " timeout=30");
        // Switching a fresh file to WAL needs an exclusive lock and does not wait on the busy
        // handler, so two processes opening a new file together retry briefly.
        for (int attempt = 0;; ++attempt) {
            try {
                *s << "PRAGMA journal_mode=WAL";
                break;
            } catch (const soci::sqlite3_soci_error& e) {
                const bool busy = e.result() == kSqliteBusy || e.result() == kSqliteLocked;
                if (!busy || attempt >= 500) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        *s << "PRAGMA foreign_keys=ON";
        *s << "PRAGMA synchronous=NORMAL";
    } else {
        s->open(soci::mysql, "host=" + url_.host + " port=" + std::to_string(url_.port) +
                                 " dbname=" + url_.database + " user=" + url_.user +
                                 " password=" + url_.password + " charset=utf8mb4");
        *s << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
        *s << "SET SESSION time_zone = '+00:00'";
        *s << "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'";
    }
    slot.session = std::move(s);
    slot.broken = false;
}

std::size_t Database::acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kAcquireTimeout, [&] { return !free_.empty(); })) {
        throw DbUnavailable("all database connections are busy");
    }
    std::size_t i = free_.back();
    free_.pop_back();
    return i;
}

void Database::release(std::size_t index, bool broken) {
    {
        std::lock_guard lock(mu_);
        if (broken) slots_[index].broken = true;
        free_.push_back(index);
    }
    cv_.notify_one();
}

Database::Lease::Lease(Database& d) : db(d), index(d.acquire()), session(nullptr) {
    Slot& slot = db.slots_[index];
    if (slot.broken) {
        try {
            db.open_slot(slot);
        } catch (const std::exception& e) {
            db.release(index, true);
            log::warn("db.connect_failed", {{"error", e.what()}});
            throw DbUnavailable("cannot connect to the database");
        }
    }
    session = slot.session.get();
}

Database::Lease::~Lease() { db.release(index, broken); }

void Connection::rethrow_translated() {
    bool& broken = broken_;
    try {
        throw;
    } catch (const soci::sqlite3_soci_error& e) {
        if (e.result() == kSqliteConstraint &&
            std::string_view(e.what()).find("UNIQUE") != std::string_view::npos) {
            throw UniqueViolation(e.what());
        }
        if (e.result() == kSqliteBusy || e.result() == kSqliteLocked) {
            throw DbUnavailable(std::string("database busy: ") + e.what());
        }
        throw;
    } catch (const soci::mysql_soci_error& e) {
        if (e.err_num_ == kMysqlDuplicateKey) throw UniqueViolation(e.what());
        if (e.get_error_category() == soci::soci_error::connection_error || e.err_num_ >= 2000) {
            broken = true;
            throw DbUnavailable(std::string("database connection lost: ") + e.what());
        }
        throw;
    }
}

bool Database::ping(std::string& error) {
    try {
        with_connection([](Connection& c) { c.query("SELECT 1"); });
        return true;
    } catch (const std::exception& e) {
        error = e.what();
        return false;
    }
}

}  // namespace medforge::db
