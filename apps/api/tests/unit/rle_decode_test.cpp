#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "competitions/rle.hpp"

namespace medforge::competitions {
namespace {

using Runs = std::vector<PixelRun>;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// The RleError a mask raises (fails the test when it decodes).
RleError rle_error(std::string_view mask, std::uint64_t width = 10, std::uint64_t height = 10) {
    try {
        decode_rle(mask, width, height);
    } catch (const RleError& e) {
        return e;
    }
    ADD_FAILURE() << "no RleError for \"" << mask << "\"";
    return RleError(0, "none");
}

TEST(Rle, DecodesPairsToZeroBasedHalfOpenRuns) {
    EXPECT_EQ(decode_rle("1 3 10 2", 10, 10), (Runs{{0, 3}, {9, 11}}));
    EXPECT_EQ(decode_rle("100 1", 10, 10), (Runs{{99, 100}}));
    EXPECT_EQ(decode_rle("1 100", 10, 10), (Runs{{0, 100}}));
}

TEST(Rle, EmptyAndWhitespaceMasksAreEmpty) {
    for (std::string_view mask : {"", " ", "\t", "\r\n", " \t\r\n \n"}) {
        EXPECT_TRUE(decode_rle(mask, 10, 10).empty()) << mask;
    }
}

TEST(Rle, AnyRunOfSpaceTabCrLfSeparates) {
    EXPECT_EQ(decode_rle("  1\t\t3\r\n5 \n 2 \r", 10, 10), (Runs{{0, 3}, {4, 6}}));
}

TEST(Rle, LeadingZerosAreAllowed) { EXPECT_EQ(decode_rle("001 0003", 10, 10), (Runs{{0, 3}})); }

TEST(Rle, AdjacentRunsAreNotOverlapping) {
    EXPECT_EQ(decode_rle("1 2 3 2", 10, 10), (Runs{{0, 2}, {2, 4}}));
}

TEST(Rle, OtherCharactersAreInvalid) {
    for (std::string_view mask :
         {"1 -3", "+1 3", "1,3", "1 3.0", "1 3 a", "1\v3", "1\f3", "1 3x", "0x1 3",
          "1\xC2\xA0"
          "3",
          "١ 3"}) {
        const RleError e = rle_error(mask);
        EXPECT_NE(std::string(e.what()).find("is not a non-negative integer"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(rle_error("1 3 5 x2").token(), 4u);
    EXPECT_STREQ(rle_error("1 3 5 x2").what(),
                 "RLE token 4: \"x2\" is not a non-negative integer (tokens are digits separated "
                 "by spaces, tabs or newlines)");
}

TEST(Rle, LongBadTokensAreCutInMessages) {
    const RleError e = rle_error("1 " + std::string(10000, 'z'));
    EXPECT_LT(std::string(e.what()).size(), 200u);
    EXPECT_EQ(rle_error(std::string_view("1 \0", 3)).token(), 2u);
}

TEST(Rle, OddTokenCountIsInvalid) {
    const RleError e = rle_error("1 3 7");
    EXPECT_EQ(e.token(), 3u);
    EXPECT_STREQ(e.what(),
                 "RLE token 3: start has no length (the mask has an odd number of tokens)");
    EXPECT_EQ(rle_error("5").token(), 1u);
}

TEST(Rle, OverflowingTokensAreInvalid) {
    for (std::string_view mask :
         {"18446744073709551616 1", "1 18446744073709551616", "99999999999999999999999999 1"}) {
        const RleError e = rle_error(mask, kMax, 1);
        EXPECT_NE(std::string(e.what()).find("does not fit in 64 bits"), std::string::npos)
            << e.what();
    }
    // 2^64 - 1 itself fits (and here, with a huge image, is a valid start).
    EXPECT_EQ(decode_rle("18446744073709551615 1", kMax, 1), (Runs{{kMax - 1, kMax}}));
}

TEST(Rle, StartAndLengthMustBePositive) {
    EXPECT_STREQ(rle_error("0 3").what(),
                 "RLE token 1: start must be at least 1 (starts are "
                 "1-based)");
    EXPECT_STREQ(rle_error("1 3 5 0").what(), "RLE token 4: length must be at least 1");
    EXPECT_EQ(rle_error("000 1").token(), 1u);
}

TEST(Rle, StartsMustIncreaseStrictly) {
    EXPECT_STREQ(rle_error("5 1 5 1").what(),
                 "RLE token 3: start 5 is not greater than the previous start 5");
    EXPECT_EQ(rle_error("5 1 3 1").token(), 3u);
}

TEST(Rle, RunsMustNotOverlap) {
    EXPECT_STREQ(rle_error("1 3 3 1").what(),
                 "RLE token 3: run at start 3 overlaps the previous run, which ends at pixel 3");
    EXPECT_EQ(rle_error("1 10 10 1").token(), 3u);
    EXPECT_EQ(decode_rle("1 10 11 1", 10, 10).size(), 2u);
}

TEST(Rle, RunsMustStayInsideTheImage) {
    EXPECT_STREQ(rle_error("101 1").what(),
                 "RLE token 1: start 101 is past the last pixel of the image (100)");
    EXPECT_STREQ(rle_error("99 3").what(),
                 "RLE token 2: run of length 3 at start 99 ends past the last pixel of the image "
                 "(100)");
    EXPECT_EQ(rle_error("1 101").token(), 2u);
    // start + length - 1 would wrap around 64 bits; the check must not.
    EXPECT_EQ(rle_error("50 18446744073709551615").token(), 2u);
    EXPECT_EQ(rle_error("2 18446744073709551615", kMax, 1).token(), 2u);
    EXPECT_EQ(decode_rle("2 18446744073709551614", kMax, 1), (Runs{{1, kMax}}));
    // Width × height is bounded without overflow too.
    EXPECT_EQ(decode_rle("1 5", std::uint64_t{1} << 40, std::uint64_t{1} << 40), (Runs{{0, 5}}));
    // A zero-sized image holds only the empty mask.
    EXPECT_TRUE(decode_rle(" ", 0, 5).empty());
    EXPECT_EQ(rle_error("1 1", 0, 5).token(), 1u);
}

TEST(Rle, WidthAndHeightBothBound) {
    EXPECT_EQ(decode_rle("1 12", 3, 4).size(), 1u);
    EXPECT_EQ(rle_error("1 13", 3, 4).token(), 2u);
    EXPECT_EQ(rle_error("1 13", 4, 3).token(), 2u);
}

TEST(Rle, DecodeIntoReusesAndClears) {
    Runs runs = {{7, 9}};
    decode_rle_into("2 2", 10, 10, runs);
    EXPECT_EQ(runs, (Runs{{1, 3}}));
    decode_rle_into("", 10, 10, runs);
    EXPECT_TRUE(runs.empty());
}

}  // namespace
}  // namespace medforge::competitions
