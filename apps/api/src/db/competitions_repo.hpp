#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace medforge::db {

struct CompetitionRecord {
    std::string id;
    std::string slug;
    std::string title;
    std::string description;
    std::string tier;
    std::string status;  // active | closed
    std::string metric;
    std::string metric_version;
    bool higher_is_better = true;
    std::int64_t submission_cap_per_day = 0;
    std::string scoring_mode;
    std::string leaderboard_rule;
    std::string evaluation_policy;
    std::string dataset_id;
    std::string dataset_slug;   // joined
    std::string dataset_title;  // joined
    std::string bundle_path;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

struct DatasetRecord {
    std::string id;
    std::string slug;
    std::string title;
    std::string source;
    std::string license;
    std::string storage_path;
    std::int64_t bytes = 0;
    std::string checksum;
    std::int64_t created_at = 0;
};

// The fields an admin may change; unset ones stay as they are.
struct CompetitionPatch {
    std::optional<std::string> title;
    std::optional<std::string> description;
    std::optional<std::int64_t> submission_cap_per_day;
    std::optional<std::string> status;  // active | closed
    bool empty() const { return !title && !description && !submission_cap_per_day && !status; }
};

namespace competitions {
// Active competitions ordered by slug, after `after_slug` (keyset pagination).
std::vector<CompetitionRecord> list_active(Connection& c, const std::string& after_slug, int limit);
std::optional<CompetitionRecord> find_by_slug(Connection& c, const std::string& slug);
std::optional<CompetitionRecord> find_by_id(Connection& c, const std::string& id);
// Inserts unless a competition with this slug exists; returns whether it inserted.
bool insert_if_missing(Connection& c, const CompetitionRecord& r);
// Applies the set fields of `patch` and sets updated_at; returns whether a row was updated.
bool update(Connection& c, const std::string& id, const CompetitionPatch& patch,
            std::int64_t updated_at);
// Submissions of the user to the competition created at or after `since` that count toward the
// daily cap.
std::int64_t count_capped_since(Connection& c, const std::string& competition_id,
                                const std::string& user_id, std::int64_t since);
}  // namespace competitions

namespace datasets {
// Datasets ordered by slug, after `after_slug` (keyset pagination).
std::vector<DatasetRecord> list(Connection& c, const std::string& after_slug, int limit);
std::optional<DatasetRecord> find_by_slug(Connection& c, const std::string& slug);
bool insert_if_missing(Connection& c, const DatasetRecord& r);
// Rewrites the derived size and checksum of a dataset (after its folder got content).
void update_stats(Connection& c, const std::string& slug, std::int64_t bytes,
                  const std::string& checksum);
}  // namespace datasets

}  // namespace medforge::db
