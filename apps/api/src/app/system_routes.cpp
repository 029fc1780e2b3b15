// /healthz, /readyz, /metrics.
#include <algorithm>
#include <map>

#include "app/app.hpp"
#include "db/sessions_repo.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

http::Response plain_json(nlohmann::json body, int status = 200) {
    http::Response r;
    r.status = status;
    r.body = body.dump();
    return r;
}

}  // namespace

namespace {

// The recovery loop of this process: finished and failed passes, and whether it holds the lease.
std::string recovery_metrics(sessions::SessionService& svc) {
    const auto st = svc.loop_status();
    return "# HELP medforge_session_recovery_passes_total Recovery passes run by this process.\n"
           "# TYPE medforge_session_recovery_passes_total counter\n"
           "medforge_session_recovery_passes_total{result=\"ok\"} " +
           std::to_string(st.passes - st.failed_passes) +
           "\nmedforge_session_recovery_passes_total{result=\"failed\"} " +
           std::to_string(st.failed_passes) +
           "\n# HELP medforge_session_recovery_lease 1 when this process holds the recovery "
           "lease.\n# TYPE medforge_session_recovery_lease "
           "gauge\nmedforge_session_recovery_lease " +
           std::to_string(st.holds_lease ? 1 : 0) + "\n";
}

// Sessions by status (active ones) and enabled GPUs with no active session.
std::string session_metrics(Services& s) {
    return s.db.with_connection([&](db::Connection& c) {
        std::map<std::string, std::int64_t> counts{
            {"starting", 0}, {"running", 0}, {"stopping", 0}};
        for (const auto& [status, n] : db::sessions::count_by_status(c)) counts[status] = n;
        std::string out =
            "# HELP medforge_sessions Active sessions by status.\n# TYPE medforge_sessions "
            "gauge\n";
        for (const auto& [status, n] : counts) {
            out += "medforge_sessions{status=\"" + status + "\"} " + std::to_string(n) + "\n";
        }
        out +=
            "# HELP medforge_gpus_free Enabled GPUs with no active session.\n# TYPE "
            "medforge_gpus_free gauge\nmedforge_gpus_free " +
            std::to_string(db::sessions::free_gpu_count(c)) + "\n";
        return out;
    });
}

}  // namespace

namespace {

// Scoring queue depth by status, the oldest waiting job's age, and upload → scored latency over
// the last hour (all workers: read from the submissions table at scrape time).
std::string scoring_metrics(Services& s) {
    const Micros now = s.clock.now();
    return s.db.with_connection([&](db::Connection& c) {
        std::string out =
            "# HELP medforge_scoring_queue Submissions by scoring status (queued, scoring, "
            "failed).\n# TYPE medforge_scoring_queue gauge\n";
        std::map<std::string, std::int64_t> counts{{"queued", 0}, {"scoring", 0}, {"failed", 0}};
        for (const auto& r : c.query(
                 "SELECT status, COUNT(*) FROM submissions WHERE status IN ('queued', 'scoring', "
                 "'failed') GROUP BY status")) {
            counts[r.str(0)] = r.i64(1);
        }
        for (const auto& [status, n] : counts) {
            out += "medforge_scoring_queue{status=\"" + status + "\"} " + std::to_string(n) + "\n";
        }
        auto oldest =
            c.query_one("SELECT MIN(created_at) FROM submissions WHERE status = 'queued'");
        const double age =
            oldest && !oldest->is_null(0) ? static_cast<double>(now - oldest->i64(0)) / 1e6 : 0.0;
        out +=
            "# HELP medforge_scoring_oldest_queued_seconds Age of the oldest queued "
            "submission.\n# TYPE medforge_scoring_oldest_queued_seconds gauge\n"
            "medforge_scoring_oldest_queued_seconds " +
            std::to_string(age) + "\n";
        std::vector<double> lat;
        for (const auto& r :
             c.query("SELECT scored_at - created_at FROM submissions WHERE status = 'scored' AND "
                     "scored_at >= :since ORDER BY scored_at DESC LIMIT 10000",
                     {now - 3600 * kMicrosPerSecond})) {
            lat.push_back(static_cast<double>(r.i64(0)) / 1e6);
        }
        std::sort(lat.begin(), lat.end());
        out +=
            "# HELP medforge_scoring_latency_seconds Upload to official score over the last "
            "hour.\n# TYPE medforge_scoring_latency_seconds summary\n";
        for (double q : {0.5, 0.9, 0.99}) {
            const double v =
                lat.empty()
                    ? 0.0
                    : lat[std::min(lat.size() - 1,
                                   static_cast<std::size_t>(q * static_cast<double>(lat.size())))];
            out += "medforge_scoring_latency_seconds{quantile=\"" + std::to_string(q).substr(0, 4) +
                   "\"} " + std::to_string(v) + "\n";
        }
        out += "medforge_scoring_latency_seconds_count " + std::to_string(lat.size()) + "\n";
        return out;
    });
}

}  // namespace

Readiness check_readiness(Services& s) {
    Readiness r;
    auto& checks = r.checks;
    auto& failing = r.failing;
    std::string err;
    if (s.db.ping(err)) {
        checks["database"] = "ok";
    } else {
        checks["database"] = "unreachable";
        failing.push_back({{"database"}, "the database is unreachable", "unhealthy"});
    }
    if (s.sessions == nullptr) {
        checks["runtime"] = "not started";
        failing.push_back({{"runtime"}, "the sessions plane is not running", "unhealthy"});
        return r;
    }
    try {
        s.sessions->runtime().health();
        checks["runtime"] = "ok";
    } catch (const std::exception& e) {
        checks["runtime"] = "unavailable";
        failing.push_back({{"runtime"}, "the session runtime is unavailable", "unhealthy"});
    }
    try {
        s.sessions->store().health();
        checks["workspace_store"] = "ok";
    } catch (const std::exception& e) {
        checks["workspace_store"] = "unavailable";
        failing.push_back({{"workspace_store"}, "the workspace store is unavailable", "unhealthy"});
    }
    const auto loop = s.sessions->loop_status();
    if (!loop.enabled) {
        checks["recovery_loop"] = "disabled";
        return r;
    }
    const Micros limit = Micros{3} * s.config.session_poll_interval_seconds * kMicrosPerSecond;
    const Micros now = s.clock.now();
    const Micros seen = loop.holds_lease ? loop.last_pass : loop.last_tick;
    if (seen > 0 && now - seen <= limit) {
        checks["recovery_loop"] = loop.holds_lease ? "ok" : "standby";
    } else if (seen == 0 && loop.passes == 0 && loop.failed_passes == 0) {
        checks["recovery_loop"] = "starting";
    } else {
        checks["recovery_loop"] = "stale";
        failing.push_back({{"recovery_loop"}, "no recovery pass finished recently", "unhealthy"});
    }
    return r;
}

void register_system_routes(http::Router& router, Services& s) {
    router.add({.method = "GET",
                .pattern = "/healthz",
                .access = http::Access::anon,
                .exec = http::Exec::io,
                .handler =
                    [](http::Request&) {
                        return plain_json({{"status", "ok"}});
                    },
                .summary = "Liveness: 200 while the process serves",
                .response_schema = {{"type", "object"},
                                    {"properties", {{"status", {{"type", "string"}}}}}}});

    router.add({.method = "GET",
                .pattern = "/readyz",
                .access = http::Access::anon,
                .exec = http::Exec::blocking,
                .handler =
                    [&s](http::Request& req) {
                        auto [checks, failing] = check_readiness(s);
                        if (!failing.empty()) {
                            std::string names;
                            for (const auto& f : failing)
                                names += (names.empty() ? "" : ", ") + f.loc.back();
                            ApiError e(503, "not_ready", "Not ready: " + names + ".");
                            e.with_errors(failing);
                            return http::problem(req, e);
                        }
                        return plain_json({{"status", "ready"}, {"checks", checks}});
                    },
                .summary = "Readiness: database, session runtime, workspace store, recovery loop",
                .problem_statuses = {503}});

    router.add({.method = "GET",
                .pattern = "/metrics",
                .access = http::Access::anon,
                .exec = http::Exec::blocking,
                .handler =
                    [&s](http::Request& req) {
                        if (!s.config.metrics_allow.contains(req.client)) {
                            throw ApiError(
                                403, "metrics_forbidden",
                                "Metrics are only served to addresses in METRICS_ALLOW.");
                        }
                        http::Response r;
                        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                        r.body = s.metrics.render();
                        try {
                            r.body += scoring_metrics(s);
                            r.body += session_metrics(s);
                            if (s.sessions != nullptr) r.body += recovery_metrics(*s.sessions);
                        } catch (const std::exception&) {
                            // The DB is down: /readyz says so; the process metrics still render.
                        }
                        return r;
                    },
                .summary = "Prometheus metrics (restricted to METRICS_ALLOW)",
                .problem_statuses = {403}});
}

}  // namespace medforge::app
