#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace medforge {
namespace {

TEST(Ids, UuidV4Format) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string u = uuid_v4();
        ASSERT_EQ(u.size(), 36u);
        EXPECT_TRUE(is_uuid(u)) << u;
        EXPECT_EQ(u[14], '4') << "version nibble: " << u;
        EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << "variant: " << u;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(Ids, IsUuidRejectsLookAlikes) {
    EXPECT_TRUE(is_uuid("00000000-0000-0000-0000-000000000100"));
    for (const char* bad :
         {"", "00000000-0000-0000-0000-00000000010", "00000000-0000-0000-0000-0000000001000",
          "00000000000000000000000000000000000-", "0000000-00000-0000-0000-000000000100",
          "ABCDEF00-0000-0000-0000-000000000100", "g0000000-0000-0000-0000-000000000100",
          "00000000-0000-0000-0000-00000000010 ", "00000000_0000_0000_0000_000000000100"}) {
        EXPECT_FALSE(is_uuid(bad)) << bad;
    }
}

TEST(Ids, RandomBytes) {
    EXPECT_EQ(random_bytes(1).size(), 1u);
    EXPECT_EQ(random_bytes(32).size(), 32u);
    EXPECT_NE(random_bytes(32), random_bytes(32));
}

// random_bytes(0) must not hand the empty vector's data() (nullptr) to randombytes_buf, which is
// declared nonnull: that is UB and halts the UBSan build.
TEST(Ids, RandomBytesOfZeroLength) { EXPECT_TRUE(random_bytes(0).empty()); }

TEST(Ids, ToHex) {
    const std::uint8_t data[] = {0x00, 0x0f, 0xa5, 0xff};
    EXPECT_EQ(to_hex(data, sizeof data), "000fa5ff");
    EXPECT_EQ(to_hex(data, 0), "");
}

TEST(Ids, Base64UrlRoundTripsEveryLength) {
    for (std::size_t n = 0; n <= 64; ++n) {
        const auto bytes = n == 0 ? std::vector<std::uint8_t>{} : random_bytes(n);
        const std::string enc = base64url_encode(bytes.data(), bytes.size());
        EXPECT_EQ(enc.find_first_of("+/="), std::string::npos) << enc;
        EXPECT_EQ(enc.size(), (n * 4 + 2) / 3) << "no padding for n=" << n;
        std::string dec;
        ASSERT_TRUE(base64url_decode(enc, dec)) << enc;
        EXPECT_EQ(dec, std::string(bytes.begin(), bytes.end()));
    }
}

TEST(Ids, Base64UrlKnownValue) {
    const std::string raw = "\xfb\xff\xbf";
    EXPECT_EQ(base64url_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()),
              "-_-_");
}

TEST(Ids, Base64UrlDecodeRejectsMalformed) {
    std::string out;
    for (const char* bad : {"!!!!", "ab+/", "abc=", "a", "ab cd", "-_-_=="}) {
        EXPECT_FALSE(base64url_decode(bad, out)) << bad;
    }
}

TEST(Ids, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("secret-token", "secret-token"));
    EXPECT_FALSE(constant_time_equal("secret-token", "secret-tokeN"));
    EXPECT_FALSE(constant_time_equal("Secret-token", "secret-token"));
    EXPECT_FALSE(constant_time_equal("secret", "secret-token"));
    EXPECT_FALSE(constant_time_equal("secret-token", ""));
    EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace medforge
