#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/errors.hpp"
#include "http/message.hpp"

namespace medforge::http {

constexpr const char* kProblemTypeBase = "https://medforge.dev/problems/";

// {"data": ..., "meta": {request_id, api_version, timestamp}}
Response ok(const Request& req, nlohmann::json data, int status = 200);

// A list: meta also carries limit, next_cursor, has_more.
Response ok_list(const Request& req, nlohmann::json items, int limit,
                 const std::optional<std::string>& next_cursor);

// RFC 7807 problem+json for an ApiError (headers such as Retry-After included).
Response problem(const Request& req, const ApiError& error);

// Keyset pagination: `limit` (1..500) and an opaque `cursor` encoding the last row's sort key.
struct PageRequest {
    int limit = 50;
    std::int64_t after_key = 0;  // sort key of the last row seen (e.g. created_at)
    std::string after_id;        // tie-breaker
    bool has_cursor = false;
};

// Throws 400 invalid_limit / invalid_cursor.
PageRequest parse_page(const Request& req, int default_limit);
std::string encode_cursor(std::int64_t key, const std::string& id);

// Shapes a page: `rows` was fetched with limit + 1 to learn whether more exist.
template <typename Rows, typename KeyFn>
std::optional<std::string> next_cursor(Rows& rows, int limit, KeyFn key) {
    if (static_cast<int>(rows.size()) <= limit) return std::nullopt;
    rows.resize(static_cast<std::size_t>(limit));
    auto [k, id] = key(rows.back());
    return encode_cursor(k, id);
}

}  // namespace medforge::http
