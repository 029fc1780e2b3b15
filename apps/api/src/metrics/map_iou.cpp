#include "metrics/map_iou.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace medforge::metrics {
namespace {

constexpr int kFirstStep = 8;  // thresholds are k/20 for k = 8..15: 0.40, 0.45, ..., 0.75
constexpr std::size_t kThresholds = 8;

// k/20 rather than repeated addition of 0.05, so 0.5 is exactly 0.5 and every threshold is the
// double nearest k/20 (the same value an IoU of exactly k/20 rounds to).
constexpr std::array<double, kThresholds> thresholds() {
    std::array<double, kThresholds> t{};
    for (std::size_t i = 0; i < kThresholds; ++i) {
        t[i] = static_cast<double>(kFirstStep + static_cast<int>(i)) / 20.0;
    }
    return t;
}

constexpr std::array<double, kThresholds> kThresholdValues = thresholds();
constexpr std::array<const char*, kThresholds> kComponentNames = {
    "iou_0.40", "iou_0.45", "iou_0.50", "iou_0.55", "iou_0.60", "iou_0.65", "iou_0.70", "iou_0.75"};

// Scratch buffers reused across patients so scoring allocates only when a patient is larger than
// every one before it.
struct Scratch {
    std::vector<std::size_t> order;  // prediction indices, best confidence first
    std::vector<double> iou;         // iou[rank * n_truth + g], rank = position in `order`
    std::vector<char> consumed;      // per truth box, for the current threshold
};

// Fills per_threshold with TP / (TP + FP + FN) for a patient that has truth or predictions.
void score_patient(std::span<const Box> truth, std::span<const ScoredBox> predicted,
                   Scratch& scratch, std::array<double, kThresholds>& per_threshold) {
    const std::size_t n_truth = truth.size();
    const std::size_t n_pred = predicted.size();
    if (n_truth == 0) {
        per_threshold.fill(0.0);  // predictions only: every one is a false positive
        return;
    }

    scratch.order.resize(n_pred);
    std::iota(scratch.order.begin(), scratch.order.end(), std::size_t{0});
    auto higher = [&](std::size_t a, std::size_t b) {
        return predicted[a].confidence > predicted[b].confidence;
    };
    if (n_pred <= 16) {
        // Insertion sort: stable like std::stable_sort (so the same order), without the
        // temporary buffer stable_sort allocates at every call.
        for (std::size_t i = 1; i < n_pred; ++i) {
            const std::size_t v = scratch.order[i];
            std::size_t j = i;
            for (; j > 0 && higher(v, scratch.order[j - 1]); --j) {
                scratch.order[j] = scratch.order[j - 1];
            }
            scratch.order[j] = v;
        }
    } else {
        std::stable_sort(scratch.order.begin(), scratch.order.end(), higher);
    }

    // IoU does not depend on the threshold: compute the matrix once, in matching order.
    scratch.iou.resize(n_pred * n_truth);
    for (std::size_t r = 0; r < n_pred; ++r) {
        const Box& pred = predicted[scratch.order[r]].box;
        for (std::size_t g = 0; g < n_truth; ++g) {
            scratch.iou[r * n_truth + g] = box_iou(pred, truth[g]);
        }
    }

    for (std::size_t t = 0; t < kThresholds; ++t) {
        scratch.consumed.assign(n_truth, 0);
        std::size_t tp = 0;
        for (std::size_t r = 0; r < n_pred; ++r) {
            const double* row = &scratch.iou[r * n_truth];
            // Highest IoU among unconsumed truth boxes; strict > keeps the earliest on a tie.
            std::size_t best = n_truth;
            for (std::size_t g = 0; g < n_truth; ++g) {
                if (!scratch.consumed[g] && (best == n_truth || row[g] > row[best])) best = g;
            }
            if (best != n_truth && row[best] >= kThresholdValues[t]) {
                scratch.consumed[best] = 1;
                ++tp;
            }
        }
        // TP + FP = n_pred and TP + FN = n_truth, so the denominator is n_pred + n_truth - TP.
        per_threshold[t] = static_cast<double>(tp) / static_cast<double>(n_pred + n_truth - tp);
    }
}

}  // namespace

double box_iou(const Box& a, const Box& b) {
    // Plain double arithmetic in this order (the Python reference uses the same formula, so
    // boundary cases such as an IoU of exactly 0.5 round identically on both sides).
    const double overlap_w = std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x);
    const double overlap_h = std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y);
    if (overlap_w <= 0.0 || overlap_h <= 0.0) return 0.0;
    const double inter = overlap_w * overlap_h;
    const double area_a = a.width * a.height;
    const double area_b = b.width * b.height;
    const double uni = area_a + area_b - inter;
    return uni > 0.0 ? inter / uni : 0.0;
}

namespace {

// patient(i) gives patient i's truth and predicted boxes as spans.
template <class Patient>
MetricResult score_patients(std::size_t count, Patient&& patient) {
    if (count == 0) {
        throw std::invalid_argument("score_map_iou: no patients");
    }
    Scratch scratch;
    std::array<double, kThresholds> per_threshold{};
    std::array<double, kThresholds> threshold_sums{};
    double patient_sum = 0.0;
    std::size_t scored = 0;
    constexpr std::size_t kAhead = 4;  // patients' boxes live apart on the heap: fetch ahead
    for (std::size_t i = 0; i < count; ++i) {
        if (i + kAhead < count) {
            const auto [t, p] = patient(i + kAhead);
            __builtin_prefetch(t.data());
            __builtin_prefetch(p.data());
        }
        const auto [truth, predicted] = patient(i);
        if (truth.empty() && predicted.empty()) continue;
        for (const ScoredBox& pred : predicted) {
            // A NaN confidence would break the sort's ordering.
            if (std::isnan(pred.confidence)) {
                throw std::invalid_argument("score_map_iou: confidence is NaN");
            }
        }
        score_patient(truth, predicted, scratch, per_threshold);
        double patient_total = 0.0;
        for (std::size_t t = 0; t < kThresholds; ++t) {
            threshold_sums[t] += per_threshold[t];
            patient_total += per_threshold[t];
        }
        patient_sum += patient_total / static_cast<double>(kThresholds);
        ++scored;
    }

    MetricResult result;
    const double n = static_cast<double>(scored);
    result.primary = scored == 0 ? 1.0 : patient_sum / n;
    result.components.reserve(1 + kThresholds);
    result.components.emplace_back("primary", result.primary);
    for (std::size_t t = 0; t < kThresholds; ++t) {
        result.components.emplace_back(kComponentNames[t],
                                       scored == 0 ? 1.0 : threshold_sums[t] / n);
    }
    return result;
}

using Spans = std::pair<std::span<const Box>, std::span<const ScoredBox>>;

}  // namespace

MetricResult score_map_iou(std::span<const PatientBoxes> patients) {
    return score_patients(patients.size(), [&](std::size_t i) {
        return Spans(patients[i].truth, patients[i].predicted);
    });
}

MetricResult score_map_iou(std::span<const std::vector<Box>> truth,
                           std::span<const std::vector<ScoredBox>> predicted) {
    if (truth.size() != predicted.size()) {
        throw std::invalid_argument("score_map_iou: truth and predictions differ in length");
    }
    return score_patients(truth.size(),
                          [&](std::size_t i) { return Spans(truth[i], predicted[i]); });
}

}  // namespace medforge::metrics
