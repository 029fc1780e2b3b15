#pragma once

// Shared by the competition and submission routes.

#include <nlohmann/json.hpp>

#include "app/app.hpp"
#include "competitions/bundle.hpp"
#include "db/competitions_repo.hpp"

namespace medforge::app {

constexpr Micros kDay = 86400 * kMicrosPerSecond;

// The competition with this slug (active or closed); 404 competition_not_found otherwise.
db::CompetitionRecord find_competition(Services& s, const std::string& slug);

// GET /competitions/{slug}'s data: the summary, description, policies, dataset and timestamps;
// for a logged-in caller also remaining_today and cap_resets_at.
nlohmann::json competition_detail_json(Services& s, const db::CompetitionRecord& c,
                                       const http::Request& req);
extern const nlohmann::json kCompetitionDetailSchema;

// The dataset folder of a bundle (DATASETS_ROOT/<manifest.dataset.slug>): when missing it is
// created with the bundle's public files and a README (`materialized`); then its size and listing
// checksum are computed.
struct DatasetFolder {
    std::string path;
    bool materialized = false;
    std::int64_t bytes = 0;
    std::string checksum;
};
DatasetFolder prepare_dataset_folder(const Config& config, const competitions::Bundle& bundle);

// Inserts the row of manifest.dataset when no dataset has its slug (or refreshes the stats of a
// row whose folder was just materialized), then the competition (public, active, bundle at
// `bundle_path`) when no competition has its slug. The caller owns the transaction: seeding
// commits either way, the admin upload only when the competition was added.
struct BundleRows {
    bool competition_added = false;
    bool dataset_added = false;
};
BundleRows insert_bundle_rows(db::Connection& c, const competitions::Manifest& m,
                              const DatasetFolder& folder, const std::string& bundle_path,
                              Micros now);

}  // namespace medforge::app
