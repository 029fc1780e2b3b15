#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "core/net.hpp"

namespace medforge {

// Raised when configuration is invalid; the message lists every bad variable.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class SameSite { lax, strict, none };

// Every setting of every MedForge process, read from environment variables and validated at
// start (see docs/configuration.md for the table). Later planes read their part of it.
struct Config {
    // HTTP
    std::string api_bind_host = "127.0.0.1";
    std::uint16_t api_bind_port = 8000;
    int api_threads = 0;  // 0 = one per core
    int http_header_timeout_seconds = 10;
    int http_idle_timeout_seconds = 60;
    int http_body_timeout_seconds = 60;
    int shutdown_grace_seconds = 20;
    int blocking_pool_threads = 8;
    int blocking_queue_max = 1024;

    // Database
    std::string database_url = "sqlite://./var/medforge.db";

    // Domain and cookies
    std::string domain = "localhost";
    std::string public_scheme = "http";
    int public_port = 8080;
    std::string session_secret;  // resolved (from env or the dev secret file)
    bool session_secret_from_file = false;
    std::string cookie_name = "medforge_session";
    std::string cookie_domain;  // default ".medforge.<domain>"
    bool cookie_secure = true;
    SameSite cookie_samesite = SameSite::lax;
    std::int64_t auth_idle_ttl_seconds = 604800;
    std::int64_t auth_max_ttl_seconds = 2592000;
    CidrSet trusted_proxies;
    int auth_rate_limit_count = 10;  // 0 = disabled
    int auth_rate_limit_window_seconds = 60;
    CidrSet metrics_allow;
    std::string bootstrap_admin_email;
    std::string bootstrap_admin_password;

    // Sessions plane (validated now, used by the sessions plane)
    std::string session_runtime = "process";
    std::string docker_host = "unix:///var/run/docker.sock";
    std::string session_gpu_mode = "nvidia";
    std::string pack_image;
    std::string public_sessions_network = "medforge-public-sessions";
    std::string public_sessions_subnet = "172.30.0.0/24";  // IPv4 network address / prefix
    std::string session_process_command =
        "code-server --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}";
    std::string session_process_user = "medforge-session";
    std::string session_process_sandbox;  // "" = auto (bwrap when installed)
    std::string workspace_store = "dir";
    std::string workspace_zfs_root = "tank/medforge/workspaces";
    std::string workspace_dir_root = "./var/workspaces";
    int session_workspace_quota_gb = 0;
    bool session_runtime_use_sudo = false;
    std::string gpu_discovery = "static";
    int gpu_count = 7;
    std::vector<int> gpu_ids;
    int session_allocation_max_retries = 3;
    int session_container_start_timeout_seconds = 30;
    int session_container_stop_timeout_seconds = 30;
    bool session_recovery_enabled = true;
    // A deliberate shutdown (SIGTERM/SIGINT) stops every session with its snapshot (make run);
    // off in production, where sessions outlive an API restart.
    bool session_stop_on_shutdown = false;
    int session_poll_interval_seconds = 30;
    int session_poll_backoff_max_seconds = 300;
    int session_cpu_shares = 1024;
    std::optional<double> session_cpu_limit;
    std::int64_t session_mem_limit_bytes = 64LL << 30;
    std::int64_t session_mem_reservation_bytes = 8LL << 30;
    std::int64_t session_shm_size_bytes = 4LL << 30;
    std::optional<int> session_pids_limit;
    int session_idle_timeout_seconds = 0;
    int session_idle_gpu_util_percent = 5;

    // Competitions plane
    std::string competitions_dir = "apps/api/data/competitions";
    std::string datasets_root = "./var/datasets";
    std::string submissions_dir = "./var/submissions";
    std::int64_t submission_upload_max_bytes = 10485760;
    bool auto_score_on_submit = true;
    int scoring_lease_seconds = 120;
    int scoring_max_attempts = 3;

    log::Level log_level = log::Level::info;

    bool local_domain() const;
    std::string web_host() const { return "medforge." + domain; }
    std::string api_host() const { return "api.medforge." + domain; }
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

EnvLookup process_env();

// Reads and validates every variable. Throws ConfigError listing all problems at once.
// The session secret is not resolved here (see resolve_session_secret).
Config load_config(const EnvLookup& env);

// SESSION_SECRET from the environment; in a local install without one, a random secret kept in
// `<state dir>/session_secret` (created 0600 on first use). Production (non-local DOMAIN) refuses
// to start without SESSION_SECRET.
void resolve_session_secret(Config& config, const std::string& state_dir);

// Names of every environment variable load_config reads (for docs and drift tests).
const std::vector<std::string>& config_variable_names();

}  // namespace medforge
