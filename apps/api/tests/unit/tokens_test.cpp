#include "auth/tokens.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace medforge::auth {
namespace {

bool is_lower_hex(const std::string& s) {
    return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(Tokens, SessionTokensAre32RandomBytesInBase64Url) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string t = new_session_token();
        EXPECT_EQ(t.size(), 43u);
        EXPECT_TRUE(plausible_token(t)) << t;
        seen.insert(t);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(Tokens, AccessTokensCarryThePrefix) {
    const std::string t = new_access_token();
    EXPECT_EQ(t.rfind(kAccessTokenPrefix, 0), 0u);
    EXPECT_EQ(t.size(), kAccessTokenPrefix.size() + 43);
    EXPECT_TRUE(plausible_token(t));
    EXPECT_NE(new_access_token(), t);
}

TEST(Tokens, HashIsKeyedHmacSha256Hex) {
    const std::string secret(64, 's');
    const std::string h = token_hash(secret, "token-value");
    EXPECT_EQ(h.size(), 64u);
    EXPECT_TRUE(is_lower_hex(h)) << h;
    EXPECT_EQ(token_hash(secret, "token-value"), h);
    EXPECT_NE(token_hash(secret, "token-valuf"), h);
    EXPECT_NE(token_hash(std::string(64, 't'), "token-value"), h);
}

TEST(Tokens, HashMatchesRfc4231TestCase2) {
    EXPECT_EQ(token_hash("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Tokens, PlausibleTokenShape) {
    EXPECT_TRUE(plausible_token(std::string(20, 'a')));
    EXPECT_TRUE(plausible_token(std::string(128, 'Z')));
    EXPECT_TRUE(plausible_token("abcdefghij-_0123456789"));
    EXPECT_FALSE(plausible_token(""));
    EXPECT_FALSE(plausible_token(std::string(19, 'a')));
    EXPECT_FALSE(plausible_token(std::string(129, 'a')));
    for (const char* bad :
         {"abcdefghijklmnopqrst=", "abcdefghijklmnopqrst.", "abcdefghij klmnopqrst",
          "abcdefghijklmnopqrs\"", "abcdefghijklmnopqrs;x", "abcdefghijklmnopqrs/",
          "abcdefghijklmnopqrs\xc3\xa9"}) {
        EXPECT_FALSE(plausible_token(bad)) << bad;
    }
}

}  // namespace
}  // namespace medforge::auth
