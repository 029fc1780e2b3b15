// libFuzzer target for the multipart/form-data parser and its helpers. Besides "never crash", it
// checks that feeding the body in two pieces (split where the first byte says) and one byte at a
// time gives exactly what one feed gives, that callbacks come in order with no empty data, that no
// part's data holds a real delimiter, that limits hold, that error messages stay short and
// printable, and that safe_filename and boundary_from_content_type keep their promises.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -fno-sanitize=function \
//     -Iapps/api/src apps/api/tests/fuzz/multipart_fuzz.cpp apps/api/src/http/multipart.cpp \
//     -o /tmp/mp_fuzz && /tmp/mp_fuzz -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_checks.hpp"
#include "http/multipart.hpp"

namespace {

using namespace medforge::http;
using medforge::competitions::fuzz::check;

constexpr std::string_view kBoundary = "b0und";
constexpr std::string_view kDelimiter = "\r\n--b0und";
// Small limits, so that inputs reach them.
constexpr MultipartLimits kLimits{.max_parts = 4, .max_header_bytes = 200, .max_header_lines = 4};

void check_filename(const std::string& raw) {
    const auto safe = safe_filename(raw);
    if (!safe) return;
    check(!safe->empty() && *safe != "." && *safe != "..", "safe name is not empty, . or ..");
    check(safe->size() <= kMaxFilenameBytes, "safe name is short");
    check(safe->find_first_of("/\\") == std::string::npos, "safe name has no separator");
    for (const char c : *safe) {
        check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F, "safe name has no control");
    }
    check(raw.size() >= safe->size() &&
              raw.compare(raw.size() - safe->size(), safe->size(), *safe) == 0,
          "safe name is the end of the raw name");
}

// Everything the handler saw, as one string, so that two feedings can be compared.
class Recorder final : public MultipartHandler {
  public:
    void on_part_begin(const PartHeaders& h) override {
        check(!open_, "begin inside a part");
        check(!h.name.empty(), "parts have a name");
        open_ = true;
        ++parts_;
        check(parts_ <= kLimits.max_parts, "part count within the limit");
        data_.clear();
        out += "\nbegin " + h.name + '\x1F' + h.filename.value_or("<none>") + '\x1F' +
               h.content_type + '\n';
        if (h.filename) check_filename(*h.filename);
    }
    void on_part_data(std::string_view d) override {
        check(open_, "data inside a part");
        check(!d.empty(), "data is never empty");
        out.append(d);
        data_.append(d);
    }
    void on_part_end() override {
        check(open_, "end inside a part");
        open_ = false;
        // "CRLF--boundary" then CRLF or "--" always ends a part.
        for (std::size_t at = data_.find(kDelimiter); at != std::string::npos;
             at = data_.find(kDelimiter, at + 1)) {
            const std::string_view rest = std::string_view(data_).substr(at + kDelimiter.size());
            check(rest.substr(0, 2) != "\r\n" && rest.substr(0, 2) != "--",
                  "no delimiter inside a part");
        }
        out += "\nend";
    }

    std::string out;

  private:
    bool open_ = false;
    std::size_t parts_ = 0;
    std::string data_;
};

template <typename Feed>
std::string outcome(Feed feed) {
    Recorder r;
    try {
        MultipartParser parser(kBoundary, r, kLimits);
        feed(parser);
        parser.finish();
        check(parser.complete(), "finish succeeds only after the close");
        r.out += "\nok";
    } catch (const MultipartError& e) {
        medforge::competitions::fuzz::check_message(e.what());
        check(std::string_view(e.what()).size() < 80, "error message is short");
        r.out += "\nerror: ";
        r.out += e.what();
    }
    return r.out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t split = body.size() * data[0] / 255;

    const std::string expected = outcome([&](MultipartParser& p) { p.feed(body); });
    check(outcome([&](MultipartParser& p) {
              p.feed(body.substr(0, split));
              p.feed(body.substr(split));
          }) == expected,
          "two pieces give what one feed gives");
    check(outcome([&](MultipartParser& p) {
              for (const char c : body) p.feed(&c, 1);
          }) == expected,
          "byte-by-byte gives what one feed gives");

    // The same bytes as a Content-Type value and as a filename.
    check_filename(std::string(body));
    if (const auto boundary = boundary_from_content_type(body)) {
        check(!boundary->empty() && boundary->size() <= 70, "boundary is 1..70 bytes");
        Recorder r;
        MultipartParser parser(*boundary, r);  // throws (and so crashes) if it disagrees
    }
    return 0;
}
