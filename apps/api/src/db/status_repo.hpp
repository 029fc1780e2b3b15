#pragma once

// Platform-wide counts for the host dashboard (GET /api/v1/status).

#include <cstdint>
#include <map>
#include <string>

#include "db/database.hpp"

namespace medforge::db::status {

struct PlatformCounts {
    // Every status the schema allows, 0 when no row has it.
    std::map<std::string, std::int64_t> sessions;      // starting … error
    std::map<std::string, std::int64_t> competitions;  // active, closed
    std::map<std::string, std::int64_t> submissions;   // queued, scoring, scored, failed
    std::int64_t users = 0;
    std::int64_t admins = 0;
    std::int64_t datasets = 0;
};

// One read of each table's counts (not one snapshot: rows may change between the queries).
PlatformCounts platform_counts(Connection& c);

}  // namespace medforge::db::status
