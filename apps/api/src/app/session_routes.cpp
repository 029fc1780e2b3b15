// Sessions: create, list, current, one session, stop, lifecycle events (SSE); the proxy gate
// Caddy's forward_auth calls for every request to a session host; and the admin views of
// sessions and GPUs.
#include <thread>

#include "app/app.hpp"
#include "core/ids.hpp"
#include "core/json_input.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "db/sessions_repo.hpp"
#include "http/response.hpp"

namespace medforge::app {

const nlohmann::json& gpu_schema() {
    static const nlohmann::json schema = {{"type", "object"},
                                          {"properties",
                                           {{"id", {{"type", "integer"}}},
                                            {"name", {{"type", "string"}}},
                                            {"uuid", {{"type", {"string", "null"}}}},
                                            {"enabled", {{"type", "boolean"}}},
                                            {"session_id", {{"type", {"string", "null"}}}}}}};
    return schema;
}

nlohmann::json gpu_json(const db::GpuRecord& g) {
    using nlohmann::json;
    return {{"id", g.id},
            {"name", g.name},
            {"uuid", g.uuid ? json(*g.uuid) : json(nullptr)},
            {"enabled", g.enabled},
            {"session_id", g.session_id ? json(*g.session_id) : json(nullptr)}};
}

namespace {

using nlohmann::json;

const json kSessionSchema = {
    {"type", "object"},
    {"properties",
     {{"id", {{"type", "string"}, {"format", "uuid"}}},
      {"user_id", {{"type", "string"}, {"format", "uuid"}}},
      {"tier", {{"type", "string"}, {"enum", {"public", "private"}}}},
      {"pack_id", {{"type", "string"}}},
      {"status",
       {{"type", "string"}, {"enum", {"starting", "running", "stopping", "stopped", "error"}}}},
      {"gpu_id", {{"type", "integer"}}},
      {"slug", {{"type", "string"}}},
      {"url", {{"type", "string"}}},
      {"workspace", {{"type", "string"}}},
      {"created_at", {{"type", "string"}, {"format", "date-time"}}},
      {"started_at", {{"type", {"string", "null"}}, {"format", "date-time"}}},
      {"stopped_at", {{"type", {"string", "null"}}, {"format", "date-time"}}},
      {"error_message", {{"type", {"string", "null"}}}}}}};

json optional_time(const std::optional<std::int64_t>& t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

std::string session_url(const Config& c, const std::string& slug) {
    std::string url = c.public_scheme + "://s-" + slug + ".medforge." + c.domain;
    const bool default_port = (c.public_scheme == "http" && c.public_port == 80) ||
                              (c.public_scheme == "https" && c.public_port == 443);
    if (!default_port) url += ":" + std::to_string(c.public_port);
    return url + "/";
}

json session_json(const Config& c, const db::SessionRecord& s) {
    return {{"id", s.id},
            {"user_id", s.user_id},
            {"tier", s.tier},
            {"pack_id", s.pack_id},
            {"status", s.status},
            {"gpu_id", s.gpu_id},
            {"slug", s.slug},
            {"url", session_url(c, s.slug)},
            {"workspace", s.workspace},
            {"created_at", format_iso8601(s.created_at)},
            {"started_at", optional_time(s.started_at)},
            {"stopped_at", optional_time(s.stopped_at)},
            {"error_message", s.error_message ? json(*s.error_message) : json(nullptr)}};
}

sessions::SessionService& service(Services& s) {
    if (s.sessions == nullptr) {
        throw ApiError(503, "runtime_unavailable", "The sessions plane is not running.");
    }
    return *s.sessions;
}

ApiError not_found() { return ApiError(404, "session_not_found", "No such session."); }

// The session, if the caller may see it (owner, or admin when `admin_ok`).
db::SessionRecord visible_session(Services& s, const http::Request& req, const std::string& id,
                                  bool admin_ok) {
    if (!is_uuid(id)) throw not_found();
    auto row = s.db.with_connection([&](db::Connection& c) { return db::sessions::find(c, id); });
    if (!row) throw not_found();
    if (row->user_id != req.principal->user_id && !(admin_ok && req.principal->is_admin())) {
        throw not_found();
    }
    return *row;
}

std::vector<std::string> parse_statuses(const std::optional<std::string>& raw) {
    std::vector<std::string> out;
    if (!raw || raw->empty()) return out;
    for (auto part : split(*raw, ',')) {
        const std::string v(trim(part));
        if (v != "starting" && v != "running" && v != "stopping" && v != "stopped" &&
            v != "error") {
            throw ApiError(422, "request_validation_failed", "Unknown status '" + v + "'.")
                .with_errors(
                    {{{"query", "status"},
                      "must be a comma list of starting, running, stopping, stopped, error",
                      "enum"}});
        }
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return out;
}

http::Response list_sessions(Services& s, http::Request& req, const std::string& user_id,
                             int default_limit) {
    const auto statuses = parse_statuses(req.query_param("status"));
    auto page = http::parse_page(req, default_limit);
    auto rows = s.db.with_connection([&](db::Connection& c) {
        return db::sessions::list(c, user_id, statuses, page.has_cursor, page.after_key,
                                  page.after_id, page.limit + 1);
    });
    auto next = http::next_cursor(rows, page.limit, [](const db::SessionRecord& r) {
        return std::pair{r.created_at, r.id};
    });
    json items = json::array();
    for (const auto& r : rows) items.push_back(session_json(s.config, r));
    return http::ok_list(req, items, page.limit, next);
}

http::Response stop_session(Services& s, http::Request& req, bool admin) {
    auto row = visible_session(s, req, req.param("id"), admin);
    std::string message = service(s).request_stop(row, admin ? "admin" : "user", req.request_id);
    s.gate_cache.erase(row.slug);
    return http::ok(req, {{"message", message}}, 202);
}

// SSE framing of one event.
std::string sse_event(const db::SessionEvent& e) {
    const json data = {
        {"id", e.id}, {"at", format_iso8601(e.at)}, {"kind", e.kind}, {"message", e.message}};
    return "id: " + std::to_string(e.id) + "\nevent: " + e.kind + "\ndata: " + data.dump() + "\n\n";
}

http::Response events_stream(Services& s, http::Request& req) {
    auto row = visible_session(s, req, req.param("id"), false);
    std::int64_t after = 0;
    const auto last = req.header("last-event-id");
    const std::string raw = last ? std::string(*last) : req.query_param("after").value_or("");
    if (!raw.empty()) {
        try {
            std::size_t used = 0;
            after = std::stoll(raw, &used);
            if (used != raw.size() || after < 0) throw std::invalid_argument("after");
        } catch (const std::exception&) {
            throw ApiError(422, "request_validation_failed", "Last-Event-ID must be an event id.")
                .with_errors(
                    {{{"header", "Last-Event-ID"}, "must be a non-negative integer", "integer"}});
        }
    }
    struct State {
        std::int64_t after = 0;
        std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point last_sent = started;
    };
    auto st = std::make_shared<State>();
    st->after = after;
    const std::string id = row.id;
    Services* sp = &s;
    http::Response r;
    r.content_type = "text/event-stream";
    r.set_header("Cache-Control", "no-store");
    r.set_header("X-Accel-Buffering", "no");
    r.body = "retry: 2000\n\n";
    r.stream = http::StreamBody{[sp, st, id]() -> std::optional<std::string> {
        using namespace std::chrono;
        for (int round = 0; round < 4; ++round) {
            auto [events, status] = sp->db.with_connection([&](db::Connection& c) {
                auto ev = db::sessions::events_after(c, id, st->after, 100);
                auto row = db::sessions::find(c, id);
                return std::pair{ev, row ? row->status : std::string("stopped")};
            });
            if (!events.empty()) {
                std::string out;
                for (const auto& e : events) out += sse_event(e);
                st->after = events.back().id;
                st->last_sent = steady_clock::now();
                return out;
            }
            if (!db::is_active_status(status)) return std::nullopt;  // all sent, terminal
            if (steady_clock::now() - st->started > minutes(10)) return std::nullopt;
            std::this_thread::sleep_for(milliseconds(250));
        }
        if (steady_clock::now() - st->last_sent > seconds(15)) {
            st->last_sent = steady_clock::now();
            return std::string(": keep-alive\n\n");
        }
        return std::string();
    }};
    return r;
}

// ---- the proxy gate -----------------------------------------------------------------------------

struct GateDecision {
    std::optional<std::string> slug;
};

http::Response gate_ok(const db::RunningSession& rs, const std::string& user_id) {
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain";
    r.headers.reserve(8);  // these two, then the pipeline's standard ones
    r.set_header("X-Medforge-Upstream", rs.upstream);
    r.set_header("X-Medforge-User", user_id);
    return r;
}

// The gate's decision (the sessions spec's order). With `may_block` false it answers only from
// the caches and returns nullopt when the slug's answer is not cached (the caller then asks again
// on the blocking pool, with `may_block` true).
std::optional<http::Response> gate(Services& s, http::Request& req, bool may_block) {
    const auto host = req.header("host");
    const auto slug =
        host ? sessions::session_slug_from_host(*host, s.config.domain) : std::nullopt;
    if (!slug) {
        throw ApiError(404, "session_host_not_found", "This is not a session host.");
    }
    if (req.credential.empty() || req.credential_kind != auth::CredentialKind::session_cookie) {
        throw unauthenticated();
    }
    if (!req.principal) {
        // The pipeline resolved the credential already when it could (cache or DB).
        if (req.credential_resolved) throw unauthenticated();
        req.principal = s.auth.authenticate(req.credential, req.credential_kind);
        if (!req.principal) throw unauthenticated();
    }
    const Micros now = s.clock.now();
    std::shared_ptr<const db::RunningSession> rs;
    if (auto hit = s.gate_cache.get(*slug, now)) {
        rs = std::move(hit->session);
        if (hit->refresh) {
            // Refresh ahead, off this request's path, so hot slugs never miss.
            s.background([&s, slug = *slug] {
                try {
                    auto fresh = s.db.with_connection([&](db::Connection& c) {
                        return db::sessions::find_running_by_slug(c, slug);
                    });
                    s.gate_cache.put(slug, std::move(fresh), s.clock.now());
                } catch (const std::exception&) {
                    s.gate_cache.erase(slug);  // the next request asks the DB itself
                }
            });
        }
    } else if (!may_block) {
        return std::nullopt;
    } else {
        auto found = s.db.with_connection(
            [&](db::Connection& c) { return db::sessions::find_running_by_slug(c, *slug); });
        if (found) rs = std::make_shared<const db::RunningSession>(*found);
        s.gate_cache.put(*slug, std::move(found), now);
    }
    if (!rs) throw ApiError(404, "session_not_found", "No running session at this address.");
    if (rs->user_id != req.principal->user_id && !req.principal->is_admin()) {
        throw ApiError(403, "session_access_denied", "This session belongs to someone else.");
    }
    return gate_ok(*rs, req.principal->user_id);
}

}  // namespace

void register_session_routes(http::Router& router, Services& s) {
    router.add({.method = "GET",
                .pattern = "/api/v1/auth/session-proxy",
                .access = http::Access::anon,
                .exec = http::Exec::blocking,
                .handler = [&s](http::Request& req) { return *gate(s, req, true); },
                .try_inline = [&s](http::Request& req) { return gate(s, req, false); },
                .cookie_credential_only = true,
                .summary = "Forward-auth check for a session host (Caddy): 200 with "
                           "X-Medforge-Upstream and X-Medforge-User, else 401/403/404",
                .response_schema = json::object(),
                .problem_statuses = {401, 403, 404}});

    router.add(
        {.method = "GET",
         .pattern = "/api/v1/sessions",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) { return list_sessions(s, req, req.principal->user_id, 20); },
         .summary = "The caller's sessions, newest first (status= comma list)",
         .response_schema = {{"type", "array"}, {"items", kSessionSchema}},
         .problem_statuses = {400, 401, 422},
         .query_params = {"status", "limit", "cursor"}});

    router.add(
        {.method = "GET",
         .pattern = "/api/v1/sessions/current",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) {
                 auto row = s.db.with_connection([&](db::Connection& c) {
                     return db::sessions::current(c, req.principal->user_id);
                 });
                 return http::ok(req,
                                 {{"session", row ? session_json(s.config, *row) : json(nullptr)}});
             },
         .summary = "The caller's newest active session, or null",
         .response_schema = {{"type", "object"}, {"properties", {{"session", kSessionSchema}}}},
         .problem_statuses = {401}});

    router.add(
        {.method = "POST",
         .pattern = "/api/v1/sessions",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) {
                 const json body = req.body.empty() ? json::object() : parse_json_object(req.body);
                 ObjectReader r(body, {"tier", "pack_id", "from_session_id"});
                 sessions::CreateRequest cr;
                 cr.user_id = req.principal->user_id;
                 cr.correlation_id = req.request_id;
                 if (auto tier = r.string("tier", false, 1, 16)) {
                     if (*tier != "public" && *tier != "private") {
                         r.fail("tier", "must be public or private", "enum");
                     } else {
                         cr.tier = *tier;
                     }
                 }
                 cr.pack_id = r.string("pack_id", false, 1, 64);
                 cr.from_session_id = r.string("from_session_id", false, 1, 64);
                 if (cr.from_session_id && !is_uuid(*cr.from_session_id)) {
                     r.fail("from_session_id", "must be a session id", "uuid");
                 }
                 const auto wait = req.query_param("wait");
                 if (wait && *wait != "true" && *wait != "false") {
                     r.fail("wait", "must be true or false", "boolean");
                 }
                 r.finish();
                 cr.wait = !wait || *wait == "true";
                 if (cr.tier == "private") {
                     throw ApiError(501, "tier_not_available",
                                    "The private tier is not available yet.");
                 }
                 auto result = service(s).create(cr);
                 return http::ok(req, {{"session", session_json(s.config, result.session)}},
                                 result.started ? 201 : 202);
             },
         .summary = "Start a session (201 once running; ?wait=false → 202 at once, follow "
                    "/events)",
         .request_schema = {{"type", "object"},
                            {"additionalProperties", false},
                            {"properties",
                             {{"tier", {{"type", "string"}, {"enum", {"public", "private"}}}},
                              {"pack_id", {{"type", "string"}}},
                              {"from_session_id", {{"type", "string"}, {"format", "uuid"}}}}}},
         .response_schema = {{"type", "object"}, {"properties", {{"session", kSessionSchema}}}},
         .success_status = 201,
         .problem_statuses = {401, 404, 409, 422, 500, 501, 503},
         .query_params = {"wait"}});

    router.add(
        {.method = "GET",
         .pattern = "/api/v1/sessions/{id}",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) {
                 return http::ok(
                     req, session_json(s.config, visible_session(s, req, req.param("id"), false)));
             },
         .summary = "One of the caller's sessions",
         .response_schema = kSessionSchema,
         .problem_statuses = {401, 404}});

    router.add({.method = "POST",
                .pattern = "/api/v1/sessions/{id}/stop",
                .access = http::Access::user,
                .handler = [&s](http::Request& req) { return stop_session(s, req, false); },
                .summary = "Stop a session (202; the recovery loop stops it and snapshots the "
                           "workspace)",
                .response_schema = {{"type", "object"},
                                    {"properties", {{"message", {{"type", "string"}}}}}},
                .success_status = 202,
                .problem_statuses = {401, 404, 503}});

    router.add({.method = "GET",
                .pattern = "/api/v1/sessions/{id}/events",
                .access = http::Access::user,
                .handler = [&s](http::Request& req) { return events_stream(s, req); },
                .summary = "Server-Sent Events of the session's lifecycle (from the start, or "
                           "after Last-Event-ID), ending once it is terminal",
                .response_schema = json::object(),
                .problem_statuses = {401, 404, 422},
                .query_params = {"after"},
                .file_content_type = "text/event-stream"});

    router.add({.method = "GET",
                .pattern = "/api/v1/admin/sessions",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        const std::string user = req.query_param("user_id").value_or("");
                        if (!user.empty() && !is_uuid(user)) {
                            throw ApiError(422, "request_validation_failed", "Bad user_id.")
                                .with_errors({{{"query", "user_id"}, "must be a user id", "uuid"}});
                        }
                        return list_sessions(s, req, user, 50);
                    },
                .summary = "All sessions, newest first (filters status, user_id)",
                .response_schema = {{"type", "array"}, {"items", kSessionSchema}},
                .problem_statuses = {400, 401, 403, 422},
                .query_params = {"status", "user_id", "limit", "cursor"}});

    router.add({.method = "POST",
                .pattern = "/api/v1/admin/sessions/{id}/stop",
                .access = http::Access::admin,
                .handler = [&s](http::Request& req) { return stop_session(s, req, true); },
                .summary = "Stop any session (as the owner's stop)",
                .response_schema = {{"type", "object"},
                                    {"properties", {{"message", {{"type", "string"}}}}}},
                .success_status = 202,
                .problem_statuses = {401, 403, 404, 503}});

    router.add({.method = "GET",
                .pattern = "/api/v1/admin/gpus",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        auto gpus = s.db.with_connection(
                            [](db::Connection& c) { return db::sessions::list_gpus(c); });
                        json items = json::array();
                        for (const auto& g : gpus) items.push_back(gpu_json(g));
                        return http::ok(req, items);
                    },
                .summary = "GPUs with their enabled flag and the active session holding each",
                .response_schema = {{"type", "array"}, {"items", gpu_schema()}},
                .problem_statuses = {401, 403}});

    router.add({.method = "PATCH",
                .pattern = "/api/v1/admin/gpus/{id}",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        std::int64_t id = -1;
                        try {
                            std::size_t used = 0;
                            id = std::stoll(req.param("id"), &used);
                            if (used != req.param("id").size()) id = -1;
                        } catch (const std::exception&) {
                            id = -1;
                        }
                        const json body = parse_json_object(req.body);
                        ObjectReader r(body, {"enabled"});
                        const auto enabled = r.boolean("enabled", true);
                        r.finish();
                        auto gpu = s.db.with_connection([&](db::Connection& c) {
                            std::optional<db::GpuRecord> g;
                            if (id >= 0 && (g = db::sessions::find_gpu(c, id))) {
                                db::sessions::set_gpu_enabled(c, id, *enabled);
                                g = db::sessions::find_gpu(c, id);
                            }
                            return g;
                        });
                        if (!gpu) throw ApiError(404, "gpu_not_found", "No such GPU.");
                        log::info("gpu.enabled_changed", {{"gpu_id", gpu->id},
                                                          {"enabled", gpu->enabled},
                                                          {"by", req.principal->user_id}});
                        return http::ok(req, gpu_json(*gpu));
                    },
                .summary = "Enable or disable a GPU (a GPU in use stays with its session until "
                           "it ends)",
                .request_schema = {{"type", "object"},
                                   {"additionalProperties", false},
                                   {"required", {"enabled"}},
                                   {"properties", {{"enabled", {{"type", "boolean"}}}}}},
                .response_schema = gpu_schema(),
                .problem_statuses = {401, 403, 404, 422}});
}

}  // namespace medforge::app
