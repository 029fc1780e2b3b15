// The competition catalog: list, detail (with the caller's remaining submissions today) and the
// public bundle files.
#include <sys/stat.h>

#include "app/app.hpp"
#include "app/competition_common.hpp"
#include "competitions/manifest.hpp"
#include "core/confined_path.hpp"
#include "db/competitions_repo.hpp"
#include "http/file_response.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;

json summary_json(const db::CompetitionRecord& c) {
    return {{"slug", c.slug},
            {"title", c.title},
            {"metric", c.metric},
            {"higher_is_better", c.higher_is_better},
            {"submission_cap_per_day", c.submission_cap_per_day},
            {"status", c.status},
            {"dataset_slug", c.dataset_slug}};
}

const json kSummarySchema = {
    {"type", "object"},
    {"properties",
     {{"slug", {{"type", "string"}}},
      {"title", {{"type", "string"}}},
      {"metric", {{"type", "string"}, {"enum", {"accuracy", "roc_auc", "map_iou", "mean_iou"}}}},
      {"higher_is_better", {{"type", "boolean"}}},
      {"submission_cap_per_day", {{"type", "integer"}}},
      {"status", {{"type", "string"}, {"enum", {"active", "closed"}}}},
      {"dataset_slug", {{"type", "string"}}}}}};

}  // namespace

const json kCompetitionDetailSchema = [] {
    json j = kSummarySchema;
    auto& p = j["properties"];
    p["description"] = {{"type", "string"}};
    p["metric_version"] = {{"type", "string"}};
    p["scoring_mode"] = {{"type", "string"}};
    p["leaderboard_rule"] = {{"type", "string"}};
    p["evaluation_policy"] = {{"type", "string"}};
    p["dataset"] = {
        {"type", "object"},
        {"properties", {{"slug", {{"type", "string"}}}, {"title", {{"type", "string"}}}}}};
    p["created_at"] = {{"type", "string"}, {"format", "date-time"}};
    p["updated_at"] = {{"type", "string"}, {"format", "date-time"}};
    p["remaining_today"] = {{"type", "integer"}};
    p["cap_resets_at"] = {{"type", "string"}, {"format", "date-time"}};
    return j;
}();

json competition_detail_json(Services& s, const db::CompetitionRecord& c,
                             const http::Request& req) {
    json j = summary_json(c);
    j["description"] = c.description;
    j["metric_version"] = c.metric_version;
    j["scoring_mode"] = c.scoring_mode;
    j["leaderboard_rule"] = c.leaderboard_rule;
    j["evaluation_policy"] = c.evaluation_policy;
    j["dataset"] = {{"slug", c.dataset_slug}, {"title", c.dataset_title}};
    j["created_at"] = format_iso8601(c.created_at);
    j["updated_at"] = format_iso8601(c.updated_at);
    if (req.principal) {
        // The cap counts this UTC day's submissions that count toward it.
        const Micros now = s.clock.now();
        const Micros day_start = now - (now % kDay);
        const auto used = s.db.with_connection([&](db::Connection& conn) {
            return db::competitions::count_capped_since(conn, c.id, req.principal->user_id,
                                                        day_start);
        });
        j["remaining_today"] = std::max<std::int64_t>(0, c.submission_cap_per_day - used);
        j["cap_resets_at"] = format_iso8601(day_start + kDay);
    }
    return j;
}

db::CompetitionRecord find_competition(Services& s, const std::string& slug) {
    std::optional<db::CompetitionRecord> c;
    if (competitions::valid_slug(slug)) {
        c = s.db.with_connection(
            [&](db::Connection& conn) { return db::competitions::find_by_slug(conn, slug); });
    }
    if (!c) throw not_found("competition_not_found", "No competition has this slug.");
    return *c;
}

void register_competition_routes(http::Router& router, Services& s) {
    router.add({.method = "GET",
                .pattern = "/api/v1/competitions",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        auto page = http::parse_page(req, 50);
                        auto rows = s.db.with_connection([&](db::Connection& c) {
                            return db::competitions::list_active(c, page.after_id, page.limit + 1);
                        });
                        auto next =
                            http::next_cursor(rows, page.limit, [](const db::CompetitionRecord& c) {
                                return std::pair{std::int64_t{0}, c.slug};
                            });
                        json items = json::array();
                        for (const auto& c : rows) items.push_back(summary_json(c));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "Active competitions ordered by slug",
                .response_schema = {{"type", "array"}, {"items", kSummarySchema}},
                .problem_statuses = {400},
                .query_params = {"limit", "cursor"}});

    router.add({.method = "GET",
                .pattern = "/api/v1/competitions/{slug}",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        const auto c = find_competition(s, req.param("slug"));
                        return http::ok(req, competition_detail_json(s, c, req));
                    },
                .summary = "One competition: description (markdown), metric, cap, dataset; for a "
                           "logged-in caller also remaining_today and cap_resets_at",
                .response_schema = kCompetitionDetailSchema,
                .problem_statuses = {404}});

    router.add({.method = "GET",
                .pattern = "/api/v1/competitions/{slug}/files/{name}",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        const auto c = find_competition(s, req.param("slug"));
                        const auto& name = req.param("name");
                        // Only the two public files: never the holdout or the manifest.
                        if (name != "sample_submission.csv" && name != "test_ids.csv") {
                            throw not_found(
                                "file_not_found",
                                "Only sample_submission.csv and test_ids.csv can be downloaded.");
                        }
                        auto file = open_confined(c.bundle_path, name);
                        if (!file || !S_ISREG(file->st.st_mode)) {
                            throw ApiError(404, "file_not_found",
                                           "This competition's file is not available.",
                                           "bundle file unreadable for " + c.slug);
                        }
                        // Streamed from the open file (never read into memory); Range works.
                        return http::file_response(req, std::move(file->fd), file->st,
                                                   c.slug + "-" + name, "text/csv; charset=utf-8");
                    },
                .summary = "Download sample_submission.csv or test_ids.csv (nothing else; a "
                           "single Range gives 206)",
                .response_schema = nlohmann::json::object(),
                .problem_statuses = {404, 416},
                .file_content_type = "text/csv"});
}

}  // namespace medforge::app
