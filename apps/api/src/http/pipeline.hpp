#pragma once

#include <optional>

#include "auth/auth_service.hpp"
#include "auth/rate_limiter.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "http/message.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace medforge::http {

// The middleware chain, independent of the socket layer: request id → CORS → route match →
// origin guard → rate limit → credentials → access check → handler → problem mapping → log and
// metrics. prepare() runs on the I/O thread and never blocks; execute() may block (DB) and runs
// on the I/O thread only when prepare() says it can.
class Pipeline {
  public:
    Pipeline(const Config& config, const Router& router, auth::AuthService& auth,
             auth::RateLimiter& limiter, const Clock& clock, Metrics& metrics);

    // The route a request line names (if any), with its parameters; the server matches once,
    // before the body is read (the route sets the body's limit), and hands the match to prepare().
    RouteMatch match(std::string_view method, std::string_view path) const;

    struct Prepared {
        std::optional<Response> response;  // answered already (error, preflight, try_inline)
        bool run_inline = false;           // execute() will not block
    };
    Prepared prepare(Request& req, RouteMatch match);
    Response execute(Request& req);
    // For body_to_file routes, after prepare() and before the body is read: resolves the
    // credential if prepare() could not, checks access and runs the route's before_body. A
    // response means the request is refused (its body is never stored).
    std::optional<Response> before_body(Request& req);
    // Adds the standard headers and records the request in logs and metrics.
    void finish(const Request& req, Response& resp, double seconds);
    // A problem response for failures the socket layer detects (bad request line, 413, 431...).
    Response early_problem(Request& req, const ApiError& error);

  private:
    // Runs fn, mapping ApiError, DB outages and unexpected exceptions to problem responses.
    Response guarded(Request& req, const std::function<Response()>& fn);
    void assign_request_id(Request& req) const;
    void add_cors(const Request& req, Response& resp) const;
    void read_credential(Request& req) const;
    void check_access(const Request& req) const;

    const Config& config_;
    const Router& router_;
    auth::AuthService& auth_;
    auth::RateLimiter& limiter_;
    const Clock& clock_;
    Metrics& metrics_;
};

}  // namespace medforge::http
