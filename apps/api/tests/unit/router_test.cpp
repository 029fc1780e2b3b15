#include "http/router.hpp"
#include "core/strings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace medforge::http {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

Route route(std::string method, std::string pattern) {
    Route r;
    r.method = std::move(method);
    r.pattern = std::move(pattern);
    r.handler = [](Request&) { return Response{}; };
    return r;
}

class RouterTest : public ::testing::Test {
  protected:
    void SetUp() override {
        router.add(route("GET", "/api/v1/me"));
        router.add(route("PATCH", "/api/v1/me"));
        router.add(route("GET", "/api/v1/users/{id}"));
        router.add(route("PATCH", "/api/v1/users/{id}"));
        router.add(route("DELETE", "/api/v1/me/tokens/{token_id}"));
        router.add(route("GET", "/api/v1/competitions/{slug}/files/{name}"));
    }
    Router router;
};

TEST_F(RouterTest, MatchesLiteralRoutes) {
    const RouteMatch m = router.match("GET", "/api/v1/me");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->method, "GET");
    EXPECT_EQ(m.route->pattern, "/api/v1/me");
    EXPECT_THAT(m.params, IsEmpty());
}

TEST_F(RouterTest, ExtractsAndDecodesParams) {
    RouteMatch m =
        router.match("GET", "/api/v1/competitions/lung-ct/files/sample%20submission.csv");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/api/v1/competitions/{slug}/files/{name}");
    EXPECT_EQ(m.params.at("slug"), "lung-ct");
    EXPECT_EQ(m.params.at("name"), "sample submission.csv");

    m = router.match("PATCH", "/api/v1/users/abc+def");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("id"), "abc+def") << "'+' is only a space in queries";
}

TEST_F(RouterTest, EncodedSlashStaysInsideOneParam) {
    const RouteMatch m = router.match("DELETE", "/api/v1/me/tokens/a%2Fb");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("token_id"), "a/b");
}

TEST_F(RouterTest, WrongMethodListsTheAllowedOnes) {
    RouteMatch m = router.match("DELETE", "/api/v1/users/42");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_THAT(m.allowed_methods, UnorderedElementsAre("GET", "PATCH"));

    m = router.match("POST", "/api/v1/me");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_THAT(m.allowed_methods, UnorderedElementsAre("GET", "PATCH"));

    m = router.match("get", "/api/v1/me");
    EXPECT_EQ(m.route, nullptr) << "methods are case-sensitive";
}

TEST_F(RouterTest, UnknownPathsMatchNothing) {
    for (const char* path :
         {"/api/v1/nope", "/api/v1/me/", "/api/v1/users/", "/api/v1/users", "/api/v1/users/1/extra",
          "/api/v1//me", "api/v1/me", "", "/", "/api/v1/competitions//files/x"}) {
        const RouteMatch m = router.match("GET", path);
        EXPECT_EQ(m.route, nullptr) << path;
        EXPECT_THAT(m.allowed_methods, IsEmpty()) << path;
    }
}

TEST_F(RouterTest, DuplicateRouteThrows) {
    EXPECT_THROW(router.add(route("GET", "/api/v1/me")), std::logic_error);
    EXPECT_THROW(router.add(route("GET", "/api/v1/users/{id}")), std::logic_error);
    EXPECT_NO_THROW(router.add(route("POST", "/api/v1/me")));
}

TEST_F(RouterTest, PatternMustBeAbsolute) {
    EXPECT_THROW(router.add(route("GET", "api/v1/x")), std::logic_error);
    EXPECT_THROW(router.add(route("GET", "")), std::logic_error);
}

TEST_F(RouterTest, StateChangingIsDerivedFromTheMethod) {
    Route get = route("GET", "/a");
    get.state_changing = true;  // ignored: derived
    EXPECT_FALSE(router.add(std::move(get)).state_changing);
    EXPECT_FALSE(router.add(route("HEAD", "/a")).state_changing);
    EXPECT_FALSE(router.add(route("OPTIONS", "/a")).state_changing);
    EXPECT_TRUE(router.add(route("POST", "/a")).state_changing);
    EXPECT_TRUE(router.add(route("PATCH", "/a")).state_changing);
    EXPECT_TRUE(router.add(route("DELETE", "/a")).state_changing);
    EXPECT_TRUE(router.add(route("PUT", "/a")).state_changing);
}

class WildcardTest : public ::testing::Test {
  protected:
    void SetUp() override {
        router.add(route("GET", "/api/v1/datasets/{slug}"));
        router.add(route("GET", "/api/v1/datasets/{slug}/files/{path...}"));
        router.add(route("DELETE", "/api/v1/datasets/{slug}/files/{path...}"));
    }
    Router router;
};

TEST_F(WildcardTest, TakesTheRestOfThePathWithItsSlashes) {
    RouteMatch m = router.match("GET", "/api/v1/datasets/titanic/files/a/b/c.csv");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/api/v1/datasets/{slug}/files/{path...}");
    EXPECT_EQ(m.params.at("slug"), "titanic");
    EXPECT_EQ(m.params.at("path"), "a/b/c.csv");

    m = router.match("GET", "/api/v1/datasets/titanic/files/one.csv");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("path"), "one.csv");

    m = router.match("GET", "/api/v1/datasets/titanic/files/folder/");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("path"), "folder/") << "a trailing slash is kept for the handler";
}

TEST_F(WildcardTest, DecodesTheWholeRestIncludingEncodedSlashes) {
    RouteMatch m = router.match("GET", "/api/v1/datasets/t/files/a%20b/%2e%2e%2Fx");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("path"), "a b/../x") << "decoded first; the handler validates";

    m = router.match("GET", "/api/v1/datasets/t/files/../../etc/passwd");
    ASSERT_NE(m.route, nullptr) << "the router does not normalise; the handler refuses";
    EXPECT_EQ(m.params.at("path"), "../../etc/passwd");

    m = router.match("GET", "/api/v1/datasets/t/files/a%00b");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params.at("path"), std::string("a\0b", 3));
}

TEST_F(WildcardTest, NeedsANonEmptyFirstSegment) {
    for (const char* path : {"/api/v1/datasets/t/files", "/api/v1/datasets/t/files/",
                             "/api/v1/datasets/t/files//etc/passwd", "/api/v1/datasets//files/x"}) {
        const RouteMatch m = router.match("GET", path);
        EXPECT_EQ(m.route, nullptr) << path;
    }
    EXPECT_NE(router.match("GET", "/api/v1/datasets/t").route, nullptr);
}

TEST_F(WildcardTest, OtherMethodsAreListed) {
    const RouteMatch m = router.match("POST", "/api/v1/datasets/t/files/a/b");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_THAT(m.allowed_methods, UnorderedElementsAre("GET", "DELETE"));
}

// The literal-path index must give what the declaration-order scan gives: a parameter route
// declared first wins over a literal one that comes later; one declared later does not.
TEST(RouterLiteralIndex, KeepsDeclarationOrder) {
    Router router;
    router.add(route("GET", "/a/{id}"));
    router.add(route("GET", "/a/current"));  // shadowed for GET: /a/{id} fits first
    router.add(route("POST", "/a/current"));
    router.add(route("GET", "/b/current"));
    router.add(route("GET", "/b/{id}"));  // declared later: /b/current keeps its literal route
    auto m = router.match("GET", "/a/current");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/a/{id}");
    EXPECT_EQ(m.params.at("id"), "current");
    m = router.match("POST", "/a/current");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/a/current");
    m = router.match("GET", "/b/current");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/b/current");
    EXPECT_THAT(m.params, IsEmpty());
    m = router.match("GET", "/b/other");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/b/{id}");
    // A method with no route on a literal path still lists the allowed ones.
    m = router.match("DELETE", "/b/current");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_THAT(m.allowed_methods, UnorderedElementsAre("GET"));
}

TEST(RouterWildcard, OnlyAsTheLastSegment) {
    Router r;
    EXPECT_THROW(r.add(route("GET", "/a/{rest...}/b")), std::logic_error);
    EXPECT_NO_THROW(r.add(route("GET", "/a/{rest...}")));
    EXPECT_NO_THROW(r.add(route("GET", "/{all...}")));
    EXPECT_EQ(r.match("GET", "/a/x/y").params.at("rest"), "x/y");
    EXPECT_EQ(r.match("GET", "/b/c").params.at("all"), "b/c");
    EXPECT_EQ(r.match("GET", "/a").params.at("all"), "a") << "/a/{rest...} needs more segments";
}

TEST(RouterRoot, RootRoute) {
    Router r;
    r.add(route("GET", "/"));
    EXPECT_NE(r.match("GET", "/").route, nullptr);
    EXPECT_EQ(r.match("GET", "/x").route, nullptr);
}

Request with_query(std::string q) {
    Request r;
    r.query = std::move(q);
    return r;
}

TEST(QueryParam, DecodesTheFirstOccurrence) {
    const Request r = with_query("a=1&limit=5&limit=6&name=a+b%2Bc&flag&e=");
    EXPECT_EQ(r.query_param("a"), "1");
    EXPECT_EQ(r.query_param("limit"), "5");
    EXPECT_EQ(r.query_param("name"), "a b+c");
    EXPECT_EQ(r.query_param("flag"), "");
    EXPECT_EQ(r.query_param("e"), "");
    EXPECT_EQ(r.query_param("missing"), std::nullopt);
    EXPECT_EQ(with_query("").query_param("a"), std::nullopt);
    EXPECT_EQ(with_query("%61=x").query_param("a"), "x") << "names are decoded too";
}

TEST(UrlDecode, PercentAndPlus) {
    EXPECT_EQ(percent_decode("a%20b", false), "a b");
    EXPECT_EQ(percent_decode("a+b", false), "a+b");
    EXPECT_EQ(percent_decode("a+b", true), "a b");
    EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4") << "malformed escapes stay literal";
    EXPECT_EQ(percent_decode("%C3%A9", false), "\xc3\xa9");
}

TEST(RequestHeaders, LookupByLowerCaseName) {
    Request r;
    r.headers = {{"cookie", "a=1"}, {"x-request-id", "abc"}, {"cookie", "b=2"}};
    EXPECT_EQ(r.header("x-request-id"), "abc");
    EXPECT_EQ(r.header("cookie"), "a=1");
    EXPECT_EQ(r.header("origin"), std::nullopt);
    EXPECT_EQ(r.header_values("cookie"), (std::vector<std::string_view>{"a=1", "b=2"}));
}

}  // namespace
}  // namespace medforge::http
