#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "metrics/metric_result.hpp"

namespace medforge::metrics {

// Pixels [begin, end), 0-based, row-major: one decoded RLE run.
struct PixelRun {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

// A mask is its runs sorted by begin, non-empty and non-overlapping (adjacent runs allowed).
struct MaskPair {
    std::vector<PixelRun> predicted;
    std::vector<PixelRun> truth;
};

// |P ∩ G| / |P ∪ G| by a sweep over the runs (no bitmap); 1.0 when both masks are empty.
// Throws std::invalid_argument when either mask breaks the run invariants above.
double mask_iou(std::span<const PixelRun> predicted, std::span<const PixelRun> truth);

// Mean of mask_iou over the images. Throws std::invalid_argument for no images.
MetricResult score_mean_iou(std::span<const MaskPair> images);

}  // namespace medforge::metrics
