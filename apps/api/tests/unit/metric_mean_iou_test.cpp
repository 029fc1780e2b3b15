#include "metrics/mean_iou.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace medforge::metrics {
namespace {

using Runs = std::vector<PixelRun>;

TEST(MetricMeanIou, EmptyMasks) {
    EXPECT_EQ(mask_iou(Runs{}, Runs{}), 1.0);         // nothing to find, nothing found
    EXPECT_EQ(mask_iou(Runs{}, Runs{{0, 10}}), 0.0);  // missed everything
    EXPECT_EQ(mask_iou(Runs{{3, 4}}, Runs{}), 0.0);   // found something that is not there
}

TEST(MetricMeanIou, OverlapArithmetic) {
    EXPECT_EQ(mask_iou(Runs{{0, 5}, {9, 12}}, Runs{{0, 5}, {9, 12}}), 1.0);
    EXPECT_EQ(mask_iou(Runs{{0, 5}}, Runs{{5, 10}}), 0.0);  // half-open: 5 is in G only
    // [0,10) vs [5,15): inter 5, union 15 -> 1/3.
    EXPECT_EQ(mask_iou(Runs{{0, 10}}, Runs{{5, 15}}), 1.0 / 3.0);
    // {[0,4), [6,10)} vs [2,8): inter 2 + 2 = 4, union 8 + 6 - 4 = 10 -> 0.4.
    EXPECT_EQ(mask_iou(Runs{{0, 4}, {6, 10}}, Runs{{2, 8}}), 0.4);
    // Containment: 10 / 100.
    EXPECT_EQ(mask_iou(Runs{{10, 20}}, Runs{{0, 100}}), 0.1);
}

TEST(MetricMeanIou, SweepAdvancesWhicheverRunEndsFirst) {
    // Adjacent runs are the same pixels as one merged run.
    EXPECT_EQ(mask_iou(Runs{{0, 3}, {3, 6}}, Runs{{0, 6}}), 1.0);
    // Fifty single pixels (even ones) under one block of 100: 50 / 100, in either argument order.
    Runs pixels;
    for (std::uint64_t i = 0; i < 100; i += 2) pixels.push_back({i, i + 1});
    EXPECT_EQ(mask_iou(pixels, Runs{{0, 100}}), 0.5);
    EXPECT_EQ(mask_iou(Runs{{0, 100}}, pixels), 0.5);
    // Runs ending at the same pixel on both sides, then more: inter 3 + 2, union 6 + 5 - 5 = 6.
    EXPECT_EQ(mask_iou(Runs{{0, 3}, {5, 8}}, Runs{{0, 3}, {6, 8}}), 5.0 / 6.0);
}

TEST(MetricMeanIou, LargePixelOffsetsStayExact) {
    // Pixel indices beyond 2^32 (and beyond float precision): inter 2, union 5.
    constexpr std::uint64_t big = std::uint64_t{1} << 40;
    EXPECT_EQ(mask_iou(Runs{{big, big + 3}}, Runs{{big + 1, big + 5}}), 0.4);
}

TEST(MetricMeanIou, MeanOverImages) {
    // Images score 1 (both empty), 0 (prediction empty), 1/3: mean 4/9.
    const std::vector<MaskPair> images = {{{}, {}}, {{}, {{0, 3}}}, {{{0, 10}}, {{5, 15}}}};
    const MetricResult r = score_mean_iou(images);
    EXPECT_DOUBLE_EQ(r.primary, 4.0 / 9.0);
    EXPECT_EQ(r.components, (std::vector<std::pair<std::string, double>>{{"primary", r.primary}}));
}

TEST(MetricMeanIou, RejectsBrokenRunsAndNoImages) {
    EXPECT_THROW(mask_iou(Runs{{5, 8}, {0, 2}}, Runs{}), std::invalid_argument);  // unsorted
    EXPECT_THROW(mask_iou(Runs{}, Runs{{0, 5}, {4, 8}}), std::invalid_argument);  // overlapping
    EXPECT_THROW(mask_iou(Runs{{3, 3}}, Runs{}), std::invalid_argument);          // empty run
    EXPECT_THROW(score_mean_iou(std::vector<MaskPair>{}), std::invalid_argument);
}

}  // namespace
}  // namespace medforge::metrics
