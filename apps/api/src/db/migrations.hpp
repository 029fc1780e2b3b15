#pragma once

#include <string>
#include <vector>

#include "db/database.hpp"

namespace medforge::db {

struct EmbeddedMigrationFile {
    const char* name;  // NNNN_title[.sqlite|.mariadb].sql
    const char* sql;
};

// Generated at build time from apps/api/migrations/*.sql.
const std::vector<EmbeddedMigrationFile>& embedded_migration_files();

struct Migration {
    int version = 0;
    std::string name;
    std::vector<std::string> steps;  // single statements, applied in order
};

// The migrations for a dialect: a dialect-specific file wins over a portable one of the same
// number. Throws std::runtime_error on a malformed set (gaps, duplicates).
std::vector<Migration> migrations_for(Dialect dialect);

// Splits a migration file into single statements (each ends with ';' at the end of a line).
std::vector<std::string> split_statements(const std::string& sql);

struct MigrationReport {
    std::vector<int> applied;  // versions applied by this call
    int current_version = 0;
};

// Applies pending migrations under a migration lock, so two processes starting together are
// safe: SQLite runs all of them in one BEGIN IMMEDIATE transaction (its DDL is transactional);
// MariaDB takes GET_LOCK and records each single-statement step as it completes, so an
// interrupted migration resumes at the next step.
MigrationReport run_migrations(Database& db);

}  // namespace medforge::db
