#include "http/wire.hpp"

#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstring>

namespace medforge::http {

namespace {

void append_clean(std::string& out, std::string_view s) {
    // The common case, checked with three vectorised scans: nothing to replace.
    if (std::memchr(s.data(), '\r', s.size()) == nullptr &&
        std::memchr(s.data(), '\n', s.size()) == nullptr &&
        std::memchr(s.data(), '\0', s.size()) == nullptr) {
        out.append(s);
        return;
    }
    std::size_t clean = 0;  // s[clean, i) holds no forbidden byte yet
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            out.append(s.data() + clean, i - clean);
            out.push_back(' ');
            clean = i + 1;
        }
    }
    out.append(s.data() + clean, s.size() - clean);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    append_clean(out, name);
    out += ": ";
    append_clean(out, value);
    out += "\r\n";
}

}  // namespace

bool status_forbids_body(int status) {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::string response_head(const Response& r, unsigned version, bool keep_alive, Framing framing,
                          std::uint64_t content_length) {
    std::size_t size = 64 + r.content_type.size();
    for (const auto& [k, v] : r.headers) size += k.size() + v.size() + 4;
    std::string out;
    out.reserve(size);
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, r.status);
    out.append(num, end);
    out += ' ';
    out += boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(r.status));
    out += "\r\n";
    if (!r.content_type.empty()) append_field(out, "Content-Type", r.content_type);
    for (const auto& [k, v] : r.headers) append_field(out, k, v);
    if (!status_forbids_body(r.status)) {
        if (framing == Framing::content_length) {
            end = std::to_chars(num, num + sizeof num, content_length).ptr;
            append_field(out, "Content-Length", std::string_view(num, end - num));
        } else if (version != 10) {
            append_field(out, "Transfer-Encoding", "chunked");
        }
    }
    if (version == 10 && keep_alive) append_field(out, "Connection", "keep-alive");
    if (version != 10 && !keep_alive) append_field(out, "Connection", "close");
    out += "\r\n";
    return out;
}

std::string chunk_header(std::size_t size) {
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, size, 16);
    std::string out(num, end);
    out += "\r\n";
    return out;
}

}  // namespace medforge::http
