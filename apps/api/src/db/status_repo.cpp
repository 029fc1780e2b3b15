#include "db/status_repo.hpp"

namespace medforge::db::status {

namespace {

constexpr const char* kSessionsByStatus = "SELECT status, COUNT(*) FROM sessions GROUP BY status";
constexpr const char* kCompetitionsByStatus =
    "SELECT status, COUNT(*) FROM competitions GROUP BY status";
constexpr const char* kSubmissionsByStatus =
    "SELECT status, COUNT(*) FROM submissions GROUP BY status";
constexpr const char* kUsers =
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN role = 'admin' THEN 1 ELSE 0 END), 0) FROM users";
constexpr const char* kDatasets = "SELECT COUNT(*) FROM datasets";

// `known` at 0, then the counts of `sql` (status, count) on top (an unknown status is kept too).
std::map<std::string, std::int64_t> by_status(Connection& c, const char* sql,
                                              std::initializer_list<const char*> known) {
    std::map<std::string, std::int64_t> out;
    for (const char* k : known) out[k] = 0;
    for (const auto& r : c.query(sql)) out[r.str(0)] = r.i64(1);
    return out;
}

}  // namespace

PlatformCounts platform_counts(Connection& c) {
    PlatformCounts p;
    p.sessions =
        by_status(c, kSessionsByStatus, {"starting", "running", "stopping", "stopped", "error"});
    p.competitions = by_status(c, kCompetitionsByStatus, {"active", "closed"});
    p.submissions = by_status(c, kSubmissionsByStatus, {"queued", "scoring", "scored", "failed"});
    if (auto row = c.query_one(kUsers)) {
        p.users = row->i64(0);
        p.admins = row->i64(1);
    }
    if (auto row = c.query_one(kDatasets)) p.datasets = row->i64(0);
    return p;
}

}  // namespace medforge::db::status
