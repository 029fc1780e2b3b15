#pragma once

// The GPU inventory: which GPU ids sessions may be given. Discovered at API start — from the
// configuration (GPU_DISCOVERY=static: GPU_IDS, else 0..GPU_COUNT-1) or from
// `nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader` — and synced into gpu_devices:
// new ids are added enabled, known ids get their name and UUID refreshed (their enabled flag is
// the admin's), ids that are no longer present are disabled, and no row is ever deleted.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "db/database.hpp"

namespace medforge::sessions {

struct GpuInfo {
    std::int64_t id = 0;
    std::string name;
    std::optional<std::string> uuid;
    bool operator==(const GpuInfo&) const = default;
};

// nvidia-smi is missing, failed, or printed something this parser does not accept.
class GpuDiscoveryError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Parses `nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader` output: one
// `<index>, <name>, <uuid>` line per GPU (names never contain commas in nvidia-smi's CSV; a
// trailing CR is tolerated). Throws GpuDiscoveryError naming the bad line.
std::vector<GpuInfo> parse_nvidia_smi(std::string_view output);

// GPU_IDS when set, else 0..GPU_COUNT-1, named "GPU <id>".
std::vector<GpuInfo> static_gpus(const Config& config);

// Runs nvidia-smi (PATH lookup, stdout captured, 10 s limit) and returns its stdout. Throws
// GpuDiscoveryError when it cannot be run or exits non-zero.
std::string run_nvidia_smi();

// static_gpus or parse_nvidia_smi(run()) per GPU_DISCOVERY.
std::vector<GpuInfo> discover_gpus(const Config& config, std::string (*run)() = &run_nvidia_smi);

// Live figures for one GPU from `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,
// memory.total,temperature.gpu --format=csv,noheader,nounits`. A figure nvidia-smi does not give
// ("[N/A]", "[Not Supported]", anything that is not a plain non-negative number) is nullopt.
struct GpuUsage {
    std::int64_t index = 0;
    std::optional<std::int64_t> utilization_percent;
    std::optional<std::int64_t> memory_used_mib;
    std::optional<std::int64_t> memory_total_mib;
    std::optional<std::int64_t> temperature_c;
    bool operator==(const GpuUsage&) const = default;
};

// Parses that output (blank lines and a trailing CR tolerated). A line without five fields or
// with an index that is not a small non-negative integer, or a repeated index, throws
// GpuDiscoveryError naming the line: the output is not what was asked for.
std::vector<GpuUsage> parse_nvidia_smi_usage(std::string_view output);

// Runs that query (PATH lookup, `timeout` limit) and returns its stdout. Throws CommandNotFound
// when nvidia-smi is not installed, GpuDiscoveryError when it fails or times out.
std::string run_nvidia_smi_usage(std::chrono::milliseconds timeout);

struct GpuSyncReport {
    int added = 0;
    int refreshed = 0;
    int disabled = 0;  // known ids that are no longer present
};

// Syncs gpu_devices with `gpus` in one transaction (see the header comment).
GpuSyncReport sync_gpu_inventory(db::Connection& c, const std::vector<GpuInfo>& gpus);

}  // namespace medforge::sessions
