#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
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
    IdIndex() { rebind(); }
    IdIndex(const IdIndex& other);
    IdIndex(IdIndex&& other) noexcept;
    IdIndex& operator=(const IdIndex& other);
    IdIndex& operator=(IdIndex&& other) noexcept;
    ~IdIndex() = default;

    void reserve(std::size_t n);
    // The id's position, inserting it (at position size()) when absent; .second says whether it
    // was inserted.
    std::pair<std::uint32_t, bool> insert(std::string_view id);
    std::optional<std::uint32_t> find(std::string_view id) const;
    // find in two steps, for batches of lookups whose cache misses should overlap: probe(id)
    // computes where the id would be and starts loading that memory; find(id, probe) gives the
    // same answer as find(id).
    struct Probe {
        std::uint64_t key = 0;  // dense: the id's offset in the direct table; else its hash
        bool possible = false;  // false: the id cannot be in the index
    };
    Probe probe(std::string_view id) const;
    std::optional<std::uint32_t> find(std::string_view id, const Probe& probe) const;
    std::size_t size() const { return v_.offsets.empty() ? 0 : v_.offsets.size() - 1; }
    // Call once all ids are in: when every id is a canonical decimal integer and they fill a
    // dense range (ids like 0..999999), lookups switch to a direct array (one memory access
    // instead of a probe sequence and a string compare). Inserting afterwards is a logic error.
    void finalize();
    // A dense index also numbers its ids by key = id - lowest id (keys < dense_range()), for
    // callers that keep per-id state in key order: dense_key(id) is the id's key when the id is
    // in the index (a bitmap test rather than a table lookup), dense_key_of(pos) the key of the
    // id at pos.
    bool dense() const { return !v_.dense.empty(); }
    std::size_t dense_range() const { return v_.dense.size(); }
    std::optional<std::uint32_t> dense_key(std::string_view id) const {
        const std::uint64_t k = dense_key_or(id, kNoKey);
        if (k == kNoKey) return std::nullopt;
        return static_cast<std::uint32_t>(k);
    }
    std::uint32_t dense_key_of(std::size_t pos) const { return v_.keys[pos]; }
    std::string_view id(std::size_t pos) const {
        return v_.arena.substr(v_.offsets[pos], v_.offsets[pos + 1] - v_.offsets[pos]);
    }

  private:
    static constexpr std::uint64_t kNoKey = UINT64_MAX;
    // Inline, and without an optional on the way: it runs once per submission row.
    std::uint64_t dense_key_or(std::string_view id, std::uint64_t none) const {
        if (id.empty() || id.size() > 18 || (id.size() > 1 && id.front() == '0')) return none;
        std::uint64_t v = 0;
        for (char c : id) {
            const auto d = static_cast<unsigned char>(c - '0');
            if (d > 9) return none;
            v = v * 10 + d;
        }
        if (v < dense_base_ || v - dense_base_ >= v_.dense.size()) return none;
        const std::uint64_t k = v - dense_base_;
        return ((v_.present[k / 64] >> (k % 64)) & 1U) != 0 ? k : none;
    }
    friend struct IdIndexCodec;  // the bundle cache stores and restores the tables as they are
    // The tables an index builds (insert, finalize).
    struct Tables {
        std::string arena;                   // the ids back to back
        std::vector<std::uint32_t> offsets;  // id i is arena[offsets[i], offsets[i + 1]) (or empty)
        std::vector<std::uint64_t> slots;    // hash tag << 32 | position + 1 (0 = empty)
        std::vector<std::uint32_t> dense;    // value - dense_base_ → position + 1 (0 = absent)
        std::vector<std::uint64_t> present;  // dense: one bit per key
        std::vector<std::uint32_t> keys;     // dense: position → key
        // Until finalize, while every id is a canonical integer near the first one: a direct
        // table over [window_base, window_base + window.size()) instead of hash slots (reserve's
        // count asks for it: most bundles number their ids densely).
        std::vector<std::uint32_t> window;  // value - window_base → position + 1 (0 = absent)
        std::uint64_t window_base = 0;
        std::size_t expected = 0;  // reserve's count, before the first insert
    };
    // What lookups read: the owned tables, or the same tables in a read-only mapping of a bundle
    // cache file that `mapping_` keeps alive (copied into owned tables before any change).
    struct View {
        std::string_view arena;
        std::span<const std::uint32_t> offsets;
        std::span<const std::uint64_t> slots;
        std::span<const std::uint32_t> dense;
        std::span<const std::uint64_t> present;
        std::span<const std::uint32_t> keys;
    };
    void own();
    void rebind();
    void grow();
    void reserve_slots(std::size_t n);
    void leave_window();
    std::optional<std::uint32_t> find_hashed(std::string_view id, std::size_t hash) const;
    Tables own_;
    View v_;
    std::uint64_t dense_base_ = 0;
    std::shared_ptr<const void> mapping_;
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

// A cache of validated bundles (docs/competitions.md, "Bundle cache"). A cache file holds the
// holdout as load_bundle leaves it; it is keyed by the SHA-256 of the four bundle files (and of
// the binary's build id, so a program with other rules validates afresh), checked on read, and
// ignored and rebuilt when it is damaged, truncated, not ours or not private.
struct BundleCacheOptions {
    // Where cache files live (created 0700 when missing); empty: no caching.
    std::filesystem::path dir;
    // Bundles whose four files total fewer bytes load directly: caching would not pay.
    std::uint64_t min_bundle_bytes = std::uint64_t{1} << 20;
};

enum class BundleCacheOutcome {
    not_used,    // caching off, bundle too small, or a file unreadable: plain load_bundle
    hit,         // loaded from a valid cache file
    stored,      // validated from the files and cached
    not_stored,  // validated from the files; the cache file could not be written
};

// The cache folder for a bundle: $MEDFORGE_BUNDLE_CACHE_DIR when set ("off": none), else
// <bundle>/.cache when the bundle folder is ours and writable, else
// $XDG_CACHE_HOME/medforge/bundles, else $HOME/.cache/medforge/bundles; empty when none applies.
// Creates nothing.
std::filesystem::path default_bundle_cache_dir(const std::filesystem::path& bundle_dir);

// load_bundle through the cache: the same Bundle, or the same BundleError (an invalid bundle is
// never cached). Each call reads and hashes the four files (about 25 ms for 25 MB).
Bundle load_bundle_cached(const std::filesystem::path& dir, const BundleCacheOptions& options,
                          BundleCacheOutcome* outcome = nullptr);

// Calls use(bundle) with the bundle of load_bundle_cached(dir, options), for one-shot callers
// (medforge score): when the folder has a cache file, `use` runs on it at once while a second
// thread hashes the bundle's files, and its result stands only if the digests then match the
// file; otherwise (or without a cache file) `use` runs on load_bundle_cached's bundle. So `use`
// may run twice, and must not publish anything before use_bundle_cached returns. An exception
// from `use` propagates only from the call that stands; a BundleError comes from loading.
void use_bundle_cached(const std::filesystem::path& dir, const BundleCacheOptions& options,
                       const std::function<void(const Bundle&)>& use,
                       BundleCacheOutcome* outcome = nullptr);

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
