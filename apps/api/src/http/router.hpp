#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/errors.hpp"
#include "http/message.hpp"

namespace medforge::http {

enum class Access {
    anon,   // no login needed
    user,   // 401 without a valid credential
    admin,  // 401 without, 403 admin_required for non-admins
};

enum class Exec {
    io,        // cheap: runs on the I/O thread (must not block)
    blocking,  // touches the DB, files or processes: runs on the bounded blocking pool
};

using Handler = std::function<Response(Request&)>;
// Refuses a request before its body is read by throwing ApiError (e.g. a daily cap).
using BodyGate = std::function<void(Request&)>;
// The error for a body over the route's limit: (limit, size seen or announced).
using TooLarge = std::function<ApiError(std::size_t limit, std::size_t size)>;
// For a blocking route: the answer when it can be given without blocking (e.g. from a cache),
// computed on the I/O thread; nullopt sends the request on to `handler` on the blocking pool.
// Runs only once the credential is resolved; may throw ApiError like a handler; never blocks.
using TryInline = std::function<std::optional<Response>(Request&)>;

constexpr std::size_t kJsonBodyLimit = std::size_t{64} * 1024;

// One route: declared next to its handler with everything the pipeline and the OpenAPI document
// need to know about it.
struct Route {
    std::string method;
    // "/api/v1/me/tokens/{id}": `{name}` matches one non-empty segment. The last segment may be
    // a trailing wildcard `{name...}`: one or more segments, the rest of the path (see match()).
    std::string pattern;
    Access access = Access::anon;
    Exec exec = Exec::blocking;
    Handler handler;
    TryInline try_inline;  // blocking routes only
    // Only the session cookie is a credential here; an Authorization header (an IDE's own
    // scheme, passed through by the proxy) is ignored rather than refused.
    bool cookie_credential_only = false;
    std::size_t body_limit = kJsonBodyLimit;
    bool rate_limited = false;    // signup/login: AUTH_RATE_LIMIT
    bool state_changing = false;  // derived from the method; origin guard applies
    // Uploads: the body goes to a temporary file (Request::body_file), never to memory, and only
    // after the pipeline (origin, credentials, access) and `before_body` have let it through.
    bool body_to_file = false;
    BodyGate before_body;  // body_to_file routes only; runs on the blocking pool
    TooLarge too_large;    // default: 413 payload_too_large
    // OpenAPI fragments.
    std::string summary;
    nlohmann::json request_schema;  // null = no body
    // OpenAPI `content` map for bodies that are not JSON (uploads); null = application/json with
    // request_schema.
    nlohmann::json request_content;
    nlohmann::json response_schema = nlohmann::json::object();
    int success_status = 200;
    std::vector<int> problem_statuses;
    std::vector<std::string> query_params;
    // Non-empty when the route may answer with a file of this media type (streamed; a Range
    // request gets 206 or 416). With an empty response_schema, the file is its only success body.
    std::string file_content_type;
};

struct RouteMatch {
    const Route* route = nullptr;
    std::unordered_map<std::string, std::string> params;
    std::vector<std::string> allowed_methods;  // non-empty when the path exists for other methods
};

class Router {
  public:
    // Throws std::logic_error for a malformed pattern (not absolute, a wildcard that is not the
    // last segment) or a route declared twice.
    Route& add(Route route);
    // Parameters are percent-decoded. A trailing wildcard's value is the rest of the path from its
    // first segment on, which must be non-empty, slashes included and decoded as a whole (an
    // encoded "%2F" becomes a slash too): handlers must treat it as untrusted path syntax.
    RouteMatch match(std::string_view method, std::string_view path) const;
    const std::vector<Route>& routes() const { return routes_; }

  private:
    struct Segment {
        std::string text;  // the literal, or the parameter's name
        bool param = false;
    };
    struct Compiled {
        std::vector<Segment> segments;
        std::string tail;  // the trailing wildcard's name; empty when none
    };
    // Splits into `out` (cleared first), so a thread reuses one buffer for every request.
    static void split(std::string_view path, std::vector<std::string_view>& out);
    // Whether the path's segments fit route i: literals equal, parameters non-empty.
    bool fits(std::size_t i, const std::vector<std::string_view>& segs) const;
    struct PathHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
    // Paths of parameterless routes → (method, route index), for the routes that a full scan
    // would pick for that exact path and method (no earlier route fits it): match() answers
    // those with one hash look-up.
    std::unordered_map<std::string, std::vector<std::pair<std::string, std::size_t>>, PathHash,
                       std::equal_to<>>
        literal_;
};

}  // namespace medforge::http
