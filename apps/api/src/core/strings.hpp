#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace medforge {

// Strips spaces, tabs, CR and LF from both ends.
std::string_view trim(std::string_view s);
// Percent-encodes everything but RFC 3986 unreserved characters (a path segment or query value).
std::string percent_encode(std::string_view s);

// Splits on every `sep` (empty pieces kept: "a,,b" → {"a", "", "b"}).
std::vector<std::string_view> split(std::string_view s, char sep);

// Decodes %XX escapes (malformed escapes stay as they are); '+' becomes a space when asked
// (query strings), never in paths or URLs.
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace medforge
