#pragma once

#include <span>
#include <vector>

#include "metrics/metric_result.hpp"

namespace medforge::metrics {

// An axis-aligned box, top-left origin.
struct Box {
    double x = 0.0;
    double y = 0.0;
    double width = 0.0;
    double height = 0.0;
};

struct ScoredBox {
    double confidence = 0.0;
    Box box;
};

// One patient: ground-truth boxes in holdout file order (their order breaks equal-IoU ties) and
// predicted boxes in submission file order (their order breaks equal-confidence ties).
struct PatientBoxes {
    std::vector<Box> truth;
    std::vector<ScoredBox> predicted;
};

// intersection / union; 0 when the union is 0.
double box_iou(const Box& a, const Box& b);

// RSNA pneumonia mAP@IoU[0.40:0.75:0.05] (spec: competitions, "Metrics"). Components are
// "primary" then "iou_0.40" … "iou_0.75", each the mean over scored patients of that threshold's
// TP / (TP + FP + FN). Every patient skipped (no truth, no predictions) scores 1.0 throughout.
// Throws std::invalid_argument for no patients or a non-finite confidence.
MetricResult score_map_iou(std::span<const PatientBoxes> patients);

// The same over parallel per-patient lists (no copies into PatientBoxes); throws
// std::invalid_argument when the lists differ in length.
MetricResult score_map_iou(std::span<const std::vector<Box>> truth,
                           std::span<const std::vector<ScoredBox>> predicted);

}  // namespace medforge::metrics
