#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace medforge::auth {
namespace {

constexpr Micros kStart = 1'700'000'000'000'000;
constexpr Micros kSecond = kMicrosPerSecond;

TEST(RateLimiter, AllowsNPerWindow) {
    RateLimiter rl(3, 60 * kSecond);
    EXPECT_TRUE(rl.enabled());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(rl.attempt("1.2.3.4", kStart), std::nullopt) << i;
    const auto wait = rl.attempt("1.2.3.4", kStart);
    ASSERT_TRUE(wait.has_value());
    EXPECT_EQ(*wait, 60);
    EXPECT_EQ(rl.attempt("1.2.3.4", kStart + 30 * kSecond), 30);
}

TEST(RateLimiter, RetryAfterIsAtLeastOneSecond) {
    RateLimiter rl(1, 60 * kSecond);
    EXPECT_EQ(rl.attempt("k", kStart), std::nullopt);
    EXPECT_EQ(rl.attempt("k", kStart + 60 * kSecond - 1), 1);
    EXPECT_EQ(rl.attempt("k", kStart + 59 * kSecond + 1), 1) << "rounded up, never 0";
}

TEST(RateLimiter, RefusedAttemptsDoNotExtendTheBlock) {
    RateLimiter rl(1, 60 * kSecond);
    EXPECT_EQ(rl.attempt("k", kStart), std::nullopt);
    for (int i = 1; i < 60; ++i) ASSERT_TRUE(rl.attempt("k", kStart + i * kSecond).has_value());
    EXPECT_EQ(rl.attempt("k", kStart + 60 * kSecond), std::nullopt);
}

TEST(RateLimiter, WindowSlides) {
    RateLimiter rl(3, 60 * kSecond);
    EXPECT_EQ(rl.attempt("k", kStart), std::nullopt);
    EXPECT_EQ(rl.attempt("k", kStart + 30 * kSecond), std::nullopt);
    EXPECT_EQ(rl.attempt("k", kStart + 40 * kSecond), std::nullopt);
    EXPECT_EQ(rl.attempt("k", kStart + 59 * kSecond), 1);
    EXPECT_EQ(rl.attempt("k", kStart + 60 * kSecond), std::nullopt) << "the first hit aged out";
    EXPECT_EQ(rl.attempt("k", kStart + 61 * kSecond), 29) << "the hit at +30 s is next to go";
    EXPECT_EQ(rl.attempt("k", kStart + 90 * kSecond), std::nullopt);
}

TEST(RateLimiter, DisabledWhenLimitIsZero) {
    RateLimiter rl(0, 60 * kSecond);
    EXPECT_FALSE(rl.enabled());
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(rl.attempt("k", kStart), std::nullopt);
}

TEST(RateLimiter, KeysAreSeparate) {
    RateLimiter rl(2, 60 * kSecond);
    EXPECT_EQ(rl.attempt("a", kStart), std::nullopt);
    EXPECT_EQ(rl.attempt("a", kStart), std::nullopt);
    EXPECT_TRUE(rl.attempt("a", kStart).has_value());
    EXPECT_EQ(rl.attempt("b", kStart), std::nullopt);
    EXPECT_EQ(rl.attempt("b", kStart), std::nullopt);
    EXPECT_TRUE(rl.attempt("b", kStart).has_value());
    EXPECT_TRUE(rl.attempt("a", kStart).has_value());
}

TEST(RateLimiter, KeyChurnDoesNotResetActiveKeys) {
    RateLimiter rl(1, 60 * kSecond, /*max_keys=*/4);
    EXPECT_EQ(rl.attempt("victim", kStart), std::nullopt);
    for (int i = 0; i < 100; ++i) rl.attempt("churn" + std::to_string(i), kStart + kSecond);
    EXPECT_TRUE(rl.attempt("victim", kStart + 2 * kSecond).has_value());
}

TEST(RateLimiter, StaleKeysAreDroppedUnderChurn) {
    RateLimiter rl(1, 60 * kSecond, /*max_keys=*/2);
    EXPECT_EQ(rl.attempt("a", kStart), std::nullopt);
    EXPECT_EQ(rl.attempt("b", kStart), std::nullopt);
    // Map full; a and b are stale by now and may be dropped, which must not block c.
    EXPECT_EQ(rl.attempt("c", kStart + 61 * kSecond), std::nullopt);
    EXPECT_EQ(rl.attempt("a", kStart + 61 * kSecond), std::nullopt);
}

}  // namespace
}  // namespace medforge::auth
