#include "metrics/roc_auc.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace medforge::metrics {

MetricResult score_roc_auc(std::span<const std::int64_t> truth, std::span<const double> scores) {
    if (truth.size() != scores.size()) {
        throw std::invalid_argument("score_roc_auc: truth and scores differ in length");
    }
    std::vector<double> positives;
    std::vector<double> negatives;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        // A NaN would break the sort's ordering and silently corrupt the count.
        if (!std::isfinite(scores[i])) {
            throw std::invalid_argument("score_roc_auc: score is not finite");
        }
        if (truth[i] == 1) {
            positives.push_back(scores[i]);
        } else if (truth[i] == 0) {
            negatives.push_back(scores[i]);
        } else {
            throw std::invalid_argument("score_roc_auc: label is not 0 or 1");
        }
    }
    if (positives.empty() || negatives.empty()) {
        throw std::invalid_argument("score_roc_auc: both classes must be present");
    }
    std::sort(positives.begin(), positives.end());
    std::sort(negatives.begin(), negatives.end());

    // Twice the Mann-Whitney U, in integers so it is exact: each positive adds 2 per negative
    // below it and 1 per negative tied with it. At most 2 * n_pos * n_neg <= n^2 / 2, far inside
    // 64 bits for any holdout that fits in memory.
    std::uint64_t twice_u = 0;
    std::size_t below = 0;  // negatives strictly below the current positive score
    std::size_t p = 0;
    while (p < positives.size()) {
        const double value = positives[p];
        std::size_t group_end = p;
        while (group_end < positives.size() && positives[group_end] == value) ++group_end;
        while (below < negatives.size() && negatives[below] < value) ++below;
        std::size_t tied_end = below;
        while (tied_end < negatives.size() && negatives[tied_end] == value) ++tied_end;
        const std::uint64_t group = group_end - p;
        twice_u += group * (2 * below + (tied_end - below));
        p = group_end;
    }
    // Numerator and denominator stay below 2^53 for n below ~1.3e8 rows, so the division is the
    // correctly rounded exact ratio; beyond that the error is still ~1e-16 relative.
    const double pairs =
        static_cast<double>(positives.size()) * static_cast<double>(negatives.size());
    return primary_only_result(static_cast<double>(twice_u) / (2.0 * pairs));
}

}  // namespace medforge::metrics
