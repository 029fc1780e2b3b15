#include "competitions/manifest.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using medforge::competitions::BundleError;
using medforge::competitions::Metric;
using medforge::competitions::parse_manifest;
using nlohmann::json;

json base_accuracy() {
    return {{"slug", "titanic-survival"},
            {"title", "Titanic"},
            {"description", "# Titanic\nAccuracy."},
            {"metric", "accuracy"},
            {"metric_version", "1"},
            {"higher_is_better", true},
            {"submission_cap_per_day", 20},
            {"id_column", "PassengerId"},
            {"target_columns", {"Survived"}},
            {"expected_row_count", 418},
            {"evaluation_split_version", "v1"},
            {"scoring_mode", "single_realtime_hidden"},
            {"leaderboard_rule", "best_per_user"},
            {"evaluation_policy", "canonical_test_first"},
            {"dataset", {{"slug", "titanic"}, {"title", "T"}, {"source", "s"}, {"license", "l"}}},
            {"params", {{"labels", {0, 1}}}}};
}

json base_map_iou() {
    json j = base_accuracy();
    j["slug"] = "rsna-pneumonia-detection";
    j["metric"] = "map_iou";
    j["id_column"] = "patientId";
    j["target_columns"] = {"confidence", "x", "y", "width", "height"};
    j["params"] = {{"image_width", 1024}, {"image_height", 1024}};
    return j;
}

std::string error_of(const json& j) {
    try {
        parse_manifest(j.dump());
    } catch (const BundleError& e) {
        return e.what();
    }
    return "";
}

TEST(Manifest, ValidAccuracyManifestLoads) {
    auto m = parse_manifest(base_accuracy().dump());
    EXPECT_EQ(m.slug, "titanic-survival");
    EXPECT_EQ(m.metric, Metric::accuracy);
    EXPECT_EQ(m.labels, (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(m.target_columns, std::vector<std::string>{"Survived"});
    EXPECT_EQ(m.expected_row_count, 418);
    EXPECT_EQ(m.dataset.slug, "titanic");
}

TEST(Manifest, ValidMapIouAndOthersLoad) {
    auto m = parse_manifest(base_map_iou().dump());
    EXPECT_EQ(m.metric, Metric::map_iou);
    EXPECT_EQ(m.image_width, 1024);
    json roc = base_accuracy();
    roc["metric"] = "roc_auc";
    roc["params"] = json::object();
    EXPECT_EQ(parse_manifest(roc.dump()).metric, Metric::roc_auc);
    json seg = roc;
    seg["metric"] = "mean_iou";
    seg["target_columns"] = {"rle_mask"};
    EXPECT_EQ(parse_manifest(seg.dump()).metric, Metric::mean_iou);
}

TEST(Manifest, UnknownAndMissingKeysAreRejectedByName) {
    json extra = base_accuracy();
    extra["colour"] = "blue";
    EXPECT_NE(error_of(extra).find("\"colour\" is not a known key"), std::string::npos);
    json missing = base_accuracy();
    missing.erase("expected_row_count");
    EXPECT_NE(error_of(missing).find("\"expected_row_count\" is missing"), std::string::npos);
    json ds = base_accuracy();
    ds["dataset"].erase("license");
    EXPECT_NE(error_of(ds).find("dataset.license"), std::string::npos);
}

TEST(Manifest, WrongTypesAreRejected) {
    json float_cap = base_accuracy();
    float_cap["submission_cap_per_day"] = 20.0;
    EXPECT_NE(error_of(float_cap).find("JSON integer"), std::string::npos);
    json zero = base_accuracy();
    zero["expected_row_count"] = 0;
    EXPECT_NE(error_of(zero).find("positive"), std::string::npos);
    json huge = base_accuracy();
    huge["expected_row_count"] = 50'000'001;
    EXPECT_NE(error_of(huge).find("larger than 50000000"), std::string::npos);
    json hib = base_accuracy();
    hib["higher_is_better"] = "yes";
    EXPECT_NE(error_of(hib).find("higher_is_better"), std::string::npos);
    json title = base_accuracy();
    title["title"] = 5;
    EXPECT_NE(error_of(title).find("\"title\" must be a string"), std::string::npos);
    EXPECT_NE(error_of(json::array()).find("object"), std::string::npos);
    try {
        parse_manifest("{not json");
        FAIL() << "expected BundleError";
    } catch (const BundleError& e) {
        EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
    }
}

TEST(Manifest, ParamsMustMatchTheMetric) {
    json labels_float = base_accuracy();
    labels_float["params"]["labels"] = {0, 1.0};
    EXPECT_NE(error_of(labels_float).find("params.labels"), std::string::npos);
    json dup = base_accuracy();
    dup["params"]["labels"] = {0, 1, 1};
    EXPECT_NE(error_of(dup).find("repeat"), std::string::npos);
    json empty = base_accuracy();
    empty["params"]["labels"] = json::array();
    EXPECT_NE(error_of(empty).find("non-empty"), std::string::npos);
    json roc_with_labels = base_accuracy();
    roc_with_labels["metric"] = "roc_auc";
    EXPECT_NE(error_of(roc_with_labels).find("params.labels\" is not a known key"),
              std::string::npos);
    json size_float = base_map_iou();
    size_float["params"]["image_width"] = 1024.0;
    EXPECT_NE(error_of(size_float).find("params.image_width"), std::string::npos);
    json size_neg = base_map_iou();
    size_neg["params"]["image_height"] = -1;
    EXPECT_NE(error_of(size_neg).find("params.image_height"), std::string::npos);
    json unknown_metric = base_accuracy();
    unknown_metric["metric"] = "f1";
    EXPECT_NE(error_of(unknown_metric).find("\"metric\""), std::string::npos);
}

TEST(Manifest, ColumnsMustMatchTheMetric) {
    json two = base_accuracy();
    two["target_columns"] = {"a", "b"};
    EXPECT_NE(error_of(two).find("exactly one column"), std::string::npos);
    json map_wrong = base_map_iou();
    map_wrong["target_columns"] = {"x", "y", "width", "height", "confidence"};
    EXPECT_NE(error_of(map_wrong).find("target_columns"), std::string::npos);
    json same_as_id = base_accuracy();
    same_as_id["target_columns"] = {"PassengerId"};
    EXPECT_NE(error_of(same_as_id).find("repeat"), std::string::npos);
}

TEST(Manifest, PolicyVocabularyAndSlugsAreFixed) {
    for (const char* key : {"scoring_mode", "leaderboard_rule", "evaluation_policy"}) {
        json j = base_accuracy();
        j[key] = "something_else";
        EXPECT_NE(error_of(j).find(key), std::string::npos) << key;
    }
    for (const char* slug : {"Titanic", "-a", "a-", "a b", "a/b", ""}) {
        json j = base_accuracy();
        j["slug"] = slug;
        EXPECT_NE(error_of(j).find("slug"), std::string::npos) << slug;
    }
}

}  // namespace
