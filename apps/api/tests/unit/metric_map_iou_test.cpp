#include "metrics/map_iou.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace medforge::metrics {
namespace {

constexpr double kThird = 1.0 / 3.0;

ScoredBox pred(double confidence, const Box& box) { return ScoredBox{confidence, box}; }

// Scores one patient and returns the components, so a test reads the per-threshold scores.
std::vector<std::pair<std::string, double>> one_patient(std::vector<Box> truth,
                                                        std::vector<ScoredBox> predicted) {
    const std::vector<PatientBoxes> patients = {{std::move(truth), std::move(predicted)}};
    return score_map_iou(patients).components;
}

// The 8 per-threshold values (0.40 ... 0.75) of a result's components, in order.
std::vector<double> per_threshold(const std::vector<std::pair<std::string, double>>& c) {
    std::vector<double> out;
    for (std::size_t i = 1; i < c.size(); ++i) out.push_back(c[i].second);
    return out;
}

TEST(MetricMapIou, BoxIou) {
    const Box a{0, 0, 2, 1};
    EXPECT_EQ(box_iou(a, a), 1.0);
    EXPECT_EQ(box_iou(a, Box{1, 0, 2, 1}), kThird);              // inter 1, union 2 + 2 - 1 = 3
    EXPECT_EQ(box_iou(a, Box{2, 0, 2, 1}), 0.0);                 // edges touch: no area in common
    EXPECT_EQ(box_iou(a, Box{5, 5, 1, 1}), 0.0);                 // disjoint on both axes
    EXPECT_EQ(box_iou(Box{0, 0, 4, 4}, Box{0, 0, 2, 2}), 0.25);  // nested: 4 / 16
    EXPECT_EQ(box_iou(Box{3, 3, 0, 0}, Box{3, 3, 0, 0}), 0.0);   // union 0 -> 0, not NaN
    EXPECT_EQ(box_iou(Box{3, 3, 0, 5}, Box{0, 0, 9, 9}), 0.0);   // zero-width box inside
}

TEST(MetricMapIou, ComponentNamesAndOrder) {
    const auto c = one_patient({{0, 0, 10, 10}}, {pred(0.9, {0, 0, 10, 10})});
    const std::vector<std::string> want = {"primary",  "iou_0.40", "iou_0.45",
                                           "iou_0.50", "iou_0.55", "iou_0.60",
                                           "iou_0.65", "iou_0.70", "iou_0.75"};
    ASSERT_EQ(c.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(c[i].first, want[i]);
        EXPECT_EQ(c[i].second, 1.0) << want[i];
    }
}

TEST(MetricMapIou, IouExactlyOnAThresholdIsATruePositive) {
    // Truth 20x1; a prediction k x 1 flush left has IoU exactly k/20, the k-th threshold.
    // k = 10 (IoU 0.5): TP at 0.40, 0.45, 0.50; at 0.55..0.75 one FP + one FN -> 0.
    // Patient = 3/8.
    auto c = one_patient({{0, 0, 20, 1}}, {pred(0.9, {0, 0, 10, 1})});
    EXPECT_EQ(per_threshold(c), (std::vector<double>{1, 1, 1, 0, 0, 0, 0, 0}));
    EXPECT_EQ(c[0].second, 0.375);
    // k = 8 (IoU 0.4, not a dyadic value: 8/20 and 2/5 round to the same double) -> 1/8.
    c = one_patient({{0, 0, 20, 1}}, {pred(0.9, {0, 0, 8, 1})});
    EXPECT_EQ(c[0].second, 0.125);
    // k = 15 (IoU 0.75, the last threshold) -> all 8.
    c = one_patient({{0, 0, 20, 1}}, {pred(0.9, {0, 0, 15, 1})});
    EXPECT_EQ(c[0].second, 1.0);
    // k = 14 (IoU 0.7) -> 7 of 8.
    c = one_patient({{0, 0, 20, 1}}, {pred(0.9, {0, 0, 14, 1})});
    EXPECT_EQ(c[0].second, 0.875);
    // One ulp below 10 wide: IoU just under 0.5 -> only 0.40 and 0.45 -> 2/8.
    c = one_patient({{0, 0, 20, 1}}, {pred(0.9, {0, 0, std::nextafter(10.0, 0.0), 1})});
    EXPECT_EQ(c[0].second, 0.25);
}

// G1 = (0,0,10,10), G2 = (6,0,10,10).
// P1 = (2,0,10,10): IoU 80/120 = 2/3 with G1, 60/140 = 3/7 with G2.
// P2 = (0,0,10,10) = G1: IoU 1 with G1, 40/160 = 1/4 with G2.
const Box kG1{0, 0, 10, 10};
const Box kG2{6, 0, 10, 10};
const Box kP1{2, 0, 10, 10};
const Box kP2{0, 0, 10, 10};

TEST(MetricMapIou, EqualConfidenceKeepsFileOrder) {
    // P1 first: P1 takes G1 while 2/3 >= t (t <= 0.65), then P2's best free box is G2 at 1/4: FP.
    // At 0.70, 0.75 P1 misses (FP, G1 stays free) and P2 takes G1. Always TP 1, FP 1, FN 1 -> 1/3.
    auto c = one_patient({kG1, kG2}, {pred(0.9, kP1), pred(0.9, kP2)});
    EXPECT_DOUBLE_EQ(c[0].second, kThird);
    // P2 first: P2 takes G1 at every t; P1 then gets G2 at 3/7 = 0.43: TP only at 0.40.
    // 0.40: 2 TP -> 1; others 1/3. Patient = (1 + 7/3) / 8 = 5/12.
    c = one_patient({kG1, kG2}, {pred(0.9, kP2), pred(0.9, kP1)});
    EXPECT_EQ(per_threshold(c)[0], 1.0);
    EXPECT_EQ(per_threshold(c)[1], kThird);
    EXPECT_DOUBLE_EQ(c[0].second, 5.0 / 12.0);
}

TEST(MetricMapIou, HigherConfidenceMatchesFirstWhateverTheFileOrder) {
    // P1 listed first but less confident: P2 is matched first, as in the 5/12 case above.
    const auto c = one_patient({kG1, kG2}, {pred(0.5, kP1), pred(0.9, kP2)});
    EXPECT_DOUBLE_EQ(c[0].second, 5.0 / 12.0);
}

TEST(MetricMapIou, EqualIouGoesToTheTruthBoxListedFirst) {
    // P3 = (3,0,10,10) overlaps G1 and G2 by 7 columns: IoU 70/130 = 7/13 ~ 0.538 with both.
    // P4 = G1, less confident. Truth [G1, G2]: P3 takes G1 at t <= 0.50, leaving P4 only G2
    // (IoU 1/4): FP. At t >= 0.55 P3 misses and P4 takes G1. Always TP 1, FP 1, FN 1 -> 1/3.
    const Box p3{3, 0, 10, 10};
    auto c = one_patient({kG1, kG2}, {pred(0.9, p3), pred(0.8, kG1)});
    EXPECT_DOUBLE_EQ(c[0].second, kThird);
    // Truth [G2, G1]: P3 takes G2, P4 takes G1: 2 TP -> 1 at 0.40, 0.45, 0.50; 1/3 at the
    // other five. (3 + 5/3) / 8 = 7/12.
    c = one_patient({kG2, kG1}, {pred(0.9, p3), pred(0.8, kG1)});
    EXPECT_EQ(per_threshold(c)[2], 1.0);
    EXPECT_EQ(per_threshold(c)[3], kThird);
    EXPECT_DOUBLE_EQ(c[0].second, 7.0 / 12.0);
}

TEST(MetricMapIou, MissedPredictionDoesNotConsumeTheBox) {
    // A confident poor box (IoU 25/175 = 1/7 < 0.40) is an FP and leaves G1 for the good one:
    // TP 1, FP 1, FN 0 -> 1/2 at every threshold.
    const auto c = one_patient({kG1}, {pred(0.9, {5, 5, 10, 10}), pred(0.1, kG1)});
    EXPECT_EQ(c[0].second, 0.5);
}

TEST(MetricMapIou, UnmatchedTruthAndSurplusPredictions) {
    // Three truth boxes, one exact prediction: TP 1, FN 2 -> 1/3.
    auto c = one_patient({kG1, {100, 100, 5, 5}, {200, 200, 5, 5}}, {pred(0.5, kG1)});
    EXPECT_DOUBLE_EQ(c[0].second, kThird);
    // One truth box, three copies of it: TP 1, FP 2 -> 1/3.
    c = one_patient({kG1}, {pred(0.9, kG1), pred(0.8, kG1), pred(0.7, kG1)});
    EXPECT_DOUBLE_EQ(c[0].second, kThird);
    // Truth but no predictions: TP 0, FN 1 -> 0.
    c = one_patient({kG1}, {});
    EXPECT_EQ(c[0].second, 0.0);
    // Zero-area truth and prediction at one point: union 0 -> IoU 0 -> FP + FN -> 0.
    c = one_patient({{5, 5, 0, 0}}, {pred(0.9, {5, 5, 0, 0})});
    EXPECT_EQ(c[0].second, 0.0);
}

TEST(MetricMapIou, NegativePatientsSkippedOrScoredZero) {
    const PatientBoxes perfect{{kG1}, {pred(1.0, kG1)}};
    const PatientBoxes skipped{{}, {}};
    const PatientBoxes false_alarm{{}, {pred(0.1, kG1)}};
    // The skipped patient does not count: 1 / 1.
    EXPECT_EQ(score_map_iou(std::vector<PatientBoxes>{perfect, skipped}).primary, 1.0);
    // A prediction on a negative patient scores 0 and counts: (1 + 0) / 2, per threshold too.
    const MetricResult r = score_map_iou(std::vector<PatientBoxes>{perfect, false_alarm, skipped});
    EXPECT_EQ(r.primary, 0.5);
    for (std::size_t i = 1; i < r.components.size(); ++i) EXPECT_EQ(r.components[i].second, 0.5);
}

TEST(MetricMapIou, EverySkippedScoresOne) {
    const MetricResult r = score_map_iou(std::vector<PatientBoxes>(3));
    EXPECT_EQ(r.primary, 1.0);
    ASSERT_EQ(r.components.size(), 9u);
    for (const auto& [name, value] : r.components) EXPECT_EQ(value, 1.0) << name;
}

TEST(MetricMapIou, ThresholdComponentsAreMeansOverScoredPatients) {
    // Patient A: IoU exactly 0.5 -> 1,1,1,0,0,0,0,0 (3/8). Patient B: perfect (1).
    // Components: 1 at 0.40..0.50, 1/2 at 0.55..0.75; primary (3/8 + 1) / 2 = 11/16.
    const std::vector<PatientBoxes> patients = {
        {{{0, 0, 20, 1}}, {pred(0.9, {0, 0, 10, 1})}}, {{kG1}, {pred(0.9, kG1)}}, {{}, {}}};
    const MetricResult r = score_map_iou(patients);
    EXPECT_EQ(r.primary, 11.0 / 16.0);
    EXPECT_EQ(per_threshold(r.components), (std::vector<double>{1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5}));
}

TEST(MetricMapIou, RejectsNoPatientsAndNanConfidence) {
    EXPECT_THROW(score_map_iou(std::vector<PatientBoxes>{}), std::invalid_argument);
    const std::vector<PatientBoxes> nan_conf = {{{kG1}, {pred(std::nan(""), kG1)}}};
    EXPECT_THROW(score_map_iou(nan_conf), std::invalid_argument);
}

}  // namespace
}  // namespace medforge::metrics
