#pragma once

// A small HTTP/1.1 client for the CLI (Boost.Beast): one request per connection, http:// or
// https:// (system trust store, host name checked), an overall deadline per request, and uploads
// streamed from a file behind `Expect: 100-continue`, so a refusal (daily cap, closed
// competition, bad token) arrives before the file is sent.

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/strings.hpp"

namespace medforge::cli {

// The API's base URL: `http[s]://host[:port][/prefix]`.
struct BaseUrl {
    bool tls = false;
    std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
    std::string port;    // "80" / "443" when not given
    std::string prefix;  // "" or "/path" without a trailing '/'

    // Throws std::invalid_argument with a message for the user (no query, fragment or userinfo).
    static BaseUrl parse(std::string_view url);
    // "host" or "host:port" (brackets around IPv6), for the Host header.
    std::string host_header() const;
};

// The request could not be completed: resolution, connection, TLS, deadline, or a malformed or
// oversized answer. what() is a message for the user.
class NetworkError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct HttpRequest {
    std::string method = "GET";
    std::string target;  // path and query, prefix included
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body_file;     // when set: the body, streamed from this file
    std::string content_type;  // of the body
};

struct HttpReply {
    int status = 0;
    std::string content_type;
    std::string body;
};

// Sends one request on a fresh connection and reads the answer (at most 4 MiB). The whole
// exchange must finish within `deadline`. Throws NetworkError, or std::system_error when the
// body file cannot be opened.
HttpReply send_request(const BaseUrl& base, const HttpRequest& req, std::chrono::seconds deadline);

}  // namespace medforge::cli
