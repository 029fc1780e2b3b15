#include "app/app.hpp"

#include "core/background_worker.hpp"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "core/log.hpp"
#include "db/migrations.hpp"
#include "http/pipeline.hpp"
#include "http/server.hpp"
#include "sessions/gpu_inventory.hpp"
#include "sessions/lifecycle.hpp"

namespace medforge::app {

std::unique_ptr<db::Database> open_database(const Config& config, std::size_t pool_size) {
    auto url = db::DatabaseUrl::parse(config.database_url);
    return std::make_unique<db::Database>(std::move(url), pool_size);
}

std::string state_dir(const Config& config) {
    if (config.database_url.rfind("sqlite://", 0) == 0) {
        auto parent = std::filesystem::path(config.database_url.substr(9)).parent_path();
        return parent.empty() ? std::string(".") : parent.string();
    }
    return "./var";
}

Services::Services(const Config& c, db::Database& d, const Clock& clk)
    : config(c),
      db(d),
      clock(clk),
      hasher(),
      token_cache(5 * kMicrosPerSecond),
      auth_limiter(c.auth_rate_limit_count, c.auth_rate_limit_window_seconds * kMicrosPerSecond),
      metrics(),
      background([](std::function<void()> fn) { fn(); }),
      auth(d, c, hasher, clk, token_cache,
           [this](std::function<void()> fn) { background(std::move(fn)); }),
      bundles(),
      scorer(d, c, clk, bundles, scoring::make_owner_id("api")),
      gate_cache(5 * kMicrosPerSecond),
      started_at(clk.now()) {}

void register_all_routes(http::Router& router, Services& s) {
    register_system_routes(router, s);
    register_auth_routes(router, s);
    register_competition_routes(router, s);
    register_submission_routes(router, s);
    register_dataset_routes(router, s);
    register_admin_competition_routes(router, s);
    register_session_routes(router, s);
    register_status_routes(router, s);
    register_openapi_route(router);
}

int run_api(Config config) {
    log::init(config.log_level);
    try {
        resolve_session_secret(config, state_dir(config));
    } catch (const ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
    if (config.session_secret_from_file) {
        log::warn("config.dev_session_secret",
                  {{"detail", "SESSION_SECRET unset; using the per-install dev secret file"}});
    }
    // The blocking pool, the background worker's two threads, the session loop and one spare.
    const std::size_t pool = static_cast<std::size_t>(config.blocking_pool_threads) + 4;
    std::unique_ptr<db::Database> db;
    try {
        db = open_database(config, pool);
        auto report = db::run_migrations(*db);
        log::info("db.ready",
                  {{"url", db->url().redacted()}, {"schema_version", report.current_version}});
    } catch (const std::exception& e) {
        log::error("db.start_failed", {{"error", e.what()}});
        log::flush();
        std::cerr << "medforge-api: database start failed: " << e.what() << "\n";
        return 1;
    }
    SystemClock clock;
    try {
        seed_competitions(*db, config, clock);
    } catch (const std::exception& e) {
        log::error("competitions.seed_failed", {{"error", e.what()}});
    }
    try {
        const auto gpus = sessions::discover_gpus(config);
        const auto sync = db->with_connection(
            [&](db::Connection& c) { return sessions::sync_gpu_inventory(c, gpus); });
        log::info("gpu.inventory_synced", {{"discovery", config.gpu_discovery},
                                           {"gpus", gpus.size()},
                                           {"added", sync.added},
                                           {"disabled", sync.disabled}});
    } catch (const std::exception& e) {
        // The inventory stays as it was; sessions use the GPUs already known.
        log::error("gpu.discovery_failed",
                   {{"discovery", config.gpu_discovery}, {"error", e.what()}});
    }
    Services services(config, *db, clock);
    if (!config.bootstrap_admin_email.empty()) {
        try {
            services.auth.bootstrap_admin(config.bootstrap_admin_email,
                                          config.bootstrap_admin_password);
        } catch (const ApiError& e) {
            std::cerr << "medforge-api: bootstrap admin refused: " << e.detail() << "\n";
            return 2;
        }
    }
    // The sessions plane: workspaces belong to the user the IDE runs as (1000:1000 in a
    // container; the session user, or the API's own user, for the process runtime).
    unsigned owner_uid = 1000;
    unsigned owner_gid = 1000;
    if (config.session_runtime == "process") {
        owner_uid = ::getuid();
        owner_gid = ::getgid();
        if (::geteuid() == 0) {
            if (const passwd* pw = ::getpwnam(config.session_process_user.c_str())) {
                owner_uid = pw->pw_uid;
                owner_gid = pw->pw_gid;
            }
        }
    }
    std::unique_ptr<sessions::Runtime> runtime;
    std::unique_ptr<sessions::WorkspaceStore> store;
    std::unique_ptr<sessions::SessionService> session_service;
    try {
        runtime = sessions::make_runtime(config, state_dir(config));
        store = sessions::make_workspace_store(config, owner_uid, owner_gid);
        session_service =
            std::make_unique<sessions::SessionService>(config, *db, clock, *runtime, *store);
        services.sessions = session_service.get();
        session_service->set_on_slug_changed(
            [&services](const std::string& slug) { services.gate_cache.erase(slug); });
        try {
            session_service->check_backends();
        } catch (const std::exception& e) {
            log::warn("session.backends_unavailable", {{"runtime", config.session_runtime},
                                                       {"store", config.workspace_store},
                                                       {"error", e.what()}});
        }
    } catch (const std::exception& e) {
        log::error("session.backends_failed", {{"error", e.what()}});
        log::flush();
        std::cerr << "medforge-api: cannot set up the sessions plane: " << e.what() << "\n";
        return 1;
    }
    http::Router router;
    register_all_routes(router, services);
    http::Pipeline pipeline(config, router, services.auth, services.auth_limiter, clock,
                            services.metrics);
    http::ServerOptions opts;
    opts.host = config.api_bind_host;
    opts.port = config.api_bind_port;
    opts.io_threads = config.api_threads;
    opts.header_timeout_seconds = config.http_header_timeout_seconds;
    opts.idle_timeout_seconds = config.http_idle_timeout_seconds;
    opts.body_timeout_seconds = config.http_body_timeout_seconds;
    opts.shutdown_grace_seconds = config.shutdown_grace_seconds;
    opts.blocking_threads = config.blocking_pool_threads;
    opts.blocking_queue_max = config.blocking_queue_max;
    opts.spool_dir = config.submissions_dir + "/.incoming";
    http::Server server(opts, pipeline);
    services.blocking_pool_queued = [&server] { return server.blocking_queued(); };
    // Refresh-ahead and idle slides: two threads at nice +10, so a burst of refreshes (many
    // cache entries crossing their half-life together) never delays an answer on the I/O
    // threads. Declared after the server and before the session loop starts; destroyed (after
    // draining) before the services it calls into.
    BackgroundWorker background(2, 10);
    services.background = [&background](std::function<void()> fn) {
        background.post(std::move(fn));
    };
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const std::exception& e) {
        log::error("http.listen_failed", {{"error", e.what()}});
        log::flush();
        std::cerr << "medforge-api: cannot listen on " << config.api_bind_host << ":"
                  << config.api_bind_port << ": " << e.what() << "\n";
        return 1;
    }
    log::info("api.listening", {{"address", config.api_bind_host + ":" + std::to_string(port)},
                                {"port", port},
                                {"version", MEDFORGE_VERSION}});
    session_service->start_loop();
    server.run();
    if (config.session_stop_on_shutdown) {
        log::info("session.shutdown_stopping_all", {});
        try {
            session_service->stop_all_sessions();
        } catch (const std::exception& e) {
            log::error("session.shutdown_stop_failed", {{"error", e.what()}});
        }
    }
    session_service->stop_loop();
    services.sessions = nullptr;
    services.background = [](std::function<void()> fn) { fn(); };  // the worker is going away
    services.blocking_pool_queued = nullptr;                       // so is the server
    log::info("api.stopped", {});
    log::flush();
    return 0;
}

}  // namespace medforge::app
