#include "metrics/mean_iou.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace medforge::metrics {
namespace {

// Pixel count of a mask; rejects runs that are empty, unsorted or overlapping, which the sweep
// below would otherwise count twice or skip.
std::uint64_t checked_area(std::span<const PixelRun> runs) {
    std::uint64_t area = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        if (runs[i].begin >= runs[i].end || (i > 0 && runs[i].begin < runs[i - 1].end)) {
            throw std::invalid_argument("mask_iou: runs must be non-empty, sorted and disjoint");
        }
        area += runs[i].end - runs[i].begin;
    }
    return area;
}

}  // namespace

double mask_iou(std::span<const PixelRun> predicted, std::span<const PixelRun> truth) {
    const std::uint64_t area_p = checked_area(predicted);
    const std::uint64_t area_g = checked_area(truth);
    if (area_p == 0 && area_g == 0) return 1.0;

    // Two-pointer sweep: both lists are sorted and disjoint, so each overlap is found once, and
    // the list whose current run ends first cannot overlap anything further in the other list.
    std::uint64_t inter = 0;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < predicted.size() && j < truth.size()) {
        const std::uint64_t lo = std::max(predicted[i].begin, truth[j].begin);
        const std::uint64_t hi = std::min(predicted[i].end, truth[j].end);
        if (lo < hi) inter += hi - lo;
        if (predicted[i].end < truth[j].end) {
            ++i;
        } else {
            ++j;
        }
    }
    return static_cast<double>(inter) / static_cast<double>(area_p + area_g - inter);
}

MetricResult score_mean_iou(std::span<const MaskPair> images) {
    if (images.empty()) {
        throw std::invalid_argument("score_mean_iou: no images");
    }
    double sum = 0.0;
    for (const MaskPair& image : images) {
        sum += mask_iou(image.predicted, image.truth);
    }
    return primary_only_result(sum / static_cast<double>(images.size()));
}

}  // namespace medforge::metrics
