#include "sessions/gpu_inventory.hpp"

#include <chrono>
#include <map>
#include <set>

#include "core/strings.hpp"
#include "core/subprocess.hpp"

namespace medforge::sessions {

namespace {

std::optional<std::int64_t> parse_index(std::string_view s) {
    if (s.empty() || s.size() > 6) return std::nullopt;
    std::int64_t n = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return std::nullopt;
        n = n * 10 + (ch - '0');
    }
    return n;
}

// A plain non-negative integer ("34"); a decimal ("34.5") is rounded down. Anything else
// ("[N/A]", "[Not Supported]", "", "-1", garbage) is unknown.
std::optional<std::int64_t> parse_figure(std::string_view s) {
    const auto dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    if (dot != std::string_view::npos) {
        const std::string_view frac = s.substr(dot + 1);
        if (frac.empty() || frac.find_first_not_of("0123456789") != std::string_view::npos) {
            return std::nullopt;
        }
    }
    if (whole.empty() || whole.size() > 12) return std::nullopt;
    std::int64_t n = 0;
    for (char ch : whole) {
        if (ch < '0' || ch > '9') return std::nullopt;
        n = n * 10 + (ch - '0');
    }
    return n;
}

// The rows of nvidia-smi's CSV answer, each with exactly `columns` trimmed fields of which the
// first is a GPU index unique in the answer; `fn(index, fields, bad)` reads the rest. A malformed
// line is a GpuDiscoveryError naming it (`bad(why)` makes one), so no figure lands on the wrong
// GPU.
template <typename Fn>
void for_each_smi_row(std::string_view output, std::size_t columns, const char* expected, Fn fn) {
    std::set<std::int64_t> seen;
    std::size_t line_no = 0;
    for (auto line : split(output, '\n')) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim(line).empty()) continue;
        auto fields = split(line, ',');
        const auto bad = [&](const std::string& why) {
            return GpuDiscoveryError("nvidia-smi output line " + std::to_string(line_no) + ": " +
                                     why);
        };
        if (fields.size() != columns) throw bad(std::string("expected `") + expected + "`");
        for (auto& f : fields) f = trim(f);
        const auto index = parse_index(fields[0]);
        if (!index) throw bad("the index is not a small non-negative integer");
        if (!seen.insert(*index).second) throw bad("index " + std::to_string(*index) + " repeats");
        fn(*index, fields, bad);
    }
}

// Runs nvidia-smi with `args`, returning stdout; a non-zero exit or a timeout is a
// GpuDiscoveryError, a missing program CommandNotFound (callers decide what that means).
std::string run_smi(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{"nvidia-smi"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r;
    try {
        r = run_command(argv, timeout);
    } catch (const CommandTimeout&) {
        const auto ms = timeout.count();
        throw GpuDiscoveryError(
            "nvidia-smi did not answer within " +
            (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms"));
    }
    if (r.exit_code != 0) {
        const std::string said = command_diagnostic(r);
        throw GpuDiscoveryError("nvidia-smi failed (exit status " + std::to_string(r.exit_code) +
                                ")" + (said.empty() ? "" : ": " + said));
    }
    return std::move(r.out);
}

}  // namespace

std::vector<GpuUsage> parse_nvidia_smi_usage(std::string_view output) {
    std::vector<GpuUsage> out;
    for_each_smi_row(output, 5, "index, utilization, memory used, memory total, temperature",
                     [&](std::int64_t index, const auto& fields, const auto& /*bad*/) {
                         GpuUsage u;
                         u.index = index;
                         u.utilization_percent = parse_figure(fields[1]);
                         u.memory_used_mib = parse_figure(fields[2]);
                         u.memory_total_mib = parse_figure(fields[3]);
                         u.temperature_c = parse_figure(fields[4]);
                         out.push_back(u);
                     });
    return out;
}

std::string run_nvidia_smi_usage(std::chrono::milliseconds timeout) {
    return run_smi({"--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu",
                    "--format=csv,noheader,nounits"},
                   timeout);
}

std::vector<GpuInfo> parse_nvidia_smi(std::string_view output) {
    std::vector<GpuInfo> out;
    for_each_smi_row(output, 3, "index, name, uuid",
                     [&](std::int64_t index, const auto& fields, const auto& bad) {
                         GpuInfo g;
                         g.id = index;
                         g.name = std::string(fields[1]);
                         if (g.name.empty()) throw bad("the name is empty");
                         const std::string uuid(fields[2]);
                         if (uuid.rfind("GPU-", 0) == 0 || uuid.rfind("MIG-", 0) == 0) {
                             g.uuid = uuid;
                         } else if (!uuid.empty() && uuid != "[N/A]") {
                             throw bad("the UUID does not start with GPU- or MIG-");
                         }
                         out.push_back(std::move(g));
                     });
    return out;
}

std::vector<GpuInfo> static_gpus(const Config& config) {
    std::vector<GpuInfo> out;
    if (!config.gpu_ids.empty()) {
        for (int id : config.gpu_ids)
            out.push_back({id, "GPU " + std::to_string(id), std::nullopt});
        return out;
    }
    for (int id = 0; id < config.gpu_count; ++id) {
        out.push_back({id, "GPU " + std::to_string(id), std::nullopt});
    }
    return out;
}

std::string run_nvidia_smi() {
    try {
        return run_smi({"--query-gpu=index,name,uuid", "--format=csv,noheader"},
                       std::chrono::seconds(10));
    } catch (const CommandError& e) {
        throw GpuDiscoveryError(e.what());
    }
}

std::vector<GpuInfo> discover_gpus(const Config& config, std::string (*run)()) {
    if (config.gpu_discovery == "nvidia-smi") return parse_nvidia_smi(run());
    return static_gpus(config);
}

GpuSyncReport sync_gpu_inventory(db::Connection& c, const std::vector<GpuInfo>& gpus) {
    GpuSyncReport report;
    db::Transaction tx(c);
    std::map<std::int64_t, bool> known;  // id -> enabled
    for (const auto& r : c.query("SELECT id, enabled FROM gpu_devices")) {
        known[r.i64(0)] = r.i64(1) != 0;
    }
    std::set<std::int64_t> present;
    for (const auto& g : gpus) {
        present.insert(g.id);
        const db::Value uuid = g.uuid ? db::Value{*g.uuid} : db::Value{};
        if (known.count(g.id) == 0) {
            c.exec("INSERT INTO gpu_devices (id, name, uuid, enabled) VALUES (:id, :n, :u, 1)",
                   {g.id, g.name, uuid});
            ++report.added;
        } else {
            c.exec("UPDATE gpu_devices SET name = :n, uuid = :u WHERE id = :id",
                   {g.name, uuid, g.id});
            ++report.refreshed;
        }
    }
    for (const auto& [id, enabled] : known) {
        if (present.count(id) == 0 && enabled) {
            c.exec("UPDATE gpu_devices SET enabled = 0 WHERE id = :id", {id});
            ++report.disabled;
        }
    }
    tx.commit();
    return report;
}

}  // namespace medforge::sessions
