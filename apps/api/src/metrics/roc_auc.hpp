#pragma once

#include <cstdint>
#include <span>

#include "metrics/metric_result.hpp"

namespace medforge::metrics {

// Binary ROC AUC as the Mann-Whitney statistic: the fraction of (positive, negative) pairs in
// which the positive scores higher, a tie counting one half (equal to the trapezoid over distinct
// thresholds, and to sklearn's roc_auc_score). `truth` holds 0/1 labels aligned with `scores`.
// Throws std::invalid_argument when the lengths differ, a label is not 0 or 1, a score is not
// finite, or either class is absent (the bundle loader rejects one-class holdouts).
MetricResult score_roc_auc(std::span<const std::int64_t> truth, std::span<const double> scores);

}  // namespace medforge::metrics
