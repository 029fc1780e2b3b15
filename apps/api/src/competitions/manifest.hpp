#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::competitions {

// A competition bundle that cannot be used: the message says exactly what is wrong (never a
// holdout value).
class BundleError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class Metric { accuracy, roc_auc, map_iou, mean_iou };

std::string_view metric_name(Metric m);

struct DatasetRef {
    std::string slug;
    std::string title;
    std::string source;
    std::string license;
};

// manifest.json of a bundle, strictly validated: exactly the documented keys, the right JSON
// types (integers must be JSON integers), the fixed policy vocabulary, and params and
// target_columns that agree with the metric.
struct Manifest {
    std::string slug;
    std::string title;
    std::string description;  // markdown
    Metric metric = Metric::accuracy;
    std::string metric_version;
    bool higher_is_better = true;
    std::int64_t submission_cap_per_day = 0;
    std::string id_column;
    std::vector<std::string> target_columns;
    std::int64_t expected_row_count = 0;
    std::string evaluation_split_version;
    std::string scoring_mode;       // always single_realtime_hidden
    std::string leaderboard_rule;   // always best_per_user
    std::string evaluation_policy;  // always canonical_test_first
    DatasetRef dataset;
    // params, by metric
    std::vector<std::int64_t> labels;  // accuracy: the allowed labels
    std::int64_t image_width = 0;      // map_iou (informational)
    std::int64_t image_height = 0;     // map_iou (informational)
};

// The largest holdout a bundle may declare (rows).
constexpr std::int64_t kMaxExpectedRows = 50'000'000;

// Parses and validates manifest bytes. Throws BundleError naming the offending key.
Manifest parse_manifest(std::string_view json_bytes);

// The submission columns each metric requires besides the id column.
std::vector<std::string> required_prediction_columns(const Manifest& m);

bool valid_slug(std::string_view slug);

}  // namespace medforge::competitions
