#include "sessions/docker_runtime.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "core/log.hpp"
#include "core/net.hpp"
#include "core/strings.hpp"

namespace medforge::sessions {

namespace {

using nlohmann::json;

constexpr std::string_view kApiPrefix = "/v1.41";
constexpr std::size_t kMaxDaemonMessage = 400;

// The daemon's `message` (or the raw body), cut short and reduced to printable ASCII, so it is
// fit for sessions.error_message, an API answer and a log line whatever the daemon sent.
std::string daemon_message(const DockerReply& reply) {
    std::string msg;
    const json parsed = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
        msg = parsed["message"].get<std::string>();
    } else {
        msg = reply.body;
    }
    if (msg.size() > kMaxDaemonMessage) msg = msg.substr(0, kMaxDaemonMessage) + "...";
    for (auto& ch : msg) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) ch = ' ';
        if (c >= 0x80) ch = '?';
    }
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    return msg.empty() ? "(no message)" : msg;
}

[[noreturn]] void fail(const std::string& what, const DockerReply& reply) {
    throw RuntimeError("docker " + what + " failed (HTTP " + std::to_string(reply.status) +
                       "): " + daemon_message(reply));
}

json parse_body(const DockerReply& reply, const std::string& what) {
    json parsed = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) throw RuntimeError("docker " + what + ": the answer is not JSON");
    return parsed;
}

// A host path for a bind: absolute, and free of the characters the `src:dst:mode` syntax uses.
void check_bind_source(const std::string& path, const std::string& what) {
    if (path.empty() || path.front() != '/' || path.find(':') != std::string::npos ||
        path.find(',') != std::string::npos) {
        throw RuntimeError("cannot bind " + what + " '" + path +
                           "': it must be an absolute path without ':' or ','");
    }
}

bool safe_dataset_slug(const std::string& slug) {
    if (slug.empty() || slug == "." || slug == "..") return false;
    return std::all_of(slug.begin(), slug.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return std::isalnum(c) != 0 || ch == '-' || ch == '_' || ch == '.';
    });
}

// Readers that take whatever the daemon sent: a missing key or a value of another type reads as
// empty, never as an exception.
std::string json_string(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& json_member(const json& object, const char* key, json::value_t type) {
    static const json kNull;
    const auto it = object.find(key);
    return it != object.end() && it->type() == type ? *it : kNull;
}

std::int64_t json_int(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace

json container_create_body(const StartSpec& spec, const Config& config) {
    check_bind_source(spec.workspace_path, "the workspace");
    const std::string gpu = std::to_string(spec.gpu_id);
    json binds = json::array({spec.workspace_path + ":/workspace:rw"});
    for (const auto& ds : spec.datasets) {
        if (!safe_dataset_slug(ds.slug)) {
            throw RuntimeError("cannot mount dataset '" + ds.slug + "': bad slug");
        }
        check_bind_source(ds.host_path, "dataset " + ds.slug);
        binds.push_back(ds.host_path + ":/datasets/" + ds.slug + ":ro");
    }

    json host{
        {"CapDrop", json::array({"ALL"})},
        {"SecurityOpt", json::array({"no-new-privileges:true"})},
        {"Privileged", false},
        {"Init", true},
        {"Binds", std::move(binds)},
        {"NetworkMode", config.public_sessions_network},
        {"PortBindings", json::object()},
        {"PublishAllPorts", false},
        {"CpuShares", config.session_cpu_shares},
        {"Memory", config.session_mem_limit_bytes},
        {"MemorySwap", config.session_mem_limit_bytes},  // = Memory: no swap on top
        // The daemon refuses a reservation above the limit; a limit lowered without the
        // reservation caps it instead of failing every start.
        {"MemoryReservation",
         std::min(config.session_mem_reservation_bytes, config.session_mem_limit_bytes)},
        {"ShmSize", config.session_shm_size_bytes},
    };
    if (config.session_cpu_limit) {
        host["NanoCpus"] = std::llround(*config.session_cpu_limit * 1e9);
    }
    if (config.session_pids_limit) host["PidsLimit"] = *config.session_pids_limit;
    if (config.session_gpu_mode == "nvidia") {
        host["DeviceRequests"] = json::array({json{
            {"Driver", "nvidia"},
            {"DeviceIDs", json::array({gpu})},
            {"Capabilities", json::array({json::array({"gpu"})})},
        }});
    }

    return json{
        {"Image", spec.image},
        {"User", "1000:1000"},
        {"Env", json::array({
                    "MEDFORGE_SESSION_ID=" + spec.session_id,
                    "MEDFORGE_USER_ID=" + spec.user_id,
                    "MEDFORGE_TIER=" + spec.tier,
                    "MEDFORGE_GPU_ID=" + gpu,
                    "NVIDIA_VISIBLE_DEVICES=" + gpu,
                    "CUDA_VISIBLE_DEVICES=0",
                })},
        {"Labels",
         {
             {"medforge.session_id", spec.session_id},
             {"medforge.user_id", spec.user_id},
             {"medforge.slug", spec.slug},
         }},
        {"HostConfig", std::move(host)},
    };
}

json network_create_body(const Config& config) {
    const std::string& subnet = config.public_sessions_subnet;
    const auto slash = subnet.find('/');
    const auto base = IpAddress::parse(std::string_view(subnet).substr(0, slash));
    if (slash == std::string::npos || !base) {
        throw RuntimeError("PUBLIC_SESSIONS_SUBNET '" + subnet + "' is not an IPv4 network");
    }
    // The network address has no host bits (config validation), so +1 never carries.
    IpAddress gateway = *base;
    gateway.bytes[15] = static_cast<std::uint8_t>(gateway.bytes[15] + 1);
    std::string gateway_text = gateway.to_string();
    if (gateway_text.rfind("::ffff:", 0) == 0) gateway_text.erase(0, 7);
    return json{
        {"Name", config.public_sessions_network},
        {"Driver", "bridge"},
        {"CheckDuplicate", true},
        {"Internal", false},
        {"IPAM",
         {
             {"Driver", "default"},
             {"Config", json::array({json{{"Subnet", subnet}, {"Gateway", gateway_text}}})},
         }},
        {"Labels", {{"medforge.network", "public-sessions"}}},
    };
}

Inspection inspection_from_json(const json& container, const std::string& network) {
    Inspection out;
    out.id = json_string(container, "Id");
    const json& state = json_member(container, "State", json::value_t::object);
    const std::string status = json_string(state, "Status");
    if (status == "running") {
        out.state = RuntimeState::running;
        const json& settings = json_member(container, "NetworkSettings", json::value_t::object);
        const json& networks = json_member(settings, "Networks", json::value_t::object);
        const std::string ip =
            json_string(json_member(networks, network.c_str(), json::value_t::object), "IPAddress");
        if (ip.empty()) {
            out.detail = "running without an address on network " + network;
        } else {
            out.upstream = ip + ":" + std::to_string(kSessionIdePort);
        }
        return out;
    }
    // Podman's compatible service says "stopped"/"configured" where dockerd says
    // "exited"/"created".
    if (status == "exited" || status == "dead" || status == "stopped") {
        out.state = RuntimeState::exited;
        const auto code = json_int(state, "ExitCode");
        out.detail = (status == "dead" ? "dead, exit code " : "exit code ") + std::to_string(code);
        if (json_member(state, "OOMKilled", json::value_t::boolean) == true) {
            out.detail += ", killed by the OOM killer";
        }
        const std::string error = json_string(state, "Error");
        if (!error.empty()) out.detail += ": " + error;
        return out;
    }
    if (status == "created" || status == "configured") {
        out.state = RuntimeState::exited;
        out.detail = "created but never started";
        return out;
    }
    out.state = RuntimeState::unknown;
    out.detail = status.empty() ? "no state in the answer" : "state " + status;
    return out;
}

DockerRuntime::DockerRuntime(const Config& config)
    : config_(config), client_(DockerEndpoint::parse(config.docker_host)) {}

DockerReply DockerRuntime::call(std::string_view method, const std::string& path,
                                const std::optional<std::string>& json_body,
                                std::chrono::milliseconds deadline) const {
    return client_.request(method, std::string(kApiPrefix) + path, json_body, deadline);
}

void DockerRuntime::health() {
    DockerReply reply;
    try {
        reply = call("GET", "/_ping");
    } catch (const RuntimeError& e) {
        throw RuntimeUnavailable(e.what());
    }
    if (reply.status != 200 || reply.body != "OK") {
        throw RuntimeUnavailable("docker daemon at " + client_.endpoint().describe() +
                                 " is not healthy: /_ping answered HTTP " +
                                 std::to_string(reply.status) + ": " + daemon_message(reply));
    }
}

void DockerRuntime::ensure_network() {
    const std::string& name = config_.public_sessions_network;
    const auto found = call("GET", "/networks/" + percent_encode(name));
    if (found.status == 200) return;
    if (found.status != 404) fail("inspect of network " + name, found);
    const auto created = call("POST", "/networks/create", network_create_body(config_).dump());
    if (created.status == 201) {
        log::info("runtime.docker.network_created",
                  {{"network", name}, {"subnet", config_.public_sessions_subnet}});
        return;
    }
    if (created.status == 409) return;  // another API process created it first
    fail("create of network " + name, created);
}

void DockerRuntime::discard(const std::string& id_or_name) noexcept {
    try {
        const auto r =
            call("DELETE", "/containers/" + percent_encode(id_or_name) + "?force=true&v=true");
        if (r.status == 204 || r.status == 404) return;
        log::warn("runtime.docker.cleanup_failed",
                  {{"container", id_or_name}, {"error", daemon_message(r)}});
    } catch (const std::exception& e) {
        log::warn("runtime.docker.cleanup_failed",
                  {{"container", id_or_name}, {"error", e.what()}});
    }
}

StartResult DockerRuntime::start(const StartSpec& spec) {
    const std::string body = container_create_body(spec, config_).dump();
    ensure_network();

    DockerReply created;
    try {
        created = call("POST", "/containers/create?name=" + percent_encode(spec.name), body);
    } catch (const RuntimeError&) {
        // The answer was lost, not refused: the daemon may have created it anyway.
        discard(spec.name);
        throw;
    }
    if (created.status != 201) fail("create of " + spec.name, created);
    const std::string id = json_string(parse_body(created, "create of " + spec.name), "Id");
    if (id.empty()) {
        discard(spec.name);
        throw RuntimeError("docker create of " + spec.name + ": the answer has no Id");
    }

    try {
        const auto started = call("POST", "/containers/" + percent_encode(id) + "/start");
        if (started.status != 204 && started.status != 304) {
            fail("start of " + spec.name, started);
        }
        const Inspection seen = inspect(id, "", "");
        if (seen.state != RuntimeState::running || seen.upstream.empty()) {
            throw RuntimeError("docker container " + spec.name + " is not running after start: " +
                               (seen.detail.empty() ? "missing" : seen.detail));
        }
        return StartResult{.id = seen.id, .upstream = seen.upstream, .meta = ""};
    } catch (...) {
        discard(id);
        throw;
    }
}

Inspection DockerRuntime::inspect(const std::string& id, const std::string& name,
                                  const std::string& /*meta*/) {
    for (const std::string* ref : {&id, &name}) {
        if (ref->empty()) continue;
        const auto reply = call("GET", "/containers/" + percent_encode(*ref) + "/json");
        if (reply.status == 404) continue;
        if (reply.status != 200) fail("inspect of " + *ref, reply);
        return inspection_from_json(parse_body(reply, "inspect of " + *ref),
                                    config_.public_sessions_network);
    }
    return Inspection{.state = RuntimeState::missing};
}

void DockerRuntime::stop(const std::string& id, const std::string& /*meta*/,
                         std::chrono::seconds grace) {
    if (id.empty()) return;
    const auto reply = call("POST",
                            "/containers/" + percent_encode(id) + "/stop?t=" +
                                std::to_string(std::max<std::int64_t>(grace.count(), 0)),
                            std::nullopt, grace + kStopSlack);
    // 304: already stopped; 404: already gone.
    if (reply.status == 204 || reply.status == 304 || reply.status == 404) return;
    fail("stop of " + id, reply);
}

void DockerRuntime::remove(const std::string& id, const std::string& /*meta*/) {
    if (id.empty()) return;
    const auto reply = call("DELETE", "/containers/" + percent_encode(id) + "?force=true&v=true");
    if (reply.status == 204 || reply.status == 404) return;
    fail("remove of " + id, reply);
}

std::vector<ManagedObject> DockerRuntime::list_managed() {
    // The daemon's name filter matches substrings; the prefix is checked below.
    const json filters{{"name", json::array({std::string(kSessionNamePrefix)})}};
    const auto reply =
        call("GET", "/containers/json?all=true&filters=" + percent_encode(filters.dump()));
    if (reply.status != 200) fail("list of containers", reply);
    const json list = parse_body(reply, "list of containers");
    if (!list.is_array()) throw RuntimeError("docker list of containers: not a JSON array");

    const std::string prefix = "/" + std::string(kSessionNamePrefix);
    std::vector<ManagedObject> out;
    for (const auto& c : list) {
        if (!c.is_object()) continue;
        for (const auto& n : json_member(c, "Names", json::value_t::array)) {
            if (!n.is_string() || n.get<std::string>().rfind(prefix, 0) != 0) continue;
            out.push_back(ManagedObject{
                .id = json_string(c, "Id"),
                .name = n.get<std::string>().substr(1),
                .session_id = json_string(json_member(c, "Labels", json::value_t::object),
                                          "medforge.session_id"),
                .running = json_string(c, "State") == "running",
            });
            break;
        }
    }
    return out;
}

std::unique_ptr<Runtime> make_docker_runtime(const Config& config) {
    return std::make_unique<DockerRuntime>(config);
}

}  // namespace medforge::sessions
