#pragma once

// The `docker` runtime back end: one container per session, driven through the Docker Engine
// API v1.41 (dockerd, or Podman's compatible service) at DOCKER_HOST. See docs/sessions.md,
// "Docker runtime", for the container spec and how the upstream is chosen.

#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "sessions/docker_client.hpp"
#include "sessions/runtime.hpp"

namespace medforge::sessions {

// The port code-server listens on inside every session container.
inline constexpr int kSessionIdePort = 8080;
// Every container this runtime manages is named with this prefix.
inline constexpr std::string_view kSessionNamePrefix = "mf-session-";

// The body of `POST /containers/create` for a session: image, user 1000:1000, env, labels,
// binds, limits and (SESSION_GPU_MODE=nvidia) the GPU device request. Pure. Throws RuntimeError
// when the spec cannot be expressed safely (a relative path, a ':' in a bind, a bad dataset slug).
nlohmann::json container_create_body(const StartSpec& spec, const Config& config);

// The body of `POST /networks/create` for PUBLIC_SESSIONS_NETWORK: a bridge on
// PUBLIC_SESSIONS_SUBNET whose gateway is the subnet's first address. Pure.
nlohmann::json network_create_body(const Config& config);

// What `GET /containers/{id}/json` says about a session container: running (with the upstream
// `<ip on network>:8080`), exited (also dead, or created and never started), unknown (paused,
// restarting, being removed). Pure.
Inspection inspection_from_json(const nlohmann::json& container, const std::string& network);

class DockerRuntime final : public Runtime {
  public:
    // Deadline of one API call; a stop may also take its grace period.
    static constexpr std::chrono::seconds kCallDeadline{30};
    static constexpr std::chrono::seconds kStopSlack{15};

    // Throws std::invalid_argument when config.docker_host is not unix:///path or
    // tcp://host:port.
    explicit DockerRuntime(const Config& config);

    std::string_view kind() const override { return "docker"; }
    bool needs_image() const override { return true; }
    void health() override;
    StartResult start(const StartSpec& spec) override;
    Inspection inspect(const std::string& id, const std::string& name,
                       const std::string& meta) override;
    void stop(const std::string& id, const std::string& meta, std::chrono::seconds grace) override;
    void remove(const std::string& id, const std::string& meta) override;
    std::vector<ManagedObject> list_managed() override;

  private:
    DockerReply call(std::string_view method, const std::string& path,
                     const std::optional<std::string>& json_body = std::nullopt,
                     std::chrono::milliseconds deadline = kCallDeadline) const;
    void ensure_network();
    // Force-removes a container a failed start left behind; failures are logged, not thrown.
    void discard(const std::string& id_or_name) noexcept;

    Config config_;
    DockerClient client_;
};

std::unique_ptr<Runtime> make_docker_runtime(const Config& config);

}  // namespace medforge::sessions
