#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "competitions/csv_reader.hpp"
#include "competitions/manifest.hpp"
#include "competitions/rle.hpp"
#include "metrics/map_iou.hpp"
#include "metrics/metric_result.hpp"

namespace medforge::competitions {

// id → position over a set of distinct ids, stored back to back in one buffer: an open-addressing
// table of 64-bit slots (32-bit hash tag | position + 1), so a million ids cost two allocations,
// not a million, and a lookup is one probe sequence over a flat array.
class IdIndex {
  public:
    void reserve(std::size_t n);
    // The id's position, inserting it (at position size()) when absent; .second says whether it
    // was inserted.
    std::pair<std::uint32_t, bool> insert(std::string_view id);
    std::optional<std::uint32_t> find(std::string_view id) const;
    std::size_t size() const { return offsets_.size() - 1; }
    // Call once all ids are in: when every id is a canonical decimal integer and they fill a
    // dense range (ids like 0..999999), lookups switch to a direct array (one memory access
    // instead of a probe sequence and a string compare). Inserting afterwards is a logic error.
    void finalize();
    std::string_view id(std::size_t pos) const {
        return std::string_view(arena_).substr(offsets_[pos], offsets_[pos + 1] - offsets_[pos]);
    }

  private:
    void grow();
    std::optional<std::uint32_t> find_hashed(std::string_view id) const;
    std::string arena_;
    std::vector<std::uint32_t> dense_;  // value - dense_base_ → position + 1 (0 = absent)
    std::uint64_t dense_base_ = 0;
    std::vector<std::uint32_t> offsets_{0};
    std::vector<std::uint64_t> slots_;
};

// The hidden labels of a bundle, parsed and checked once, aligned by position: index.id(i) is
// the i-th distinct id in holdout file order.
struct Holdout {
    IdIndex index;
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
