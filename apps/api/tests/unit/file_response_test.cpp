#include "http/file_response.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <limits>

#include "core/errors.hpp"
#include "test_support.hpp"

namespace medforge::http {
namespace {

using Kind = RangeDecision::Kind;

void expect_partial(std::string_view header, std::uint64_t size, std::uint64_t offset,
                    std::uint64_t length) {
    const auto d = parse_range(header, size);
    EXPECT_EQ(d.kind, Kind::partial) << header;
    EXPECT_EQ(d.offset, offset) << header;
    EXPECT_EQ(d.length, length) << header;
}

TEST(ParseRange, SingleRanges) {
    expect_partial("bytes=0-99", 1000, 0, 100);
    expect_partial("bytes=0-0", 1000, 0, 1);
    expect_partial("bytes=500-", 1000, 500, 500);
    expect_partial("bytes=-100", 1000, 900, 100);
    expect_partial("bytes=999-999", 1000, 999, 1);
    expect_partial("bytes=900-5000", 1000, 900, 100);  // last position clamped
    expect_partial("bytes=-5000", 1000, 0, 1000);      // long suffix selects everything
    expect_partial("Bytes = 10-19 ", 1000, 10, 10);    // unit case-insensitive, spaces tolerated
    expect_partial("bytes=0-99999999999999999999999", 1000, 0, 1000);  // saturates
}

TEST(ParseRange, UnsatisfiableRanges) {
    for (const char* h :
         {"bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=99999999999999999999-"}) {
        EXPECT_EQ(parse_range(h, 1000).kind, Kind::unsatisfiable) << h;
    }
    EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-5", 0).kind, Kind::full) << "an empty file: send it (empty)";
}

TEST(ParseRange, IgnoredHeadersSendEverything) {
    for (const char* h : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=1-2-3",
                          "items=0-1", "bytes=0-1,5-6", "bytes=0-1, 2-3", "bytes=+1-2",
                          "bytes=0x10-", "bytes=-1-2", "bytes=1 2-3"}) {
        EXPECT_EQ(parse_range(h, 1000).kind, Kind::full) << h;
    }
}

TEST(ContentType, SmallTableByExtension) {
    EXPECT_EQ(content_type_for("train.csv"), "text/csv");
    EXPECT_EQ(content_type_for("TRAIN.CSV"), "text/csv");
    EXPECT_EQ(content_type_for("README.md"), "text/markdown");
    EXPECT_EQ(content_type_for("x.png"), "image/png");
    EXPECT_EQ(content_type_for("data.tar.gz"), "application/gzip");
    EXPECT_EQ(content_type_for("weights.bin"), "application/octet-stream");
    EXPECT_EQ(content_type_for("noext"), "application/octet-stream");
    EXPECT_EQ(content_type_for("csv"), "application/octet-stream");
}

TEST(ContentDisposition, QuotedNameIsAlwaysSafe) {
    EXPECT_EQ(content_disposition("train.csv"), "attachment; filename=\"train.csv\"");
    EXPECT_EQ(content_disposition("a b.csv"),
              "attachment; filename=\"a b.csv\"; filename*=UTF-8''a%20b.csv");
    EXPECT_EQ(
        content_disposition("x\"; y=\\z\r\n.csv"),
        "attachment; filename=\"x__ y__z__.csv\"; filename*=UTF-8''x%22%3B%20y%3D%5Cz%0D%0A.csv");
    EXPECT_EQ(content_disposition("\xc3\xa9t\xc3\xa9.csv"),
              "attachment; filename=\"__t__.csv\"; filename*=UTF-8''%C3%A9t%C3%A9.csv");
    EXPECT_EQ(content_disposition(""), "attachment; filename=\"download\"");
}

class FileResponseTest : public ::testing::Test {
  protected:
    void SetUp() override {
        path = tmp.file("data.bin");
        std::ofstream(path, std::ios::binary) << "0123456789";
    }
    Response respond(std::vector<std::pair<std::string, std::string>> headers) {
        Request req;
        req.headers = std::move(headers);
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st {};
        EXPECT_EQ(::fstat(fd.get(), &st), 0);
        etag = file_etag(st);
        return file_response(req, std::move(fd), st, "data.bin", "application/octet-stream");
    }
    static std::optional<std::string> header(const Response& r, std::string_view name) {
        for (const auto& [k, v] : r.headers) {
            if (k == name) return v;
        }
        return std::nullopt;
    }
    mftest::TempDir tmp;
    std::string path;
    std::string etag;
};

TEST_F(FileResponseTest, WholeFile) {
    const auto r = respond({});
    EXPECT_EQ(r.status, 200);
    ASSERT_TRUE(r.file.has_value());
    EXPECT_EQ(r.file->offset, 0U);
    EXPECT_EQ(r.file->length, 10U);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(header(r, "Accept-Ranges"), "bytes");
    EXPECT_EQ(header(r, "Content-Range"), std::nullopt);
    EXPECT_EQ(header(r, "Content-Disposition"), "attachment; filename=\"data.bin\"");
    EXPECT_EQ(header(r, "ETag"), etag);
}

TEST_F(FileResponseTest, OneRangeIsPartial) {
    const auto r = respond({{"range", "bytes=2-4"}});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.file->offset, 2U);
    EXPECT_EQ(r.file->length, 3U);
    EXPECT_EQ(header(r, "Content-Range"), "bytes 2-4/10");
}

TEST_F(FileResponseTest, UnsatisfiableIs416WithTheSize) {
    try {
        respond({{"range", "bytes=10-"}});
        FAIL() << "expected 416";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 416);
        EXPECT_EQ(e.code(), "range_not_satisfiable");
        EXPECT_EQ(e.headers().at("Content-Range"), "bytes */10");
    }
}

TEST_F(FileResponseTest, IfRangeMustMatchTheEtag) {
    EXPECT_EQ(respond({{"range", "bytes=0-0"}, {"if-range", "\"other\""}}).status, 200);
    EXPECT_EQ(respond({{"range", "bytes=0-0"}, {"if-range", etag}}).status, 206);
}

}  // namespace
}  // namespace medforge::http
