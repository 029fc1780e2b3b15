#include <gtest/gtest.h>

#include "core/time.hpp"

TEST(Time, FormatsIso8601WithMicros) {
    EXPECT_EQ(medforge::format_iso8601(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
}
