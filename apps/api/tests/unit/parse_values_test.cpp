#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "competitions/values.hpp"

namespace medforge::competitions {
namespace {

TEST(ParseInt64, AcceptsTheGrammar) {
    const struct {
        std::string_view text;
        std::int64_t value;
    } cases[] = {
        {"0", 0},
        {"7", 7},
        {"+7", 7},
        {"-7", -7},
        {"-0", 0},
        {"007", 7},
        {"0000000000000000000000000000001", 1},
        {"9223372036854775807", std::numeric_limits<std::int64_t>::max()},
        {"-9223372036854775808", std::numeric_limits<std::int64_t>::min()},
        {"+9223372036854775807", std::numeric_limits<std::int64_t>::max()},
        {"892", 892},
    };
    for (const auto& c : cases) {
        const auto r = parse_int64(c.text);
        ASSERT_TRUE(r) << c.text;
        EXPECT_EQ(r.value, c.value) << c.text;
    }
}

TEST(ParseInt64, RejectsEverythingElse) {
    EXPECT_EQ(parse_int64("").error, ValueError::kEmpty);
    for (std::string_view text :
         {"1.0",  "1.",    ".1",    "1e3", " 1", "1 ",  "+",   "-",   "+-1",  "--1",
          "0x1F", "1_000", "1,000", "١",   "１", "1\n", "inf", "nan", "true", "\"1\""}) {
        EXPECT_EQ(parse_int64(text).error, ValueError::kNotInteger) << text;
    }
    EXPECT_EQ(parse_int64(std::string_view("1\0", 2)).error, ValueError::kNotInteger);
    for (std::string_view text :
         {"9223372036854775808", "-9223372036854775809", "99999999999999999999999",
          "18446744073709551616", "18446744073709551615"}) {
        EXPECT_EQ(parse_int64(text).error, ValueError::kIntegerOutOfRange) << text;
    }
    // Garbage wins over range: the text is not an integer at all.
    EXPECT_EQ(parse_int64("99999999999999999999x").error, ValueError::kNotInteger);
}

TEST(ParseFloat, AcceptsTheGrammar) {
    const struct {
        std::string_view text;
        double value;
    } cases[] = {
        {"0", 0.0},
        {"1", 1.0},
        {"+1", 1.0},
        {"-1", -1.0},
        {"0.5", 0.5},
        {".5", 0.5},
        {"1.", 1.0},
        {"-.5", -0.5},
        {"+.5", 0.5},
        {"1e3", 1000.0},
        {"1E3", 1000.0},
        {"1e+3", 1000.0},
        {"1e-3", 0.001},
        {"1.e2", 100.0},
        {".5e1", 5.0},
        {"00012.5000", 12.5},
        {"0.1", 0.1},
        {"1e0", 1.0},
        {"1e-0005", 1e-5},
        {"0e999999999999", 0.0},
        {"0.30000000000000004", 0.30000000000000004},
        {"1.7976931348623157e308", std::numeric_limits<double>::max()},
        {"2.2250738585072014e-308", std::numeric_limits<double>::min()},
        {"4.9406564584124654e-324", std::numeric_limits<double>::denorm_min()},
    };
    for (const auto& c : cases) {
        const auto r = parse_float(c.text);
        ASSERT_TRUE(r) << c.text;
        EXPECT_EQ(r.value, c.value) << c.text;
    }
}

TEST(ParseFloat, NegativeZeroIsZero) {
    for (std::string_view text : {"-0", "-0.0", "-.0", "-0e5", "-1e-400"}) {
        const auto r = parse_float(text);
        ASSERT_TRUE(r) << text;
        EXPECT_EQ(r.value, 0.0) << text;
        EXPECT_FALSE(std::signbit(r.value)) << text;
    }
}

TEST(ParseFloat, UnderflowRoundsToZeroOrSubnormal) {
    for (std::string_view text : {"1e-400", "2e-324", "0.0000000000000000000001e-310",
                                  "1e-99999999999999999999", "-1e-400"}) {
        const auto r = parse_float(text);
        ASSERT_TRUE(r) << text;
        EXPECT_EQ(r.value, 0.0) << text;
    }
    const auto sub = parse_float("1e-310");
    ASSERT_TRUE(sub);
    EXPECT_EQ(std::fpclassify(sub.value), FP_SUBNORMAL);
}

TEST(ParseFloat, OverflowIsInvalid) {
    for (std::string_view text :
         {"1e309", "-1e309", "1.8e308", "1e99999999999999999999", "0.001e312",
          "100000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000"}) {
        EXPECT_EQ(parse_float(text).error, ValueError::kFloatOverflow) << text;
    }
}

TEST(ParseFloat, RejectsEverythingElse) {
    EXPECT_EQ(parse_float("").error, ValueError::kEmpty);
    for (std::string_view text :
         {".",     "+",   "-",     "+.",   "-.", "e5",   ".e5",   "1e",  "1e+",   "1e-",
          "1.5.2", "1..", "..5",   " 1",   "1 ", "\t1",  "1\n",   "inf", "-inf",  "Infinity",
          "nan",   "NaN", "0x1p3", "0x10", "1f", "1d",   "1,5",   "1_0", "1e5.0", "1e 5",
          "++1",   "+-1", "1e++5", "０.5", "½",  "1e3x", "0.5abc"}) {
        EXPECT_EQ(parse_float(text).error, ValueError::kNotDecimal) << text;
    }
    EXPECT_EQ(parse_float(std::string_view("1\0", 2)).error, ValueError::kNotDecimal);
}

TEST(ParseFloat, ReadsLongMantissasCorrectlyRounded) {
    // 19 integer digits and then a fraction: the digits past the 19th must not be accumulated.
    EXPECT_EQ(parse_float("9223372036854775808.00").value, 9223372036854775808.0);
    EXPECT_EQ(parse_float("99999999999999999999.5").value, 1e20);
    const std::string long_one = "0." + std::string(500, '9');
    const auto r = parse_float(long_one);
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value, 1.0);
    const std::string tiny = "0." + std::string(400, '0') + "1";
    EXPECT_EQ(parse_float(tiny).value, 0.0);
    EXPECT_TRUE(parse_float(tiny));
}

// parse_float converts the common short forms itself (Clinger's fast path) and the rest with
// std::from_chars; both must give the correctly rounded double, i.e. what from_chars gives.
TEST(ParseFloat, AgreesWithFromCharsOnRandomDecimals) {
    std::mt19937_64 rng(7);
    auto digits = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
        return s;
    };
    for (int k = 0; k < 200000; ++k) {
        std::string text = digits(rng() % 25);
        if (rng() % 2) text += "." + digits(rng() % 20);
        if (text.empty() || text == ".") text += "7";
        if (rng() % 3 == 0) {
            const int e = static_cast<int>(rng() % 70) - 35;
            text += "e" + std::to_string(e);
        }
        const auto r = parse_float(text);
        ASSERT_TRUE(r) << text;
        double expected = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), expected);
        ASSERT_EQ(ec, std::errc()) << text;
        ASSERT_EQ(ptr, text.data() + text.size()) << text;
        ASSERT_EQ(r.value, expected) << text;
        const auto neg = parse_float("-" + text);
        ASSERT_EQ(neg.value, expected == 0 ? 0.0 : -expected) << text;
    }
}

TEST(ValueError, DescribesEachError) {
    EXPECT_EQ(describe(ValueError::kEmpty), "empty value");
    EXPECT_EQ(describe(ValueError::kNotInteger), "not an integer");
    EXPECT_EQ(describe(ValueError::kIntegerOutOfRange), "integer out of the signed 64-bit range");
    EXPECT_EQ(describe(ValueError::kNotDecimal), "not a decimal number");
    EXPECT_EQ(describe(ValueError::kFloatOverflow), "number too large (overflows to infinity)");
}

}  // namespace
}  // namespace medforge::competitions
