#include "competitions/bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>

#include "competitions/bundle_detail.hpp"
#include "competitions/sha256.hpp"
#include "competitions/values.hpp"
#include "metrics/accuracy.hpp"
#include "metrics/mean_iou.hpp"
#include "metrics/roc_auc.hpp"

namespace medforge::competitions {

namespace {

struct FdCloser {
    int fd;
    explicit FdCloser(int f) : fd(f) {}
    FdCloser(const FdCloser&) = delete;
    FdCloser& operator=(const FdCloser&) = delete;
    ~FdCloser() { ::close(fd); }
};

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

// The allowed labels of an accuracy manifest: a table when they span a small range, else a
// linear search. index_of gives the label's position in the manifest's list.
class LabelSet {
  public:
    explicit LabelSet(const std::vector<std::int64_t>& labels) : labels_(labels) {
        if (labels.empty()) return;
        const auto [lo, hi] = std::minmax_element(labels.begin(), labels.end());
        if (static_cast<std::uint64_t>(*hi) - static_cast<std::uint64_t>(*lo) >= kMaxTable) return;
        base_ = *lo;
        table_.assign(static_cast<std::size_t>(*hi - *lo) + 1, 0);
        for (std::size_t i = 0; i < labels.size(); ++i) {
            table_[static_cast<std::size_t>(labels[i] - base_)] = static_cast<std::uint32_t>(i) + 1;
        }
    }
    // The label's index in the manifest's list, or -1.
    std::int64_t index_of(std::int64_t v) const {
        if (table_.empty()) {
            const auto it = std::find(labels_.begin(), labels_.end(), v);
            return it == labels_.end() ? -1 : it - labels_.begin();
        }
        const std::uint64_t i = static_cast<std::uint64_t>(v) - static_cast<std::uint64_t>(base_);
        return i < table_.size() ? static_cast<std::int64_t>(table_[i]) - 1 : -1;
    }
    bool contains(std::int64_t v) const { return index_of(v) >= 0; }

  private:
    static constexpr std::uint64_t kMaxTable = 1 << 16;
    const std::vector<std::int64_t>& labels_;
    std::int64_t base_ = 0;
    std::vector<std::uint32_t> table_;  // label - base_ → index + 1 (0: not allowed)
};

}  // namespace

namespace detail {

// The whole file, read with one read(2) into a presized string (a file that changes size
// meanwhile is still read to its end). A folder or an I/O error reads as unreadable.
std::string read_bundle_file(const std::filesystem::path& dir, const char* name) {
    const int fd = ::open((dir / name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw BundleError(std::string(name) + " is missing or unreadable");
    const FdCloser closer{fd};
    struct stat st {};
    std::string out;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.resize(static_cast<std::size_t>(st.st_size));
    auto read_some = [&](char* to, std::size_t capacity) {
        for (;;) {
            const ssize_t n = ::read(fd, to, capacity);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) throw BundleError(std::string(name) + " is missing or unreadable");
        }
    };
    std::size_t used = 0;
    while (used < out.size()) {
        const std::size_t n = read_some(out.data() + used, out.size() - used);
        if (n == 0) break;
        used += n;
    }
    out.resize(used);
    char more[4096];
    for (;;) {
        const std::size_t n = read_some(more, sizeof more);
        if (n == 0) break;
        out.append(more, n);
    }
    return out;
}

}  // namespace detail

IdIndex::IdIndex(const IdIndex& other)
    : own_(other.own_), v_(other.v_), dense_base_(other.dense_base_), mapping_(other.mapping_) {
    if (!mapping_) rebind();
}

IdIndex::IdIndex(IdIndex&& other) noexcept
    : own_(std::move(other.own_)),
      v_(other.v_),
      dense_base_(other.dense_base_),
      mapping_(std::move(other.mapping_)) {
    if (!mapping_) rebind();
    other.own_ = Tables{};
    other.rebind();
}

IdIndex& IdIndex::operator=(const IdIndex& other) {
    if (this != &other) {
        IdIndex copy(other);
        *this = std::move(copy);
    }
    return *this;
}

IdIndex& IdIndex::operator=(IdIndex&& other) noexcept {
    if (this != &other) {
        own_ = std::move(other.own_);
        v_ = other.v_;
        dense_base_ = other.dense_base_;
        mapping_ = std::move(other.mapping_);
        if (!mapping_) rebind();
        other.own_ = Tables{};
        other.mapping_.reset();
        other.rebind();
    }
    return *this;
}

void IdIndex::rebind() {
    v_.arena = own_.arena;
    v_.offsets = own_.offsets;
    v_.slots = own_.slots;
    v_.dense = own_.dense;
    v_.present = own_.present;
    v_.keys = own_.keys;
}

void IdIndex::own() {
    if (!mapping_) return;
    own_.arena.assign(v_.arena);
    own_.offsets.assign(v_.offsets.begin(), v_.offsets.end());
    own_.slots.assign(v_.slots.begin(), v_.slots.end());
    own_.dense.assign(v_.dense.begin(), v_.dense.end());
    own_.present.assign(v_.present.begin(), v_.present.end());
    own_.keys.assign(v_.keys.begin(), v_.keys.end());
    mapping_.reset();
    rebind();
}

void IdIndex::reserve(std::size_t n) {
    own();
    if (!own_.window.empty() || (size() == 0 && own_.slots.empty())) {
        // Nothing in yet (the first id decides between a window and hash slots), or a window.
        if (own_.offsets.empty()) own_.offsets.push_back(0);
        own_.offsets.reserve(n + 1);
        own_.expected = std::max(own_.expected, n);
        rebind();
        return;
    }
    reserve_slots(n);
}

void IdIndex::reserve_slots(std::size_t n) {
    if (own_.offsets.empty()) own_.offsets.push_back(0);
    own_.offsets.reserve(n + 1);
    rebind();  // the rehash below reads ids through the view
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > own_.slots.size()) {
        own_.slots.assign(cap, 0);
        for (std::uint32_t pos = 0; pos < size(); ++pos) {
            const auto h = std::hash<std::string_view>{}(id(pos));
            std::size_t i = h & (cap - 1);
            while (own_.slots[i] != 0) i = (i + 1) & (cap - 1);
            own_.slots[i] = (static_cast<std::uint64_t>(h >> 32) << 32) | (pos + 1);
        }
    }
    rebind();
}

// Hash slots for the ids so far (and the count reserve expected), the window dropped.
void IdIndex::leave_window() {
    own_.window = {};
    own_.slots.clear();
    reserve_slots(std::max(own_.expected, size() + 1));
}

void IdIndex::grow() { reserve_slots(std::max<std::size_t>(16, v_.slots.size())); }

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
    own();
    own_.dense.clear();
    own_.present.clear();
    own_.keys.clear();
    rebind();
    const std::size_t n = size();
    // Unless the ids turn out dense, lookups need hash slots from here on.
    auto not_dense = [&] {
        if (!own_.window.empty()) leave_window();
    };
    if (n == 0) return not_dense();
    std::uint64_t lo = UINT64_MAX;
    std::uint64_t hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = canonical_uint(id(i));
        if (!v) return not_dense();
        lo = std::min(lo, *v);
        hi = std::max(hi, *v);
    }
    // Too sparse for a direct table, or keys that would not fit 32 bits.
    if (hi - lo >= 2 * static_cast<std::uint64_t>(n) || hi - lo >= UINT32_MAX) return not_dense();
    own_.window = {};
    dense_base_ = lo;
    own_.dense.assign(hi - lo + 1, 0);
    own_.present.assign((own_.dense.size() + 63) / 64, 0);
    own_.keys.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto key = static_cast<std::uint32_t>(*canonical_uint(id(i)) - lo);
        own_.dense[key] = static_cast<std::uint32_t>(i) + 1;
        own_.present[key / 64] |= std::uint64_t{1} << (key % 64);
        own_.keys[i] = key;
    }
    rebind();
}

IdIndex::Probe IdIndex::probe(std::string_view key) const {
    Probe p;
    if (!v_.dense.empty()) {
        const auto v = canonical_uint(key);
        if (!v || *v < dense_base_ || *v - dense_base_ >= v_.dense.size()) return p;
        p.key = *v - dense_base_;
        p.possible = true;
        __builtin_prefetch(&v_.dense[p.key]);
    } else if (!own_.window.empty()) {
        const auto v = canonical_uint(key);
        const auto& w = own_.window;
        if (!v || *v < own_.window_base || *v - own_.window_base >= w.size()) return p;
        p.key = *v - own_.window_base;
        p.possible = true;
    } else if (!v_.slots.empty()) {
        p.key = std::hash<std::string_view>{}(key);
        p.possible = true;
        __builtin_prefetch(&v_.slots[p.key & (v_.slots.size() - 1)]);
    }
    return p;
}

std::optional<std::uint32_t> IdIndex::find(std::string_view key, const Probe& p) const {
    if (!p.possible) return std::nullopt;
    if (!v_.dense.empty() || !own_.window.empty()) {
        const std::uint32_t slot = v_.dense.empty() ? own_.window[p.key] : v_.dense[p.key];
        if (slot == 0) return std::nullopt;
        return slot - 1;
    }
    return find_hashed(key, p.key);
}

std::optional<std::uint32_t> IdIndex::find(std::string_view key) const {
    return find(key, probe(key));
}

std::optional<std::uint32_t> IdIndex::find_hashed(std::string_view key, std::size_t h) const {
    if (v_.slots.empty()) return std::nullopt;
    const std::uint64_t tag = h >> 32;
    const std::size_t mask = v_.slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const std::uint64_t slot = v_.slots[i];
        if (slot == 0) return std::nullopt;
        if ((slot >> 32) == tag) {
            const auto pos = static_cast<std::uint32_t>(slot & 0xffffffffU) - 1;
            if (id(pos) == key) return pos;
        }
    }
}

std::pair<std::uint32_t, bool> IdIndex::insert(std::string_view key) {
    if (!v_.dense.empty()) throw std::logic_error("IdIndex::insert after finalize");
    own();
    const auto v = canonical_uint(key);
    if (own_.expected != 0 && size() == 0 && own_.window.empty()) {
        // The first id: a window of 4n values around it holds any n distinct integers that
        // finalize could make dense with it (their span is under 2n).
        const std::uint64_t span = 4 * static_cast<std::uint64_t>(own_.expected);
        if (v && span <= UINT32_MAX) {
            own_.window_base = *v >= span / 2 ? *v - span / 2 : 0;
            own_.window.assign(span, 0);
        } else {
            reserve_slots(own_.expected);
        }
    }
    if (!own_.window.empty()) {
        if (v && *v >= own_.window_base && *v - own_.window_base < own_.window.size()) {
            std::uint32_t& slot = own_.window[*v - own_.window_base];
            if (slot != 0) return {slot - 1, false};
            const auto pos = static_cast<std::uint32_t>(size());
            own_.arena.append(key);
            own_.offsets.push_back(static_cast<std::uint32_t>(own_.arena.size()));
            slot = pos + 1;
            rebind();
            return {pos, true};
        }
        leave_window();
    }
    const auto h = std::hash<std::string_view>{}(key);
    if (auto pos = find_hashed(key, h)) return {*pos, false};
    if (2 * (size() + 1) > v_.slots.size()) grow();
    const auto pos = static_cast<std::uint32_t>(size());
    if (own_.offsets.empty()) own_.offsets.push_back(0);
    own_.arena.append(key);
    own_.offsets.push_back(static_cast<std::uint32_t>(own_.arena.size()));
    const std::size_t mask = own_.slots.size() - 1;
    std::size_t i = h & mask;
    while (own_.slots[i] != 0) i = (i + 1) & mask;
    own_.slots[i] = (static_cast<std::uint64_t>(h >> 32) << 32) | (pos + 1);
    rebind();
    return {pos, true};
}

std::string sha256_hex(std::string_view bytes) {
    Sha256 sha;
    sha.update(bytes);
    return digest_hex(sha.finish());
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
        const LabelSet allowed(m.labels);
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
                    const bool ok = m.metric == Metric::roc_auc ? (v.value == 0 || v.value == 1)
                                                                : allowed.contains(v.value);
                    if (!ok) fail(line, m.target_columns.front(), "label is not an allowed label");
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

namespace detail {

Bundle load_bundle_with(const std::filesystem::path& dir, const FileReader& read_file) {
    Bundle b;
    b.dir = dir;
    const std::string_view manifest_bytes = read_file("manifest.json");
    b.manifest = parse_manifest(manifest_bytes);
    b.manifest_sha256 = sha256_hex(manifest_bytes);
    const std::string_view test_ids = read_file("test_ids.csv");
    IdIndex ids;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;
    read_test_ids(b, test_ids, ids, sizes);
    ids.finalize();
    const std::string_view holdout = read_file("holdout_labels.csv");
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
    const std::string_view sample = read_file("sample_submission.csv");
    try {
        MemorySource src(sample);
        parse_submission(b, src);
    } catch (const std::runtime_error& e) {
        throw BundleError(std::string("sample_submission.csv does not pass validation: ") +
                          e.what());
    }
    return b;
}

}  // namespace detail

Bundle load_bundle(const std::filesystem::path& dir) {
    // Each file is read when the checks reach it, so a missing file is reported after the
    // problems of the files before it.
    std::array<std::string, 4> held;
    std::size_t next = 0;
    return detail::load_bundle_with(dir, [&](const char* name) -> std::string_view {
        std::string& slot = held.at(next++);
        slot = detail::read_bundle_file(dir, name);
        return slot;
    });
}

namespace {

// Records copied out of the reader (the id field, then the target fields), so that the id
// lookups of a batch can be started well before its rows are checked: with a million ids each
// lookup is a cache miss, and issuing many together overlaps their latencies.
class RowBatch {
  public:
    static constexpr std::size_t kRows = 64;

    void reset(std::size_t fields_per_row) {
        fields_per_row_ = fields_per_row;
        bytes_.clear();
        ends_.clear();
        lines_.clear();
    }
    std::size_t size() const { return lines_.size(); }
    void add(const Record& rec, std::size_t id_col, const std::vector<std::size_t>& cols) {
        lines_.push_back(rec.physical_line());
        append(rec[id_col]);
        for (std::size_t c : cols) append(rec[c]);
    }
    std::size_t line(std::size_t row) const { return lines_[row]; }
    // Field k of a row: 0 is the id, 1 + j the j-th target column.
    std::string_view field(std::size_t row, std::size_t k) const {
        const std::size_t i = row * fields_per_row_ + k;
        const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(bytes_).substr(begin, ends_[i] - begin);
    }

    std::array<IdIndex::Probe, kRows> probes{};
    std::array<std::optional<std::uint32_t>, kRows> found{};

  private:
    void append(std::string_view f) {
        bytes_.append(f);
        ends_.push_back(bytes_.size());
    }
    std::size_t fields_per_row_ = 1;
    std::string bytes_;
    std::vector<std::size_t> ends_;
    std::vector<std::size_t> lines_;
};

template <class T>
void prefetch_write(const T* p) {
    __builtin_prefetch(p, 1);
}

// Which holdout positions a submission has covered, and where: a bitmap (it stays in cache
// where a per-position array of line numbers would not), plus, for the duplicate message, the
// position of every row in file order and the rows where physical lines stop running on.
class Coverage {
  public:
    Coverage(std::size_t n, bool log_rows) : seen_((n + 63) / 64, 0), log_rows_(log_rows) {
        if (log_rows_) row_pos_.reserve(n);
    }
    bool seen(std::uint32_t pos) const { return ((seen_[pos / 64] >> (pos % 64)) & 1U) != 0; }
    // Marks `pos` as covered by a row on `line` (rows come in file order).
    void add(std::uint32_t pos, std::size_t line) {
        seen_[pos / 64] |= std::uint64_t{1} << (pos % 64);
        if (!log_rows_) return;
        const std::size_t row = row_pos_.size();
        if (jumps_.empty() || jumps_.back().second + (row - jumps_.back().first) != line) {
            jumps_.emplace_back(row, line);
        }
        row_pos_.push_back(pos);
    }
    // The line of the first row that covered `pos` (a covered position; rows were logged).
    std::size_t first_line(std::uint32_t pos) const {
        const auto it = std::find(row_pos_.begin(), row_pos_.end(), pos);
        const auto row = static_cast<std::size_t>(it - row_pos_.begin());
        auto jump =
            std::upper_bound(jumps_.begin(), jumps_.end(), row,
                             [](std::size_t r, const std::pair<std::size_t, std::size_t>& j) {
                                 return r < j.first;
                             });
        --jump;
        return jump->second + (row - jump->first);
    }
    void prefetch(std::uint32_t pos) const { prefetch_write(&seen_[pos / 64]); }

  private:
    std::vector<std::uint64_t> seen_;
    bool log_rows_;
    std::vector<std::uint32_t> row_pos_;
    std::vector<std::pair<std::size_t, std::size_t>> jumps_;  // (row, its line)
};

}  // namespace

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
    const LabelSet allowed(m.labels);
    // Accuracy over dense integer ids keeps its per-id state by key (id - lowest id) in compact
    // arrays that stay in cache (a bitmap, one byte per id) and lays the labels out in holdout
    // order at the end, instead of a cache miss for the table lookup and another for the label
    // at every row. Elsewhere per-id state is by holdout position ("slot" below is either).
    const bool by_key = m.metric == Metric::accuracy && ho.index.dense() && m.labels.size() <= 256;
    const std::size_t slots = by_key ? ho.index.dense_range() : n;
    std::vector<std::uint8_t> codes(by_key ? slots : 0);  // slot → index in m.labels
    // map_iou allows several rows per id, so only the other metrics report a duplicate's line.
    Coverage coverage(slots, m.metric != Metric::map_iou);
    // map_iou: per patient, the number of boxes so far or kNoDetection; the boxes themselves are
    // kept in file order and moved into per-patient lists of the right size at the end (one
    // allocation per patient instead of a reallocation per box).
    constexpr std::uint32_t kNoDetection = UINT32_MAX;
    std::vector<std::uint32_t> box_count(m.metric == Metric::map_iou ? n : 0, 0);
    std::vector<std::pair<std::uint32_t, metrics::ScoredBox>> boxes;
    if (m.metric == Metric::map_iou) boxes.reserve(ho.rows);  // a guess: as many as the truth
    switch (m.metric) {
        case Metric::accuracy:
            if (!by_key) sub.labels.assign(n, 0);
            break;
        case Metric::roc_auc:
            sub.probabilities.assign(n, 0.0);
            break;
        case Metric::map_iou:
            break;
        case Metric::mean_iou:
            sub.masks.assign(n, {});
            break;
    }
    // One row, exactly as if it had just been read: every check in file order.
    // `target(j)` gives the row's j-th target field.
    auto check_row = [&](std::size_t line, const auto& target, std::optional<std::uint32_t> found) {
        ++sub.rows;
        if (!found) fail(line, m.id_column, "id is not in the test set");
        const std::uint32_t pos = *found;
        if (m.metric != Metric::map_iou && coverage.seen(pos)) {
            fail(line, m.id_column,
                 "duplicate id (first on line " + std::to_string(coverage.first_line(pos)) + ")");
        }
        if (!coverage.seen(pos)) coverage.add(pos, line);
        switch (m.metric) {
            case Metric::accuracy: {
                auto v = parse_int64(target(0));
                if (!v) fail(line, m.target_columns[0], describe(v.error));
                const std::int64_t index = allowed.index_of(v.value);
                if (index < 0) fail(line, m.target_columns[0], "is not one of the allowed labels");
                if (by_key) {
                    codes[pos] = static_cast<std::uint8_t>(index);
                } else {
                    sub.labels[pos] = v.value;
                }
                break;
            }
            case Metric::roc_auc:
                sub.probabilities[pos] =
                    float_in(target(0), Bound::unit_interval, line, m.target_columns[0], fail);
                break;
            case Metric::mean_iou:
                try {
                    decode_rle_into(target(0), ho.sizes[pos].first, ho.sizes[pos].second,
                                    sub.masks[pos]);
                } catch (const RleError& e) {
                    fail(line, m.target_columns[0], e.what());
                }
                break;
            case Metric::map_iou: {
                std::size_t empties = 0;
                for (std::size_t j = 0; j < cols.size(); ++j) empties += target(j).empty() ? 1 : 0;
                if (empties != 0 && empties != cols.size()) {
                    fail(line, "",
                         "confidence, x, y, width and height must be all empty (no detection) or "
                         "all present");
                }
                if (empties != 0) {
                    if (box_count[pos] != 0) {
                        fail(line, m.id_column,
                             "a no-detection row must be the patient's only row");
                    }
                    box_count[pos] = kNoDetection;
                    break;
                }
                if (box_count[pos] == kNoDetection)
                    fail(line, m.id_column, "a no-detection row must be the patient's only row");
                metrics::ScoredBox sb;
                sb.confidence = float_in(target(0), Bound::unit_interval, line, "confidence", fail);
                sb.box.x = float_in(target(1), Bound::non_negative, line, "x", fail);
                sb.box.y = float_in(target(2), Bound::non_negative, line, "y", fail);
                sb.box.width = float_in(target(3), Bound::positive, line, "width", fail);
                sb.box.height = float_in(target(4), Bound::positive, line, "height", fail);
                ++box_count[pos];
                boxes.emplace_back(pos, sb);
                break;
            }
        }
    };
    // A three-stage pipeline over batches of rows: batch k is read and its id slots prefetched,
    // batch k-1's ids are looked up and the memory its rows will write prefetched, batch k-2's
    // rows are checked one by one in file order. A read error (malformed CSV, I/O) is raised only
    // once the rows before it are checked, so the first problem in the file is the one reported.
    Record rec;
    if (by_key) {
        // Nothing to prefetch (the per-id state stays in cache): rows are checked as read.
        while (reader.next(rec)) {
            check_row(
                rec.physical_line(), [&](std::size_t j) { return rec[cols[j]]; },
                ho.index.dense_key(rec[id_col]));
        }
    }
    std::array<RowBatch, 3> ring;
    bool more = !by_key;
    std::exception_ptr read_error;
    std::size_t read = 0;
    std::size_t resolved = 0;
    std::size_t checked = 0;
    while (more || checked < read) {
        if (more) {
            RowBatch& batch = ring[read % ring.size()];
            batch.reset(1 + cols.size());
            try {
                while (batch.size() < RowBatch::kRows) {
                    more = reader.next(rec);
                    if (!more) break;
                    batch.add(rec, id_col, cols);
                }
            } catch (...) {
                read_error = std::current_exception();
                more = false;
            }
            for (std::size_t r = 0; r < batch.size(); ++r) {
                batch.probes[r] = ho.index.probe(batch.field(r, 0));
            }
            ++read;
        }
        if (resolved + (more ? 1 : 0) < read) {
            RowBatch& batch = ring[resolved % ring.size()];
            for (std::size_t r = 0; r < batch.size(); ++r) {
                batch.found[r] = ho.index.find(batch.field(r, 0), batch.probes[r]);
                if (!batch.found[r]) continue;
                const std::uint32_t pos = *batch.found[r];
                coverage.prefetch(pos);
                switch (m.metric) {
                    case Metric::accuracy:
                        prefetch_write(&sub.labels[pos]);
                        break;
                    case Metric::roc_auc:
                        prefetch_write(&sub.probabilities[pos]);
                        break;
                    case Metric::map_iou:
                        prefetch_write(&box_count[pos]);
                        break;
                    case Metric::mean_iou:
                        prefetch_write(&sub.masks[pos]);
                        break;
                }
            }
            ++resolved;
        }
        if (checked + (more ? 1 : 0) < resolved) {
            const RowBatch& batch = ring[checked % ring.size()];
            for (std::size_t r = 0; r < batch.size(); ++r) {
                check_row(
                    batch.line(r), [&](std::size_t j) { return batch.field(r, 1 + j); },
                    batch.found[r]);
            }
            ++checked;
        }
    }
    if (read_error) std::rethrow_exception(read_error);
    if (sub.rows == 0) fail(h.physical_line() + 1, "", "the file has a header but no data rows");
    std::size_t missing = 0;
    std::size_t example = 0;
    if (by_key) sub.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t slot =
            by_key ? ho.index.dense_key_of(i) : static_cast<std::uint32_t>(i);
        if (!coverage.seen(slot)) {
            if (missing++ == 0) example = i;
        } else if (by_key) {
            sub.labels[i] = m.labels[codes[slot]];
        }
    }
    if (missing > 0) {
        throw SubmissionError(std::to_string(missing) +
                              " id(s) of the test set are missing, e.g. \"" +
                              std::string(ho.index.id(example).substr(0, 40)) + "\" (column \"" +
                              m.id_column + "\")");
    }
    if (m.metric == Metric::map_iou) {
        sub.boxes.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (box_count[i] != kNoDetection && box_count[i] != 0)
                sub.boxes[i].reserve(box_count[i]);
        }
        for (const auto& [pos, box] : boxes) sub.boxes[pos].push_back(box);
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
        case Metric::map_iou:
            return metrics::score_map_iou(ho.boxes, sub.boxes);
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
