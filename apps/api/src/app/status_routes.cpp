// GET /api/v1/status: the admin's host dashboard — GPUs (live figures from nvidia-smi when GPU
// discovery uses it), the host's CPU, memory and disks, this process, the DB and blocking pools
// with the readiness checks, and platform counts. Each part is read on its own: one that cannot
// be read is null (or says why) and the rest is still reported.
#include <unistd.h>

#include <chrono>
#include <map>

#include "app/app.hpp"
#include "core/host_stats.hpp"
#include "core/log.hpp"
#include "core/subprocess.hpp"
#include "db/status_repo.hpp"
#include "http/response.hpp"
#include "sessions/gpu_inventory.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;

constexpr auto kNvidiaSmiTimeout = std::chrono::seconds(3);
constexpr std::size_t kReasonMax = 200;

json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

// At most kReasonMax bytes, cut on a UTF-8 character boundary.
std::string short_reason(std::string s) {
    if (s.size() <= kReasonMax) return s;
    std::size_t cut = kReasonMax;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) --cut;
    s.resize(cut);
    return s + "…";
}

struct GpuProbe {
    std::string state = "absent";  // ok | absent | failed: <reason>
    std::map<std::int64_t, sessions::GpuUsage> usage;
};

// Live figures when GPU discovery uses nvidia-smi; "absent" when it does not or nvidia-smi is
// not installed.
GpuProbe probe_gpus(const Config& config) {
    GpuProbe p;
    if (config.gpu_discovery != "nvidia-smi") return p;
    try {
        const auto out = sessions::run_nvidia_smi_usage(kNvidiaSmiTimeout);
        for (const auto& u : sessions::parse_nvidia_smi_usage(out)) p.usage[u.index] = u;
        p.state = "ok";
    } catch (const CommandNotFound&) {
        p.state = "absent";
    } catch (const std::exception& e) {
        p.state = "failed: " + short_reason(e.what());
        log::warn("status.nvidia_smi_failed", {{"error", e.what()}});
    }
    return p;
}

json gpus_json(const std::vector<db::GpuRecord>& rows, const GpuProbe& probe) {
    json out = json::array();
    for (const auto& g : rows) {
        json item = gpu_json(g);
        const auto it = probe.usage.find(g.id);
        const sessions::GpuUsage* u = it == probe.usage.end() ? nullptr : &it->second;
        item["utilization_percent"] = u ? opt(u->utilization_percent) : json(nullptr);
        item["memory_used_mib"] = u ? opt(u->memory_used_mib) : json(nullptr);
        item["memory_total_mib"] = u ? opt(u->memory_total_mib) : json(nullptr);
        item["temperature_c"] = u ? opt(u->temperature_c) : json(nullptr);
        out.push_back(std::move(item));
    }
    return out;
}

json disk_json(const std::string& name, const std::optional<std::string>& path,
               const std::string& path_error) {
    json d = {{"name", name},
              {"path", path ? json(*path) : json(nullptr)},
              {"total_bytes", nullptr},
              {"free_bytes", nullptr},
              {"available_bytes", nullptr},
              {"error", nullptr}};
    if (!path) {
        d["error"] = path_error;
        return d;
    }
    std::string error;
    if (const auto u = disk_usage(*path, error)) {
        d["total_bytes"] = u->total_bytes;
        d["free_bytes"] = u->free_bytes;
        d["available_bytes"] = u->available_bytes;
    } else {
        d["error"] = error;
    }
    return d;
}

json host_json(Services& s) {
    const auto load = read_load_average();
    const auto mem = read_memory_info();
    std::optional<std::string> workspaces;
    std::string workspaces_error;
    if (s.sessions == nullptr) {
        workspaces_error = "the sessions plane is not running";
    } else {
        try {
            workspaces = s.sessions->store().root_path();
        } catch (const std::exception& e) {
            workspaces_error = short_reason(e.what());
        }
    }
    const Micros now = s.clock.now();
    return {{"cpu_count", online_cpu_count()},
            {"load_1m", load ? json(load->one) : json(nullptr)},
            {"load_5m", load ? json(load->five) : json(nullptr)},
            {"load_15m", load ? json(load->fifteen) : json(nullptr)},
            {"memory_total_bytes", opt(mem.total_bytes)},
            {"memory_available_bytes", opt(mem.available_bytes)},
            {"process",
             {{"pid", static_cast<std::int64_t>(::getpid())},
              {"rss_bytes", opt(read_own_rss_bytes())},
              {"started_at", format_iso8601(s.started_at)},
              {"uptime_seconds", (now - s.started_at) / kMicrosPerSecond},
              {"version", MEDFORGE_VERSION}}},
            {"disks",
             {disk_json("workspaces", workspaces, workspaces_error),
              disk_json("submissions", s.config.submissions_dir, "")}}};
}

json pools_json(Services& s) {
    const auto db = s.db.pool_stats();
    const auto [checks, failing] = check_readiness(s);
    return {{"database", {{"size", db.size}, {"in_use", db.in_use}}},
            {"blocking",
             {{"threads", s.config.blocking_pool_threads},
              {"queue_max", s.config.blocking_queue_max},
              {"queued", s.blocking_pool_queued ? json(s.blocking_pool_queued()) : json(nullptr)}}},
            {"health", {{"status", failing.empty() ? "ready" : "not_ready"}, {"checks", checks}}}};
}

json counts_json(const db::status::PlatformCounts& c) {
    const auto with_total = [](const std::map<std::string, std::int64_t>& by_status) {
        json out = json::object();
        std::int64_t total = 0;
        for (const auto& [status, n] : by_status) {
            out[status] = n;
            total += n;
        }
        out["total"] = total;
        return out;
    };
    return {{"sessions", with_total(c.sessions)},
            {"users", {{"total", c.users}, {"admins", c.admins}}},
            {"competitions", with_total(c.competitions)},
            {"submissions", with_total(c.submissions)},
            {"datasets", c.datasets}};
}

json nullable(json schema) {
    schema["type"] = {schema["type"], "null"};
    return schema;
}

json status_schema() {
    const json integer = {{"type", "integer"}};
    const json opt_integer = {{"type", {"integer", "null"}}};
    const json opt_number = {{"type", {"number", "null"}}};
    const json opt_string = {{"type", {"string", "null"}}};
    const json by_status = {{"type", "object"}, {"additionalProperties", integer}};
    json gpu = gpu_schema();
    for (const char* k :
         {"utilization_percent", "memory_used_mib", "memory_total_mib", "temperature_c"}) {
        gpu["properties"][k] = opt_integer;
    }
    const json disk = {{"type", "object"},
                       {"properties",
                        {{"name", {{"type", "string"}, {"enum", {"workspaces", "submissions"}}}},
                         {"path", opt_string},
                         {"total_bytes", opt_integer},
                         {"free_bytes", opt_integer},
                         {"available_bytes", opt_integer},
                         {"error", opt_string}}}};
    const json host = {{"type", "object"},
                       {"properties",
                        {{"cpu_count", integer},
                         {"load_1m", opt_number},
                         {"load_5m", opt_number},
                         {"load_15m", opt_number},
                         {"memory_total_bytes", opt_integer},
                         {"memory_available_bytes", opt_integer},
                         {"process",
                          {{"type", "object"},
                           {"properties",
                            {{"pid", integer},
                             {"rss_bytes", opt_integer},
                             {"started_at", {{"type", "string"}, {"format", "date-time"}}},
                             {"uptime_seconds", integer},
                             {"version", {{"type", "string"}}}}}}},
                         {"disks", {{"type", "array"}, {"items", disk}}}}}};
    const json pools = {
        {"type", "object"},
        {"properties",
         {{"database",
           {{"type", "object"}, {"properties", {{"size", integer}, {"in_use", integer}}}}},
          {"blocking",
           {{"type", "object"},
            {"properties",
             {{"threads", integer}, {"queue_max", integer}, {"queued", opt_integer}}}}},
          {"health",
           {{"type", "object"},
            {"properties",
             {{"status", {{"type", "string"}, {"enum", {"ready", "not_ready"}}}},
              {"checks",
               {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}}}}}}};
    const json counts = {
        {"type", "object"},
        {"properties",
         {{"sessions", by_status},
          {"users",
           {{"type", "object"}, {"properties", {{"total", integer}, {"admins", integer}}}}},
          {"competitions", by_status},
          {"submissions", by_status},
          {"datasets", integer}}}};
    const json properties = {
        {"generated_at", {{"type", "string"}, {"format", "date-time"}}},
        {"gpu_discovery", {{"type", "string"}, {"enum", {"static", "nvidia-smi"}}}},
        {"nvidia_smi", {{"type", "string"}, {"description", "ok, absent, or failed: <reason>"}}},
        {"gpus", nullable({{"type", "array"}, {"items", gpu}})},
        {"host", host},
        {"pools", pools},
        {"counts", nullable(counts)}};
    return {{"type", "object"}, {"properties", properties}};
}

}  // namespace

void register_status_routes(http::Router& router, Services& s) {
    router.add({.method = "GET",
                .pattern = "/api/v1/status",
                .access = http::Access::admin,
                .exec = http::Exec::blocking,
                .handler =
                    [&s](http::Request& req) {
                        const GpuProbe probe = probe_gpus(s.config);
                        json gpus = nullptr;
                        json counts = nullptr;
                        try {
                            s.db.with_connection([&](db::Connection& c) {
                                gpus = gpus_json(db::sessions::list_gpus(c), probe);
                                counts = counts_json(db::status::platform_counts(c));
                            });
                        } catch (const db::DbUnavailable&) {
                            // pools.health.checks.database says so; the rest still reports.
                        }
                        return http::ok(req, {{"generated_at", format_iso8601(s.clock.now())},
                                              {"gpu_discovery", s.config.gpu_discovery},
                                              {"nvidia_smi", probe.state},
                                              {"gpus", std::move(gpus)},
                                              {"host", host_json(s)},
                                              {"pools", pools_json(s)},
                                              {"counts", std::move(counts)}});
                    },
                .summary = "Host dashboard: GPUs (live figures from nvidia-smi when present), CPU, "
                           "memory, disks, pools and health, session and platform counts",
                .response_schema = status_schema(),
                .problem_statuses = {401, 403}});
}

}  // namespace medforge::app
