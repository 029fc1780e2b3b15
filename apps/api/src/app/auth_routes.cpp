// Accounts, logins, personal access tokens and admin user management.
#include "app/app.hpp"
#include "app/request_bodies.hpp"
#include "core/ids.hpp"
#include "core/json_input.hpp"
#include "http/cookies.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;

json user_json(const db::UserRecord& u) {
    return {{"user_id", u.id},
            {"email", u.email},
            {"display_name", u.display_name},
            {"role", u.role},
            {"max_concurrent_sessions", u.max_concurrent_sessions}};
}

json admin_user_json(const db::UserRecord& u) {
    json j = user_json(u);
    j["active_sessions"] = u.active_sessions;
    j["created_at"] = format_iso8601(u.created_at);
    return j;
}

json token_json(const db::AccessTokenRecord& t) {
    return {
        {"id", t.id},
        {"name", t.name},
        {"created_at", format_iso8601(t.created_at)},
        {"last_used_at", t.last_used_at ? json(format_iso8601(*t.last_used_at)) : json(nullptr)}};
}

auth::ClientInfo client_info(const http::Request& req) {
    return {req.client.to_string(), std::string(req.header("user-agent").value_or(""))};
}

// Display names: trimmed, 1..64 characters, no control characters.
std::optional<std::string> display_name_field(ObjectReader& r) {
    auto name = r.string("display_name", false, 1, 64);
    if (!name) return name;
    auto b = name->find_first_not_of(' ');
    auto e = name->find_last_not_of(' ');
    std::string t = b == std::string::npos ? std::string{} : name->substr(b, e - b + 1);
    const bool control =
        std::any_of(t.begin(), t.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    if (t.empty() || control) {
        r.fail("display_name", "must be 1..64 printable characters", "value_error.display_name");
        return std::nullopt;
    }
    return t;
}

const json kCredentialsSchema = {
    {"type", "object"},
    {"additionalProperties", false},
    {"required", {"email", "password"}},
    {"properties",
     {{"email", {{"type", "string"}, {"maxLength", 320}}},
      {"password", {{"type", "string"}, {"minLength", 8}, {"maxLength", 128}}}}}};

const json kUserSchema = {{"type", "object"},
                          {"properties",
                           {{"user_id", {{"type", "string"}, {"format", "uuid"}}},
                            {"email", {{"type", "string"}}},
                            {"display_name", {{"type", "string"}}},
                            {"role", {{"type", "string"}, {"enum", {"user", "admin"}}}},
                            {"max_concurrent_sessions", {{"type", "integer"}}}}}};

http::Response login_response(const http::Request& req, const Services& s,
                              const auth::IssuedLogin& issued, int status) {
    auto r = http::ok(
        req,
        {{"user_id", issued.user.id}, {"email", issued.user.email}, {"role", issued.user.role}},
        status);
    r.set_header("Set-Cookie", http::session_cookie(s.config, issued.token));
    return r;
}

std::pair<std::string, std::string> read_credentials(const http::Request& req) {
    auto body = parse_body(req);
    ObjectReader r(body, {"email", "password"});
    auto email = r.string("email", true, 0, 1000);
    auto password = r.string("password", true, 0, 1000);
    r.finish();
    return {*email, *password};
}

}  // namespace

void register_auth_routes(http::Router& router, Services& s) {
    router.add({.method = "POST",
                .pattern = "/api/v1/auth/signup",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        auto [email, password] = read_credentials(req);
                        auto issued = s.auth.signup(email, password, client_info(req));
                        return login_response(req, s, issued, 201);
                    },
                .rate_limited = true,
                .summary = "Create an account and log in (sets the session cookie)",
                .request_schema = kCredentialsSchema,
                .response_schema = kUserSchema,
                .success_status = 201,
                .problem_statuses = {409, 415, 422, 429}});

    router.add({.method = "POST",
                .pattern = "/api/v1/auth/login",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        auto [email, password] = read_credentials(req);
                        auto issued = s.auth.login(email, password, client_info(req));
                        return login_response(req, s, issued, 200);
                    },
                .rate_limited = true,
                .summary = "Log in (sets a new session cookie)",
                .request_schema = kCredentialsSchema,
                .response_schema = kUserSchema,
                .problem_statuses = {401, 415, 422, 429}});

    router.add({.method = "POST",
                .pattern = "/api/v1/auth/logout",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        if (!req.credential.empty() &&
                            req.credential_kind == auth::CredentialKind::session_cookie) {
                            s.auth.logout(req.credential);
                        }
                        auto r = http::ok(req, {{"message", "logged out"}});
                        r.set_header("Set-Cookie", http::clear_session_cookie(s.config));
                        return r;
                    },
                .summary = "Revoke the presented session cookie and clear it",
                .problem_statuses = {401}});

    router.add({.method = "GET",
                .pattern = "/api/v1/me",
                .access = http::Access::user,
                .exec = http::Exec::io,
                .handler =
                    [](http::Request& req) {
                        const auto& p = *req.principal;
                        return http::ok(req,
                                        {{"user_id", p.user_id},
                                         {"email", p.email},
                                         {"display_name", p.display_name},
                                         {"role", p.role},
                                         {"max_concurrent_sessions", p.max_concurrent_sessions}});
                    },
                .summary = "The caller's account",
                .response_schema = kUserSchema,
                .problem_statuses = {401}});

    router.add(
        {.method = "PATCH",
         .pattern = "/api/v1/me",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) {
                 auto body = parse_body(req);
                 ObjectReader r(body,
                                {"email", "display_name", "current_password", "new_password"});
                 auth::ProfilePatch patch;
                 patch.email = r.string("email", false, 1, 1000);
                 patch.display_name = display_name_field(r);
                 patch.current_password = r.string("current_password", false, 0, 1000);
                 patch.new_password = r.string("new_password", false, 0, 1000);
                 r.finish();
                 return http::ok(req, user_json(s.auth.update_profile(*req.principal, patch)));
             },
         .summary = "Change email, display name or password (password needs the current one; "
                    "it revokes the caller's other credentials)",
         .request_schema =
             {{"type", "object"},
              {"additionalProperties", false},
              {"properties",
               {{"email", {{"type", "string"}}},
                {"display_name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}},
                {"current_password", {{"type", "string"}}},
                {"new_password", {{"type", "string"}, {"minLength", 8}, {"maxLength", 128}}}}}},
         .response_schema = kUserSchema,
         .problem_statuses = {401, 403, 409, 415, 422}});

    router.add({.method = "GET",
                .pattern = "/api/v1/me/tokens",
                .access = http::Access::user,
                .handler =
                    [&s](http::Request& req) {
                        auto page = http::parse_page(req, 50);
                        auto rows = s.auth.list_access_tokens(*req.principal,
                                                              page.has_cursor ? page.after_key : -1,
                                                              page.after_id, page.limit + 1);
                        auto next =
                            http::next_cursor(rows, page.limit, [](const db::AccessTokenRecord& t) {
                                return std::pair{t.created_at, t.id};
                            });
                        json items = json::array();
                        for (const auto& t : rows) items.push_back(token_json(t));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "The caller's live personal access tokens (no secrets)",
                .problem_statuses = {400, 401},
                .query_params = {"limit", "cursor"}});

    router.add(
        {.method = "POST",
         .pattern = "/api/v1/me/tokens",
         .access = http::Access::user,
         .handler =
             [&s](http::Request& req) {
                 auto body = parse_body(req);
                 ObjectReader r(body, {"name"});
                 auto name = r.string("name", true, 1, 100);
                 r.finish();
                 auto created = s.auth.create_access_token(*req.principal, *name);
                 json j = token_json(created.record);
                 j["token"] = created.token;
                 return http::ok(req, j, 201);
             },
         .summary = "Create a personal access token (the secret is shown once)",
         .request_schema = {{"type", "object"},
                            {"additionalProperties", false},
                            {"required", {"name"}},
                            {"properties",
                             {{"name",
                               {{"type", "string"}, {"minLength", 1}, {"maxLength", 100}}}}}},
         .success_status = 201,
         .problem_statuses = {401, 415, 422}});

    router.add({.method = "DELETE",
                .pattern = "/api/v1/me/tokens/{id}",
                .access = http::Access::user,
                .handler =
                    [&s](http::Request& req) {
                        const auto& id = req.param("id");
                        if (!is_uuid(id))
                            throw not_found("token_not_found",
                                            "You have no live token with this id.");
                        s.auth.revoke_access_token(*req.principal, id);
                        return http::ok(req, {{"id", id}, {"revoked", true}});
                    },
                .summary = "Revoke one of the caller's personal access tokens",
                .problem_statuses = {401, 404}});

    router.add({.method = "GET",
                .pattern = "/api/v1/admin/users",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        auto page = http::parse_page(req, 50);
                        auto rows = s.auth.list_users(page.has_cursor ? page.after_key : -1,
                                                      page.after_id, page.limit + 1);
                        auto next =
                            http::next_cursor(rows, page.limit, [](const db::UserRecord& u) {
                                return std::pair{u.created_at, u.id};
                            });
                        json items = json::array();
                        for (const auto& u : rows) items.push_back(admin_user_json(u));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "All users with their active session counts",
                .problem_statuses = {400, 401, 403},
                .query_params = {"limit", "cursor"}});

    router.add(
        {.method = "PATCH",
         .pattern = "/api/v1/admin/users/{id}",
         .access = http::Access::admin,
         .handler =
             [&s](http::Request& req) {
                 const auto& id = req.param("id");
                 if (!is_uuid(id)) throw not_found("user_not_found", "No user has this id.");
                 auto body = parse_body(req);
                 ObjectReader r(body, {"role", "max_concurrent_sessions", "new_password"});
                 auth::AdminUserPatch patch;
                 patch.role = r.string("role", false, 1, 16);
                 if (patch.role && *patch.role != "user" && *patch.role != "admin") {
                     r.fail("role", "must be user or admin", "enum");
                 }
                 patch.max_concurrent_sessions = r.integer("max_concurrent_sessions", false, 1, 8);
                 patch.new_password = r.string("new_password", false, 0, 1000);
                 r.finish();
                 return http::ok(
                     req, admin_user_json(s.auth.admin_update_user(*req.principal, id, patch)));
             },
         .summary = "Change a user's role, session cap or password (a password reset revokes "
                    "the user's credentials)",
         .request_schema =
             {{"type", "object"},
              {"additionalProperties", false},
              {"properties",
               {{"role", {{"type", "string"}, {"enum", {"user", "admin"}}}},
                {"max_concurrent_sessions", {{"type", "integer"}, {"minimum", 1}, {"maximum", 8}}},
                {"new_password", {{"type", "string"}, {"minLength", 8}, {"maxLength", 128}}}}}},
         .response_schema = kUserSchema,
         .problem_statuses = {401, 403, 404, 409, 415, 422}});
}

}  // namespace medforge::app
