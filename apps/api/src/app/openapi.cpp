// GET /api/v1/openapi.json, generated from the router so it can never miss a route.
#include "app/app.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;

// The pattern as an OpenAPI path: a trailing wildcard `{path...}` is an ordinary `{path}`
// parameter there (its value may contain slashes).
std::string openapi_path(const std::string& pattern) {
    std::string out = pattern;
    for (auto pos = out.find("...}"); pos != std::string::npos; pos = out.find("...}", pos)) {
        out.erase(pos, 3);
    }
    return out;
}

std::vector<std::string> path_params(const std::string& path) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while ((pos = path.find('{', pos)) != std::string::npos) {
        auto end = path.find('}', pos);
        out.push_back(path.substr(pos + 1, end - pos - 1));
        pos = end;
    }
    return out;
}

std::string operation_id(const http::Route& r, const std::string& path) {
    std::string id = r.method;
    for (char c : path) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    return id;
}

json problem_response(int status) {
    return {
        {"description", status_title(status)},
        {"content",
         {{"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}}};
}

json success_schema(const http::Route& r) {
    if (!r.pattern.starts_with("/api/")) return r.response_schema;
    return {{"type", "object"},
            {"required", {"data", "meta"}},
            {"properties",
             {{"data", r.response_schema}, {"meta", {{"$ref", "#/components/schemas/Meta"}}}}}};
}

}  // namespace

json build_openapi(const http::Router& router) {
    json paths = json::object();
    for (const auto& r : router.routes()) {
        const std::string path = openapi_path(r.pattern);
        json op = {{"summary", r.summary}, {"operationId", operation_id(r, path)}};
        json params = json::array();
        for (const auto& p : path_params(path)) {
            params.push_back({{"name", p},
                              {"in", "path"},
                              {"required", true},
                              {"schema", {{"type", "string"}}}});
        }
        for (const auto& q : r.query_params) {
            params.push_back({{"name", q},
                              {"in", "query"},
                              {"required", false},
                              {"schema", {{"type", "string"}}}});
        }
        if (!params.empty()) op["parameters"] = params;
        if (!r.request_schema.is_null()) {
            op["requestBody"] = {
                {"required", true},
                {"content", r.request_content.is_null()
                                ? json{{"application/json", {{"schema", r.request_schema}}}}
                                : r.request_content}};
        }
        json responses = json::object();
        json content = json::object();
        // A file route with no JSON schema answers only with the file.
        if (r.file_content_type.empty() || !r.response_schema.empty()) {
            const std::string ctype = r.pattern == "/metrics" ? "text/plain" : "application/json";
            content[ctype] = {{"schema", success_schema(r)}};
        }
        const json binary = {{"schema", {{"type", "string"}, {"format", "binary"}}}};
        if (!r.file_content_type.empty()) content[r.file_content_type] = binary;
        responses[std::to_string(r.success_status)] = {
            {"description", status_title(r.success_status)}, {"content", content}};
        if (!r.file_content_type.empty()) {
            responses["206"] = {{"description", status_title(206)},
                                {"content", {{r.file_content_type, binary}}}};
        }
        std::vector<int> problems = r.problem_statuses;
        if (r.access != http::Access::anon) problems.push_back(401);
        if (r.access == http::Access::admin) problems.push_back(403);
        if (r.state_changing) problems.push_back(403);
        problems.push_back(500);
        problems.push_back(503);
        for (int st : problems) responses[std::to_string(st)] = problem_response(st);
        op["responses"] = responses;
        if (r.access != http::Access::anon) {
            op["security"] =
                json::array({{{"sessionCookie", json::array()}}, {{"bearerToken", json::array()}}});
        }
        op["x-medforge-access"] = r.access == http::Access::anon   ? "anon"
                                  : r.access == http::Access::user ? "user"
                                                                   : "admin";
        std::string method = r.method;
        std::transform(method.begin(), method.end(), method.begin(), ::tolower);
        paths[path][method] = op;
    }
    json problem = {
        {"type", "object"},
        {"required", {"type", "title", "status", "detail", "instance", "code", "request_id"}},
        {"properties",
         {{"type", {{"type", "string"}, {"format", "uri"}}},
          {"title", {{"type", "string"}}},
          {"status", {{"type", "integer"}}},
          {"detail", {{"type", "string"}}},
          {"instance", {{"type", "string"}}},
          {"code", {{"type", "string"}}},
          {"request_id", {{"type", "string"}}},
          {"errors",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"loc", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                {"msg", {{"type", "string"}}},
                {"type", {{"type", "string"}}}}}}}}}}}};
    json meta = {{"type", "object"},
                 {"required", {"request_id", "api_version", "timestamp"}},
                 {"properties",
                  {{"request_id", {{"type", "string"}}},
                   {"api_version", {{"type", "string"}, {"const", "v1"}}},
                   {"timestamp", {{"type", "string"}, {"format", "date-time"}}},
                   {"limit", {{"type", "integer"}}},
                   {"next_cursor", {{"type", {"string", "null"}}}},
                   {"has_more", {{"type", "boolean"}}}}}};
    return {
        {"openapi", "3.1.0"},
        {"info", {{"title", "MedForge API"}, {"version", MEDFORGE_VERSION}}},
        {"paths", paths},
        {"components",
         {{"schemas", {{"Problem", problem}, {"Meta", meta}}},
          {"securitySchemes",
           {{"sessionCookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "medforge_session"}}},
            {"bearerToken", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

void register_openapi_route(http::Router& router) {
    // The document is built once, after every other route exists, and served from memory.
    auto doc = std::make_shared<std::string>();
    router.add({.method = "GET",
                .pattern = "/api/v1/openapi.json",
                .access = http::Access::anon,
                .exec = http::Exec::io,
                .handler =
                    [doc](http::Request&) {
                        http::Response r;
                        r.body = *doc;
                        return r;
                    },
                .summary = "This OpenAPI 3.1 document"});
    *doc = build_openapi(router).dump();
}

}  // namespace medforge::app
