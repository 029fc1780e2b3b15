// Cookies, the origin guard, pagination and problem+json bodies.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "http/cookies.hpp"
#include "http/origin.hpp"
#include "http/response.hpp"
#include "test_support.hpp"

namespace medforge::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

Config load(std::map<std::string, std::string> vars) {
    return load_config(mftest::env_from(std::move(vars)));
}

std::vector<std::string> values(std::vector<std::string_view> headers) {
    const auto found = cookie_values(headers, "medforge_session");
    return {found.begin(), found.end()};
}

TEST(CookieValues, FindsTheNamedCookie) {
    EXPECT_THAT(values({"a=1; medforge_session=abc; b=2"}), ElementsAre("abc"));
    EXPECT_THAT(values({"medforge_session=abc"}), ElementsAre("abc"));
    EXPECT_THAT(values({"  medforge_session = abc  ;x=y"}), ElementsAre("abc"));
}

TEST(CookieValues, TwoInOneHeader) {
    EXPECT_THAT(values({"medforge_session=one; theme=dark; medforge_session=two"}),
                ElementsAre("one", "two"));
}

TEST(CookieValues, TwoHeaders) {
    EXPECT_THAT(values({"medforge_session=one", "theme=dark; medforge_session=two"}),
                ElementsAre("one", "two"));
}

TEST(CookieValues, QuotedValuesAreUnquoted) {
    EXPECT_THAT(values({"medforge_session=\"abc\""}), ElementsAre("abc"));
}

TEST(CookieValues, OtherCookiesAreIgnored) {
    EXPECT_THAT(values({"medforge_session_old=1; xmedforge_session=2; medforge_sessio=3; "
                        "Medforge_Session=4; medforge_session"}),
                IsEmpty());
    EXPECT_THAT(values({}), IsEmpty());
    EXPECT_THAT(values({""}), IsEmpty());
}

TEST(CookieValues, ValueMayContainEquals) {
    EXPECT_THAT(values({"medforge_session=a=b"}), ElementsAre("a=b"));
}

// "name=value" and the attribute list of a Set-Cookie value, attributes sorted.
std::pair<std::string, std::vector<std::string>> split_set_cookie(const std::string& header) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (true) {
        auto semi = header.find("; ", pos);
        parts.push_back(header.substr(pos, semi == std::string::npos ? semi : semi - pos));
        if (semi == std::string::npos) break;
        pos = semi + 2;
    }
    std::string first = parts.front();
    parts.erase(parts.begin());
    std::sort(parts.begin(), parts.end());
    return {first, parts};
}

TEST(SessionCookie, LocalAttributesExactly) {
    const Config c = load({});
    auto [pair, attrs] = split_set_cookie(session_cookie(c, "TOKEN123"));
    EXPECT_EQ(pair, "medforge_session=TOKEN123");
    EXPECT_THAT(attrs, UnorderedElementsAreArray(std::vector<std::string>{
                           "Path=/", "Domain=.medforge.localhost", "Max-Age=2592000", "HttpOnly",
                           "SameSite=Lax"}));
}

TEST(SessionCookie, ProductionAddsSecure) {
    const Config c = load({{"DOMAIN", "example.org"},
                           {"PUBLIC_SCHEME", "https"},
                           {"AUTH_IDLE_TTL_SECONDS", "3600"},
                           {"AUTH_MAX_TTL_SECONDS", "86400"},
                           {"COOKIE_NAME", "mf"}});
    auto [pair, attrs] = split_set_cookie(session_cookie(c, "tok"));
    EXPECT_EQ(pair, "mf=tok");
    EXPECT_THAT(attrs, UnorderedElementsAreArray(std::vector<std::string>{
                           "Path=/", "Domain=.medforge.example.org", "Max-Age=86400", "HttpOnly",
                           "SameSite=Lax", "Secure"}));
}

TEST(SessionCookie, SameSiteVariants) {
    const Config strict = load({{"COOKIE_SAMESITE", "strict"}});
    EXPECT_THAT(split_set_cookie(session_cookie(strict, "t")).second,
                ::testing::Contains("SameSite=Strict"));
    const Config none = load({{"DOMAIN", "example.org"}, {"COOKIE_SAMESITE", "none"}});
    const auto attrs = split_set_cookie(session_cookie(none, "t")).second;
    EXPECT_THAT(attrs, ::testing::Contains("SameSite=None"));
    EXPECT_THAT(attrs, ::testing::Contains("Secure"));
}

TEST(SessionCookie, NoDomainAttributeWhenCookieDomainIsEmpty) {
    Config c = load({});
    c.cookie_domain.clear();
    for (const auto& a : split_set_cookie(session_cookie(c, "t")).second) {
        EXPECT_EQ(a.rfind("Domain", 0), std::string::npos) << a;
    }
}

TEST(SessionCookie, ClearCookieExpiresItAtOnce) {
    const Config c = load({{"DOMAIN", "example.org"}});
    auto [pair, attrs] = split_set_cookie(clear_session_cookie(c));
    EXPECT_EQ(pair, "medforge_session=");
    EXPECT_THAT(attrs, UnorderedElementsAreArray(std::vector<std::string>{
                           "Path=/", "Domain=.medforge.example.org", "Max-Age=0", "HttpOnly",
                           "SameSite=Lax", "Secure"}));
}

TEST(OriginAllowed, LocalInstall) {
    const Config c = load({});
    for (const char* ok : {"http://medforge.localhost", "http://medforge.localhost:8080",
                           "https://medforge.localhost", "http://api.medforge.localhost:3000",
                           "http://localhost:5173", "http://localhost", "http://127.0.0.1:8000",
                           "HTTP://MEDFORGE.LOCALHOST:8080", "http://[::1]"}) {
        EXPECT_TRUE(origin_allowed(c, ok)) << ok;
    }
    for (const char* bad : {"null",
                            "",
                            "medforge.localhost",
                            "ftp://medforge.localhost",
                            "http://s-abc123.medforge.localhost",
                            "http://s-abc123.medforge.localhost:8080",
                            "http://medforge.localhost.evil.com",
                            "http://localhost.evil.com",
                            "http://127.0.0.1.evil.com:80",
                            "http://evilmedforge.localhost",
                            "http://x.medforge.localhost",
                            "http://evil.com",
                            "http://medforge.localhost/",
                            "http://medforge.localhost/path",
                            "http://medforge.localhost@evil.com",
                            "http://user@medforge.localhost",
                            "http://medforge.localhost:",
                            "http://medforge.localhost:80a",
                            "http://medforge.localhost:123456",
                            "http://",
                            "http:// localhost",
                            "http://medforge.localhost?x",
                            "http://medforge.localhost#x"}) {
        EXPECT_FALSE(origin_allowed(c, bad)) << bad;
    }
}

// "localhost/127.0.0.1 on any port when the domain is local"; origin.cpp also lists [::1].
TEST(OriginAllowed, LocalIpv6LoopbackOnAnyPort) {
    EXPECT_TRUE(origin_allowed(load({}), "http://[::1]:3000"));
}

TEST(OriginAllowed, ProductionDomainMatchesSchemeAndPortExactly) {
    const Config c = load({{"DOMAIN", "example.org"}, {"PUBLIC_SCHEME", "https"}});
    ASSERT_EQ(c.public_port, 443);
    for (const char* ok : {"https://medforge.example.org", "https://api.medforge.example.org",
                           "https://medforge.example.org:443", "https://MEDFORGE.example.org"}) {
        EXPECT_TRUE(origin_allowed(c, ok)) << ok;
    }
    for (const char* bad :
         {"http://medforge.example.org", "http://api.medforge.example.org",
          "https://medforge.example.org:8443", "https://medforge.example.org:80",
          "http://medforge.example.org:443", "http://localhost:3000", "http://localhost",
          "https://127.0.0.1", "https://s-abc.medforge.example.org",
          "https://medforge.example.org.evil.com", "https://evil-medforge.example.org",
          "https://example.org", "https://x.medforge.example.org", "null",
          "https://medforge.example.org@evil.com"}) {
        EXPECT_FALSE(origin_allowed(c, bad)) << bad;
    }
}

TEST(OriginAllowed, ProductionWithANonDefaultPort) {
    const Config c =
        load({{"DOMAIN", "example.org"}, {"PUBLIC_SCHEME", "https"}, {"PUBLIC_PORT", "8443"}});
    EXPECT_TRUE(origin_allowed(c, "https://medforge.example.org:8443"));
    EXPECT_FALSE(origin_allowed(c, "https://medforge.example.org"));
    EXPECT_FALSE(origin_allowed(c, "https://medforge.example.org:443"));
}

Request request(std::string path, std::string query = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.query = std::move(query);
    r.request_id = "req-123";
    r.received_at = 1'700'000'000'123'456;
    return r;
}

ApiError page_error(const std::string& query) {
    try {
        parse_page(request("/x", query), 50);
    } catch (const ApiError& e) {
        return e;
    }
    ADD_FAILURE() << "accepted: " << query;
    return ApiError(0, "", "");
}

TEST(ParsePage, Defaults) {
    const PageRequest p = parse_page(request("/x"), 20);
    EXPECT_EQ(p.limit, 20);
    EXPECT_FALSE(p.has_cursor);
}

TEST(ParsePage, LimitBounds) {
    EXPECT_EQ(parse_page(request("/x", "limit=1"), 50).limit, 1);
    EXPECT_EQ(parse_page(request("/x", "limit=500"), 50).limit, 500);
    EXPECT_EQ(parse_page(request("/x", "a=b&limit=07"), 50).limit, 7);
    for (const char* bad : {"limit=0", "limit=501", "limit=-1", "limit=abc", "limit=", "limit=1e2",
                            "limit=99999", "limit=+5", "limit=5.0", "limit=99999999999999999999"}) {
        const ApiError e = page_error(bad);
        EXPECT_EQ(e.status(), 400) << bad;
        EXPECT_EQ(e.code(), "invalid_limit") << bad;
    }
}

TEST(ParsePage, CursorRoundTrip) {
    const std::string cursor = encode_cursor(1'700'000'000'123'456, "row-id-1");
    EXPECT_EQ(cursor.find_first_of("+/=&"), std::string::npos) << "URL-safe: " << cursor;
    const PageRequest p = parse_page(request("/x", "limit=10&cursor=" + cursor), 50);
    EXPECT_TRUE(p.has_cursor);
    EXPECT_EQ(p.after_key, 1'700'000'000'123'456);
    EXPECT_EQ(p.after_id, "row-id-1");
    EXPECT_EQ(p.limit, 10);

    const PageRequest neg = parse_page(request("/x", "cursor=" + encode_cursor(-5, "")), 50);
    EXPECT_EQ(neg.after_key, -5);
    EXPECT_EQ(neg.after_id, "");
}

std::string b64(const std::string& raw) {
    return base64url_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
}

TEST(ParsePage, GarbageCursorsAreRefused) {
    for (const std::string& bad :
         {std::string("!!!"), std::string("abc"), b64("hello"), b64("[\"c2\",1,\"x\"]"),
          b64("[\"c1\",\"1\",\"x\"]"), b64("[\"c1\",1,2]"), b64("[\"c1\",1]"),
          b64("[\"c1\",1.5,\"x\"]"), b64("{\"c1\":1}"), b64("[\"c1\",1,\"x\",4]"),
          std::string(600, 'A'), std::string("")}) {
        const ApiError e = page_error("cursor=" + bad);
        EXPECT_EQ(e.status(), 400) << bad;
        EXPECT_EQ(e.code(), "invalid_cursor") << bad;
    }
}

struct Row {
    std::int64_t key;
    std::string id;
};

TEST(NextCursor, ShapesAPage) {
    auto key = [](const Row& r) { return std::pair<std::int64_t, std::string>{r.key, r.id}; };
    std::vector<Row> rows = {{1, "a"}, {2, "b"}, {3, "c"}};
    const auto next = next_cursor(rows, 2, key);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(rows.size(), 2u);
    const PageRequest p = parse_page(request("/x", "cursor=" + *next), 50);
    EXPECT_EQ(p.after_key, 2);
    EXPECT_EQ(p.after_id, "b");

    std::vector<Row> last = {{1, "a"}, {2, "b"}};
    EXPECT_FALSE(next_cursor(last, 2, key).has_value());
    EXPECT_EQ(last.size(), 2u);
}

std::optional<std::string> header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return v;
    }
    return std::nullopt;
}

TEST(Problem, BodyFieldsAndHeaders) {
    ApiError err(429, "rate_limit_exceeded", "Too many attempts; retry later.",
                 "SELECT * FROM secrets at /srv/medforge/app.cpp");
    err.with_header("Retry-After", "7");
    const Response r = problem(request("/api/v1/auth/login"), err);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(header(r, "Retry-After"), "7");
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body.at("type"), "https://medforge.dev/problems/rate_limit_exceeded");
    EXPECT_EQ(body.at("title"), "Too Many Requests");
    EXPECT_EQ(body.at("status"), 429);
    EXPECT_EQ(body.at("detail"), "Too many attempts; retry later.");
    EXPECT_EQ(body.at("instance"), "/api/v1/auth/login");
    EXPECT_EQ(body.at("code"), "rate_limit_exceeded");
    EXPECT_EQ(body.at("request_id"), "req-123");
    EXPECT_FALSE(body.contains("errors"));
    EXPECT_EQ(r.body.find("SELECT"), std::string::npos) << "log_detail leaked: " << r.body;
    EXPECT_EQ(r.body.find("/srv/"), std::string::npos) << "log_detail leaked: " << r.body;
}

TEST(Problem, ValidationErrorsList) {
    const ApiError err = validation_error({{{"body", "email"}, "must be an email", "value_error"},
                                           {{"body", "password"}, "field required", "missing"}});
    const Response r = problem(request("/api/v1/auth/signup"), err);
    EXPECT_EQ(r.status, 422);
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body.at("title"), "Unprocessable Content");
    EXPECT_EQ(body.at("code"), "request_validation_failed");
    ASSERT_EQ(body.at("errors").size(), 2u);
    EXPECT_EQ(body["errors"][0], (nlohmann::json{{"loc", {"body", "email"}},
                                                 {"msg", "must be an email"},
                                                 {"type", "value_error"}}));
    EXPECT_EQ(body["errors"][1]["loc"], (nlohmann::json{"body", "password"}));
}

TEST(Problem, EmptyPathBecomesSlash) {
    const auto body = nlohmann::json::parse(problem(request(""), unauthenticated()).body);
    EXPECT_EQ(body.at("instance"), "/");
    EXPECT_EQ(body.at("status"), 401);
    EXPECT_EQ(body.at("code"), "authentication_required");
    EXPECT_EQ(body.at("title"), "Unauthorized");
}

TEST(Problem, InvalidUtf8InDetailStillYieldsJson) {
    const ApiError err(404, "x_not_found", "no \xff such thing");
    const auto body = nlohmann::json::parse(problem(request("/p"), err).body, nullptr, false);
    ASSERT_FALSE(body.is_discarded());
    EXPECT_EQ(body.at("code"), "x_not_found");
}

TEST(Problem, StatusTitles) {
    EXPECT_STREQ(status_title(400), "Bad Request");
    EXPECT_STREQ(status_title(403), "Forbidden");
    EXPECT_STREQ(status_title(404), "Not Found");
    EXPECT_STREQ(status_title(405), "Method Not Allowed");
    EXPECT_STREQ(status_title(409), "Conflict");
    EXPECT_STREQ(status_title(503), "Service Unavailable");
}

TEST(Ok, EnvelopeCarriesMeta) {
    const Response r = ok(request("/x"), {{"a", 1}}, 201);
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.content_type, "application/json");
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body.at("data"), (nlohmann::json{{"a", 1}}));
    EXPECT_EQ(body.at("meta").at("request_id"), "req-123");
    EXPECT_EQ(body.at("meta").at("api_version"), "v1");
    EXPECT_EQ(body.at("meta").at("timestamp"), "2023-11-14T22:13:20.123456Z");
}

TEST(Ok, ListMeta) {
    auto body = nlohmann::json::parse(ok_list(request("/x"), nlohmann::json::array(), 5, "c").body);
    EXPECT_EQ(body.at("meta").at("limit"), 5);
    EXPECT_EQ(body.at("meta").at("next_cursor"), "c");
    EXPECT_EQ(body.at("meta").at("has_more"), true);
    body = nlohmann::json::parse(
        ok_list(request("/x"), nlohmann::json::array(), 5, std::nullopt).body);
    EXPECT_TRUE(body.at("meta").at("next_cursor").is_null());
    EXPECT_EQ(body.at("meta").at("has_more"), false);
}

}  // namespace
}  // namespace medforge::http
