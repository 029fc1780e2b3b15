#include "auth/token_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace medforge::auth {
namespace {

constexpr Micros kStart = 1'700'000'000'000'000;
constexpr Micros kSecond = kMicrosPerSecond;
constexpr Micros kMinute = 60 * kSecond;

CachedCredential entry(const std::string& user_id, Micros fetched_at, Micros last_seen_at,
                       Micros expires_at = kStart + 3600 * kSecond) {
    CachedCredential c;
    Principal p;
    p.user_id = user_id;
    p.email = user_id + "@example.org";
    p.token_hash = "hash-" + user_id;
    c.principal = std::make_shared<const Principal>(std::move(p));
    c.created_at = kStart;
    c.expires_at = expires_at;
    c.last_seen_at = last_seen_at;
    c.fetched_at = fetched_at;
    return c;
}

TEST(TokenCache, ServesEntriesForAtMostMaxAge) {
    TokenCache cache(5 * kSecond);
    cache.put("h1", entry("u1", kStart, kStart));
    ASSERT_TRUE(cache.get("h1", kStart).has_value());
    EXPECT_EQ(cache.get("h1", kStart)->principal->user_id, "u1");
    EXPECT_TRUE(cache.get("h1", kStart + 5 * kSecond).has_value());
    EXPECT_FALSE(cache.get("h1", kStart + 5 * kSecond + 1).has_value());
    EXPECT_FALSE(cache.get("h1", kStart - 1).has_value()) << "a clock that went back";
    EXPECT_FALSE(cache.get("other", kStart).has_value());
}

TEST(TokenCache, RefreshAheadOncePastHalfLifeAndLogoutWins) {
    TokenCache cache(5 * kSecond);
    cache.put("h1", entry("u1", kStart, kStart));
    EXPECT_FALSE(cache.claim_refresh("h1", kStart + 2 * kSecond));  // young
    EXPECT_TRUE(cache.claim_refresh("h1", kStart + 4 * kSecond));
    EXPECT_FALSE(cache.claim_refresh("h1", kStart + 4 * kSecond));  // one refresh at a time
    cache.finish_refresh("h1", entry("u1", kStart + 4 * kSecond, kStart));
    auto e = cache.get("h1", kStart + 8 * kSecond);  // served from the refreshed entry
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->refreshing);
    // A refresh that finds the credential gone drops the entry.
    EXPECT_TRUE(cache.claim_refresh("h1", kStart + 8 * kSecond));
    cache.finish_refresh("h1", std::nullopt);
    EXPECT_FALSE(cache.get("h1", kStart + 8 * kSecond));
    // A logout (erase) during a refresh wins: the late refresh does not bring the entry back.
    cache.put("h2", entry("u2", kStart, kStart));
    EXPECT_TRUE(cache.claim_refresh("h2", kStart + 4 * kSecond));
    cache.erase("h2");
    cache.finish_refresh("h2", entry("u2", kStart + 4 * kSecond, kStart));
    EXPECT_FALSE(cache.get("h2", kStart + 4 * kSecond));
}

TEST(TokenCache, GetClaimsRefreshAheadOnce) {
    TokenCache cache(5 * kSecond);
    cache.put("t1", entry("u1", kStart, kStart));
    bool refresh = true;
    ASSERT_TRUE(cache.get("t1", kStart + 2 * kSecond, &refresh));
    EXPECT_FALSE(refresh) << "young";
    ASSERT_TRUE(cache.get("t1", kStart + 4 * kSecond, &refresh));
    EXPECT_TRUE(refresh);
    ASSERT_TRUE(cache.get("t1", kStart + 4 * kSecond, &refresh));
    EXPECT_FALSE(refresh) << "one refresh at a time";
    EXPECT_FALSE(cache.claim_refresh("t1", kStart + 4 * kSecond));
}

TEST(TokenCache, EraseHashDropsEveryEntryOfThatCredential) {
    TokenCache cache(5 * kSecond);
    cache.put("token-a", entry("ua", kStart, kStart));  // its DB hash is "hash-ua"
    cache.put("token-b", entry("ub", kStart, kStart));
    cache.erase_hash("hash-ua");
    EXPECT_FALSE(cache.get("token-a", kStart));
    EXPECT_TRUE(cache.get("token-b", kStart));
}

TEST(TokenCache, KeysAreTheTokensNotTheirPrefixes) {
    TokenCache cache(5 * kSecond);
    cache.put("token-a", entry("u1", kStart, kStart));
    EXPECT_FALSE(cache.get("token-", kStart));
    EXPECT_FALSE(cache.get("token-a ", kStart));
    EXPECT_FALSE(cache.get("", kStart));
    EXPECT_TRUE(cache.get("token-a", kStart));
}

TEST(TokenCache, PutReplaces) {
    TokenCache cache(5 * kSecond);
    cache.put("h1", entry("u1", kStart, kStart));
    cache.put("h1", entry("u2", kStart + kSecond, kStart));
    EXPECT_EQ(cache.get("h1", kStart + kSecond)->principal->user_id, "u2");
    EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, EraseAndEraseUser) {
    TokenCache cache(5 * kSecond);
    cache.put("a1", entry("alice", kStart, kStart));
    cache.put("a2", entry("alice", kStart, kStart));
    cache.put("a3", entry("alice", kStart, kStart));
    cache.put("b1", entry("bob", kStart, kStart));
    EXPECT_EQ(cache.size(), 4u);

    cache.erase("a3");
    EXPECT_FALSE(cache.get("a3", kStart).has_value());
    EXPECT_EQ(cache.size(), 3u);
    cache.erase("missing");

    cache.erase_user("alice");
    EXPECT_FALSE(cache.get("a1", kStart).has_value());
    EXPECT_FALSE(cache.get("a2", kStart).has_value());
    EXPECT_TRUE(cache.get("b1", kStart).has_value());
    EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, ClaimSlideOncePerInterval) {
    TokenCache cache(5 * kSecond);
    EXPECT_FALSE(cache.claim_slide("missing", kStart, kMinute, kStart + kMinute));

    cache.put("h", entry("u", kStart, kStart));
    EXPECT_FALSE(cache.claim_slide("h", kStart + 59 * kSecond, kMinute, 1)) << "too early";

    const Micros t1 = kStart + kMinute;
    EXPECT_TRUE(cache.claim_slide("h", t1, kMinute, t1 + 3600 * kSecond));
    EXPECT_FALSE(cache.claim_slide("h", t1, kMinute, t1 + 3600 * kSecond)) << "already claimed";
    EXPECT_FALSE(cache.claim_slide("h", t1 + 59 * kSecond, kMinute, 1));

    const auto e = cache.get("h", kStart);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->last_seen_at, t1);
    EXPECT_EQ(e->expires_at, t1 + 3600 * kSecond);
    EXPECT_EQ(e->fetched_at, kStart) << "a slide does not extend the cache lifetime";

    EXPECT_TRUE(cache.claim_slide("h", t1 + kMinute, kMinute, 7));
}

TEST(TokenCache, SlideKeepsNoExpiryForAccessTokens) {
    TokenCache cache(5 * kSecond);
    cache.put("pat", entry("u", kStart, 0, /*expires_at=*/0));
    EXPECT_TRUE(cache.claim_slide("pat", kStart, kMinute, kStart + 3600 * kSecond));
    EXPECT_EQ(cache.get("pat", kStart)->expires_at, 0);
    EXPECT_EQ(cache.get("pat", kStart)->last_seen_at, kStart);
}

TEST(TokenCache, MemoryIsBounded) {
    TokenCache cache(5 * kSecond, /*max_entries=*/32);
    for (int i = 0; i < 5000; ++i) cache.put("h" + std::to_string(i), entry("u", kStart, kStart));
    EXPECT_LE(cache.size(), 64u);
    EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace medforge::auth
