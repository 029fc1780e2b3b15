#include "metrics/accuracy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace medforge::metrics {
namespace {

using Components = std::vector<std::pair<std::string, double>>;

TEST(MetricAccuracy, CorrectOverN) {
    // 3 of 4 rows right -> 0.75.
    const std::vector<std::int64_t> truth = {0, 1, 1, 0};
    const std::vector<std::int64_t> predicted = {0, 1, 0, 0};
    const MetricResult r = score_accuracy(truth, predicted);
    EXPECT_EQ(r.primary, 0.75);
    EXPECT_EQ(r.components, (Components{{"primary", 0.75}}));
}

TEST(MetricAccuracy, AllAndNone) {
    const std::vector<std::int64_t> truth = {3, 1, 2};
    EXPECT_EQ(score_accuracy(truth, truth).primary, 1.0);
    EXPECT_EQ(score_accuracy(truth, std::vector<std::int64_t>{0, 0, 0}).primary, 0.0);
}

TEST(MetricAccuracy, RatioIsCorrectlyRounded) {
    // 1 of 3 -> the double nearest 1/3, not an accumulated sum of 1/3 steps.
    const std::vector<std::int64_t> truth = {1, 2, 3};
    EXPECT_EQ(score_accuracy(truth, std::vector<std::int64_t>{1, 0, 0}).primary, 1.0 / 3.0);
}

TEST(MetricAccuracy, LabelsCompareExactlyAcrossTheInt64Range) {
    // INT64_MIN matches itself, INT64_MAX vs INT64_MAX - 1 is a miss (no detour through double,
    // where the two would be equal): 2 of 3 -> 2/3.
    constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    const std::vector<std::int64_t> truth = {lo, hi, -7};
    const std::vector<std::int64_t> predicted = {lo, hi - 1, -7};
    EXPECT_EQ(score_accuracy(truth, predicted).primary, 2.0 / 3.0);
}

TEST(MetricAccuracy, RejectsMismatchedOrEmptyColumns) {
    const std::vector<std::int64_t> three = {1, 2, 3};
    const std::vector<std::int64_t> two = {1, 2};
    const std::vector<std::int64_t> none;
    EXPECT_THROW(score_accuracy(three, two), std::invalid_argument);
    EXPECT_THROW(score_accuracy(none, none), std::invalid_argument);
}

}  // namespace
}  // namespace medforge::metrics
