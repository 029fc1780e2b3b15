#include "db/migrations.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/log.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

namespace medforge::db {

namespace {

constexpr const char* kCreateVersionsSqlite =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT "
    "NULL, applied_at BIGINT NOT NULL)";
constexpr const char* kCreateVersionsMariadb =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, name VARCHAR(255) NOT "
    "NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
constexpr const char* kCreateStepsMariadb =
    "CREATE TABLE IF NOT EXISTS schema_migration_steps (version INT NOT NULL, step INT NOT NULL, "
    "applied_at BIGINT NOT NULL, PRIMARY KEY (version, step)) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
constexpr const char* kAppliedVersions = "SELECT version FROM schema_migrations";
constexpr const char* kRecordVersion =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)";
constexpr const char* kDoneSteps = "SELECT step FROM schema_migration_steps WHERE version = :v";
constexpr const char* kRecordStep =
    "INSERT INTO schema_migration_steps (version, step, applied_at) VALUES (:v, :s, :t)";
constexpr const char* kLockName = "medforge_migrations";
constexpr int kLockWaitSeconds = 300;

bool only_comments(const std::string& stmt) {
    std::size_t pos = 0;
    while (pos < stmt.size()) {
        auto eol = stmt.find('\n', pos);
        std::string line = std::string(
            trim(stmt.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos)));
        if (!line.empty() && line.rfind("--", 0) != 0) return false;
        if (eol == std::string::npos) break;
        pos = eol + 1;
    }
    return true;
}

std::vector<int> applied_versions(Connection& c) {
    std::vector<int> out;
    for (const auto& r : c.query(kAppliedVersions)) out.push_back(static_cast<int>(r.i64(0)));
    return out;
}

bool contains(const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

MigrationReport migrate_sqlite(Database& db, const std::vector<Migration>& migrations) {
    return db.with_connection([&](Connection& c) {
        MigrationReport report;
        Transaction tx(c);  // BEGIN IMMEDIATE: the second process waits here
        c.exec(kCreateVersionsSqlite);
        auto done = applied_versions(c);
        for (const auto& m : migrations) {
            if (contains(done, m.version)) continue;
            for (const auto& step : m.steps) c.exec(step);
            c.exec(kRecordVersion, {std::int64_t{m.version}, m.name, SystemClock().now()});
            report.applied.push_back(m.version);
        }
        tx.commit();
        report.current_version = migrations.empty() ? 0 : migrations.back().version;
        return report;
    });
}

MigrationReport migrate_mariadb(Database& db, const std::vector<Migration>& migrations) {
    return db.with_connection([&](Connection& c) {
        auto got = c.query_one("SELECT GET_LOCK(:n, :t)",
                               {std::string(kLockName), std::int64_t{kLockWaitSeconds}});
        if (!got || got->is_null(0) || got->i64(0) != 1) {
            throw std::runtime_error("timed out waiting for the migration lock");
        }
        MigrationReport report;
        try {
            c.exec(kCreateVersionsMariadb);
            c.exec(kCreateStepsMariadb);
            auto done = applied_versions(c);
            for (const auto& m : migrations) {
                if (contains(done, m.version)) continue;
                std::vector<int> steps_done;
                for (const auto& r : c.query(kDoneSteps, {std::int64_t{m.version}})) {
                    steps_done.push_back(static_cast<int>(r.i64(0)));
                }
                for (std::size_t i = 0; i < m.steps.size(); ++i) {
                    const int step = static_cast<int>(i) + 1;
                    if (contains(steps_done, step)) continue;
                    c.exec(m.steps[i]);  // DDL commits implicitly; hence the step record
                    c.exec(kRecordStep,
                           {std::int64_t{m.version}, std::int64_t{step}, SystemClock().now()});
                }
                c.exec(kRecordVersion, {std::int64_t{m.version}, m.name, SystemClock().now()});
                report.applied.push_back(m.version);
            }
        } catch (...) {
            c.query("SELECT RELEASE_LOCK(:n)", {std::string(kLockName)});
            throw;
        }
        c.query("SELECT RELEASE_LOCK(:n)", {std::string(kLockName)});
        report.current_version = migrations.empty() ? 0 : migrations.back().version;
        return report;
    });
}

}  // namespace

std::vector<std::string> split_statements(const std::string& sql) {
    std::vector<std::string> out;
    std::string current;
    std::size_t pos = 0;
    while (pos <= sql.size()) {
        auto eol = sql.find('\n', pos);
        std::string line =
            sql.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        current += line + "\n";
        std::string t(trim(line));
        if (!t.empty() && t.back() == ';' && t.rfind("--", 0) != 0) {
            std::string stmt(trim(current));
            stmt.pop_back();  // the ';'
            if (!only_comments(stmt)) out.push_back(std::string(trim(stmt)));
            current.clear();
        }
        if (eol == std::string::npos) break;
        pos = eol + 1;
    }
    if (!only_comments(current)) {
        throw std::runtime_error("migration has a statement without a terminating ';'");
    }
    return out;
}

std::vector<Migration> migrations_for(Dialect dialect) {
    const std::string own = dialect == Dialect::sqlite ? "sqlite" : "mariadb";
    std::map<int, std::pair<int, Migration>> chosen;  // version → (priority, migration)
    for (const auto& f : embedded_migration_files()) {
        std::string name = f.name;
        if (name.size() < 9 || name.compare(name.size() - 4, 4, ".sql") != 0) continue;
        std::string stem = name.substr(0, name.size() - 4);
        int priority = 1;
        auto dot = stem.rfind('.');
        if (dot != std::string::npos) {
            if (stem.substr(dot + 1) != own) continue;  // the other dialect's file
            stem.resize(dot);
            priority = 2;
        }
        Migration m;
        m.version = std::stoi(stem.substr(0, stem.find('_')));
        m.name = stem;
        m.steps = split_statements(f.sql);
        auto it = chosen.find(m.version);
        if (it != chosen.end() && it->second.first == priority) {
            throw std::runtime_error("two migrations with version " + std::to_string(m.version));
        }
        if (it == chosen.end() || it->second.first < priority) chosen[m.version] = {priority, m};
    }
    std::vector<Migration> out;
    int expect = 1;
    for (auto& [v, pm] : chosen) {
        if (v != expect)
            throw std::runtime_error("migration versions must be 1, 2, 3, ... without gaps");
        ++expect;
        out.push_back(std::move(pm.second));
    }
    return out;
}

MigrationReport run_migrations(Database& db) {
    auto migrations = migrations_for(db.dialect());
    auto report = db.dialect() == Dialect::sqlite ? migrate_sqlite(db, migrations)
                                                  : migrate_mariadb(db, migrations);
    for (int v : report.applied) log::info("db.migration_applied", {{"version", v}});
    return report;
}

}  // namespace medforge::db
