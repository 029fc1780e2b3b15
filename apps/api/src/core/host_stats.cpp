#include "core/host_stats.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include "core/strings.hpp"

namespace medforge {

namespace {

std::optional<std::int64_t> parse_count(std::string_view s) {
    std::int64_t n = 0;
    const auto* end = s.data() + s.size();
    const auto [p, ec] = std::from_chars(s.data(), end, n);
    if (s.empty() || ec != std::errc() || p != end || n < 0) return std::nullopt;
    return n;
}

std::optional<double> parse_load(std::string_view s) {
    double v = 0;
    const auto* end = s.data() + s.size();
    const auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc() || p != end || !std::isfinite(v) || v < 0) {
        return std::nullopt;
    }
    return v;
}

// A small /proc file in full; nullopt when it cannot be read.
std::optional<std::string> read_proc(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::optional<std::int64_t> parse_proc_bytes(std::string_view text, std::string_view key) {
    for (auto line : split(text, '\n')) {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || line.substr(0, colon) != key) continue;
        const std::string_view rest = trim(line.substr(colon + 1));
        const auto space = rest.find_first_of(" \t");
        const std::string_view number = rest.substr(0, space);
        const std::string_view unit =
            space == std::string_view::npos ? std::string_view() : trim(rest.substr(space));
        const auto n = parse_count(number);
        if (!n) return std::nullopt;
        std::int64_t scale = 1;
        if (unit == "kB") {
            scale = 1024;
        } else if (!unit.empty()) {
            return std::nullopt;
        }
        if (*n > std::numeric_limits<std::int64_t>::max() / scale) return std::nullopt;
        return *n * scale;
    }
    return std::nullopt;
}

std::optional<LoadAverage> parse_loadavg(std::string_view text) {
    std::string_view fields[3];
    std::size_t found = 0;
    for (auto piece : split(trim(text), ' ')) {
        if (piece.empty()) continue;
        fields[found++] = piece;
        if (found == 3) break;
    }
    if (found < 3) return std::nullopt;
    const auto one = parse_load(fields[0]);
    const auto five = parse_load(fields[1]);
    const auto fifteen = parse_load(fields[2]);
    if (!one || !five || !fifteen) return std::nullopt;
    return LoadAverage{*one, *five, *fifteen};
}

int online_cpu_count() {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

std::optional<LoadAverage> read_load_average() {
    const auto text = read_proc("/proc/loadavg");
    return text ? parse_loadavg(*text) : std::nullopt;
}

MemoryInfo read_memory_info() {
    const auto text = read_proc("/proc/meminfo");
    if (!text) return {};
    return {parse_proc_bytes(*text, "MemTotal"), parse_proc_bytes(*text, "MemAvailable")};
}

std::optional<std::int64_t> read_own_rss_bytes() {
    const auto text = read_proc("/proc/self/status");
    return text ? parse_proc_bytes(*text, "VmRSS") : std::nullopt;
}

std::optional<DiskUsage> disk_usage(const std::string& path, std::string& error) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) {
        error = std::error_code(errno, std::generic_category()).message();
        return std::nullopt;
    }
    const auto unit = static_cast<std::int64_t>(st.f_frsize != 0 ? st.f_frsize : st.f_bsize);
    return DiskUsage{static_cast<std::int64_t>(st.f_blocks) * unit,
                     static_cast<std::int64_t>(st.f_bfree) * unit,
                     static_cast<std::int64_t>(st.f_bavail) * unit};
}

}  // namespace medforge
