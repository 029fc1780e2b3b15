#include "core/json_input.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>

namespace medforge {
namespace {

using ::testing::ElementsAre;

// The ApiError that parse_json_object throws for `body` (or a failure when it accepts it).
ApiError rejection(std::string_view body) {
    try {
        parse_json_object(body);
    } catch (const ApiError& e) {
        return e;
    }
    ADD_FAILURE() << "accepted: " << body.substr(0, 80);
    return ApiError(0, "", "");
}

void expect_422(std::string_view body, const std::string& type) {
    const ApiError e = rejection(body);
    EXPECT_EQ(e.status(), 422);
    EXPECT_EQ(e.code(), "request_validation_failed");
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].loc, (std::vector<std::string>{"body"}));
    EXPECT_EQ(e.errors()[0].type, type) << body.substr(0, 80);
}

std::string nested_objects(int depth) {
    std::string s;
    for (int i = 1; i < depth; ++i) s += "{\"a\":";
    s += "{}";
    s += std::string(static_cast<std::size_t>(depth - 1), '}');
    return s;
}

TEST(ParseJsonObject, AcceptsAnObject) {
    const auto j = parse_json_object(R"({"email":"a@b.c","n":3,"nested":{"x":[1,2]}})");
    EXPECT_EQ(j.at("email"), "a@b.c");
    EXPECT_EQ(j.at("n"), 3);
}

TEST(ParseJsonObject, HostileNestingIsRejectedWithoutCrashing) {
    expect_422(std::string(10000, '['), "json_too_deep");
    expect_422(std::string(100000, '{'), "json_too_deep");
    expect_422("{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}",
               "json_too_deep");
}

TEST(ParseJsonObject, DepthLimitIsExact) {
    EXPECT_NO_THROW(parse_json_object(nested_objects(kMaxJsonDepth)));
    expect_422(nested_objects(kMaxJsonDepth + 1), "json_too_deep");
}

TEST(ParseJsonObject, BracketsInsideStringsDoNotCount) {
    const std::string brackets(100, '[');
    EXPECT_NO_THROW(parse_json_object(R"({"a":")" + brackets + R"("})"));
    // An escaped quote does not end the string.
    EXPECT_NO_THROW(parse_json_object(R"({"a":"x\")" + brackets + R"("})"));
    // An escaped backslash does: the brackets after it are structure again (and malformed).
    expect_422(R"({"a":"x\\")" + brackets, "json_too_deep");
}

TEST(ParseJsonObject, InvalidUtf8IsRejected) {
    expect_422("{\"a\":\"\xff\"}", "json_invalid");
    expect_422("{\"a\":\"\xc0\xaf\"}", "json_invalid");      // overlong '/'
    expect_422("{\"a\":\"\xed\xa0\x80\"}", "json_invalid");  // UTF-16 surrogate
    expect_422("{\"a\":\"\xe2\x82\"}", "json_invalid");      // truncated sequence
}

TEST(ParseJsonObject, OverflowingNumbersAreRejected) {
    expect_422(R"({"a":1e999999})", "json_invalid");
    expect_422(R"({"a":-1e999999})", "json_invalid");
}

TEST(ParseJsonObject, MalformedJsonIsRejected) {
    for (const char* bad :
         {"{", "{\"a\":}", "{\"a\" 1}", "{} x", "{'a':1}", "{\"a\":1,}", "nul", "{\"a\":NaN}"}) {
        expect_422(bad, "json_invalid");
    }
}

TEST(ParseJsonObject, EmptyBodyIsMissing) { expect_422("", "missing"); }

TEST(ParseJsonObject, NonObjectsAreRejected) {
    for (const char* bad : {"[]", "[{}]", "1", "\"s\"", "null", "true"}) {
        expect_422(bad, "type_error.object");
    }
}

// The collected errors as (last loc element, type) pairs, from reader.finish().
std::vector<std::pair<std::string, std::string>> problems(const ObjectReader& r) {
    try {
        r.finish();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 422);
        EXPECT_EQ(e.code(), "request_validation_failed");
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& f : e.errors()) {
            EXPECT_EQ(f.loc.size(), 2u);
            EXPECT_EQ(f.loc.front(), "body");
            out.emplace_back(f.loc.back(), f.type);
        }
        return out;
    }
    return {};
}

using Problem = std::pair<std::string, std::string>;

TEST(ObjectReader, ReadsValidFields) {
    const auto j = nlohmann::json::parse(R"({"name":"ab","n":5,"flag":true})");
    ObjectReader r(j, {"name", "n", "flag", "optional"});
    EXPECT_EQ(r.string("name", true, 1, 10), "ab");
    EXPECT_EQ(r.integer("n", true, 1, 10), 5);
    EXPECT_EQ(r.boolean("flag", true), true);
    EXPECT_EQ(r.string("optional", false, 1, 10), std::nullopt);
    EXPECT_NO_THROW(r.finish());
}

TEST(ObjectReader, UnknownKeysAreRefused) {
    const auto j = nlohmann::json::parse(R"({"email":"a@b.c","is_admin":true,"role":"admin"})");
    ObjectReader r(j, {"email"});
    EXPECT_EQ(r.string("email", true, 1, 320), "a@b.c");
    auto got = problems(r);
    std::sort(got.begin(), got.end());
    EXPECT_THAT(got, ElementsAre(Problem{"is_admin", "extra_forbidden"},
                                 Problem{"role", "extra_forbidden"}));
}

TEST(ObjectReader, WrongTypesAreAllCollected) {
    const auto j =
        nlohmann::json::parse(R"({"s":1,"i":"7","b":"true","f":1.5,"g":2.0,"arr":[],"o":{}})");
    ObjectReader r(j, {"s", "i", "b", "f", "g", "arr", "o", "req"});
    EXPECT_EQ(r.string("s", true, 0, 10), std::nullopt);
    EXPECT_EQ(r.integer("i", true, 0, 10), std::nullopt);
    EXPECT_EQ(r.boolean("b", true), std::nullopt);
    EXPECT_EQ(r.integer("f", true, 0, 10), std::nullopt);
    EXPECT_EQ(r.integer("g", true, 0, 10), std::nullopt);
    EXPECT_EQ(r.string("arr", false, 0, 10), std::nullopt);
    EXPECT_EQ(r.boolean("o", false), std::nullopt);
    EXPECT_EQ(r.string("req", true, 0, 10), std::nullopt);
    EXPECT_THAT(problems(r), ElementsAre(Problem{"s", "string_type"}, Problem{"i", "int_type"},
                                         Problem{"b", "bool_type"}, Problem{"f", "int_type"},
                                         Problem{"g", "int_type"}, Problem{"arr", "string_type"},
                                         Problem{"o", "bool_type"}, Problem{"req", "missing"}));
}

TEST(ObjectReader, NullMeansAbsentForOptionalFieldsOnly) {
    const auto j = nlohmann::json::parse(R"({"a":null,"b":null})");
    ObjectReader r(j, {"a", "b"});
    EXPECT_EQ(r.string("a", false, 1, 10), std::nullopt);
    EXPECT_EQ(r.string("b", true, 1, 10), std::nullopt);
    EXPECT_THAT(problems(r), ElementsAre(Problem{"b", "string_type"}));
}

TEST(ObjectReader, StringLengthCountsCodePoints) {
    const std::string four_e = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";  // "éééé": 8 bytes
    const auto j = nlohmann::json{{"ok", four_e}, {"long", four_e + "\xc3\xa9"}, {"short", "ab"}};
    ObjectReader r(j, {"ok", "long", "short"});
    EXPECT_EQ(r.string("ok", true, 4, 4), four_e);
    EXPECT_EQ(r.string("long", true, 1, 4), std::nullopt);
    EXPECT_EQ(r.string("short", true, 3, 10), std::nullopt);
    EXPECT_THAT(problems(r),
                ElementsAre(Problem{"long", "string_length"}, Problem{"short", "string_length"}));
}

TEST(ObjectReader, IntegerRanges) {
    const auto j = nlohmann::json::parse(
        R"({"lo":1,"hi":8,"under":0,"over":9,"neg":-5,"huge":18446744073709551615,
            "min64":-9223372036854775808})");
    ObjectReader r(j, {"lo", "hi", "under", "over", "neg", "huge", "min64"});
    EXPECT_EQ(r.integer("lo", true, 1, 8), 1);
    EXPECT_EQ(r.integer("hi", true, 1, 8), 8);
    EXPECT_EQ(r.integer("under", true, 1, 8), std::nullopt);
    EXPECT_EQ(r.integer("over", true, 1, 8), std::nullopt);
    EXPECT_EQ(r.integer("neg", true, -10, -1), -5);
    EXPECT_EQ(r.integer("huge", true, 0, std::numeric_limits<std::int64_t>::max()), std::nullopt);
    EXPECT_EQ(r.integer("min64", true, 0, 10), std::nullopt);
    EXPECT_THAT(problems(r),
                ElementsAre(Problem{"under", "int_range"}, Problem{"over", "int_range"},
                            Problem{"huge", "int_range"}, Problem{"min64", "int_range"}));
}

TEST(ObjectReader, UnsignedValueAgainstANegativeRange) {
    const auto j = nlohmann::json::parse(R"({"n":5})");
    ObjectReader r(j, {"n"});
    EXPECT_EQ(r.integer("n", true, -10, -1), std::nullopt);
    EXPECT_THAT(problems(r), ElementsAre(Problem{"n", "int_range"}));
}

TEST(ObjectReader, CallerChecksJoinTheSameError) {
    const auto j = nlohmann::json::parse(R"({"x":1,"zzz":2})");
    ObjectReader r(j, {"x"});
    r.fail("x", "must be even", "value_error.even");
    const auto got = problems(r);
    EXPECT_THAT(got,
                ElementsAre(Problem{"zzz", "extra_forbidden"}, Problem{"x", "value_error.even"}));
}

TEST(Utf8Length, CountsCodePoints) {
    EXPECT_EQ(utf8_length(""), 0u);
    EXPECT_EQ(utf8_length("abc"), 3u);
    EXPECT_EQ(utf8_length("\xc3\xa9"), 1u);          // é
    EXPECT_EQ(utf8_length("\xe2\x82\xac"), 1u);      // €
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80"), 1u);  // 😀
    EXPECT_EQ(utf8_length("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), 5u);
}

}  // namespace
}  // namespace medforge
