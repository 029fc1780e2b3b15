#include "http/multipart.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

#include "competitions/text.hpp"

namespace medforge::http {

namespace {

constexpr std::size_t kMaxBoundaryBytes = 70;

bool is_ctl(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
}

// RFC 9110 tchar.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// RFC 2046 bcharsnospace; a space is a bchar too, except at the end.
bool is_bchar_nospace(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

bool valid_boundary(std::string_view b) {
    if (b.empty() || b.size() > kMaxBoundaryBytes || b.back() == ' ') return false;
    return std::all_of(b.begin(), b.end(), [](char c) { return c == ' ' || is_bchar_nospace(c); });
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

struct Param {
    std::string name;  // lower-cased
    std::string value;
};

// A header field value of the shape `main *( OWS ";" OWS name OWS "=" OWS value ) OWS`, where main
// is a token (Content-Disposition) or token "/" token (Content-Type) and a value is a token or a
// quoted-string. Shared by Content-Disposition, part Content-Type and the request Content-Type.
struct FieldValue {
    std::string_view main;
    std::vector<Param> params;

    const Param* find(std::string_view name) const {
        for (const auto& p : params) {
            if (p.name == name) return &p;
        }
        return nullptr;
    }
};

class Cursor {
  public:
    explicit Cursor(std::string_view s) : s_(s) {}

    bool at_end() const { return i_ == s_.size(); }
    void skip_ows() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    }
    bool eat(char c) {
        if (i_ == s_.size() || s_[i_] != c) return false;
        ++i_;
        return true;
    }
    std::string_view token() {
        const std::size_t begin = i_;
        while (i_ < s_.size() && is_tchar(s_[i_])) ++i_;
        return s_.substr(begin, i_ - begin);
    }
    // RFC 9110 quoted-string, the opening quote already eaten; nullopt when unterminated or when
    // it holds a control byte (other than HTAB).
    std::optional<std::string> quoted_rest() {
        std::string out;
        while (i_ < s_.size()) {
            char c = s_[i_++];
            if (c == '"') return out;
            if (c == '\\') {
                if (i_ == s_.size()) return std::nullopt;
                c = s_[i_++];
            }
            if (is_ctl(c) && c != '\t') return std::nullopt;
            out.push_back(c);
        }
        return std::nullopt;
    }

  private:
    std::string_view s_;
    std::size_t i_ = 0;
};

std::optional<FieldValue> parse_field_value(std::string_view value, bool media_type) {
    Cursor in(value);
    in.skip_ows();
    FieldValue out;
    const std::string_view type = in.token();
    if (type.empty()) return std::nullopt;
    out.main = type;
    if (media_type) {
        if (!in.eat('/')) return std::nullopt;
        const std::string_view subtype = in.token();
        if (subtype.empty()) return std::nullopt;
        out.main = std::string_view(type.data(), type.size() + 1 + subtype.size());
    }
    for (;;) {
        in.skip_ows();
        if (in.at_end()) return out;
        if (!in.eat(';')) return std::nullopt;
        in.skip_ows();
        Param p;
        const std::string_view name = in.token();
        if (name.empty()) return std::nullopt;
        std::transform(name.begin(), name.end(), std::back_inserter(p.name), lower);
        in.skip_ows();
        if (!in.eat('=')) return std::nullopt;
        in.skip_ows();
        if (in.eat('"')) {
            auto quoted = in.quoted_rest();
            if (!quoted) return std::nullopt;
            p.value = std::move(*quoted);
        } else {
            const std::string_view v = in.token();
            if (v.empty()) return std::nullopt;
            p.value = v;
        }
        // Two values for one parameter (two names, two boundaries) are ambiguous: a front end
        // might pick the other one.
        if (out.find(p.name) != nullptr) return std::nullopt;
        out.params.push_back(std::move(p));
    }
}

bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (std::size_t i = 0; i < s.size();) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        const auto u = competitions::check_utf8_sequence(p + i, s.size() - i);
        if (u.status != competitions::Utf8Status::kValid) return false;
        i += u.length;
    }
    return true;
}

}  // namespace

MultipartParser::MultipartParser(std::string_view boundary, MultipartHandler& handler,
                                 MultipartLimits limits)
    : handler_(handler), limits_(limits) {
    if (!valid_boundary(boundary)) throw MultipartError("invalid multipart boundary");
    delimiter_ = "\r\n--";
    delimiter_ += boundary;
}

void MultipartParser::feed(const char* data, std::size_t n) {
    if (state_ == State::failed) throw std::logic_error("MultipartParser used after an error");
    try {
        std::size_t i = 0;
        while (i < n && state_ != State::epilogue) {
            if (state_ == State::body) {
                i += scan_body(data + i, n - i);
            } else if (state_ == State::headers) {
                i += scan_headers(data + i, n - i);
            } else if (step_boundary(data[i])) {
                ++i;
            }
        }
    } catch (...) {
        state_ = State::failed;
        throw;
    }
}

void MultipartParser::finish() {
    if (state_ == State::failed) throw std::logic_error("MultipartParser used after an error");
    if (state_ != State::epilogue) {
        state_ = State::failed;
        throw MultipartError("multipart body ends before its closing boundary");
    }
}

// Passes data through up to a full delimiter match. Only a CR can start a delimiter, and no other
// byte of the delimiter is a CR, so a failed match never overlaps a new one: the held-back bytes
// are data and scanning resumes at the byte that broke the match.
std::size_t MultipartParser::scan_body(const char* p, std::size_t n) {
    std::size_t i = 0;
    std::size_t run = 0;  // start of the data not yet emitted
    while (i < n) {
        if (matched_ == 0) {
            const void* cr = std::memchr(p + i, '\r', n - i);
            if (cr == nullptr) {
                i = n;
                break;
            }
            i = static_cast<std::size_t>(static_cast<const char*>(cr) - p);
            emit(p + run, i - run);
            matched_ = 1;
            run = ++i;
        } else if (p[i] == delimiter_[matched_]) {
            run = ++i;
            if (++matched_ == delimiter_.size()) {
                state_ = State::after_boundary;
                header_bytes_ = 0;
                return i;
            }
        } else {
            not_a_boundary(0);
            run = i;
        }
    }
    emit(p + run, i - run);
    return i;
}

// One byte after a full delimiter match; false when the byte is not consumed (the match turned out
// to be data, and the byte is scanned again as body).
bool MultipartParser::step_boundary(char c) {
    switch (state_) {
        case State::after_boundary:
            if (c == '-') {
                state_ = State::after_dash;
            } else if (c == '\r') {
                state_ = State::boundary_lf;
            } else if (c == ' ' || c == '\t') {
                count_header_byte();
                state_ = State::padding;
            } else {
                // "--boundaryX": the boundary is a prefix of something longer in the data.
                not_a_boundary(0);
                return false;
            }
            return true;
        case State::after_dash:
            if (c != '-') {
                not_a_boundary(1);
                return false;
            }
            end_part();
            state_ = State::epilogue;
            return true;
        case State::padding:
            if (c == '\r') {
                state_ = State::boundary_lf;
            } else if (c == ' ' || c == '\t') {
                count_header_byte();
            } else {
                throw MultipartError("malformed multipart boundary line");
            }
            return true;
        case State::boundary_lf:
            if (c != '\n') throw MultipartError("malformed multipart boundary line");
            begin_part();
            return true;
        default:
            throw std::logic_error("MultipartParser: step_boundary in a wrong state");
    }
}

void MultipartParser::not_a_boundary(std::size_t extra_dashes) {
    emit(delimiter_.data(), matched_);
    emit("-", extra_dashes);
    matched_ = 0;
    state_ = State::body;
}

void MultipartParser::emit(const char* p, std::size_t n) {
    if (n > 0 && in_part_) handler_.on_part_data(std::string_view(p, n));
}

void MultipartParser::count_header_byte() {
    if (++header_bytes_ > limits_.max_header_bytes) {
        throw MultipartError("multipart part headers too large");
    }
}

void MultipartParser::begin_part() {
    end_part();
    if (++parts_ > limits_.max_parts) throw MultipartError("too many multipart parts");
    state_ = State::headers;
    header_lines_ = 0;
    header_cr_ = false;
    line_.clear();
    has_disposition_ = false;
    has_content_type_ = false;
    current_ = PartHeaders{};
}

std::size_t MultipartParser::scan_headers(const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const char c = p[i];
        count_header_byte();
        if (header_cr_) {
            if (c != '\n') throw MultipartError("multipart header lines must end with CRLF");
            header_cr_ = false;
            if (line_.empty()) {
                end_headers();
                return i + 1;
            }
            header_line(line_);
            line_.clear();
        } else if (c == '\r') {
            header_cr_ = true;
        } else if (c == '\n') {
            throw MultipartError("multipart header lines must end with CRLF");
        } else if (is_ctl(c) && c != '\t') {
            throw MultipartError("control character in a multipart part header");
        } else {
            line_.push_back(c);
        }
    }
    return n;
}

void MultipartParser::header_line(std::string_view line) {
    if (++header_lines_ > limits_.max_header_lines) {
        throw MultipartError("too many multipart part header lines");
    }
    // obs-fold (RFC 9110 section 5.5): obsolete, and a classic way to hide a second value.
    if (line.front() == ' ' || line.front() == '\t') {
        throw MultipartError("folded multipart part header");
    }
    const auto colon = line.find(':');
    // A token up to the colon also rules out whitespace before it (RFC 9112 section 5.1).
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
        throw MultipartError("malformed multipart part header");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    if (iequals(name, "content-disposition")) {
        if (std::exchange(has_disposition_, true)) {
            throw MultipartError("duplicate Content-Disposition in a multipart part");
        }
        const auto v = parse_field_value(value, false);
        if (!v) throw MultipartError("malformed Content-Disposition in a multipart part");
        if (!iequals(v->main, "form-data")) throw MultipartError("multipart part is not form-data");
        if (const Param* p = v->find("name")) current_.name = p->value;
        if (const Param* p = v->find("filename")) current_.filename = p->value;
    } else if (iequals(name, "content-type")) {
        if (std::exchange(has_content_type_, true)) {
            throw MultipartError("duplicate Content-Type in a multipart part");
        }
        if (!parse_field_value(value, true)) {
            throw MultipartError("malformed Content-Type in a multipart part");
        }
        const auto b = value.find_first_not_of(" \t");
        const auto e = value.find_last_not_of(" \t");
        current_.content_type = value.substr(b, e - b + 1);
    }
    // Other fields (Content-Transfer-Encoding, which RFC 7578 deprecates, among them) are ignored.
}

void MultipartParser::end_headers() {
    if (current_.name.empty()) throw MultipartError("multipart part has no name");
    in_part_ = true;
    matched_ = 0;
    state_ = State::body;
    handler_.on_part_begin(current_);
}

void MultipartParser::end_part() {
    if (!in_part_) return;
    in_part_ = false;
    handler_.on_part_end();
}

std::optional<std::string> boundary_from_content_type(std::string_view content_type) {
    const auto v = parse_field_value(content_type, true);
    if (!v || !iequals(v->main, "multipart/form-data")) return std::nullopt;
    const Param* p = v->find("boundary");
    if (p == nullptr || !valid_boundary(p->value)) return std::nullopt;
    return p->value;
}

std::optional<std::string> safe_filename(std::string_view filename) {
    if (std::any_of(filename.begin(), filename.end(), is_ctl) || !valid_utf8(filename)) {
        return std::nullopt;
    }
    // '\' too: Windows clients (and old browsers) send full paths with it.
    const auto sep = filename.find_last_of("/\\");
    if (sep != std::string_view::npos) filename.remove_prefix(sep + 1);
    if (filename.empty() || filename == "." || filename == ".." ||
        filename.size() > kMaxFilenameBytes) {
        return std::nullopt;
    }
    return std::string(filename);
}

}  // namespace medforge::http
