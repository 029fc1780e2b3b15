#include "http/pipeline.hpp"

#include <algorithm>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "db/database.hpp"
#include "http/cookies.hpp"
#include "http/origin.hpp"
#include "http/response.hpp"

namespace medforge::http {

namespace {

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-';
    });
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

}  // namespace

Pipeline::Pipeline(const Config& config, const Router& router, auth::AuthService& auth,
                   auth::RateLimiter& limiter, const Clock& clock, Metrics& metrics)
    : config_(config),
      router_(router),
      auth_(auth),
      limiter_(limiter),
      clock_(clock),
      metrics_(metrics) {}

RouteMatch Pipeline::match(std::string_view method, std::string_view path) const {
    return router_.match(method, path);
}

void Pipeline::assign_request_id(Request& req) const {
    if (!req.request_id.empty()) return;
    auto given = req.header("x-request-id");
    req.request_id = given && valid_request_id(*given) ? std::string(*given) : request_uuid();
}

void Pipeline::add_cors(const Request& req, Response& resp) const {
    auto origin = req.header("origin");
    if (!origin || !origin_allowed(config_, *origin)) return;
    resp.set_header("Access-Control-Allow-Origin", std::string(*origin));
    resp.set_header("Access-Control-Allow-Credentials", "true");
    resp.set_header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    resp.set_header("Vary", "Origin");
}

Response Pipeline::early_problem(Request& req, const ApiError& error) {
    assign_request_id(req);
    if (req.client == IpAddress{}) req.client = req.peer;
    return problem(req, error);
}

void Pipeline::read_credential(Request& req) const {
    // A Bearer token, when present, is the only credential considered (scripts).
    const bool cookie_only = req.route != nullptr && req.route->cookie_credential_only;
    if (auto authz = req.header("authorization"); authz && !cookie_only) {
        std::string_view v = *authz;
        if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
            req.credential = std::string(v.substr(7));
            req.credential_kind = auth::CredentialKind::access_token;
            return;
        }
        throw ApiError(401, "invalid_authorization",
                       "Authorization must be 'Bearer <personal access token>'.");
    }
    auto values = cookie_values(req.header_values("cookie"), config_.cookie_name);
    if (values.size() > 1) {
        // Clearing the parent-domain cookie lets the browser recover with a fresh login.
        throw ApiError(401, "duplicate_session_cookie",
                       "The request carries more than one session cookie; log in again.")
            .with_header("Set-Cookie", clear_session_cookie(config_));
    }
    if (values.size() == 1) {
        req.credential = std::string(values.front());
        req.credential_kind = auth::CredentialKind::session_cookie;
    }
}

void Pipeline::check_access(const Request& req) const {
    if (req.route->access == Access::anon) return;
    if (!req.principal) {
        if (!req.credential.empty() && req.credential_kind == auth::CredentialKind::access_token) {
            throw ApiError(401, "invalid_token",
                           "The access token is unknown, revoked or expired.");
        }
        throw unauthenticated();
    }
    if (req.route->access == Access::admin && !req.principal->is_admin()) throw admin_required();
}

Pipeline::Prepared Pipeline::prepare(Request& req, RouteMatch m) {
    Prepared out;
    assign_request_id(req);
    req.client = resolve_client_address(req.peer, req.header("x-forwarded-for").value_or(""),
                                        config_.trusted_proxies);
    try {
        if (req.method == "OPTIONS" && !m.allowed_methods.empty()) {
            Response r;
            r.status = 204;
            r.content_type.clear();
            if (auto origin = req.header("origin"); origin && origin_allowed(config_, *origin)) {
                r.set_header("Access-Control-Allow-Methods", join(m.allowed_methods, ", "));
                r.set_header("Access-Control-Allow-Headers",
                             "Content-Type, Authorization, X-Request-Id");
                r.set_header("Access-Control-Max-Age", "600");
            }
            out.response = std::move(r);
            return out;
        }
        if (m.route == nullptr) {
            if (!m.allowed_methods.empty()) {
                throw ApiError(405, "method_not_allowed",
                               "This path does not accept " + req.method + ".")
                    .with_header("Allow", join(m.allowed_methods, ", "));
            }
            throw not_found("route_not_found", "No route matches this path.");
        }
        req.route = m.route;
        req.path_params = std::move(m.params);
        if (req.route->state_changing) {
            if (auto origin = req.header("origin"); origin && !origin_allowed(config_, *origin)) {
                throw ApiError(403, "origin_not_allowed",
                               "State-changing requests must come from the MedForge web or API "
                               "origin.");
            }
        }
        if (req.route->rate_limited) {
            if (auto wait = limiter_.attempt(req.client.to_string(), clock_.now())) {
                throw ApiError(429, "rate_limit_exceeded",
                               "Too many attempts from this address; try again later.")
                    .with_header("Retry-After", std::to_string(*wait));
            }
        }
        read_credential(req);
        if (!req.credential.empty()) {
            req.principal = auth_.authenticate_cached(req.credential, req.credential_kind);
            req.credential_resolved = req.principal != nullptr;
        } else {
            req.credential_resolved = true;
        }
        if (req.credential_resolved) check_access(req);
        out.run_inline = req.credential_resolved && req.route->exec == Exec::io;
    } catch (const ApiError& e) {
        out.response = problem(req, e);
        return out;
    }
    if (req.credential_resolved && req.route->try_inline) {
        bool answered = false;
        Response r = guarded(req, [&] {
            auto answer = req.route->try_inline(req);
            answered = true;
            return answer ? std::move(*answer) : Response{0};
        });
        if (!answered || r.status != 0) out.response = std::move(r);
    }
    return out;
}

Response Pipeline::guarded(Request& req, const std::function<Response()>& fn) {
    try {
        return fn();
    } catch (const ApiError& e) {
        if (e.status() >= 500 || !e.log_detail().empty()) {
            log::warn(
                "http.handler_error",
                {{"request_id", req.request_id}, {"code", e.code()}, {"detail", e.log_detail()}});
        }
        return problem(req, e);
    } catch (const db::DbUnavailable& e) {
        log::error("db.unavailable", {{"request_id", req.request_id}, {"error", e.what()}});
        return problem(req, ApiError(503, "database_unavailable",
                                     "The database is unavailable; try again shortly.")
                                .with_header("Retry-After", "1"));
    } catch (const std::exception& e) {
        log::error("http.internal_error", {{"request_id", req.request_id}, {"error", e.what()}});
        return problem(req, ApiError(500, "internal_error",
                                     "An unexpected error occurred; it has been logged."));
    }
}

Response Pipeline::execute(Request& req) {
    return guarded(req, [&] {
        if (!req.credential_resolved) {
            req.principal = auth_.authenticate(req.credential, req.credential_kind);
            req.credential_resolved = true;
            check_access(req);
        }
        return req.route->handler(req);
    });
}

std::optional<Response> Pipeline::before_body(Request& req) {
    bool passed = false;
    Response r = guarded(req, [&] {
        if (!req.credential_resolved) {
            req.principal = auth_.authenticate(req.credential, req.credential_kind);
            req.credential_resolved = true;
            check_access(req);
        }
        if (req.route->before_body) req.route->before_body(req);
        passed = true;
        return Response{};
    });
    if (passed) return std::nullopt;
    return r;
}

void Pipeline::finish(const Request& req, Response& resp, double seconds) {
    add_cors(req, resp);
    resp.set_header("X-Request-Id", req.request_id);
    resp.set_header("Cache-Control", "no-store");
    resp.set_header("X-Content-Type-Options", "nosniff");
    const std::string route = req.route != nullptr ? req.route->pattern : "unmatched";
    metrics_.observe_request(req.route, route, req.method, resp.status, seconds);
    if (log::enabled(log::Level::info)) {
        nlohmann::json f = {{"request_id", req.request_id},
                            {"method", req.method},
                            {"route", route},
                            {"path", req.path},
                            {"status", resp.status},
                            {"duration_ms", seconds * 1000.0},
                            {"client", req.client.to_string()}};
        if (req.principal) f["user_id"] = req.principal->user_id;
        log::info("http.request", std::move(f));
    }
}

}  // namespace medforge::http
