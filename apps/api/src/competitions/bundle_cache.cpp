// The bundle cache: validated bundles stored as binary files keyed by the SHA-256 of their files.
//
// File name: <16 hex of SHA-256(bundle path)>-<64 hex key>.bundle, where key = SHA-256(format
// tag, binary build id, SHA-256 of manifest.json, test_ids.csv, holdout_labels.csv,
// sample_submission.csv). Layout (native byte order, which the header records):
//   Header (magic, format version, byte-order mark, the four file digests, payload size,
//   payload checksum), then the payload: metric, rows, the id index's tables, labels, boxes,
//   masks, sizes, each array as a u64 count and its elements padded to 8 bytes, so that the
//   mapped file can be used in place.
// A file is used only if it is a regular file owned by this user and private (no group or other
// permission bits), its header names the digests of the files as they are now, its size is
// exact, its checksum matches and its tables are consistent; anything else is a miss, and the
// miss rewrites the file (temporary file + rename, so readers never see a partial file).
#include <dirent.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>

#include "competitions/bundle.hpp"
#include "competitions/bundle_detail.hpp"
#include "competitions/sha256.hpp"

namespace medforge::competitions {

namespace {

namespace fs = std::filesystem;

constexpr std::array<char, 8> kMagic = {'M', 'F', 'B', 'U', 'N', 'D', 'L', 'E'};
// Bump when the payload layout or the meaning of a stored field changes.
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kByteOrderMark = 0x01020304;
constexpr std::array<const char*, 4> kFiles = {"manifest.json", "test_ids.csv",
                                               "holdout_labels.csv", "sample_submission.csv"};

struct CacheHeader {
    std::array<char, 8> magic;
    std::uint32_t version;
    std::uint32_t byte_order;
    std::array<Sha256::Digest, 4> files;  // in kFiles order
    std::uint64_t payload_size;
    std::uint64_t checksum;
};
static_assert(std::is_trivially_copyable_v<CacheHeader>);
static_assert(sizeof(CacheHeader) == 8 + 4 + 4 + 4 * 32 + 8 + 8);

// ---- checksum ------------------------------------------------------------------------------

// Not cryptographic: it catches torn, truncated or damaged files. (The bundle's own bytes are
// covered by SHA-256; a cache file is private to the user that wrote it.) Four lanes of
// xxHash64-style rounds, several GB/s.
constexpr std::uint64_t kP1 = 11400714785074694791ULL;
constexpr std::uint64_t kP2 = 14029467366897019727ULL;
constexpr std::uint64_t kP3 = 1609587929392839161ULL;
constexpr std::uint64_t kP4 = 9650029242287828579ULL;
constexpr std::uint64_t kP5 = 2870177450012600261ULL;

constexpr std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
constexpr std::uint64_t round64(std::uint64_t acc, std::uint64_t in) {
    return rotl(acc + in * kP2, 31) * kP1;
}

std::uint64_t load64(const unsigned char* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::uint64_t hash_bytes(const unsigned char* p, std::size_t n) {
    std::uint64_t v1 = kP1 + kP2;
    std::uint64_t v2 = kP2;
    std::uint64_t v3 = 0;
    std::uint64_t v4 = 0 - kP1;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v1 = round64(v1, load64(p + i));
        v2 = round64(v2, load64(p + i + 8));
        v3 = round64(v3, load64(p + i + 16));
        v4 = round64(v4, load64(p + i + 24));
    }
    std::uint64_t h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + n;
    for (; i + 8 <= n; i += 8) h = rotl(h ^ round64(0, load64(p + i)), 27) * kP1 + kP4;
    for (; i < n; ++i) h = rotl(h ^ (p[i] * kP5), 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
}

// ---- payload writer / reader -----------------------------------------------------------------

// Every array starts at a multiple of 8 bytes from the start of the file (the header is 160
// bytes; each count is 8 bytes and each array is padded to 8), so that a mapped file can be
// read in place.
constexpr std::size_t kAlign = 8;
constexpr std::array<unsigned char, kAlign> kPadding{};

class Writer {
  public:
    void u64(std::uint64_t v) { bytes(&v, sizeof v); }
    template <class T>
    void vec(std::span<const T> v) {
        static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= kAlign);
        u64(v.size());
        bytes(v.data(), v.size() * sizeof(T));
        pad();
    }
    template <class T>
    void vec(const std::vector<T>& v) {
        vec(std::span<const T>(v));
    }
    void str(std::string_view s) { vec(std::span<const char>(s.data(), s.size())); }
    const std::string& out() const { return out_; }

  private:
    void bytes(const void* p, std::size_t n) {
        if (n > 0) out_.append(static_cast<const char*>(p), n);
    }
    void pad() {
        if (out_.size() % kAlign != 0) bytes(kPadding.data(), kAlign - out_.size() % kAlign);
    }
    std::string out_;
};

// Reads the payload of a mapped file: arrays are viewed in place (span) or copied out (vec);
// every count is checked against the bytes left.
class Reader {
  public:
    Reader(const unsigned char* data, std::size_t size) : p_(data), left_(size) {}
    bool u64(std::uint64_t& v) {
        const unsigned char* at = take(sizeof v);
        if (at == nullptr) return false;
        std::memcpy(&v, at, sizeof v);
        return true;
    }
    template <class T>
    bool span(std::span<const T>& out) {
        static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= kAlign);
        std::uint64_t n = 0;
        if (!u64(n) || n > left_ / sizeof(T)) return false;
        const std::size_t bytes = n * sizeof(T);
        const unsigned char* at = take(bytes);
        if (at == nullptr && bytes != 0) return false;
        if (reinterpret_cast<std::uintptr_t>(at) % alignof(T) != 0) return false;
        out = std::span<const T>(reinterpret_cast<const T*>(at), n);
        const std::size_t pad = (kAlign - bytes % kAlign) % kAlign;
        return pad == 0 || take(pad) != nullptr;
    }
    template <class T>
    bool vec(std::vector<T>& out) {
        std::span<const T> view;
        if (!span(view)) return false;
        out.assign(view.begin(), view.end());
        return true;
    }
    bool str(std::string_view& out) {
        std::span<const char> view;
        if (!span(view)) return false;
        out = std::string_view(view.data(), view.size());
        return true;
    }
    std::uint64_t left() const { return left_; }

  private:
    // The next n bytes, or null when fewer are left.
    const unsigned char* take(std::size_t n) {
        if (n > left_) return nullptr;
        const unsigned char* at = p_;
        p_ += n;
        left_ -= n;
        return at;
    }
    const unsigned char* p_;
    std::size_t left_;
};

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

// ---- the id index's tables -------------------------------------------------------------------

struct IdIndexCodec {
    static void save(const IdIndex& idx, Writer& w) {
        const IdIndex::View& v = idx.v_;
        w.str(v.arena);
        w.vec(v.offsets);
        // A dense index answers every lookup from its direct table: the hash slots are not needed.
        w.vec(v.dense.empty() ? v.slots : std::span<const std::uint64_t>{});
        w.u64(idx.dense_base_);
        w.vec(v.dense);
        w.vec(v.present);
        w.vec(v.keys);
    }

    // The tables stay in the mapping, which `mapping` keeps alive.
    static bool load(IdIndex& idx, Reader& r, std::shared_ptr<const void> mapping) {
        IdIndex::View v;
        std::uint64_t dense_base = 0;
        if (!r.str(v.arena) || !r.span(v.offsets) || !r.span(v.slots) || !r.u64(dense_base) ||
            !r.span(v.dense) || !r.span(v.present) || !r.span(v.keys)) {
            return false;
        }
        // Consistency, so that no lookup can read out of bounds whatever the file held.
        const auto& off = v.offsets;
        if (!off.empty() && (off.front() != 0 || off.back() != v.arena.size())) return false;
        if (off.empty() && !v.arena.empty()) return false;
        for (std::size_t i = 1; i < off.size(); ++i) {
            if (off[i] < off[i - 1]) return false;
        }
        const std::size_t n = off.empty() ? 0 : off.size() - 1;
        const std::size_t slots = v.slots.size();
        if (slots != 0 && ((slots & (slots - 1)) != 0 || slots < 2 * n)) return false;
        if (slots == 0 && v.dense.empty() && n != 0) return false;
        for (std::uint64_t s : v.slots) {
            if ((s & 0xffffffffU) > n) return false;
        }
        for (std::uint32_t d : v.dense) {
            if (d > n) return false;
        }
        const std::size_t range = v.dense.size();
        if (v.present.size() != (range + 63) / 64) return false;
        if (v.keys.size() != (range == 0 ? 0 : n)) return false;
        for (std::uint32_t k : v.keys) {
            if (k >= range) return false;
        }
        idx.own_ = IdIndex::Tables{};
        idx.v_ = v;
        idx.dense_base_ = dense_base;
        idx.mapping_ = std::move(mapping);
        return true;
    }
};

namespace {

void save_holdout(const Bundle& b, Writer& w) {
    const Holdout& ho = b.holdout;
    w.u64(static_cast<std::uint64_t>(b.manifest.metric));
    w.u64(ho.rows);
    IdIndexCodec::save(ho.index, w);
    w.vec(ho.labels);
    std::vector<std::uint64_t> counts;
    std::vector<metrics::Box> boxes;
    for (const auto& p : ho.boxes) {
        counts.push_back(p.size());
        boxes.insert(boxes.end(), p.begin(), p.end());
    }
    w.vec(counts);
    w.vec(boxes);
    counts.clear();
    std::vector<PixelRun> runs;
    for (const auto& m : ho.masks) {
        counts.push_back(m.size());
        runs.insert(runs.end(), m.begin(), m.end());
    }
    w.vec(counts);
    w.vec(runs);
    std::vector<std::uint64_t> sizes;
    for (const auto& [width, height] : ho.sizes) {
        sizes.push_back(width);
        sizes.push_back(height);
    }
    w.vec(sizes);
}

// Splits `flat` into `out` by `counts`; false unless the counts add up exactly.
template <class T>
bool split(std::span<const std::uint64_t> counts, std::span<const T> flat,
           std::vector<std::vector<T>>& out) {
    out.resize(counts.size());
    std::uint64_t at = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] > flat.size() - at) return false;
        const auto first = flat.begin() + static_cast<std::ptrdiff_t>(at);
        out[i].assign(first, first + static_cast<std::ptrdiff_t>(counts[i]));
        at += counts[i];
    }
    return at == flat.size();
}

bool load_holdout(Bundle& b, Reader& r, const std::shared_ptr<const void>& mapping) {
    Holdout& ho = b.holdout;
    const Metric metric = b.manifest.metric;
    std::uint64_t stored_metric = 0;
    if (!r.u64(stored_metric) || stored_metric != static_cast<std::uint64_t>(metric)) return false;
    if (!r.u64(ho.rows) || ho.rows != static_cast<std::uint64_t>(b.manifest.expected_row_count)) {
        return false;
    }
    if (!IdIndexCodec::load(ho.index, r, mapping) || !r.vec(ho.labels)) return false;
    std::span<const std::uint64_t> counts;
    std::span<const metrics::Box> boxes;
    if (!r.span(counts) || !r.span(boxes) || !split(counts, boxes, ho.boxes)) return false;
    std::span<const PixelRun> runs;
    if (!r.span(counts) || !r.span(runs) || !split(counts, runs, ho.masks)) return false;
    std::span<const std::uint64_t> sizes;
    if (!r.span(sizes) || sizes.size() % 2 != 0) return false;
    ho.sizes.resize(sizes.size() / 2);
    for (std::size_t i = 0; i < ho.sizes.size(); ++i) {
        ho.sizes[i] = {sizes[2 * i], sizes[2 * i + 1]};
    }
    // Every per-id table has one entry per id, or none when the metric does not use it.
    const std::size_t n = ho.index.size();
    auto sized = [n](std::size_t size, bool used) { return size == (used ? n : 0); };
    return sized(ho.labels.size(), metric == Metric::accuracy || metric == Metric::roc_auc) &&
           sized(ho.boxes.size(), metric == Metric::map_iou) &&
           sized(ho.masks.size(), metric == Metric::mean_iou) &&
           sized(ho.sizes.size(), metric == Metric::mean_iou);
}

// The GNU build id of the running executable (empty when it has none): a cache written by a
// program with other validation rules is never trusted.
std::string build_id() {
    static const std::string id = [] {
        std::string out;
        dl_iterate_phdr(
            [](dl_phdr_info* info, std::size_t, void* data) -> int {
                auto* result = static_cast<std::string*>(data);
                for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
                    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                    if (ph.p_type != PT_NOTE) continue;
                    const ElfW(Addr) address = info->dlpi_addr + ph.p_vaddr;
                    // NOLINTNEXTLINE(performance-no-int-to-ptr): dl_iterate_phdr gives integers
                    const auto* p = reinterpret_cast<const unsigned char*>(address);
                    std::size_t at = 0;
                    while (at + sizeof(ElfW(Nhdr)) <= ph.p_memsz) {
                        ElfW(Nhdr) note{};
                        std::memcpy(&note, p + at, sizeof note);
                        const std::size_t name_at = at + sizeof note;
                        const std::size_t desc_at = name_at + ((note.n_namesz + 3U) & ~3U);
                        const std::size_t next = desc_at + ((note.n_descsz + 3U) & ~3U);
                        if (next > ph.p_memsz) break;
                        if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
                            std::memcmp(p + name_at, "GNU", 4) == 0) {
                            result->assign(reinterpret_cast<const char*>(p + desc_at),
                                           note.n_descsz);
                            return 1;
                        }
                        at = next;
                    }
                }
                return 1;  // only the executable itself (the first object) counts
            },
            &out);
        return out;
    }();
    return id;
}

Sha256::Digest cache_key(const std::array<Sha256::Digest, 4>& files) {
    Sha256 sha;
    sha.update(std::string_view("medforge bundle cache\0", 22));
    const std::uint32_t version = kFormatVersion;
    sha.update(std::string_view(reinterpret_cast<const char*>(&version), sizeof version));
    const std::string id = build_id();
    const std::uint64_t id_size = id.size();
    sha.update(std::string_view(reinterpret_cast<const char*>(&id_size), sizeof id_size));
    sha.update(id);
    for (const auto& d : files) {
        sha.update(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    }
    return sha.finish();
}

// 16 hex digits naming the bundle folder, so that a new version of a bundle replaces the file
// of the old one instead of piling up.
std::string folder_tag(const fs::path& dir) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(dir, ec), ec);
    if (ec) p = dir;
    return sha256_hex(p.string()).substr(0, 16);
}

// Reads a file in fixed pieces and hashes it, so that checking a hit touches no large buffer.
bool hash_file(const fs::path& path, std::vector<char>& buffer, Sha256::Digest& digest,
               std::uint64_t& size, std::string* keep) {
    const Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0) return false;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    Sha256 sha;
    size = 0;
    for (;;) {
        const ssize_t n = ::read(f.fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) break;
        const std::string_view piece(buffer.data(), static_cast<std::size_t>(n));
        sha.update(piece);
        if (keep != nullptr) keep->append(piece);
        size += static_cast<std::uint64_t>(n);
    }
    digest = sha.finish();
    return true;
}

// The digests of the four files (kFiles order) and their total size; the manifest's bytes are
// kept. False when one cannot be read.
struct FileDigests {
    std::array<Sha256::Digest, 4> files{};
    std::uint64_t total = 0;
    std::string manifest;
};

bool hash_bundle_files(const fs::path& dir, FileDigests& out) {
    std::vector<char> buffer(std::size_t{1} << 20);
    for (std::size_t i = 0; i < kFiles.size(); ++i) {
        std::uint64_t size = 0;
        if (!hash_file(dir / kFiles[i], buffer, out.files[i], size,
                       i == 0 ? &out.manifest : nullptr)) {
            return false;
        }
        out.total += size;
    }
    return true;
}

std::string cache_file_name(const std::string& tag, const std::array<Sha256::Digest, 4>& files) {
    return tag + "-" + digest_hex(cache_key(files)) + ".bundle";
}

// The one cache file of this bundle folder in `cache_dir`, if there is exactly one.
std::optional<std::string> only_cache_file(const fs::path& cache_dir, const std::string& tag) {
    std::optional<std::string> found;
    DIR* d = ::opendir(cache_dir.c_str());
    if (d == nullptr) return std::nullopt;
    std::size_t count = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view entry = e->d_name;
        if (entry.size() == tag.size() + 1 + 64 + 7 && entry.starts_with(tag + "-") &&
            entry.ends_with(".bundle")) {
            found = std::string(entry);
            ++count;
        }
    }
    ::closedir(d);
    if (count != 1) return std::nullopt;
    return found;
}

// A cache file mapped read-only, its header checked for format and size (not yet for digests or
// checksum). Cache files are only ever replaced (rename), never rewritten in place, so the
// mapping cannot shrink under its readers.
struct MappedCache {
    std::shared_ptr<const void> mapping;
    const unsigned char* payload = nullptr;
    std::size_t payload_size = 0;
    CacheHeader header{};

    bool checksum_ok() const { return hash_bytes(payload, payload_size) == header.checksum; }
};

std::optional<MappedCache> map_cache_file(const fs::path& path) {
    const Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (f.fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0) {
        return std::nullopt;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size < sizeof(CacheHeader)) return std::nullopt;
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, f.fd, 0);
    if (addr == MAP_FAILED) return std::nullopt;
    MappedCache m;
    m.mapping = std::shared_ptr<const void>(
        addr, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
    const auto* bytes = static_cast<const unsigned char*>(addr);
    std::memcpy(&m.header, bytes, sizeof m.header);
    const CacheHeader& h = m.header;
    if (h.magic != kMagic || h.version != kFormatVersion || h.byte_order != kByteOrderMark ||
        h.payload_size != size - sizeof h) {
        return std::nullopt;
    }
    m.payload = bytes + sizeof h;
    m.payload_size = size - sizeof h;
    return m;
}

// Fills b.holdout from a mapped file (the id index stays in the mapping); false, with b.holdout
// cleared, when the payload is inconsistent. The checksum is the caller's to check.
bool load_cached_holdout(const MappedCache& m, Bundle& b) {
    Reader r(m.payload, m.payload_size);
    if (load_holdout(b, r, m.mapping) && r.left() == 0) return true;
    b.holdout = Holdout{};
    return false;
}

// mkdir -p with 0700 for what it creates; the folder must end up ours and not writable by others.
bool ensure_private_dir(const fs::path& dir) {
    fs::path built;
    for (const auto& part : dir) {
        built /= part;
        if (::mkdir(built.c_str(), 0700) != 0 && errno != EEXIST) return false;
    }
    struct stat st {};
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
           (st.st_mode & 022) == 0;
}

bool write_cache_file(const fs::path& dir, const std::string& tag, const std::string& name,
                      const std::array<Sha256::Digest, 4>& files, const Bundle& b) {
    if (!ensure_private_dir(dir)) return false;
    Writer w;
    save_holdout(b, w);
    CacheHeader h{};
    h.magic = kMagic;
    h.version = kFormatVersion;
    h.byte_order = kByteOrderMark;
    h.files = files;
    h.payload_size = w.out().size();
    h.checksum = hash_bytes(reinterpret_cast<const unsigned char*>(w.out().data()), w.out().size());

    static std::atomic<unsigned> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    const fs::path tmp = dir / (name + ".tmp." + std::to_string(::getpid()) + "." +
                                std::to_string(stamp) + "." + std::to_string(counter++));
    bool ok = false;
    {
        const Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (f.fd < 0) return false;
        auto write_all = [&](const char* p, std::size_t n) {
            while (n > 0) {
                const ssize_t k = ::write(f.fd, p, n);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0) return false;
                p += k;
                n -= static_cast<std::size_t>(k);
            }
            return true;
        };
        ok = ::fchmod(f.fd, 0600) == 0 && write_all(reinterpret_cast<const char*>(&h), sizeof h) &&
             write_all(w.out().data(), w.out().size());
    }
    if (ok) ok = ::rename(tmp.c_str(), (dir / name).c_str()) == 0;
    if (!ok) {
        ::unlink(tmp.c_str());
        return false;
    }
    // Drop the files of older versions of this bundle.
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            const std::string_view entry = e->d_name;
            if (entry != name && entry.starts_with(tag + "-") && entry.ends_with(".bundle")) {
                ::unlinkat(::dirfd(d), e->d_name, 0);
            }
        }
        ::closedir(d);
    }
    return true;
}

}  // namespace

fs::path default_bundle_cache_dir(const fs::path& bundle_dir) {
    if (const char* env = std::getenv("MEDFORGE_BUNDLE_CACHE_DIR"); env != nullptr && *env != 0) {
        if (std::string_view(env) == "off") return {};
        return env;
    }
    struct stat st {};
    if (::stat(bundle_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
        ::access(bundle_dir.c_str(), W_OK | X_OK) == 0) {
        return bundle_dir / ".cache";
    }
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
        return fs::path(xdg) / "medforge" / "bundles";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
        return fs::path(home) / ".cache" / "medforge" / "bundles";
    }
    return {};
}

Bundle load_bundle_cached(const fs::path& dir, const BundleCacheOptions& options,
                          BundleCacheOutcome* outcome) {
    auto report = [&](BundleCacheOutcome o) {
        if (outcome != nullptr) *outcome = o;
    };
    report(BundleCacheOutcome::not_used);
    if (options.dir.empty()) return load_bundle(dir);

    // 1. Hash the four files as they are now (the manifest is kept: a hit parses it).
    FileDigests digests;
    if (!hash_bundle_files(dir, digests)) {
        return load_bundle(dir);  // reports the missing file in load_bundle's order
    }
    if (digests.total < options.min_bundle_bytes) return load_bundle(dir);
    std::array<Sha256::Digest, 4>& files = digests.files;
    const std::string tag = folder_tag(dir);

    // 2. A valid cache file for exactly these bytes: no CSV is parsed.
    {
        const std::string name = cache_file_name(tag, files);
        Bundle b;
        b.dir = dir;
        try {
            b.manifest = parse_manifest(digests.manifest);
            b.manifest_sha256 = digest_hex(files[0]);
            b.holdout_sha256 = digest_hex(files[2]);
            const auto mapped = map_cache_file(options.dir / name);
            if (mapped && mapped->header.files == files && mapped->checksum_ok() &&
                load_cached_holdout(*mapped, b)) {
                report(BundleCacheOutcome::hit);
                return b;
            }
        } catch (const BundleError&) {
            // An invalid manifest is never cached: load_bundle reports it below.
        }
    }

    // 3. Validate from the files' bytes (read once more, whole), then cache under the digests
    // of exactly those bytes, even if the files changed since step 1.
    std::array<std::string, 4> bytes;
    try {
        for (std::size_t i = 0; i < kFiles.size(); ++i) {
            bytes[i] = detail::read_bundle_file(dir, kFiles[i]);
        }
    } catch (const BundleError&) {
        return load_bundle(dir);
    }
    Bundle b = detail::load_bundle_with(dir, [&](const char* name) -> std::string_view {
        for (std::size_t i = 0; i < kFiles.size(); ++i) {
            if (std::string_view(name) == kFiles[i]) return bytes[i];
        }
        throw std::logic_error("load_bundle_with asked for an unknown file");
    });
    for (std::size_t i = 0; i < kFiles.size(); ++i) {
        Sha256 sha;
        sha.update(bytes[i]);
        files[i] = sha.finish();
    }
    const std::string name = cache_file_name(tag, files);
    report(write_cache_file(options.dir, tag, name, files, b) ? BundleCacheOutcome::stored
                                                              : BundleCacheOutcome::not_stored);
    return b;
}

void use_bundle_cached(const fs::path& dir, const BundleCacheOptions& options,
                       const std::function<void(const Bundle&)>& use, BundleCacheOutcome* outcome) {
    auto report = [&](BundleCacheOutcome o) {
        if (outcome != nullptr) *outcome = o;
    };
    const std::string tag = options.dir.empty() ? std::string() : folder_tag(dir);
    const auto candidate = options.dir.empty() ? std::nullopt : only_cache_file(options.dir, tag);
    if (!candidate) {
        use(load_bundle_cached(dir, options, outcome));
        return;
    }
    // A second thread hashes the bundle's files and checks the cache file's checksum while this
    // one loads the file and runs `use` on it; the outcome counts only once the digests are known
    // to match the file.
    const std::optional<MappedCache> mapped = map_cache_file(options.dir / *candidate);
    FileDigests digests;
    bool hashed = false;
    bool checksum_ok = false;
    std::thread helper([&] {
        try {
            hashed = hash_bundle_files(dir, digests);
            checksum_ok = hashed && mapped && mapped->checksum_ok();
        } catch (...) {
            hashed = false;  // e.g. out of memory: no speculation
        }
    });
    struct Joiner {
        std::thread& t;
        ~Joiner() {
            if (t.joinable()) t.join();
        }
    } joiner{helper};

    Bundle b;
    b.dir = dir;
    bool loaded = false;
    std::string manifest_bytes;
    try {
        manifest_bytes = detail::read_bundle_file(dir, kFiles[0]);
        b.manifest = parse_manifest(manifest_bytes);
        loaded = mapped && load_cached_holdout(*mapped, b);
    } catch (const BundleError&) {
        loaded = false;
    }
    std::exception_ptr failure;
    if (loaded) {
        b.manifest_sha256 = digest_hex(mapped->header.files[0]);
        b.holdout_sha256 = digest_hex(mapped->header.files[2]);
        try {
            use(b);
        } catch (...) {
            failure = std::current_exception();
        }
    }
    helper.join();
    if (loaded && hashed && checksum_ok && digests.files == mapped->header.files &&
        digests.manifest == manifest_bytes && cache_file_name(tag, digests.files) == *candidate) {
        report(BundleCacheOutcome::hit);
        if (failure) std::rethrow_exception(failure);
        return;
    }
    // The file was stale, damaged or from another build: what `use` did is discarded.
    use(load_bundle_cached(dir, options, outcome));
}

}  // namespace medforge::competitions
