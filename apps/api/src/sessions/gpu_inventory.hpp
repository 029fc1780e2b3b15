#pragma once

// The GPU inventory: which GPU ids sessions may be given. Discovered at API start — from the
// configuration (GPU_DISCOVERY=static: GPU_IDS, else 0..GPU_COUNT-1) or from
// `nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader` — and synced into gpu_devices:
// new ids are added enabled, known ids get their name and UUID refreshed (their enabled flag is
// the admin's), ids that are no longer present are disabled, and no row is ever deleted.

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

struct GpuSyncReport {
    int added = 0;
    int refreshed = 0;
    int disabled = 0;  // known ids that are no longer present
};

// Syncs gpu_devices with `gpus` in one transaction (see the header comment).
GpuSyncReport sync_gpu_inventory(db::Connection& c, const std::vector<GpuInfo>& gpus);

}  // namespace medforge::sessions
