// /healthz, /readyz, /metrics.
#include "app/app.hpp"
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

    router.add(
        {.method = "GET",
         .pattern = "/readyz",
         .access = http::Access::anon,
         .exec = http::Exec::blocking,
         .handler =
             [&s](http::Request& req) {
                 nlohmann::json checks = nlohmann::json::object();
                 std::vector<FieldError> failing;
                 std::string err;
                 if (s.db.ping(err)) {
                     checks["database"] = "ok";
                 } else {
                     checks["database"] = "unreachable";
                     failing.push_back({{"database"}, "the database is unreachable", "unhealthy"});
                 }
                 if (!failing.empty()) {
                     ApiError e(503, "not_ready", "Not ready: database.");
                     e.with_errors(failing);
                     return http::problem(req, e);
                 }
                 return plain_json({{"status", "ready"}, {"checks", checks}});
             },
         .summary = "Readiness: database (later: runtime, workspace store, recovery loop)",
         .problem_statuses = {503}});

    router.add({.method = "GET",
                .pattern = "/metrics",
                .access = http::Access::anon,
                .exec = http::Exec::io,
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
                        return r;
                    },
                .summary = "Prometheus metrics (restricted to METRICS_ALLOW)",
                .problem_statuses = {403}});
}

}  // namespace medforge::app
