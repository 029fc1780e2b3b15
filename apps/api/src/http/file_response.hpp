#pragma once

// File downloads: Range interpretation, content type and disposition, and the Response that
// streams an open file (the server writes it chunk by chunk; see FileBody).

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"
#include "http/message.hpp"

namespace medforge::http {

// What a Range header asks of a representation of a known size (RFC 9110 section 14.2).
struct RangeDecision {
    enum class Kind {
        full,           // no usable Range: send everything with 200
        partial,        // one satisfiable range: 206 with offset/length
        unsatisfiable,  // 416 with Content-Range: bytes */size
    };
    Kind kind = Kind::full;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// Only a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range is honoured. Anything else (another
// unit, bad syntax, a range whose last position is before its first, several ranges) is ignored,
// which RFC 9110 allows: the whole representation is sent with 200. A last position past the end
// is clamped; a suffix longer than the representation selects all of it. A zero-length
// representation ignores suffix ranges (they would select nothing) and refuses the others.
RangeDecision parse_range(std::string_view header, std::uint64_t size);

// The media type for a download by file name extension (a small table, case-insensitive);
// application/octet-stream otherwise.
std::string content_type_for(std::string_view filename);

// `attachment; filename="<ASCII-safe name>"; filename*=UTF-8''<percent-encoded name>`: quotes,
// backslashes, control characters and non-ASCII bytes never reach the quoted form.
std::string content_disposition(std::string_view filename);

// A strong validator for an open file: size and modification time.
std::string file_etag(const struct stat& st);

// The download of the regular file `fd` (`st` from its fstat) as `download_name`: 200 with the
// whole file, or 206 with Content-Range for one satisfiable range of the request's Range header
// (only when an If-Range header, if any, equals the ETag). Throws 416 range_not_satisfiable (with
// Content-Range: bytes */size) for an unsatisfiable range. Always sets Accept-Ranges and ETag.
Response file_response(const Request& req, UniqueFd fd, const struct stat& st,
                       std::string_view download_name, std::string content_type);

}  // namespace medforge::http
