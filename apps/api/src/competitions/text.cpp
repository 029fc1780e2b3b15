#include "competitions/text.hpp"

#include <cstdio>

namespace medforge::competitions {

std::string quote_excerpt(std::string_view text, std::size_t max_bytes) {
    std::string out = "\"";
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        std::size_t len = 1;
        if (c >= 0x80) {
            const Utf8Check u = check_utf8_sequence(p + i, n - i);
            if (u.status == Utf8Status::kValid) len = u.length;
        }
        if (i + len > max_bytes) break;
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && len == 1)) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            out += hex;
        } else {
            out.append(text.data() + i, len);
        }
        i += len;
    }
    if (i < n) out += "...";
    out += '"';
    return out;
}

}  // namespace medforge::competitions
