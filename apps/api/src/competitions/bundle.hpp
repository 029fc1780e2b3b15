#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "competitions/csv_reader.hpp"
#include "competitions/manifest.hpp"
#include "competitions/rle.hpp"
#include "metrics/map_iou.hpp"
#include "metrics/metric_result.hpp"

namespace medforge::competitions {

// Lets the id index be searched with a string_view (no allocation per submission row).
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// The hidden labels of a bundle, parsed and checked once, aligned by position: ids[i] is the
// i-th distinct id in holdout file order.
struct Holdout {
    std::vector<std::string> ids;
    std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> index;
    std::vector<std::int64_t> labels;                            // accuracy, roc_auc
    std::vector<std::vector<metrics::Box>> boxes;                // map_iou: Target=1 rows
    std::vector<std::vector<PixelRun>> masks;                    // mean_iou
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;  // mean_iou: width, height
    std::uint64_t rows = 0;                                      // data records in the file
};

// A loaded competition bundle: manifest + holdout + the public files' checks.
struct Bundle {
    std::filesystem::path dir;
    Manifest manifest;
    std::string manifest_sha256;
    std::string holdout_sha256;
    Holdout holdout;
};

// Loads and validates a bundle folder (manifest.json, holdout_labels.csv, test_ids.csv,
// sample_submission.csv). Every problem is a BundleError with a precise message; holdout values
// are never quoted in it.
Bundle load_bundle(const std::filesystem::path& dir);

// A submission that breaks the rules: the message names the physical line and the column.
class SubmissionError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A validated submission, aligned with the holdout.
struct ParsedSubmission {
    std::vector<std::int64_t> labels;                    // accuracy
    std::vector<double> probabilities;                   // roc_auc
    std::vector<std::vector<metrics::ScoredBox>> boxes;  // map_iou (file order per patient)
    std::vector<std::vector<PixelRun>> masks;            // mean_iou
    std::uint64_t rows = 0;                              // data records
};

// Reads and validates a whole submission against the bundle (columns, ids, values). Throws
// SubmissionError (or CsvError, whose message has the same shape).
ParsedSubmission parse_submission(const Bundle& bundle, ByteSource& source);

// Scores a validated submission with the bundle's metric.
metrics::MetricResult score_submission(const Bundle& bundle, const ParsedSubmission& submission);

// SHA-256 of a byte string, lower-case hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace medforge::competitions
