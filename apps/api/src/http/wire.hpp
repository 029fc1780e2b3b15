#pragma once

// The bytes of a response head (status line and header fields), written by hand: one buffer per
// response, built with a single allocation, instead of a Beast message and serializer.

#include <cstdint>
#include <string>

#include "http/message.hpp"

namespace medforge::http {

enum class Framing {
    content_length,  // Content-Length: the given length (none for 1xx, 204 and 304)
    chunked,         // Transfer-Encoding: chunked on HTTP/1.1; on HTTP/1.0 the body ends at close
};

// Status line, Content-Type (when set), the response's own headers, the framing header, and
// Connection when it differs from the version's default (HTTP/1.1 keeps alive, 1.0 closes).
// CR, LF and NUL in header names or values become spaces, so no value can start a new header.
std::string response_head(const Response& r, unsigned version, bool keep_alive, Framing framing,
                          std::uint64_t content_length = 0);

// Whether a response with this status carries no body at all (1xx, 204, 304).
bool status_forbids_body(int status);

// One chunk of chunked transfer coding around `data` (empty data is not a chunk: use kLastChunk).
std::string chunk_header(std::size_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace medforge::http
