#pragma once

#include <string>
#include <utility>
#include <vector>

namespace medforge::metrics {

// What every metric returns. `components` is ordered (it is stored and shown in this order) and
// always starts with {"primary", primary}; map_iou adds one entry per IoU threshold.
struct MetricResult {
    double primary = 0.0;
    std::vector<std::pair<std::string, double>> components;
};

// The result of a metric whose only component is the primary score.
inline MetricResult primary_only_result(double primary) {
    return MetricResult{primary, {{"primary", primary}}};
}

}  // namespace medforge::metrics
