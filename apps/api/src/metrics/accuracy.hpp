#pragma once

#include <cstdint>
#include <span>

#include "metrics/metric_result.hpp"

namespace medforge::metrics {

// correct / N. `truth` and `predicted` are aligned by holdout id. Throws std::invalid_argument
// when the lengths differ or there are no rows (the loader and validator make both impossible).
MetricResult score_accuracy(std::span<const std::int64_t> truth,
                            std::span<const std::int64_t> predicted);

}  // namespace medforge::metrics
