#include "competitions/manifest.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace medforge::competitions {

namespace {

using nlohmann::json;

const std::vector<std::string> kKeys = {"slug",
                                        "title",
                                        "description",
                                        "metric",
                                        "metric_version",
                                        "higher_is_better",
                                        "submission_cap_per_day",
                                        "id_column",
                                        "target_columns",
                                        "expected_row_count",
                                        "evaluation_split_version",
                                        "scoring_mode",
                                        "leaderboard_rule",
                                        "evaluation_policy",
                                        "dataset",
                                        "params"};

const std::vector<std::string> kMapIouColumns = {"confidence", "x", "y", "width", "height"};

[[noreturn]] void fail(const std::string& key, const std::string& why) {
    throw BundleError("manifest.json: \"" + key + "\" " + why);
}

// "dataset.license" for a nested key, "title" at the top level.
std::string qualified(const std::string& where, const std::string& key) {
    if (where.empty()) return key;
    std::string out = where;
    out += '.';
    out += key;
    return out;
}

void exact_keys(const json& obj, const std::vector<std::string>& keys, const std::string& where) {
    for (const auto& [k, v] : obj.items()) {
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
            fail(qualified(where, k), "is not a known key");
        }
    }
    for (const auto& k : keys) {
        if (!obj.contains(k)) fail(qualified(where, k), "is missing");
    }
}

std::string text(const json& obj, const std::string& key, const std::string& where = {},
                 bool allow_empty = false) {
    const auto& v = obj.at(key);
    const std::string name = where.empty() ? key : where + "." + key;
    if (!v.is_string()) fail(name, "must be a string");
    const auto& s = v.get_ref<const std::string&>();
    if (!allow_empty && s.empty()) fail(name, "must not be empty");
    return s;
}

std::int64_t positive_int(const json& obj, const std::string& key, const std::string& name) {
    const auto& v = obj.at(key);
    if (!v.is_number_integer()) fail(name, "must be a JSON integer (e.g. 1024, not 1024.0)");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        fail(name, "is too large");
    }
    const auto n = v.get<std::int64_t>();
    if (n <= 0) fail(name, "must be positive");
    return n;
}

Metric parse_metric(const std::string& s) {
    if (s == "accuracy") return Metric::accuracy;
    if (s == "roc_auc") return Metric::roc_auc;
    if (s == "map_iou") return Metric::map_iou;
    if (s == "mean_iou") return Metric::mean_iou;
    fail("metric", "must be one of accuracy, roc_auc, map_iou, mean_iou");
}

void read_params(const json& params, Manifest& m) {
    if (!params.is_object()) fail("params", "must be an object");
    switch (m.metric) {
        case Metric::accuracy: {
            exact_keys(params, {"labels"}, "params");
            const auto& labels = params.at("labels");
            if (!labels.is_array() || labels.empty()) {
                fail("params.labels", "must be a non-empty list of integers");
            }
            std::set<std::int64_t> seen;
            for (const auto& l : labels) {
                if (!l.is_number_integer() ||
                    (l.is_number_unsigned() &&
                     l.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
                    fail("params.labels", "must contain only JSON integers");
                }
                const auto v = l.get<std::int64_t>();
                if (!seen.insert(v).second) fail("params.labels", "must not repeat a label");
                m.labels.push_back(v);
            }
            break;
        }
        case Metric::map_iou:
            exact_keys(params, {"image_width", "image_height"}, "params");
            m.image_width = positive_int(params, "image_width", "params.image_width");
            m.image_height = positive_int(params, "image_height", "params.image_height");
            break;
        case Metric::roc_auc:
        case Metric::mean_iou:
            exact_keys(params, {}, "params");
            break;
    }
}

void check_columns(Manifest& m) {
    std::set<std::string> seen{m.id_column};
    for (const auto& c : m.target_columns) {
        if (c.empty()) fail("target_columns", "must not contain an empty name");
        if (!seen.insert(c).second)
            fail("target_columns", "must not repeat a column or the id column");
    }
    if (m.metric == Metric::map_iou) {
        if (m.target_columns != kMapIouColumns) {
            fail("target_columns",
                 "must be [\"confidence\",\"x\",\"y\",\"width\",\"height\"] for map_iou");
        }
    } else if (m.target_columns.size() != 1) {
        fail("target_columns",
             "must name exactly one column for " + std::string(metric_name(m.metric)));
    }
}

}  // namespace

std::string_view metric_name(Metric m) {
    switch (m) {
        case Metric::accuracy:
            return "accuracy";
        case Metric::roc_auc:
            return "roc_auc";
        case Metric::map_iou:
            return "map_iou";
        case Metric::mean_iou:
            return "mean_iou";
    }
    return "accuracy";
}

bool valid_slug(std::string_view slug) {
    if (slug.empty() || slug.size() > 64 || slug.front() == '-' || slug.back() == '-') return false;
    return std::all_of(slug.begin(), slug.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

Manifest parse_manifest(std::string_view bytes) {
    json j;
    try {
        j = json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
        throw BundleError(std::string("manifest.json is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw BundleError("manifest.json must be a JSON object");
    exact_keys(j, kKeys, "");
    Manifest m;
    m.slug = text(j, "slug");
    if (!valid_slug(m.slug))
        fail("slug", "must be 1..64 of a-z, 0-9 and '-', not starting or ending with '-'");
    m.title = text(j, "title");
    m.description = text(j, "description");
    m.metric = parse_metric(text(j, "metric"));
    m.metric_version = text(j, "metric_version");
    if (!j.at("higher_is_better").is_boolean()) fail("higher_is_better", "must be true or false");
    m.higher_is_better = j.at("higher_is_better").get<bool>();
    m.submission_cap_per_day = positive_int(j, "submission_cap_per_day", "submission_cap_per_day");
    m.id_column = text(j, "id_column");
    const auto& cols = j.at("target_columns");
    if (!cols.is_array()) fail("target_columns", "must be a list of column names");
    for (const auto& c : cols) {
        if (!c.is_string()) fail("target_columns", "must contain only strings");
        m.target_columns.push_back(c.get<std::string>());
    }
    check_columns(m);
    m.expected_row_count = positive_int(j, "expected_row_count", "expected_row_count");
    // Loading reserves memory by this count: a typo or a hostile bundle must not exhaust it.
    if (m.expected_row_count > kMaxExpectedRows) {
        fail("expected_row_count", "is larger than " + std::to_string(kMaxExpectedRows));
    }
    m.evaluation_split_version = text(j, "evaluation_split_version");
    m.scoring_mode = text(j, "scoring_mode");
    if (m.scoring_mode != "single_realtime_hidden")
        fail("scoring_mode", "must be \"single_realtime_hidden\"");
    m.leaderboard_rule = text(j, "leaderboard_rule");
    if (m.leaderboard_rule != "best_per_user")
        fail("leaderboard_rule", "must be \"best_per_user\"");
    m.evaluation_policy = text(j, "evaluation_policy");
    if (m.evaluation_policy != "canonical_test_first") {
        fail("evaluation_policy", "must be \"canonical_test_first\"");
    }
    const auto& ds = j.at("dataset");
    if (!ds.is_object()) fail("dataset", "must be an object");
    exact_keys(ds, {"slug", "title", "source", "license"}, "dataset");
    m.dataset.slug = text(ds, "slug", "dataset");
    if (!valid_slug(m.dataset.slug)) fail("dataset.slug", "must be a slug (a-z, 0-9, '-')");
    m.dataset.title = text(ds, "title", "dataset");
    m.dataset.source = text(ds, "source", "dataset");
    m.dataset.license = text(ds, "license", "dataset");
    read_params(j.at("params"), m);
    // Sanity of the higher/lower convention: every metric here is "higher is better".
    if (!m.higher_is_better)
        fail("higher_is_better", "must be true for " + std::string(metric_name(m.metric)));
    return m;
}

std::vector<std::string> required_prediction_columns(const Manifest& m) { return m.target_columns; }

}  // namespace medforge::competitions
