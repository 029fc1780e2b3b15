#pragma once

// What the host dashboard (GET /api/v1/status) reports about the machine and this process: the
// /proc parsers are pure functions (unit-tested on captured text); the readers around them return
// nullopt where the kernel does not tell (another OS, a file that cannot be read).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace medforge {

// The value of `key` in /proc/meminfo or /proc/<pid>/status text ("MemTotal:  16318412 kB"),
// in bytes ("kB" means KiB there; a value without a unit is taken as bytes). nullopt when the key
// is missing or its value is not a non-negative integer with a known unit.
std::optional<std::int64_t> parse_proc_bytes(std::string_view text, std::string_view key);

struct LoadAverage {
    double one = 0;
    double five = 0;
    double fifteen = 0;
};

// The first three fields of /proc/loadavg ("0.52 0.58 0.59 1/467 12345"); nullopt unless all
// three are non-negative finite numbers.
std::optional<LoadAverage> parse_loadavg(std::string_view text);

struct MemoryInfo {
    std::optional<std::int64_t> total_bytes;      // MemTotal
    std::optional<std::int64_t> available_bytes;  // MemAvailable
};

struct DiskUsage {
    std::int64_t total_bytes = 0;
    std::int64_t free_bytes = 0;       // free blocks, root's reserve included
    std::int64_t available_bytes = 0;  // what an unprivileged writer may still use
};

// Online CPUs (sysconf), at least 1.
int online_cpu_count();
// /proc/loadavg.
std::optional<LoadAverage> read_load_average();
// /proc/meminfo.
MemoryInfo read_memory_info();
// VmRSS of /proc/self/status.
std::optional<std::int64_t> read_own_rss_bytes();
// statvfs(path); on failure nullopt with `error` set to the reason (strerror).
std::optional<DiskUsage> disk_usage(const std::string& path, std::string& error);

}  // namespace medforge
