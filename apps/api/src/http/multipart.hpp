#pragma once

// Streaming multipart/form-data (RFC 7578 over RFC 2046) for uploads: submissions (field `file`)
// and admin bundles. Part bodies are handed out as they arrive; the parser's memory is bounded by
// the limits below and the boundary, whatever the body size (the caller caps the total size).

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace medforge::http {

// Malformed input or a broken limit. what() is a short fixed phrase, safe to return to the client:
// it never echoes the input.
class MultipartError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What a part's headers say. Field names are matched case-insensitively; quoted-string parameter
// values come unquoted and unescaped.
struct PartHeaders {
    std::string name;  // Content-Disposition `name`: never empty
    // Content-Disposition `filename` exactly as sent (may hold a path, or be "" when a browser
    // sends an empty file input); nullopt when absent. Pass it through safe_filename before use.
    // `filename*` is ignored: RFC 7578 section 4.2 forbids it in form-data.
    std::optional<std::string> filename;
    std::string content_type;  // the part's Content-Type as sent (syntax-checked); "" when absent
};

// Receives a body's parts in order: begin, zero or more non-empty data pieces, end. An exception
// thrown from a callback propagates out of feed() and leaves the parser unusable.
class MultipartHandler {
  public:
    virtual ~MultipartHandler() = default;
    virtual void on_part_begin(const PartHeaders& headers) = 0;
    // A piece of the part's body; the view is valid only during the call.
    virtual void on_part_data(std::string_view data) = 0;
    virtual void on_part_end() = 0;
};

struct MultipartLimits {
    std::size_t max_parts = 16;
    // Per part: header lines with their CRLFs, the blank line, and any transport padding after
    // the boundary that opens the part. Also bounds the parser's buffer.
    std::size_t max_header_bytes = std::size_t{8} * 1024;
    std::size_t max_header_lines = 8;
};

// A push parser: feed() takes the body in chunks of any size (one byte at a time works) and calls
// the handler; finish() at end of body checks the closing boundary was seen. The preamble before
// the first boundary and the epilogue after the closing one are ignored. Line ends must be CRLF.
// After a MultipartError (or a handler exception) the parser is unusable: feed() and finish()
// throw std::logic_error.
//
//   MultipartParser parser(*boundary_from_content_type(content_type), handler);
//   while (auto chunk = read_some()) parser.feed(chunk.data(), chunk.size());
//   parser.finish();
class MultipartParser {
  public:
    // `boundary` as returned by boundary_from_content_type; an invalid one is a MultipartError.
    MultipartParser(std::string_view boundary, MultipartHandler& handler,
                    MultipartLimits limits = {});

    void feed(const char* data, std::size_t n);
    void feed(std::string_view data) { feed(data.data(), data.size()); }
    void finish();

    // Parts begun so far.
    std::size_t parts() const noexcept { return parts_; }
    // Whether the closing boundary has been seen.
    bool complete() const noexcept { return state_ == State::epilogue; }

  private:
    enum class State {
        body,            // a part's body, or the preamble before the first boundary
        after_boundary,  // "CRLF--boundary" seen: "--", CRLF or padding decides what it is
        after_dash,      // "CRLF--boundary-"
        padding,         // "CRLF--boundary" then spaces or tabs
        boundary_lf,     // "CRLF--boundary" [padding] CR
        headers,         // a part's header lines
        epilogue,        // after the closing boundary
        failed,
    };

    std::size_t scan_body(const char* p, std::size_t n);
    std::size_t scan_headers(const char* p, std::size_t n);
    bool step_boundary(char c);
    void not_a_boundary(std::size_t extra_dashes);
    void emit(const char* p, std::size_t n);
    void count_header_byte();
    void begin_part();
    void header_line(std::string_view line);
    void end_headers();
    void end_part();

    std::string delimiter_;  // "\r\n--" + boundary
    MultipartHandler& handler_;
    MultipartLimits limits_;
    State state_ = State::body;
    // Bytes of delimiter_ matched at the end of the input so far. They are held back from the
    // handler until the match fails, and need no copy: they equal delimiter_'s prefix. Starts at
    // 2 because the first boundary may open the body without a CRLF before it.
    std::size_t matched_ = 2;
    bool in_part_ = false;
    std::size_t parts_ = 0;
    std::size_t header_bytes_ = 0;
    std::size_t header_lines_ = 0;
    bool header_cr_ = false;
    std::string line_;
    bool has_disposition_ = false;
    bool has_content_type_ = false;
    PartHeaders current_;
};

// The boundary of a `multipart/form-data; boundary=...` Content-Type value (type and parameter
// names case-insensitive; the value a token or a quoted string of 1..70 RFC 2046 bchars, not
// ending in a space). nullopt for another media type, a missing, duplicate or invalid boundary, or
// a malformed value.
std::optional<std::string> boundary_from_content_type(std::string_view content_type);

constexpr std::size_t kMaxFilenameBytes = 255;

// A client's filename reduced to a name safe to store and show: its last path component (after
// the last '/' or '\'). nullopt when that is empty, "." or "..", longer than kMaxFilenameBytes,
// or when the filename has control bytes or invalid UTF-8 anywhere.
std::optional<std::string> safe_filename(std::string_view filename);

}  // namespace medforge::http
