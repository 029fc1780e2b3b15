// Cross-check against the independent Python reference: apps/api/tests/reference/cases/*.json hold
// inputs and the reference's scores (written by make_cases.py; test_reference_cases.py keeps them
// honest). Every C++ metric must agree with every case to 1e-9 and throw where the reference
// raised.
#include "metrics/accuracy.hpp"
#include "metrics/map_iou.hpp"
#include "metrics/mean_iou.hpp"
#include "metrics/roc_auc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace medforge::metrics {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kCasesRelative = "apps/api/tests/reference/cases";

// The cases live in the source tree, not the build tree: look upwards from the working directory
// (tests usually run from the repo root or build/release), then from this source file.
fs::path find_cases_dir() {
    std::vector<fs::path> starts = {fs::current_path(), fs::path(__FILE__).parent_path()};
    for (fs::path dir : starts) {
        dir = fs::absolute(dir);
        while (true) {
            const fs::path candidate = dir / kCasesRelative;
            if (fs::is_directory(candidate)) return candidate;
            if (!dir.has_parent_path() || dir.parent_path() == dir) break;
            dir = dir.parent_path();
        }
    }
    return {};
}

MetricResult run_case(const std::string& metric, const json& in) {
    if (metric == "accuracy") {
        const auto truth = in.at("truth").get<std::vector<std::int64_t>>();
        const auto predicted = in.at("predicted").get<std::vector<std::int64_t>>();
        return score_accuracy(truth, predicted);
    }
    if (metric == "roc_auc") {
        const auto truth = in.at("truth").get<std::vector<std::int64_t>>();
        const auto scores = in.at("scores").get<std::vector<double>>();
        return score_roc_auc(truth, scores);
    }
    if (metric == "map_iou") {
        std::vector<PatientBoxes> patients;
        for (const json& p : in.at("patients")) {
            PatientBoxes& out = patients.emplace_back();
            for (const json& b : p.at("truth")) {
                out.truth.push_back({b.at(0).get<double>(), b.at(1).get<double>(),
                                     b.at(2).get<double>(), b.at(3).get<double>()});
            }
            for (const json& b : p.at("predicted")) {
                out.predicted.push_back({b.at(0).get<double>(),
                                         {b.at(1).get<double>(), b.at(2).get<double>(),
                                          b.at(3).get<double>(), b.at(4).get<double>()}});
            }
        }
        return score_map_iou(patients);
    }
    if (metric == "mean_iou") {
        const auto runs = [](const json& list) {
            std::vector<PixelRun> out;
            for (const json& r : list) {
                out.push_back({r.at(0).get<std::uint64_t>(), r.at(1).get<std::uint64_t>()});
            }
            return out;
        };
        std::vector<MaskPair> images;
        for (const json& i : in.at("images")) {
            images.push_back({runs(i.at("predicted")), runs(i.at("truth"))});
        }
        return score_mean_iou(images);
    }
    throw std::logic_error("unknown metric " + metric);
}

TEST(MetricReference, EveryCaseMatchesThePythonReference) {
    const fs::path dir = find_cases_dir();
    ASSERT_FALSE(dir.empty()) << "cannot find " << kCasesRelative << " above " << fs::current_path()
                              << " or " << __FILE__;

    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());

    std::map<std::string, int> checked;  // metric -> cases run
    for (const fs::path& file : files) {
        std::ifstream stream(file);
        ASSERT_TRUE(stream) << file;
        const json doc = json::parse(stream);
        const std::string metric = doc.at("metric").get<std::string>();
        for (const json& c : doc.at("cases")) {
            const std::string name = c.at("name").get<std::string>();
            SCOPED_TRACE(file.filename().string() + ": " + name);
            if (c.contains("error")) {
                EXPECT_THROW(run_case(metric, c.at("input")), std::invalid_argument);
            } else {
                const MetricResult got = run_case(metric, c.at("input"));
                const json& want = c.at("expected");
                ASSERT_EQ(got.components.size(), want.size());
                EXPECT_EQ(got.primary, got.components.at(0).second);
                for (std::size_t k = 0; k < want.size(); ++k) {
                    EXPECT_EQ(got.components[k].first, want[k].at(0).get<std::string>());
                    EXPECT_NEAR(got.components[k].second, want[k].at(1).get<double>(), 1e-9)
                        << got.components[k].first;
                }
            }
            ++checked[metric];
        }
    }
    // A missing or truncated file must fail, not pass by checking nothing.
    for (const char* metric : {"accuracy", "roc_auc", "map_iou", "mean_iou"}) {
        EXPECT_GE(checked[metric], 40) << metric;
    }
}

}  // namespace
}  // namespace medforge::metrics
