#include "metrics/accuracy.hpp"

#include <cstddef>
#include <stdexcept>

namespace medforge::metrics {

MetricResult score_accuracy(std::span<const std::int64_t> truth,
                            std::span<const std::int64_t> predicted) {
    if (truth.size() != predicted.size()) {
        throw std::invalid_argument("score_accuracy: truth and predictions differ in length");
    }
    if (truth.empty()) {
        throw std::invalid_argument("score_accuracy: no rows");
    }
    std::size_t correct = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        correct += truth[i] == predicted[i] ? 1 : 0;
    }
    // Both counts are exact in a double (< 2^53), so this is the correctly rounded ratio.
    return primary_only_result(static_cast<double>(correct) / static_cast<double>(truth.size()));
}

}  // namespace medforge::metrics
