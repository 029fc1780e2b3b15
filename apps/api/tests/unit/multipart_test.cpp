// Streaming multipart/form-data: parts and their headers, chunk splits, data that looks like a
// boundary, limits, malformed input, and the boundary and filename helpers.

#include "http/multipart.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::http {
namespace {

using namespace std::string_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;

struct Part {
    PartHeaders headers;
    std::string data;
    bool ended = false;
};

// Records the callbacks and checks their order: data and end only inside a part, never empty data.
class Recorder final : public MultipartHandler {
  public:
    void on_part_begin(const PartHeaders& headers) override {
        EXPECT_TRUE(parts.empty() || parts.back().ended) << "begin inside a part";
        parts.push_back({headers, {}, false});
    }
    void on_part_data(std::string_view data) override {
        EXPECT_FALSE(data.empty());
        ASSERT_FALSE(parts.empty());
        EXPECT_FALSE(parts.back().ended) << "data outside a part";
        parts.back().data.append(data);
        largest_piece = std::max(largest_piece, data.size());
    }
    void on_part_end() override {
        ASSERT_FALSE(parts.empty());
        EXPECT_FALSE(parts.back().ended) << "end twice";
        parts.back().ended = true;
    }

    std::vector<Part> parts;
    std::size_t largest_piece = 0;
};

constexpr std::string_view kBoundary = "XyZ-boundary";

std::vector<Part> parse_pieces(const std::vector<std::string_view>& pieces,
                               MultipartLimits limits = {}) {
    Recorder r;
    MultipartParser parser(kBoundary, r, limits);
    for (auto piece : pieces) parser.feed(piece);
    parser.finish();
    EXPECT_TRUE(parser.complete());
    EXPECT_EQ(parser.parts(), r.parts.size());
    return r.parts;
}

std::vector<Part> parse(std::string_view body, MultipartLimits limits = {}) {
    return parse_pieces({body}, limits);
}

// Feeds `body` one byte at a time.
std::vector<Part> parse_bytewise(std::string_view body) {
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < body.size(); ++i) pieces.push_back(body.substr(i, 1));
    return parse_pieces(pieces);
}

// The message of the MultipartError that parsing `body` throws (feed or finish); "" if none.
std::string error_of(std::string_view body, MultipartLimits limits = {}) {
    Recorder r;
    try {
        MultipartParser parser(kBoundary, r, limits);
        parser.feed(body);
        parser.finish();
    } catch (const MultipartError& e) {
        return e.what();
    }
    return {};
}

// Flattens parts for comparing two parses.
std::string summary(const std::vector<Part>& parts) {
    std::string out;
    for (const auto& p : parts) {
        out += p.headers.name + "|" + p.headers.filename.value_or("<none>") + "|" +
               p.headers.content_type + "|" + p.data + "|" + (p.ended ? "end" : "open") + "\n";
    }
    return out;
}

std::string part(std::string_view disposition_params, std::string_view data,
                 std::string_view extra_headers = "") {
    return "--"s + std::string(kBoundary) + "\r\nContent-Disposition: form-data; " +
           std::string(disposition_params) + "\r\n" + std::string(extra_headers) + "\r\n" +
           std::string(data) + "\r\n";
}

std::string close() { return "--"s + std::string(kBoundary) + "--\r\n"; }

TEST(MultipartParser, SinglePart) {
    const auto parts = parse(part(R"(name="file"; filename="preds.csv")", "id,label\n1,0\n",
                                  "Content-Type: text/csv\r\n") +
                             close());
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].headers.name, "file");
    EXPECT_THAT(parts[0].headers.filename, Optional("preds.csv"s));
    EXPECT_EQ(parts[0].headers.content_type, "text/csv");
    EXPECT_EQ(parts[0].data, "id,label\n1,0\n");
    EXPECT_TRUE(parts[0].ended);
}

TEST(MultipartParser, SeveralParts) {
    const auto parts = parse(
        part(R"(name="manifest"; filename="manifest.json")", R"({"metric":"accuracy"})",
             "Content-Type: application/json\r\n") +
        part(R"(name="holdout_labels"; filename="labels.csv")", "id,y\r\n1,1\r\n") +
        part(R"(name="test_ids")", "") + part("name=sample_submission", "id,y\r\n") + close());
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(parts[0].headers.name, "manifest");
    EXPECT_EQ(parts[0].headers.content_type, "application/json");
    EXPECT_EQ(parts[0].data, R"({"metric":"accuracy"})");
    EXPECT_EQ(parts[1].headers.name, "holdout_labels");
    EXPECT_EQ(parts[1].data, "id,y\r\n1,1\r\n");
    EXPECT_EQ(parts[1].headers.content_type, "");
    EXPECT_EQ(parts[2].headers.name, "test_ids");
    EXPECT_EQ(parts[2].headers.filename, std::nullopt);
    EXPECT_EQ(parts[2].data, "");
    EXPECT_EQ(parts[3].headers.name, "sample_submission");
    EXPECT_EQ(parts[3].data, "id,y\r\n");
    for (const auto& p : parts) EXPECT_TRUE(p.ended);
}

// A body where delimiters, near-delimiters, header lines and CRLFs all straddle the splits.
std::string tricky_body() {
    return "preamble\r\n" +
           part(R"(name="a"; filename="x\"y.csv")", "1\r\n--XyZ-boundar\r\r\n--XyZ-boundaryQ\r\n",
                "content-type: text/plain\r\n") +
           part("name=b", "\r\n--XyZ-boundary-\r\n") + part("name=c", "") + close() + "epilogue";
}

TEST(MultipartParser, EverySplitPointGivesTheSameParts) {
    const std::string body = tricky_body();
    const std::string expected = summary(parse(body));
    ASSERT_EQ(parse(body).size(), 3u);
    for (std::size_t i = 0; i <= body.size(); ++i) {
        const std::string_view b = body;
        EXPECT_EQ(summary(parse_pieces({b.substr(0, i), b.substr(i)})), expected) << "split " << i;
    }
    EXPECT_EQ(summary(parse_bytewise(body)), expected);
}

TEST(MultipartParser, EveryPairOfSplitPointsGivesTheSameParts) {
    const std::string body = part("name=f", "ab\r\n--XyZ-boundaryc\r") + close();
    const std::string expected = summary(parse(body));
    const std::string_view b = body;
    for (std::size_t i = 0; i <= b.size(); ++i) {
        for (std::size_t j = i; j <= b.size(); ++j) {
            EXPECT_EQ(summary(parse_pieces({b.substr(0, i), b.substr(i, j - i), b.substr(j)})),
                      expected)
                << "splits " << i << ", " << j;
        }
    }
}

TEST(MultipartParser, DataThatLooksLikeABoundaryIsData) {
    const std::vector<std::string> datas = {
        "--XyZ-boundary",                 // no CRLF before it
        "a\r\n--XyZ-boundaryX",           // the boundary is a prefix of a longer word
        "a\r\n--XyZ-boundary-x",          // one dash is not a close
        "a\r\n--XyZ-boundar",             // cut short, at the end of the data
        "\r\r\n--XyZ-boundarY\r",         // CR runs and a near miss
        "a\n--XyZ-boundary\r\nb",         // LF alone is not a line end
        "a\r\n-XyZ-boundary\r\n",         // one dash
        "\r\n--XyZ-boundary-\r\n--XyZ-",  // a near close, then a near delimiter
    };
    for (const auto& data : datas) {
        const std::string body = part("name=f", data) + close();
        const auto whole = parse(body);
        ASSERT_EQ(whole.size(), 1u) << data;
        EXPECT_EQ(whole[0].data, data);
        EXPECT_EQ(summary(parse_bytewise(body)), summary(whole)) << data;
    }
}

TEST(MultipartParser, PreambleAndEpilogueAreIgnored) {
    const auto parts = parse("ignored --XyZ-boundary\r\nstill preamble\r\n" + part("name=f", "v") +
                             "--XyZ-boundary--ignored\r\n--XyZ-boundary\r\nmore");
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].data, "v");
}

TEST(MultipartParser, EmptyFormHasNoParts) {
    EXPECT_THAT(parse("--XyZ-boundary--"), IsEmpty());
    EXPECT_THAT(parse("--XyZ-boundary--\r\n"), IsEmpty());
}

TEST(MultipartParser, TransportPaddingAfterTheBoundary) {
    const auto parts = parse(
        "--XyZ-boundary \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1"
        "\r\n--XyZ-boundary  \r\nContent-Disposition: form-data; name=b\r\n\r\n"
        "2\r\n--XyZ-boundary--");
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].data, "1");
    EXPECT_EQ(parts[1].data, "2");
    EXPECT_EQ(error_of("--XyZ-boundary x\r\n"), "malformed multipart boundary line");
    EXPECT_EQ(error_of("--XyZ-boundary\rx"), "malformed multipart boundary line");
}

TEST(MultipartParser, MissingCloseDelimiter) {
    const std::string message = "multipart body ends before its closing boundary";
    EXPECT_EQ(error_of(""), message);
    EXPECT_EQ(error_of("no boundary at all"), message);
    EXPECT_EQ(error_of(part("name=f", "data")), message);
    EXPECT_EQ(error_of(part("name=f", "data") + "--XyZ-boundary"), message);
    EXPECT_EQ(error_of(part("name=f", "data") + "--XyZ-boundary-"), message);
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Disposition: form-data; name=f\r\n"), message);
    // A close without the CRLF before it is data.
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Disposition: form-data; name=f\r\n\r\n"
                       "data--XyZ-boundary--"),
              message);
}

TEST(MultipartParser, BareLineFeedsAreRejected) {
    const std::string message = "multipart header lines must end with CRLF";
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Disposition: form-data; name=f\n\r\n"), message);
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Disposition: form-data; name=f\r\n\n"), message);
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Disposition: form-data; name=f\rx"), message);
    // An LF-only body never shows a delimiter.
    EXPECT_EQ(error_of("--XyZ-boundary\nContent-Disposition: form-data; name=f\n\nv\n"
                       "--XyZ-boundary--\n"),
              "multipart body ends before its closing boundary");
}

TEST(MultipartParser, PartWithoutNameIsRejected) {
    const std::string message = "multipart part has no name";
    EXPECT_EQ(error_of("--XyZ-boundary\r\n\r\nv\r\n" + close()), message);
    EXPECT_EQ(error_of("--XyZ-boundary\r\nContent-Type: text/plain\r\n\r\nv\r\n" + close()),
              message);
    EXPECT_EQ(error_of(part(R"(filename="a.csv")", "v") + close()), message);
    EXPECT_EQ(error_of(part(R"(name="")", "v") + close()), message);
}

TEST(MultipartParser, HeaderNamesAndParametersAreCaseInsensitive) {
    const auto parts = parse(
        "--XyZ-boundary\r\ncontent-DISPOSITION: Form-Data; NAME=\"f\"; FileName=\"a.csv\"\r\n"
        "CONTENT-type:text/csv ; Charset=utf-8 \r\n\r\nv\r\n" +
        close());
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].headers.name, "f");
    EXPECT_THAT(parts[0].headers.filename, Optional("a.csv"s));
    EXPECT_EQ(parts[0].headers.content_type, "text/csv ; Charset=utf-8");
}

TEST(MultipartParser, QuotedParametersWithEscapes) {
    const auto parts = parse(part(R"(name = "the \"file\"" ; filename="a\\b\"c.csv")", "v") +
                             part(R"(name="x"; filename="")", "") + close());
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].headers.name, R"(the "file")");
    EXPECT_THAT(parts[0].headers.filename, Optional(R"(a\b"c.csv)"s));
    // A browser's empty file input: a filename that is present and empty.
    EXPECT_THAT(parts[1].headers.filename, Optional(""s));
}

TEST(MultipartParser, FilenameStarIsIgnored) {
    auto parts = parse(part(R"(name="f"; filename*=UTF-8''na%C3%AFve.csv)", "v") + close());
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].headers.filename, std::nullopt);
    parts =
        parse(part(R"(name="f"; filename="plain.csv"; filename*=UTF-8''other.csv)", "v") + close());
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_THAT(parts[0].headers.filename, Optional("plain.csv"s));
}

TEST(MultipartParser, ContentTypePerPart) {
    const auto parts =
        parse(part("name=a", "1", "Content-Type: application/json\r\n") + part("name=b", "2") +
              part("name=c", "3", "Content-Type: text/csv; charset=\"utf-8\"\r\n") + close());
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0].headers.content_type, "application/json");
    EXPECT_EQ(parts[1].headers.content_type, "");
    EXPECT_EQ(parts[2].headers.content_type, R"(text/csv; charset="utf-8")");
}

TEST(MultipartParser, OtherPartHeadersAreIgnored) {
    const auto parts =
        parse(part("name=a", "1", "Content-Transfer-Encoding: binary\r\nX-Other: whatever\r\n") +
              close());
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].data, "1");
}

TEST(MultipartParser, MalformedPartHeadersAreRejected) {
    const std::string head = "--XyZ-boundary\r\n";
    const std::string cd = "Content-Disposition: form-data; name=f\r\n";
    auto err = [&](const std::string& headers) { return error_of(head + headers + "\r\nv"); };
    EXPECT_EQ(err("no colon\r\n" + cd), "malformed multipart part header");
    EXPECT_EQ(err(": empty name\r\n" + cd), "malformed multipart part header");
    EXPECT_EQ(err("Content-Disposition : form-data; name=f\r\n"),
              "malformed multipart part header");
    EXPECT_EQ(err(cd + " folded\r\n"), "folded multipart part header");
    EXPECT_EQ(err(cd + cd), "duplicate Content-Disposition in a multipart part");
    EXPECT_EQ(err(cd + "Content-Type: a/b\r\nContent-Type: a/b\r\n"),
              "duplicate Content-Type in a multipart part");
    EXPECT_EQ(err("Content-Disposition: attachment; name=f\r\n"),
              "multipart part is not form-data");
    EXPECT_EQ(err(cd + "Content-Type: text\r\n"), "malformed Content-Type in a multipart part");
    EXPECT_EQ(err(cd + "X: a\001b\r\n"), "control character in a multipart part header");
    EXPECT_EQ(err(cd + "X: a\0b\r\n"s), "control character in a multipart part header");
    for (const char* bad : {
             "form-data; name=a; name=b",  // two names
             "form-data; name=\"a",        // unterminated quote
             "form-data; name=\"a\\",      // escape at the end
             "form-data; name=",           // no value
             "form-data; name",            // no '='
             "form-data; name=a b",        // junk after a token
             "form-data; name=\"a\"x",     // junk after a quoted string
             "form-data; name=a;",         // trailing ';'
             "form-data name=a",           // no ';'
             "; name=a",                   // no disposition type
         }) {
        EXPECT_EQ(err("Content-Disposition: "s + bad + "\r\n"),
                  "malformed Content-Disposition in a multipart part")
            << bad;
    }
}

TEST(MultipartParser, TooManyParts) {
    const MultipartLimits limits{.max_parts = 2};
    const std::string two = part("name=a", "1") + part("name=b", "2");
    EXPECT_EQ(parse(two + close(), limits).size(), 2u);
    EXPECT_EQ(error_of(two + part("name=c", "3") + close(), limits), "too many multipart parts");
}

TEST(MultipartParser, OversizedHeaders) {
    const MultipartLimits limits{.max_header_bytes = 100, .max_header_lines = 3};
    // Exactly at the limit: both lines with their CRLFs and the blank line.
    const std::string cd = "Content-Disposition: form-data; name=f\r\n";
    const std::size_t filler = 100 - cd.size() - 4 - 3;
    const std::string fits = cd + "X: " + std::string(filler, 'a') + "\r\n\r\n";
    ASSERT_EQ(fits.size(), 100u);
    EXPECT_EQ(parse("--XyZ-boundary\r\n" + fits + "v\r\n" + close(), limits).size(), 1u);
    const std::string over = cd + "X: " + std::string(filler + 1, 'a') + "\r\n\r\n";
    EXPECT_EQ(error_of("--XyZ-boundary\r\n" + over + "v\r\n" + close(), limits),
              "multipart part headers too large");
    // Padding after the boundary counts too.
    EXPECT_EQ(error_of("--XyZ-boundary" + std::string(101, ' ') + "\r\n", limits),
              "multipart part headers too large");
    EXPECT_EQ(error_of("--XyZ-boundary\r\n" + cd + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits),
              "too many multipart part header lines");
    // The limit applies per part.
    EXPECT_EQ(
        parse("--XyZ-boundary\r\n" + fits + "v\r\n--XyZ-boundary\r\n" + fits + "w\r\n" + close(),
              limits)
            .size(),
        2u);
}

TEST(MultipartParser, HugeHeaderFailsEarlyWithAShortMessage) {
    // 1 MiB of header, fed in pieces: the error comes once the limit is passed, not at the end,
    // and its message does not echo the input.
    Recorder r;
    MultipartParser parser(kBoundary, r);
    parser.feed("--XyZ-boundary\r\nContent-Disposition: form-data; name=\"");
    const std::string chunk(4096, 'A');
    std::size_t fed = 0;
    std::string message;
    try {
        while (fed < (std::size_t{1} << 20)) {
            parser.feed(chunk);
            fed += chunk.size();
        }
    } catch (const MultipartError& e) {
        message = e.what();
    }
    EXPECT_EQ(message, "multipart part headers too large");
    EXPECT_LE(fed, MultipartLimits{}.max_header_bytes);
}

TEST(MultipartParser, PartBodiesAreStreamedNotBuffered) {
    // 1 MiB in one part, fed in 1000-byte chunks with CRs sprinkled in: each piece handed out is
    // at most a chunk plus held-back delimiter bytes.
    Recorder r;
    MultipartParser parser(kBoundary, r);
    parser.feed("--XyZ-boundary\r\nContent-Disposition: form-data; name=file\r\n\r\n");
    std::string data;
    for (int i = 0; data.size() < (std::size_t{1} << 20); ++i) {
        data += "row " + std::to_string(i) + (i % 7 == 0 ? "\r\n--XyZ\r\n" : "\n");
    }
    for (std::size_t i = 0; i < data.size(); i += 1000) parser.feed(data.substr(i, 1000));
    parser.feed("\r\n" + close());
    parser.finish();
    ASSERT_EQ(r.parts.size(), 1u);
    EXPECT_EQ(r.parts[0].data, data);
    EXPECT_LE(r.largest_piece, 1000u + kBoundary.size() + 4);
}

TEST(MultipartParser, ErrorMessagesDoNotEchoInput) {
    const std::string hostile = "<script>" + std::string(2000, 'x');
    for (const auto& body : {
             "--XyZ-boundary\r\nContent-Disposition: " + hostile + "\r\n\r\n",
             "--XyZ-boundary\r\n" + hostile + "\r\n\r\n",
             "--XyZ-boundary\r\nContent-Disposition: form-data; name=f\r\nContent-Type: " +
                 hostile + "\r\n\r\n",
         }) {
        const std::string message = error_of(body, {.max_header_bytes = 4096});
        EXPECT_THAT(message, Not(IsEmpty()));
        EXPECT_LT(message.size(), 80u);
        EXPECT_THAT(message, Not(HasSubstr("<script>")));
    }
}

TEST(MultipartParser, UnusableAfterAnError) {
    Recorder r;
    MultipartParser parser(kBoundary, r);
    EXPECT_THROW(parser.feed("--XyZ-boundary\r\n\r\n"), MultipartError);
    EXPECT_THROW(parser.feed("more"), std::logic_error);
    EXPECT_THROW(parser.finish(), std::logic_error);
}

TEST(MultipartParser, HandlerExceptionsPropagateAndStopTheParser) {
    class Throwing final : public MultipartHandler {
      public:
        void on_part_begin(const PartHeaders&) override {}
        void on_part_data(std::string_view) override { throw std::runtime_error("disk full"); }
        void on_part_end() override {}
    } handler;
    MultipartParser parser(kBoundary, handler);
    EXPECT_THROW(parser.feed(part("name=f", "data")), std::runtime_error);
    EXPECT_THROW(parser.feed(close()), std::logic_error);
}

TEST(MultipartParser, RejectsAnInvalidBoundary) {
    Recorder r;
    for (const std::string& bad : {""s, std::string(71, 'a'), "a\"b"s, "trailing "s, "a\r\nb"s}) {
        EXPECT_THROW(MultipartParser(bad, r), MultipartError) << bad;
    }
    EXPECT_NO_THROW(MultipartParser(std::string(70, 'a'), r));
    EXPECT_NO_THROW(MultipartParser("with space'()+_,-./:=?", r));
}

TEST(SafeFilename, KeepsTheLastPathComponent) {
    EXPECT_THAT(safe_filename("preds.csv"), Optional("preds.csv"s));
    EXPECT_THAT(safe_filename("../../etc/passwd"), Optional("passwd"s));
    EXPECT_THAT(safe_filename("..\\..\\x.csv"), Optional("x.csv"s));
    EXPECT_THAT(safe_filename("C:\\Users\\me\\sub.csv"), Optional("sub.csv"s));
    EXPECT_THAT(safe_filename("/abs/path/../f.csv"), Optional("f.csv"s));
    EXPECT_THAT(safe_filename("..f.csv"), Optional("..f.csv"s));
    EXPECT_THAT(safe_filename("naïve résumé.csv"), Optional("naïve résumé.csv"s));
}

TEST(SafeFilename, RejectsUnsafeNames) {
    for (const std::string& bad : {
             ""s, "."s, ".."s, "dir/"s, "dir\\"s, "a/.."s, "a\\."s, "/"s, "a\0b.csv"s, "a\nb.csv"s,
             "a\tb.csv"s, "a\x7F.csv"s, "dir\x01/ok.csv"s, "bad\xFF.csv"s,
             "\xC3"s,  // invalid and truncated UTF-8
         }) {
        EXPECT_EQ(safe_filename(bad), std::nullopt) << bad;
    }
}

TEST(SafeFilename, CapsTheLength) {
    const std::string longest(kMaxFilenameBytes, 'a');
    EXPECT_THAT(safe_filename(longest), Optional(longest));
    EXPECT_EQ(safe_filename(longest + "a"), std::nullopt);
    // Only the last component counts.
    EXPECT_THAT(safe_filename(std::string(1000, 'd') + "/" + longest), Optional(longest));
}

TEST(BoundaryFromContentType, TokenAndQuoted) {
    EXPECT_THAT(boundary_from_content_type("multipart/form-data; boundary=abc123"),
                Optional("abc123"s));
    EXPECT_THAT(boundary_from_content_type(
                    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
                Optional("----WebKitFormBoundary7MA4YWxkTrZu0gW"s));
    EXPECT_THAT(boundary_from_content_type(R"(multipart/form-data; boundary="a b:c?=d")"),
                Optional("a b:c?=d"s));
    EXPECT_THAT(boundary_from_content_type("multipart/form-data;boundary=x"), Optional("x"s));
}

TEST(BoundaryFromContentType, CaseInsensitiveNamesAndOtherParameters) {
    EXPECT_THAT(boundary_from_content_type("Multipart/Form-Data; BOUNDARY=AbC"), Optional("AbC"s));
    EXPECT_THAT(boundary_from_content_type(
                    " multipart/form-data ; charset=utf-8 ; boundary = \"q\" ; x=y "),
                Optional("q"s));
}

TEST(BoundaryFromContentType, LengthLimits) {
    const std::string b70(70, 'b');
    EXPECT_THAT(boundary_from_content_type("multipart/form-data; boundary=" + b70), Optional(b70));
    EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=" + b70 + "b"),
              std::nullopt);
    EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=\"\""), std::nullopt);
}

TEST(BoundaryFromContentType, Rejects) {
    for (const char* bad : {
             "", "multipart/form-data", "multipart/form-data; charset=utf-8",
             "multipart/mixed; boundary=abc", "text/plain; boundary=abc",
             "multipart/form-data-x; boundary=abc", "multipart; boundary=abc",
             "multipart/form-data; boundary=abc; boundary=def",
             "multipart/form-data; boundary=", "multipart/form-data; boundary=\"abc",
             "multipart/form-data; boundary=\"ends in space \"",
             "multipart/form-data; boundary=\"a\\\"b\"",  // '"' is not a bchar
             "multipart/form-data; boundary=a*b",         // a token char but not a bchar
             "multipart/form-data; boundary=abc junk", "multipart/form-data boundary=abc",
             "multipart/form-data; boundary=\"a\x01\"",  // a control byte in a quoted string
         }) {
        EXPECT_EQ(boundary_from_content_type(bad), std::nullopt) << bad;
    }
}

TEST(BoundaryFromContentType, RoundTripsThroughTheParser) {
    const auto boundary = boundary_from_content_type("multipart/form-data; boundary=\"" +
                                                     std::string(kBoundary) + "\"");
    ASSERT_THAT(boundary, Optional(std::string(kBoundary)));
    Recorder r;
    MultipartParser parser(*boundary, r);
    parser.feed(part("name=file", "x") + close());
    parser.finish();
    EXPECT_EQ(r.parts.size(), 1u);
}

}  // namespace
}  // namespace medforge::http
