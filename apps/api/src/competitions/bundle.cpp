#include "competitions/bundle.hpp"

#include <sodium.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "competitions/values.hpp"
#include "core/ids.hpp"
#include "metrics/accuracy.hpp"
#include "metrics/mean_iou.hpp"
#include "metrics/roc_auc.hpp"

namespace medforge::competitions {

namespace {

constexpr std::uint32_t kUnseen = 0;

std::string read_bundle_file(const std::filesystem::path& dir, const char* name) {
    std::ifstream in(dir / name, std::ios::binary);
    if (!in) throw BundleError(std::string(name) + " is missing or unreadable");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string at(std::size_t line, std::string_view column, std::string_view reason) {
    std::string out = "line " + std::to_string(line);
    if (!column.empty()) out += ", column \"" + std::string(column.substr(0, 40)) + "\"";
    return out + ": " + std::string(reason);
}

// Which failure type a parsing step raises: the same checks serve submissions (SubmissionError)
// and holdouts (BundleError naming the file).
struct Failure {
    const char* file = nullptr;  // null for a submission
    [[noreturn]] void operator()(std::size_t line, std::string_view column,
                                 std::string_view reason) const {
        if (file != nullptr) throw BundleError(std::string(file) + ": " + at(line, column, reason));
        throw SubmissionError(at(line, column, reason));
    }
};

std::size_t column_of(const Header& h, const std::string& name, const Failure& fail) {
    auto i = h.find(name);
    if (!i) fail(h.physical_line(), name, "required column is missing");
    return *i;
}

// Bounds for the parsed decimal values.
enum class Bound { unit_interval, non_negative, positive };

double float_in(std::string_view text, Bound bound, std::size_t line, std::string_view column,
                const Failure& fail) {
    auto v = parse_float(text);
    if (!v) fail(line, column, describe(v.error));
    switch (bound) {
        case Bound::unit_interval:
            if (v.value < 0.0 || v.value > 1.0) fail(line, column, "must be in [0, 1]");
            break;
        case Bound::non_negative:
            if (v.value < 0.0) fail(line, column, "must be >= 0");
            break;
        case Bound::positive:
            if (v.value <= 0.0) fail(line, column, "must be > 0");
            break;
    }
    return v.value;
}

}  // namespace

void IdIndex::reserve(std::size_t n) {
    offsets_.reserve(n + 1);
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > slots_.size()) {
        slots_.assign(cap, 0);
        for (std::uint32_t pos = 0; pos < size(); ++pos) {
            const auto h = std::hash<std::string_view>{}(id(pos));
            std::size_t i = h & (cap - 1);
            while (slots_[i] != 0) i = (i + 1) & (cap - 1);
            slots_[i] = (static_cast<std::uint64_t>(h >> 32) << 32) | (pos + 1);
        }
    }
}

void IdIndex::grow() { reserve(std::max<std::size_t>(16, slots_.size())); }

namespace {

// "0" or [1-9][0-9]* below 10^18: the one spelling of a non-negative integer, so comparing values
// is comparing strings.
std::optional<std::uint64_t> canonical_uint(std::string_view s) {
    if (s.empty() || s.size() > 18 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

}  // namespace

void IdIndex::finalize() {
    dense_.clear();
    const std::size_t n = size();
    if (n == 0) return;
    std::uint64_t lo = UINT64_MAX;
    std::uint64_t hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = canonical_uint(id(i));
        if (!v) return;
        lo = std::min(lo, *v);
        hi = std::max(hi, *v);
    }
    if (hi - lo >= 2 * static_cast<std::uint64_t>(n)) return;  // too sparse for a direct table
    dense_base_ = lo;
    dense_.assign(hi - lo + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        dense_[*canonical_uint(id(i)) - lo] = static_cast<std::uint32_t>(i) + 1;
    }
}

std::optional<std::uint32_t> IdIndex::find(std::string_view key) const {
    if (!dense_.empty()) {
        const auto v = canonical_uint(key);
        if (!v || *v < dense_base_ || *v - dense_base_ >= dense_.size()) return std::nullopt;
        const std::uint32_t slot = dense_[*v - dense_base_];
        if (slot == 0) return std::nullopt;
        return slot - 1;
    }
    return find_hashed(key);
}

std::optional<std::uint32_t> IdIndex::find_hashed(std::string_view key) const {
    if (slots_.empty()) return std::nullopt;
    const auto h = std::hash<std::string_view>{}(key);
    const std::uint64_t tag = h >> 32;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const std::uint64_t slot = slots_[i];
        if (slot == 0) return std::nullopt;
        if ((slot >> 32) == tag) {
            const auto pos = static_cast<std::uint32_t>(slot & 0xffffffffU) - 1;
            if (id(pos) == key) return pos;
        }
    }
}

std::pair<std::uint32_t, bool> IdIndex::insert(std::string_view key) {
    if (!dense_.empty()) throw std::logic_error("IdIndex::insert after finalize");
    if (auto pos = find_hashed(key)) return {*pos, false};
    if (2 * (size() + 1) > slots_.size()) grow();
    const auto pos = static_cast<std::uint32_t>(size());
    arena_.append(key);
    offsets_.push_back(static_cast<std::uint32_t>(arena_.size()));
    const auto h = std::hash<std::string_view>{}(key);
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = (static_cast<std::uint64_t>(h >> 32) << 32) | (pos + 1);
    return {pos, true};
}

std::string sha256_hex(std::string_view bytes) {
    ensure_crypto_initialised();
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    return to_hex(out, sizeof out);
}

namespace {

// test_ids.csv: the id column first; for mean_iou exactly <id>,width,height with positive sizes.
void read_test_ids(const Bundle& b, std::string_view bytes, IdIndex& ids,
                   std::vector<std::pair<std::uint64_t, std::uint64_t>>& sizes) {
    const Failure fail{"test_ids.csv"};
    const Manifest& m = b.manifest;
    try {
        MemorySource src(bytes);
        CsvReader reader(src);
        const Header& h = reader.header();
        if (h.size() == 0 || h.name(0) != m.id_column) {
            fail(h.physical_line(), "", "the first column must be \"" + m.id_column + "\"");
        }
        if (m.metric == Metric::mean_iou &&
            (h.size() != 3 || h.name(1) != "width" || h.name(2) != "height")) {
            fail(h.physical_line(), "",
                 "must have exactly the columns " + m.id_column + ",width,height");
        }
        ids.reserve(static_cast<std::size_t>(m.expected_row_count));
        Record rec;
        while (reader.next(rec)) {
            const std::string_view id = rec[0];
            if (id.empty()) fail(rec.physical_line(), m.id_column, "empty id");
            if (!ids.insert(id).second) fail(rec.physical_line(), m.id_column, "duplicate id");
            if (m.metric == Metric::mean_iou) {
                auto w = parse_int64(rec[1]);
                auto hh = parse_int64(rec[2]);
                if (!w || w.value <= 0)
                    fail(rec.physical_line(), "width", "must be a positive integer");
                if (!hh || hh.value <= 0)
                    fail(rec.physical_line(), "height", "must be a positive integer");
                sizes.emplace_back(static_cast<std::uint64_t>(w.value),
                                   static_cast<std::uint64_t>(hh.value));
            }
        }
    } catch (const CsvError& e) {
        throw BundleError(std::string("test_ids.csv: ") + e.what());
    }
}

void read_holdout(Bundle& b, std::string_view bytes, const IdIndex& test_ids,
                  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& sizes) {
    const Failure fail{"holdout_labels.csv"};
    const Manifest& m = b.manifest;
    Holdout& ho = b.holdout;
    try {
        MemorySource src(bytes);
        CsvReader reader(src);
        const Header& h = reader.header();
        const std::size_t id_col = column_of(h, m.id_column, fail);
        std::vector<std::size_t> cols;
        if (m.metric == Metric::map_iou) {
            for (const char* c : {"x", "y", "width", "height", "Target"})
                cols.push_back(column_of(h, c, fail));
        } else {
            cols.push_back(column_of(h, m.target_columns.front(), fail));
        }
        ho.index.reserve(static_cast<std::size_t>(m.expected_row_count));
        std::vector<std::uint8_t> negative;  // map_iou: the patient's one Target=0 row was seen
        Record rec;
        while (reader.next(rec)) {
            ++ho.rows;
            const std::size_t line = rec.physical_line();
            const std::string_view id = rec[id_col];
            if (id.empty()) fail(line, m.id_column, "empty id");
            const auto [pos, inserted] = ho.index.insert(id);
            if (!inserted && m.metric != Metric::map_iou) fail(line, m.id_column, "duplicate id");
            switch (m.metric) {
                case Metric::accuracy:
                case Metric::roc_auc: {
                    auto v = parse_int64(rec[cols[0]]);
                    if (!v) fail(line, m.target_columns.front(), describe(v.error));
                    const bool allowed = m.metric == Metric::roc_auc
                                             ? (v.value == 0 || v.value == 1)
                                             : std::find(m.labels.begin(), m.labels.end(),
                                                         v.value) != m.labels.end();
                    if (!allowed)
                        fail(line, m.target_columns.front(), "label is not an allowed label");
                    ho.labels.push_back(v.value);
                    break;
                }
                case Metric::mean_iou: {
                    const auto at_test = test_ids.find(id);
                    if (!at_test) fail(line, m.id_column, "id is not in test_ids.csv");
                    const auto size = sizes[*at_test];
                    ho.sizes.push_back(size);
                    ho.masks.emplace_back();
                    try {
                        decode_rle_into(rec[cols[0]], size.first, size.second, ho.masks.back());
                    } catch (const RleError& e) {
                        fail(line, m.target_columns.front(), e.what());
                    }
                    break;
                }
                case Metric::map_iou: {
                    if (pos == ho.boxes.size()) {
                        ho.boxes.emplace_back();
                        negative.push_back(0);
                    }
                    auto target = parse_int64(rec[cols[4]]);
                    if (!target || (target.value != 0 && target.value != 1)) {
                        fail(line, "Target", "must be 0 or 1");
                    }
                    if (target.value == 0) {
                        for (std::size_t k = 0; k < 4; ++k) {
                            if (!rec[cols[k]].empty())
                                fail(line, h.name(cols[k]), "must be empty when Target is 0");
                        }
                        if (negative[pos] != 0 || !ho.boxes[pos].empty()) {
                            fail(line, m.id_column,
                                 "a Target=0 row must be the patient's only row");
                        }
                        negative[pos] = 1;
                    } else {
                        if (negative[pos] != 0)
                            fail(line, m.id_column,
                                 "a Target=0 row must be the patient's only row");
                        metrics::Box box;
                        box.x = float_in(rec[cols[0]], Bound::non_negative, line, "x", fail);
                        box.y = float_in(rec[cols[1]], Bound::non_negative, line, "y", fail);
                        box.width = float_in(rec[cols[2]], Bound::positive, line, "width", fail);
                        box.height = float_in(rec[cols[3]], Bound::positive, line, "height", fail);
                        ho.boxes[pos].push_back(box);
                    }
                    break;
                }
            }
        }
    } catch (const CsvError& e) {
        throw BundleError(std::string("holdout_labels.csv: ") + e.what());
    }
    if (ho.rows != static_cast<std::uint64_t>(m.expected_row_count)) {
        throw BundleError("holdout_labels.csv: has " + std::to_string(ho.rows) +
                          " data rows but expected_row_count is " +
                          std::to_string(m.expected_row_count));
    }
    if (m.metric == Metric::roc_auc) {
        const bool has0 = std::find(ho.labels.begin(), ho.labels.end(), 0) != ho.labels.end();
        const bool has1 = std::find(ho.labels.begin(), ho.labels.end(), 1) != ho.labels.end();
        if (!has0 || !has1)
            throw BundleError("holdout_labels.csv: roc_auc needs both classes in the holdout");
    }
}

}  // namespace

Bundle load_bundle(const std::filesystem::path& dir) {
    Bundle b;
    b.dir = dir;
    const std::string manifest_bytes = read_bundle_file(dir, "manifest.json");
    b.manifest = parse_manifest(manifest_bytes);
    b.manifest_sha256 = sha256_hex(manifest_bytes);
    const std::string test_ids = read_bundle_file(dir, "test_ids.csv");
    IdIndex ids;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;
    read_test_ids(b, test_ids, ids, sizes);
    ids.finalize();
    const std::string holdout = read_bundle_file(dir, "holdout_labels.csv");
    b.holdout_sha256 = sha256_hex(holdout);
    read_holdout(b, holdout, ids, sizes);
    b.holdout.index.finalize();
    // test_ids.csv must list exactly the holdout's ids (both are duplicate-free by now).
    if (ids.size() != b.holdout.index.size()) {
        throw BundleError("test_ids.csv lists " + std::to_string(ids.size()) +
                          " ids but the holdout has " + std::to_string(b.holdout.index.size()));
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (!b.holdout.index.find(ids.id(i))) {
            throw BundleError("test_ids.csv has an id that is not in the holdout: \"" +
                              std::string(ids.id(i).substr(0, 40)) + "\"");
        }
    }
    const std::string sample = read_bundle_file(dir, "sample_submission.csv");
    try {
        MemorySource src(sample);
        parse_submission(b, src);
    } catch (const std::runtime_error& e) {
        throw BundleError(std::string("sample_submission.csv does not pass validation: ") +
                          e.what());
    }
    return b;
}

ParsedSubmission parse_submission(const Bundle& b, ByteSource& source) {
    const Failure fail{};
    const Manifest& m = b.manifest;
    const Holdout& ho = b.holdout;
    const std::size_t n = ho.index.size();
    ParsedSubmission sub;
    CsvReader reader(source);
    const Header& h = reader.header();
    const std::size_t id_col = column_of(h, m.id_column, fail);
    std::vector<std::size_t> cols;
    for (const auto& c : m.target_columns) cols.push_back(column_of(h, c, fail));
    std::vector<std::uint32_t> first_line(n, kUnseen);
    std::vector<std::uint8_t> empty_row(m.metric == Metric::map_iou ? n : 0, 0);
    switch (m.metric) {
        case Metric::accuracy:
            sub.labels.assign(n, 0);
            break;
        case Metric::roc_auc:
            sub.probabilities.assign(n, 0.0);
            break;
        case Metric::map_iou:
            sub.boxes.assign(n, {});
            break;
        case Metric::mean_iou:
            sub.masks.assign(n, {});
            break;
    }
    Record rec;
    while (reader.next(rec)) {
        ++sub.rows;
        const std::size_t line = rec.physical_line();
        const auto found = ho.index.find(rec[id_col]);
        if (!found) fail(line, m.id_column, "id is not in the test set");
        const std::uint32_t pos = *found;
        if (first_line[pos] != kUnseen && m.metric != Metric::map_iou) {
            fail(line, m.id_column,
                 "duplicate id (first on line " + std::to_string(first_line[pos]) + ")");
        }
        if (first_line[pos] == kUnseen) first_line[pos] = static_cast<std::uint32_t>(line);
        switch (m.metric) {
            case Metric::accuracy: {
                auto v = parse_int64(rec[cols[0]]);
                if (!v) fail(line, m.target_columns[0], describe(v.error));
                if (std::find(m.labels.begin(), m.labels.end(), v.value) == m.labels.end()) {
                    fail(line, m.target_columns[0], "is not one of the allowed labels");
                }
                sub.labels[pos] = v.value;
                break;
            }
            case Metric::roc_auc:
                sub.probabilities[pos] =
                    float_in(rec[cols[0]], Bound::unit_interval, line, m.target_columns[0], fail);
                break;
            case Metric::mean_iou:
                try {
                    decode_rle_into(rec[cols[0]], ho.sizes[pos].first, ho.sizes[pos].second,
                                    sub.masks[pos]);
                } catch (const RleError& e) {
                    fail(line, m.target_columns[0], e.what());
                }
                break;
            case Metric::map_iou: {
                std::size_t empties = 0;
                for (std::size_t c : cols) empties += rec[c].empty() ? 1 : 0;
                if (empties != 0 && empties != cols.size()) {
                    fail(line, "",
                         "confidence, x, y, width and height must be all empty (no detection) or "
                         "all present");
                }
                if (empties != 0) {
                    if (empty_row[pos] != 0 || !sub.boxes[pos].empty()) {
                        fail(line, m.id_column,
                             "a no-detection row must be the patient's only row");
                    }
                    empty_row[pos] = 1;
                    break;
                }
                if (empty_row[pos] != 0)
                    fail(line, m.id_column, "a no-detection row must be the patient's only row");
                metrics::ScoredBox sb;
                sb.confidence =
                    float_in(rec[cols[0]], Bound::unit_interval, line, "confidence", fail);
                sb.box.x = float_in(rec[cols[1]], Bound::non_negative, line, "x", fail);
                sb.box.y = float_in(rec[cols[2]], Bound::non_negative, line, "y", fail);
                sb.box.width = float_in(rec[cols[3]], Bound::positive, line, "width", fail);
                sb.box.height = float_in(rec[cols[4]], Bound::positive, line, "height", fail);
                sub.boxes[pos].push_back(sb);
                break;
            }
        }
    }
    if (sub.rows == 0) fail(h.physical_line() + 1, "", "the file has a header but no data rows");
    std::size_t missing = 0;
    std::size_t example = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (first_line[i] == kUnseen && missing++ == 0) example = i;
    }
    if (missing > 0) {
        throw SubmissionError(std::to_string(missing) +
                              " id(s) of the test set are missing, e.g. \"" +
                              std::string(ho.index.id(example).substr(0, 40)) + "\" (column \"" +
                              m.id_column + "\")");
    }
    return sub;
}

metrics::MetricResult score_submission(const Bundle& b, const ParsedSubmission& sub) {
    const Holdout& ho = b.holdout;
    switch (b.manifest.metric) {
        case Metric::accuracy:
            return metrics::score_accuracy(ho.labels, sub.labels);
        case Metric::roc_auc:
            return metrics::score_roc_auc(ho.labels, sub.probabilities);
        case Metric::map_iou: {
            std::vector<metrics::PatientBoxes> patients(ho.index.size());
            for (std::size_t i = 0; i < patients.size(); ++i) {
                patients[i].truth = ho.boxes[i];
                patients[i].predicted = sub.boxes[i];
            }
            return metrics::score_map_iou(patients);
        }
        case Metric::mean_iou: {
            auto convert = [](const std::vector<PixelRun>& runs) {
                std::vector<metrics::PixelRun> out;
                out.reserve(runs.size());
                for (const auto& r : runs) out.push_back({r.begin, r.end});
                return out;
            };
            std::vector<metrics::MaskPair> images(ho.index.size());
            for (std::size_t i = 0; i < images.size(); ++i) {
                images[i].predicted = convert(sub.masks[i]);
                images[i].truth = convert(ho.masks[i]);
            }
            return metrics::score_mean_iou(images);
        }
    }
    throw std::logic_error("unknown metric");
}

}  // namespace medforge::competitions
