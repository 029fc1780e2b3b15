#include "metrics/roc_auc.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace medforge::metrics {
namespace {

using Labels = std::vector<std::int64_t>;
using Scores = std::vector<double>;

double auc(const Labels& truth, const Scores& scores) {
    return score_roc_auc(truth, scores).primary;
}

TEST(MetricRocAuc, ComponentsArePrimaryOnly) {
    const MetricResult r = score_roc_auc(Labels{0, 1}, Scores{0.2, 0.7});
    EXPECT_EQ(r.primary, 1.0);
    EXPECT_EQ(r.components, (std::vector<std::pair<std::string, double>>{{"primary", 1.0}}));
}

TEST(MetricRocAuc, PerfectInvertedAndAllTied) {
    EXPECT_EQ(auc({0, 0, 1, 1}, {0.1, 0.2, 0.8, 0.9}), 1.0);
    EXPECT_EQ(auc({1, 1, 0, 0}, {0.1, 0.2, 0.8, 0.9}), 0.0);
    // Every pair tied -> each counts 1/2.
    EXPECT_EQ(auc({0, 1, 0, 1, 1}, {0.5, 0.5, 0.5, 0.5, 0.5}), 0.5);
}

TEST(MetricRocAuc, SklearnDocumentationExample) {
    // Positives 0.35, 0.8 vs negatives 0.1, 0.4: pairs won 1 + 2 = 3 of 4 -> 0.75.
    EXPECT_EQ(auc({0, 0, 1, 1}, {0.1, 0.4, 0.35, 0.8}), 0.75);
}

TEST(MetricRocAuc, TieBetweenClassesCountsHalf) {
    // Positive 0.3 vs negatives {0.3 tie, 0.1 win} = 1.5; positive 0.9 wins both = 2.
    // (1.5 + 2) / 4 = 0.875.
    EXPECT_EQ(auc({0, 1, 0, 1}, {0.3, 0.3, 0.1, 0.9}), 0.875);
}

TEST(MetricRocAuc, TieGroupsOnBothSides) {
    // Positives {0.5, 0.5, 0.2}, negatives {0.5, 0.1}. Each 0.5 positive: tie 0.5 + win 1 = 1.5;
    // the 0.2 positive: loss 0 + win 1 = 1. (1.5 + 1.5 + 1) / 6 = 2/3.
    EXPECT_EQ(auc({1, 1, 1, 0, 0}, {0.5, 0.5, 0.2, 0.5, 0.1}), 2.0 / 3.0);
}

TEST(MetricRocAuc, NegativeZeroTiesZeroAndOneUlpDoesNot) {
    EXPECT_EQ(auc({1, 0}, {-0.0, 0.0}), 0.5);
    const double above_half = std::nextafter(0.5, 1.0);
    EXPECT_EQ(auc({1, 0}, {above_half, 0.5}), 1.0);
    EXPECT_EQ(auc({0, 1}, {above_half, 0.5}), 0.0);
    const double tiny = std::numeric_limits<double>::denorm_min();
    // Positives {tiny, 0}, negatives {0, tiny}: the subnormal is a distinct score. tiny beats 0
    // and ties tiny (1.5); 0 ties 0 and loses to tiny (0.5). (1.5 + 0.5) / 4 = 0.5.
    EXPECT_EQ(auc({1, 0, 1, 0}, {tiny, 0.0, 0.0, tiny}), 0.5);
}

TEST(MetricRocAuc, ExactOnTwoMillionRows) {
    // m negatives score k/m and m positives score (k + 1/2)/m, k = 0..m-1 (no ties): the positive
    // k beats negatives 0..k, so U = sum (k+1) = m(m+1)/2 and AUC = (m+1) / (2m), which both sides
    // round once from the exact rational. A float accumulation of 10^12 pairs would drift.
    constexpr std::size_t m = 1'000'000;
    Labels truth;
    Scores scores;
    truth.reserve(2 * m);
    scores.reserve(2 * m);
    for (std::size_t k = 0; k < m; ++k) {
        truth.push_back(0);
        scores.push_back(static_cast<double>(k) / m);
        truth.push_back(1);
        scores.push_back((static_cast<double>(k) + 0.5) / m);
    }
    EXPECT_EQ(auc(truth, scores), static_cast<double>(m + 1) / static_cast<double>(2 * m));
    // Make every positive tie the next negative up: each of the m-1 ties adds 1/2 to U.
    for (std::size_t k = 0; k < m; ++k) scores[2 * k + 1] = static_cast<double>(k + 1) / m;
    EXPECT_EQ(auc(truth, scores),
              static_cast<double>(m * (m + 1) + (m - 1)) / static_cast<double>(2 * m * m));
}

TEST(MetricRocAuc, RejectsBrokenPreconditions) {
    EXPECT_THROW(auc({0, 0, 0}, {0.1, 0.2, 0.3}), std::invalid_argument);  // one class
    EXPECT_THROW(auc({1, 1}, {0.1, 0.2}), std::invalid_argument);          // one class
    EXPECT_THROW(auc({}, {}), std::invalid_argument);
    EXPECT_THROW(auc({0, 1, 1}, {0.1, 0.2}), std::invalid_argument);
    EXPECT_THROW(auc({0, 1, 2}, {0.1, 0.2, 0.3}), std::invalid_argument);
    EXPECT_THROW(auc({0, 1}, {0.1, std::nan("")}), std::invalid_argument);
}

}  // namespace
}  // namespace medforge::metrics
