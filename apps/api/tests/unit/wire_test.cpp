#include "http/wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace medforge::http {
namespace {

Response text(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "text/plain";
    r.body = std::move(body);
    return r;
}

TEST(ResponseHead, Http11KeepAliveWithLength) {
    Response r = text(200, "hello");
    r.set_header("X-Medforge-User", "u1");
    EXPECT_EQ(response_head(r, 11, true, Framing::content_length, r.body.size()),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Medforge-User: u1\r\n"
              "Content-Length: 5\r\n\r\n");
}

TEST(ResponseHead, ConnectionHeaderOnlyWhereItDiffersFromTheVersionDefault) {
    const Response r = text(404, "{}");
    EXPECT_EQ(response_head(r, 11, false, Framing::content_length, 2),
              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
              "Connection: close\r\n\r\n");
    EXPECT_EQ(response_head(r, 10, true, Framing::content_length, 2),
              "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
              "Connection: keep-alive\r\n\r\n");
    EXPECT_EQ(response_head(r, 10, false, Framing::content_length, 2),
              "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n");
}

TEST(ResponseHead, NoFramingForStatusesWithoutABody) {
    Response r;
    r.status = 204;
    r.content_type.clear();
    EXPECT_EQ(response_head(r, 11, true, Framing::content_length, 0),
              "HTTP/1.1 204 No Content\r\n\r\n");
    r.status = 304;
    EXPECT_EQ(response_head(r, 11, true, Framing::chunked), "HTTP/1.1 304 Not Modified\r\n\r\n");
}

TEST(ResponseHead, ChunkedOnHttp11AndCloseDelimitedOnHttp10) {
    const Response r = text(200, "");
    EXPECT_EQ(response_head(r, 11, false, Framing::chunked),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
              "Connection: close\r\n\r\n");
    EXPECT_EQ(response_head(r, 10, false, Framing::chunked),
              "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
}

TEST(ResponseHead, NoValueCanStartANewHeader) {
    Response r = text(200, "");
    r.set_header("Location", "/x\r\nSet-Cookie: evil=1");
    r.set_header("X-Bad\nName", std::string("a\0b", 3));
    const std::string head = response_head(r, 11, true, Framing::content_length, 0);
    EXPECT_EQ(head,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nLocation: /x  Set-Cookie: evil=1\r\n"
              "X-Bad Name: a b\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseHead, UnknownStatusesStillGetAStatusLine) {
    const Response r = text(299, "");
    EXPECT_EQ(response_head(r, 11, true, Framing::content_length, 0).substr(0, 13),
              "HTTP/1.1 299 ");
}

TEST(ChunkHeader, HexSizeAndCrlf) {
    EXPECT_EQ(chunk_header(1), "1\r\n");
    EXPECT_EQ(chunk_header(255), "ff\r\n");
    EXPECT_EQ(chunk_header(65536), "10000\r\n");
}

}  // namespace
}  // namespace medforge::http
