#include "core/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/ids.hpp"

namespace medforge {

namespace {

// Collects problems while reading, so one start reports every bad variable.
class Reader {
  public:
    explicit Reader(const EnvLookup& env) : env_(env) {}

    std::optional<std::string> raw(const char* name) {
        names().push_back(name);
        auto v = env_(name);
        if (v && v->empty()) return std::nullopt;
        return v;
    }

    void str(const char* name, std::string& out) {
        if (auto v = raw(name)) out = *v;
    }

    template <typename Int>
    void integer(const char* name, Int& out, Int min, Int max) {
        auto v = raw(name);
        if (!v) return;
        Int n{};
        if (!parse_whole(*v, n) || n < min || n > max) {
            fail(name, "must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got '" + *v + "'");
            return;
        }
        out = n;
    }

    // The whole string is one integer.
    template <typename Int>
    static bool parse_whole(std::string_view s, Int& out) {
        const char* end = s.data() + s.size();
        auto [ptr, ec] = std::from_chars(s.data(), end, out);
        return !s.empty() && ec == std::errc{} && ptr == end;
    }

    void boolean(const char* name, bool& out) {
        auto v = raw(name);
        if (!v) return;
        std::string s = lower(*v);
        if (s == "true" || s == "1" || s == "yes")
            out = true;
        else if (s == "false" || s == "0" || s == "no")
            out = false;
        else
            fail(name, "must be true or false, got '" + *v + "'");
    }

    void choice(const char* name, std::string& out, std::initializer_list<const char*> allowed) {
        auto v = raw(name);
        if (!v) return;
        for (const char* a : allowed) {
            if (*v == a) {
                out = *v;
                return;
            }
        }
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(name, "must be one of " + list + ", got '" + *v + "'");
    }

    // 64g, 512m, 1024k, 123 (bytes)
    void bytes(const char* name, std::int64_t& out) {
        auto v = raw(name);
        if (!v) return;
        std::string s = lower(*v);
        std::int64_t mult = 1;
        if (s.size() > 1 && s.back() == 'b') s.pop_back();  // "64gb" == "64g"
        if (!s.empty() && std::string("kmgt").find(s.back()) != std::string::npos) {
            const char unit = s.back();
            s.pop_back();
            mult = unit == 'k'   ? 1LL << 10
                   : unit == 'm' ? 1LL << 20
                   : unit == 'g' ? 1LL << 30
                                 : 1LL << 40;
        }
        std::int64_t n = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc{} || ptr != s.data() + s.size() || n <= 0 ||
            n > (std::int64_t{1} << 50) / mult) {
            fail(name, "must be a positive size such as 64g, 512m or 1048576, got '" + *v + "'");
            return;
        }
        out = n * mult;
    }

    void cidrs(const char* name, CidrSet& out, const char* fallback) {
        auto v = raw(name);
        try {
            out = CidrSet::parse(v ? *v : std::string(fallback));
        } catch (const std::invalid_argument& e) {
            fail(name, e.what());
        }
    }

    void fail(const char* name, const std::string& why) {
        problems_ << "\n  " << name << ": " << why;
        failed_ = true;
    }

    void finish() const {
        if (failed_) throw ConfigError("invalid configuration:" + problems_.str());
    }

    static std::vector<std::string>& names() {
        static std::vector<std::string> n;
        return n;
    }

    static std::string lower(std::string s) {
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    }

  private:
    const EnvLookup& env_;
    std::ostringstream problems_;
    bool failed_ = false;
};

bool valid_domain(const std::string& d) {
    if (d.empty() || d.size() > 200 || d.front() == '.' || d.back() == '.') return false;
    return std::all_of(d.begin(), d.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    });
}

void read_http(Reader& r, Config& c) {
    if (auto bind = r.raw("API_BIND")) {
        try {
            auto [host, port] = parse_host_port(*bind);
            c.api_bind_host = host;
            c.api_bind_port = port;
        } catch (const std::invalid_argument& e) {
            r.fail("API_BIND", e.what());
        }
    }
    r.integer("API_THREADS", c.api_threads, 0, 256);
    r.integer("HTTP_HEADER_TIMEOUT_SECONDS", c.http_header_timeout_seconds, 1, 3600);
    r.integer("HTTP_IDLE_TIMEOUT_SECONDS", c.http_idle_timeout_seconds, 1, 3600);
    r.integer("HTTP_BODY_TIMEOUT_SECONDS", c.http_body_timeout_seconds, 1, 3600);
    r.integer("SHUTDOWN_GRACE_SECONDS", c.shutdown_grace_seconds, 0, 3600);
    r.integer("BLOCKING_POOL_THREADS", c.blocking_pool_threads, 1, 256);
    r.integer("BLOCKING_QUEUE_MAX", c.blocking_queue_max, 1, 1000000);
}

void read_auth(Reader& r, Config& c) {
    r.str("DATABASE_URL", c.database_url);
    if (!(c.database_url.rfind("sqlite://", 0) == 0 || c.database_url.rfind("mariadb://", 0) == 0 ||
          c.database_url.rfind("mysql://", 0) == 0)) {
        r.fail("DATABASE_URL", "must start with sqlite:// or mariadb://");
    }
    r.str("DOMAIN", c.domain);
    c.domain = Reader::lower(c.domain);
    if (!valid_domain(c.domain)) r.fail("DOMAIN", "must be a DNS name such as example.org");
    r.choice("PUBLIC_SCHEME", c.public_scheme, {"http", "https"});
    c.public_port = c.local_domain() ? 8080 : (c.public_scheme == "https" ? 443 : 80);
    r.integer("PUBLIC_PORT", c.public_port, 1, 65535);
    r.str("COOKIE_NAME", c.cookie_name);
    if (c.cookie_name.empty() ||
        !std::all_of(c.cookie_name.begin(), c.cookie_name.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
        })) {
        r.fail("COOKIE_NAME", "must be letters, digits, '_' or '-'");
    }
    c.cookie_domain = "." + c.web_host();
    r.str("COOKIE_DOMAIN", c.cookie_domain);
    c.cookie_secure = !c.local_domain();
    r.boolean("COOKIE_SECURE", c.cookie_secure);
    std::string samesite = "lax";
    r.choice("COOKIE_SAMESITE", samesite, {"lax", "strict", "none"});
    c.cookie_samesite = samesite == "strict" ? SameSite::strict
                        : samesite == "none" ? SameSite::none
                                             : SameSite::lax;
    if (c.cookie_samesite == SameSite::none && !c.cookie_secure) {
        r.fail("COOKIE_SAMESITE", "none requires COOKIE_SECURE=true");
    }
    r.integer<std::int64_t>("AUTH_IDLE_TTL_SECONDS", c.auth_idle_ttl_seconds, 60, 31536000);
    r.integer<std::int64_t>("AUTH_MAX_TTL_SECONDS", c.auth_max_ttl_seconds, 60, 31536000);
    if (c.auth_idle_ttl_seconds > c.auth_max_ttl_seconds) {
        r.fail("AUTH_IDLE_TTL_SECONDS", "must not exceed AUTH_MAX_TTL_SECONDS");
    }
    r.cidrs("TRUSTED_PROXIES", c.trusted_proxies, "127.0.0.1,::1");
    if (auto v = r.raw("AUTH_RATE_LIMIT")) {
        if (*v == "0") {
            c.auth_rate_limit_count = 0;
        } else {
            const std::string text = *v;
            const auto slash = text.find('/');
            int n = 0;
            int s = 0;
            const bool ok = slash != std::string::npos &&
                            Reader::parse_whole(std::string_view(text).substr(0, slash), n) &&
                            Reader::parse_whole(std::string_view(text).substr(slash + 1), s) &&
                            n > 0 && s > 0 && s <= 86400;
            if (ok) {
                c.auth_rate_limit_count = n;
                c.auth_rate_limit_window_seconds = s;
            } else {
                r.fail("AUTH_RATE_LIMIT", "must be <requests>/<seconds> such as 10/60, or 0");
            }
        }
    }
    r.cidrs("METRICS_ALLOW", c.metrics_allow, "127.0.0.1/32,::1/128");
    r.str("MEDFORGE_BOOTSTRAP_ADMIN_EMAIL", c.bootstrap_admin_email);
    r.str("MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD", c.bootstrap_admin_password);
    if (c.bootstrap_admin_email.empty() != c.bootstrap_admin_password.empty()) {
        r.fail("MEDFORGE_BOOTSTRAP_ADMIN_EMAIL",
               "set both MEDFORGE_BOOTSTRAP_ADMIN_EMAIL and MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD");
    }
    // Read (and so listed) here; resolved by resolve_session_secret.
    r.raw("SESSION_SECRET");
}

// "a.b.c.d/p": an IPv4 network address with no host bits set, room for a gateway and hosts.
bool valid_ipv4_subnet(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return false;
    int prefix = -1;
    if (!Reader::parse_whole(text.substr(slash + 1), prefix) || prefix < 8 || prefix > 29) {
        return false;
    }
    const std::string_view addr_text = text.substr(0, slash);
    const auto addr = IpAddress::parse(addr_text);
    if (!addr || addr_text.find(':') != std::string_view::npos) return false;
    std::uint32_t v = 0;
    for (int i = 12; i < 16; ++i) v = (v << 8) | addr->bytes[static_cast<std::size_t>(i)];
    const std::uint32_t host_mask = (std::uint32_t{1} << (32 - prefix)) - 1;
    return (v & host_mask) == 0;
}

void read_sessions(Reader& r, Config& c) {
    r.choice("SESSION_RUNTIME", c.session_runtime, {"process", "docker"});
    r.str("DOCKER_HOST", c.docker_host);
    if (c.docker_host.rfind("unix://", 0) != 0 && c.docker_host.rfind("tcp://", 0) != 0) {
        r.fail("DOCKER_HOST", "must be unix:///path or tcp://host:port");
    }
    r.choice("SESSION_GPU_MODE", c.session_gpu_mode, {"nvidia", "none"});
    r.str("PACK_IMAGE", c.pack_image);
    r.str("PUBLIC_SESSIONS_NETWORK", c.public_sessions_network);
    r.str("PUBLIC_SESSIONS_SUBNET", c.public_sessions_subnet);
    if (!valid_ipv4_subnet(c.public_sessions_subnet)) {
        r.fail("PUBLIC_SESSIONS_SUBNET",
               "must be an IPv4 network such as 172.30.0.0/24 (prefix 8..29, no host bits), got '" +
                   c.public_sessions_subnet + "'");
    }
    r.str("SESSION_PROCESS_COMMAND", c.session_process_command);
    if (c.session_process_command.find("{port}") == std::string::npos) {
        r.fail("SESSION_PROCESS_COMMAND", "must contain {port}");
    }
    r.str("SESSION_PROCESS_USER", c.session_process_user);
    if (c.session_process_user == "root" || c.session_process_user == "0") {
        r.fail("SESSION_PROCESS_USER", "sessions never run as root");
    }
    r.choice("SESSION_PROCESS_SANDBOX", c.session_process_sandbox, {"bwrap", "none"});
    r.choice("WORKSPACE_STORE", c.workspace_store, {"dir", "zfs"});
    r.str("WORKSPACE_ZFS_ROOT", c.workspace_zfs_root);
    r.str("WORKSPACE_DIR_ROOT", c.workspace_dir_root);
    r.integer("SESSION_WORKSPACE_QUOTA_GB", c.session_workspace_quota_gb, 0, 1 << 20);
    r.boolean("SESSION_RUNTIME_USE_SUDO", c.session_runtime_use_sudo);
    r.choice("GPU_DISCOVERY", c.gpu_discovery, {"static", "nvidia-smi"});
    r.integer("GPU_COUNT", c.gpu_count, 0, 1024);
    if (auto ids = r.raw("GPU_IDS")) {
        std::stringstream ss(*ids);
        std::string item;
        while (std::getline(ss, item, ',')) {
            int n = -1;
            if (!Reader::parse_whole(item, n) || n < 0 || n > 1023 ||
                std::find(c.gpu_ids.begin(), c.gpu_ids.end(), n) != c.gpu_ids.end()) {
                r.fail("GPU_IDS", "must be distinct integers 0..1023 separated by commas");
                break;
            }
            c.gpu_ids.push_back(n);
        }
    }
    r.integer("SESSION_ALLOCATION_MAX_RETRIES", c.session_allocation_max_retries, 0, 100);
    r.integer("SESSION_CONTAINER_START_TIMEOUT_SECONDS", c.session_container_start_timeout_seconds,
              1, 3600);
    r.integer("SESSION_CONTAINER_STOP_TIMEOUT_SECONDS", c.session_container_stop_timeout_seconds, 0,
              3600);
    r.boolean("SESSION_RECOVERY_ENABLED", c.session_recovery_enabled);
    r.boolean("SESSION_STOP_ON_SHUTDOWN", c.session_stop_on_shutdown);
    r.integer("SESSION_POLL_INTERVAL_SECONDS", c.session_poll_interval_seconds, 1, 86400);
    r.integer("SESSION_POLL_BACKOFF_MAX_SECONDS", c.session_poll_backoff_max_seconds, 1, 86400);
    r.integer("SESSION_CPU_SHARES", c.session_cpu_shares, 2, 262144);
    if (auto v = r.raw("SESSION_CPU_LIMIT")) {
        char* end = nullptr;
        double d = std::strtod(v->c_str(), &end);
        if (end != v->c_str() + v->size() || !(d > 0 && d <= 1024)) {
            r.fail("SESSION_CPU_LIMIT", "must be a number of CPUs such as 4 or 2.5");
        } else {
            c.session_cpu_limit = d;
        }
    }
    r.bytes("SESSION_MEM_LIMIT", c.session_mem_limit_bytes);
    r.bytes("SESSION_MEM_RESERVATION", c.session_mem_reservation_bytes);
    r.bytes("SESSION_SHM_SIZE", c.session_shm_size_bytes);
    int pids = 0;
    r.integer("SESSION_PIDS_LIMIT", pids, 0, 1 << 22);
    if (pids > 0) c.session_pids_limit = pids;
    r.integer("SESSION_IDLE_TIMEOUT_SECONDS", c.session_idle_timeout_seconds, 0, 86400 * 30);
    r.integer("SESSION_IDLE_GPU_UTIL_PERCENT", c.session_idle_gpu_util_percent, 0, 100);
}

void read_competitions(Reader& r, Config& c) {
    r.str("COMPETITIONS_DIR", c.competitions_dir);
    r.str("DATASETS_ROOT", c.datasets_root);
    r.str("SUBMISSIONS_DIR", c.submissions_dir);
    r.integer<std::int64_t>("SUBMISSION_UPLOAD_MAX_BYTES", c.submission_upload_max_bytes, 1,
                            std::int64_t{1} << 34);
    r.boolean("AUTO_SCORE_ON_SUBMIT", c.auto_score_on_submit);
    r.integer("SCORING_LEASE_SECONDS", c.scoring_lease_seconds, 1, 86400);
    r.integer("SCORING_MAX_ATTEMPTS", c.scoring_max_attempts, 1, 100);
    if (auto v = r.raw("LOG_LEVEL")) {
        if (!log::parse_level(Reader::lower(*v), c.log_level)) {
            r.fail("LOG_LEVEL", "must be debug, info, warn or error");
        }
    }
}

}  // namespace

bool Config::local_domain() const {
    return domain == "localhost" ||
           (domain.size() > 10 && domain.compare(domain.size() - 10, 10, ".localhost") == 0);
}

EnvLookup process_env() {
    return [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

Config load_config(const EnvLookup& env) {
    Reader::names().clear();
    Reader r(env);
    Config c;
    read_http(r, c);
    read_auth(r, c);
    read_sessions(r, c);
    read_competitions(r, c);
    r.finish();
    return c;
}

const std::vector<std::string>& config_variable_names() {
    static const std::vector<std::string> names = [] {
        load_config([](const char*) { return std::optional<std::string>{}; });
        return Reader::names();
    }();
    return names;
}

void resolve_session_secret(Config& config, const std::string& state_dir) {
    if (const char* env = std::getenv("SESSION_SECRET"); env != nullptr && *env != '\0') {
        config.session_secret = env;
        if (config.session_secret.size() < 32) {
            throw ConfigError(
                "invalid configuration:\n  SESSION_SECRET: must be at least 32 characters");
        }
        return;
    }
    if (!config.local_domain()) {
        throw ConfigError(
            "invalid configuration:\n  SESSION_SECRET: required when DOMAIN is not local "
            "(generate one with: openssl rand -hex 32)");
    }
    namespace fs = std::filesystem;
    fs::path path = fs::path(state_dir) / "session_secret";
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (std::ifstream in(path); in) {
        std::getline(in, config.session_secret);
    }
    if (config.session_secret.size() < 32) {
        auto bytes = random_bytes(32);
        config.session_secret = to_hex(bytes.data(), bytes.size());
        // Write to a temp file with 0600 and rename, so a concurrent reader never sees half.
        fs::path tmp = path;
        tmp += ".tmp" + std::to_string(::getpid());
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << config.session_secret << "\n";
            if (!out) throw ConfigError("cannot write the dev session secret to " + path.string());
        }
        ::chmod(tmp.c_str(), 0600);
        // link() fails if another process won the race; then use theirs.
        if (::link(tmp.c_str(), path.c_str()) != 0) {
            std::ifstream in(path);
            std::getline(in, config.session_secret);
        }
        fs::remove(tmp, ec);
        if (config.session_secret.size() < 32) {
            throw ConfigError("the dev session secret file " + path.string() + " is unreadable");
        }
    }
    config.session_secret_from_file = true;
}

}  // namespace medforge
