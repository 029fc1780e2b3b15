#include "http/file_response.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "core/errors.hpp"
#include "core/strings.hpp"

namespace medforge::http {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

// A decimal position; values past 2^64 - 1 saturate (a huge first position is simply past the end,
// a huge last position is clamped). nullopt for anything but 1+ digits.
std::optional<std::uint64_t> parse_position(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
    }
    return v;
}

}  // namespace

RangeDecision parse_range(std::string_view header, std::uint64_t size) {
    using Kind = RangeDecision::Kind;
    const RangeDecision full{};
    header = trim(header);
    const auto eq = header.find('=');
    if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return full;
    const std::string_view spec = trim(header.substr(eq + 1));
    if (spec.find(',') != std::string_view::npos) return full;  // several ranges: send it all
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return full;
    const auto first_text = trim(spec.substr(0, dash));
    const auto last_text = trim(spec.substr(dash + 1));
    if (first_text.empty()) {
        // bytes=-n: the last n bytes.
        const auto n = parse_position(last_text);
        if (!n) return full;
        if (*n == 0) return {Kind::unsatisfiable};
        if (size == 0) return full;
        const std::uint64_t len = std::min(*n, size);
        return {Kind::partial, size - len, len};
    }
    const auto first = parse_position(first_text);
    if (!first) return full;
    std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
    if (!last_text.empty()) {
        const auto l = parse_position(last_text);
        if (!l || *l < *first) return full;  // invalid: ignored
        last = *l;
    }
    if (*first >= size) return {Kind::unsatisfiable};
    last = std::min(last, size - 1);
    return {Kind::partial, *first, last - *first + 1};
}

std::string content_type_for(std::string_view filename) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
        {".csv", "text/csv"},
        {".tsv", "text/tab-separated-values"},
        {".txt", "text/plain"},
        {".md", "text/markdown"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".dcm", "application/dicom"},
        {".zip", "application/zip"},
        {".gz", "application/gzip"},
        {".parquet", "application/vnd.apache.parquet"},
    }};
    const auto dot = filename.rfind('.');
    if (dot != std::string_view::npos) {
        const auto ext = filename.substr(dot);
        for (const auto& [e, type] : kTypes) {
            if (iequals(ext, e)) return std::string(type);
        }
    }
    return "application/octet-stream";
}

std::string content_disposition(std::string_view filename) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string plain;
    std::string encoded;
    for (char c : filename) {
        const auto u = static_cast<unsigned char>(c);
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        const bool safe = alnum || c == '.' || c == '-' || c == '_';
        plain.push_back(safe || c == ' ' ? c : '_');
        if (safe) {
            encoded.push_back(c);
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[u >> 4]);
            encoded.push_back(kHex[u & 0xf]);
        }
    }
    if (plain.empty()) plain = "download";
    std::string out = "attachment; filename=\"" + plain + "\"";
    if (!filename.empty() && encoded != plain) out += "; filename*=UTF-8''" + encoded;
    return out;
}

std::string file_etag(const struct stat& st) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto hex = [](std::uint64_t v) {
        std::string s;
        do {
            s.insert(s.begin(), kHex[v & 0xf]);
            v >>= 4;
        } while (v != 0);
        return s;
    };
    const auto mtime_ns = static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ULL +
                          static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
    return "\"" + hex(static_cast<std::uint64_t>(st.st_size)) + "-" + hex(mtime_ns) + "\"";
}

Response file_response(const Request& req, UniqueFd fd, const struct stat& st,
                       std::string_view download_name, std::string content_type) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const std::string etag = file_etag(st);
    RangeDecision range;
    if (auto header = req.header("range")) {
        // A Range conditioned on another version of the file gets the whole current file.
        const auto if_range = req.header("if-range");
        if (!if_range || trim(*if_range) == etag) range = parse_range(*header, size);
    }
    if (range.kind == RangeDecision::Kind::unsatisfiable) {
        throw ApiError(
            416, "range_not_satisfiable",
            "The requested range is outside the file (" + std::to_string(size) + " bytes).")
            .with_header("Content-Range", "bytes */" + std::to_string(size))
            .with_header("Accept-Ranges", "bytes");
    }
    Response r;
    r.content_type = std::move(content_type);
    FileBody body{std::make_shared<UniqueFd>(std::move(fd)), 0, size};
    if (range.kind == RangeDecision::Kind::partial) {
        r.status = 206;
        body.offset = range.offset;
        body.length = range.length;
        r.set_header("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                          std::to_string(range.offset + range.length - 1) + "/" +
                                          std::to_string(size));
    }
    r.file = std::move(body);
    r.set_header("Accept-Ranges", "bytes");
    r.set_header("ETag", etag);
    r.set_header("Content-Disposition", content_disposition(download_name));
    return r;
}

}  // namespace medforge::http
