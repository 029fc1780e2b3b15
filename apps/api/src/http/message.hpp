#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/token_cache.hpp"
#include "core/net.hpp"
#include "core/time.hpp"
#include "core/unique_fd.hpp"

namespace medforge::http {

struct Route;

// A parsed request as handlers see it: no Beast types, so handlers and services stay cheap to
// compile and easy to test.
struct Request {
    std::string method;
    std::string target;
    std::string path;
    std::string query;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    // For body_to_file routes: the temporary file holding the body (removed after the response
    // unless the handler moved it) and its size.
    std::string body_file;
    std::uint64_t body_size = 0;
    IpAddress peer;
    IpAddress client;  // after trusted-proxy X-Forwarded-For resolution
    std::string request_id;
    Micros received_at = 0;

    // Filled by the pipeline.
    const Route* route = nullptr;
    std::unordered_map<std::string, std::string> path_params;
    auth::PrincipalPtr principal;
    std::string credential;  // raw token presented (cookie or bearer); never logged
    auth::CredentialKind credential_kind = auth::CredentialKind::session_cookie;
    bool credential_resolved = false;

    std::optional<std::string_view> header(std::string_view lower_name) const;
    std::vector<std::string_view> header_values(std::string_view lower_name) const;
    // Decoded query parameter (first occurrence).
    std::optional<std::string> query_param(std::string_view name) const;
    const std::string& param(const std::string& name) const { return path_params.at(name); }
};

// A response body streamed from an open file: `length` bytes from `offset` (the Content-Length).
// The server reads it in chunks while writing, so a file of any size costs a fixed buffer.
struct FileBody {
    std::shared_ptr<UniqueFd> file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// A response body produced piece by piece (Server-Sent Events): `next` runs on the blocking
// pool, may wait a little (about a second) for news, and returns the next chunk ("" = nothing
// yet, call again) or nullopt at the end. The server sends the chunks with chunked encoding.
struct StreamBody {
    std::function<std::optional<std::string>()> next;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::optional<FileBody> file;  // when set, the body is this file's bytes and `body` is unused
    std::optional<StreamBody> stream;  // when set, `body` is sent first, then the stream
    std::vector<std::pair<std::string, std::string>> headers;
    bool close_connection = false;

    void set_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

}  // namespace medforge::http
