// Submissions and the leaderboard: upload (cap → streamed body → full validation → stored file →
// queued row → optional auto-score), the caller's submissions, one submission, the leaderboard
// and its history, and the admin queue and re-score.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "app/app.hpp"
#include "app/competition_common.hpp"
#include "app/request_bodies.hpp"
#include "competitions/csv_reader.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "db/submissions_repo.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kMultipartFraming = std::size_t{64} * 1024;

// ---- JSON shapes -------------------------------------------------------------------------------

const json kScoreSchema = {{"type", {"object", "null"}},
                           {"properties",
                            {{"primary_score", {{"type", "number"}}},
                             {"components", {{"type", "object"}}},
                             {"metric", {{"type", "string"}}},
                             {"metric_version", {{"type", "string"}}},
                             {"evaluation_split_version", {{"type", "string"}}},
                             {"scorer_version", {{"type", "string"}}},
                             {"manifest_sha256", {{"type", "string"}}},
                             {"created_at", {{"type", "string"}, {"format", "date-time"}}}}}};

const json kSubmissionSchema = {
    {"type", "object"},
    {"properties",
     {{"id", {{"type", "string"}, {"format", "uuid"}}},
      {"competition_slug", {{"type", "string"}}},
      {"user_id", {{"type", "string"}, {"format", "uuid"}}},
      {"filename", {{"type", "string"}}},
      {"status", {{"type", "string"}, {"enum", {"queued", "scoring", "scored", "failed"}}}},
      {"error", {{"type", {"string", "null"}}}},
      {"row_count", {{"type", "integer"}}},
      {"created_at", {{"type", "string"}, {"format", "date-time"}}},
      {"scored_at", {{"type", {"string", "null"}}, {"format", "date-time"}}},
      {"official_score", kScoreSchema}}}};

json optional_time(const std::optional<std::int64_t>& t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

json submission_json(const db::SubmissionRecord& s, bool admin_view = false) {
    json j = {{"id", s.id},
              {"competition_slug", s.competition_slug},
              {"user_id", s.user_id},
              {"filename", s.filename},
              {"status", s.status},
              {"error", s.error ? json(*s.error) : json(nullptr)},
              {"row_count", s.row_count},
              {"created_at", format_iso8601(s.created_at)},
              {"scored_at", optional_time(s.scored_at)},
              {"official_score", nullptr}};
    if (s.official) {
        const auto& o = *s.official;
        j["official_score"] = {{"primary_score", o.primary_score},
                               {"components", json::parse(o.components_json, nullptr, false)},
                               {"metric", o.metric},
                               {"metric_version", o.metric_version},
                               {"evaluation_split_version", o.evaluation_split_version},
                               {"scorer_version", o.scorer_version},
                               {"manifest_sha256", o.manifest_sha256},
                               {"created_at", format_iso8601(o.created_at)}};
    }
    if (admin_view) {
        j["attempts"] = s.attempts;
        j["lease_owner"] = s.lease_owner ? json(*s.lease_owner) : json(nullptr);
        j["lease_expires_at"] = optional_time(s.lease_expires_at);
        j["counts_toward_cap"] = s.counts_toward_cap;
    }
    return j;
}

// ---- the upload --------------------------------------------------------------------------------

ApiError cap_reached(std::int64_t cap, Micros resets_at, Micros now) {
    const auto wait =
        std::max<Micros>(1, (resets_at - now + kMicrosPerSecond - 1) / kMicrosPerSecond);
    return ApiError(429, "submission_cap_reached",
                    "You have used all " + std::to_string(cap) +
                        " submissions for today in this competition; the cap resets at " +
                        format_iso8601(resets_at) + ".")
        .with_header("Retry-After", std::to_string(wait))
        .with_member("daily_cap", cap)
        .with_member("cap_resets_at", format_iso8601(resets_at));
}

// 422s carry the field-level `errors` list like every other 422 (loc: the uploaded file).
ApiError invalid(std::string detail) {
    ApiError e(422, "submission_invalid", detail);
    e.with_errors({{{"body", "file"}, std::move(detail), "submission_invalid"}});
    return e;
}

ApiError invalid_csv(const competitions::CsvError& csv) {
    ApiError e = invalid(csv.what());
    e.with_member("line", static_cast<std::int64_t>(csv.line()));
    if (!csv.column().empty()) e.with_member("column", csv.column());
    return e;
}

ApiError too_large(std::int64_t max_bytes, std::uint64_t size) {
    const std::string detail =
        "The file is larger than the " + std::to_string(max_bytes) + "-byte limit for submissions.";
    return ApiError(422, "submission_too_large", detail)
        .with_errors({{{"body", "file"}, detail, "too_large"}})
        .with_member("max_bytes", max_bytes)
        .with_member("size_bytes", static_cast<std::int64_t>(size));
}

void require_open(const db::CompetitionRecord& c) {
    if (c.status != "active") {
        throw ApiError(409, "competition_closed",
                       "This competition is closed and no longer accepts submissions.");
    }
}

// A spool file owned by the handler, removed unless it was moved away.
struct SpoolFile {
    std::string path;
    SpoolFile() = default;
    SpoolFile(const SpoolFile&) = delete;
    SpoolFile& operator=(const SpoolFile&) = delete;
    ~SpoolFile() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

struct Upload {
    std::string path;  // the CSV bytes
    std::string filename;
    std::uint64_t size = 0;
};

std::string lower(std::string_view v) {
    std::string out(v);
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

Upload read_upload(Services& s, http::Request& req, SpoolFile& part) {
    const auto max = static_cast<std::uint64_t>(s.config.submission_upload_max_bytes);
    const std::string content_type(req.header("content-type").value_or(""));
    const std::string media = lower(trim(content_type.substr(0, content_type.find(';'))));
    Upload up;
    std::optional<std::string> given_name = req.query_param("filename");
    if (auto boundary = http::boundary_from_content_type(content_type)) {
        part.path = fs::path(req.body_file).parent_path() / ("part-" + request_uuid() + ".csv");
        std::vector<FormField> fields(1);
        fields[0].name = "file";
        fields[0].path = part.path;
        fields[0].max_bytes = max;
        extract_form_fields(req.body_file, *boundary, fields, false, invalid);
        if (!fields[0].found) {
            throw invalid("The form has no `file` field: send the CSV as the field `file`.");
        }
        up.path = part.path;
        up.size = fields[0].size;
        if (fields[0].filename && !fields[0].filename->empty()) given_name = fields[0].filename;
    } else if (media == "text/csv") {
        up.path = req.body_file;
        up.size = req.body_size;
    } else {
        throw ApiError(415, "unsupported_media_type",
                       "Send the file as multipart/form-data (field `file`) or as a text/csv body "
                       "with ?filename=.");
    }
    if (!given_name) {
        throw invalid("The file has no name: give it in the form field or as ?filename=.");
    }
    auto name = http::safe_filename(*given_name);
    if (!name) throw invalid("The filename is not acceptable (control characters, or empty).");
    if (name->size() < 5 || lower(name->substr(name->size() - 4)) != ".csv") {
        throw invalid("The filename must end in .csv.");
    }
    up.filename = *name;
    if (up.size > max) throw too_large(s.config.submission_upload_max_bytes, up.size);
    return up;
}

http::Response upload(Services& s, http::Request& req) {
    const auto comp = find_competition(s, req.param("slug"));
    require_open(comp);
    SpoolFile part;
    const Upload up = read_upload(s, req, part);

    std::shared_ptr<const competitions::Bundle> bundle;
    try {
        bundle = s.bundles.get(comp.bundle_path);
    } catch (const std::exception& e) {
        throw ApiError(503, "competition_unavailable",
                       "This competition's scoring data is unavailable; try again later.",
                       std::string("bundle of ") + comp.slug + ": " + e.what());
    }
    scoring::ValidatedFile file;
    try {
        file = scoring::validate_file(*bundle, up.path);
    } catch (const competitions::SubmissionError& e) {
        throw invalid(e.what());
    } catch (const competitions::CsvError& e) {
        throw invalid_csv(e);
    } catch (const std::system_error& e) {
        throw storage_error(e.what());
    }

    db::SubmissionRecord r;
    r.id = uuid_v4();
    r.competition_id = comp.id;
    r.user_id = req.principal->user_id;
    r.filename = up.filename;
    r.artifact_sha256 = file.sha256;
    r.row_count = static_cast<std::int64_t>(file.parsed.rows);
    r.created_at = s.clock.now();
    std::error_code ec;
    const fs::path dir =
        fs::absolute(fs::path(s.config.submissions_dir), ec) / comp.slug / r.user_id;
    fs::create_directories(dir, ec);
    if (ec) throw storage_error("mkdir " + dir.string() + ": " + ec.message());
    r.artifact_path = (dir / (r.id + ".csv")).string();
    if (::rename(up.path.c_str(), r.artifact_path.c_str()) != 0) {
        throw storage_error(std::string("rename: ") + std::strerror(errno));
    }
    struct RemoveUnlessKept {
        const std::string& path;
        bool keep = false;
        ~RemoveUnlessKept() {
            if (!keep) ::unlink(path.c_str());
        }
    } stored{r.artifact_path};

    const Micros day_start = r.created_at - (r.created_at % kDay);
    const auto remaining = s.db.with_connection([&](db::Connection& c) {
        return db::submissions::insert_within_cap(c, r, comp.submission_cap_per_day, day_start);
    });
    if (!remaining) throw cap_reached(comp.submission_cap_per_day, day_start + kDay, r.created_at);
    stored.keep = true;
    log::info("submission.accepted", {{"request_id", req.request_id},
                                      {"submission_id", r.id},
                                      {"competition", comp.slug},
                                      {"rows", r.row_count}});

    if (s.config.auto_score_on_submit) {
        try {
            const scoring::Prevalidated pre{bundle, &file.parsed};
            s.scorer.run_one(r.id, &pre);
        } catch (const std::exception& e) {
            // The row is queued: a worker scores it.
            log::warn("submission.auto_score_failed",
                      {{"submission_id", r.id}, {"error", e.what()}});
        }
    }
    auto saved =
        s.db.with_connection([&](db::Connection& c) { return db::submissions::find(c, r.id); });
    if (!saved) throw std::runtime_error("submission vanished after insert");
    return http::ok(req,
                    {{"submission", submission_json(*saved)},
                     {"daily_cap", comp.submission_cap_per_day},
                     {"remaining_today", *remaining}},
                    201);
}

// Before the body: the competition exists and is open, and the caller has submissions left.
void upload_gate(Services& s, http::Request& req) {
    const auto comp = find_competition(s, req.param("slug"));
    require_open(comp);
    const Micros now = s.clock.now();
    const Micros day_start = now - (now % kDay);
    const auto used = s.db.with_connection([&](db::Connection& c) {
        return db::competitions::count_capped_since(c, comp.id, req.principal->user_id, day_start);
    });
    if (used >= comp.submission_cap_per_day) {
        throw cap_reached(comp.submission_cap_per_day, day_start + kDay, now);
    }
}

// ---- reads -------------------------------------------------------------------------------------

db::SubmissionRecord find_submission(Services& s, const std::string& id) {
    std::optional<db::SubmissionRecord> r;
    if (is_uuid(id)) {
        r = s.db.with_connection([&](db::Connection& c) { return db::submissions::find(c, id); });
    }
    if (!r) throw not_found("submission_not_found", "No submission has this id.");
    return *r;
}

// Leaderboard cursor: the last entry's (rank_score, scored_at, submission id) and its rank.
std::string leaderboard_cursor(const db::LeaderboardEntry& e, std::int64_t rank) {
    char score[64];
    std::snprintf(score, sizeof score, "%a", e.rank_score);
    return http::encode_cursor(e.scored_at,
                               std::to_string(rank) + "|" + score + "|" + e.best_submission_id);
}

struct LeaderboardAfter {
    db::LeaderboardKey key;
    std::int64_t rank = 0;
};

LeaderboardAfter parse_leaderboard_cursor(const http::PageRequest& page) {
    const auto bad = [] {
        return ApiError(400, "invalid_cursor", "The cursor is not one this API issued.");
    };
    const auto& raw = page.after_id;
    const auto a = raw.find('|');
    const auto b = a == std::string::npos ? a : raw.find('|', a + 1);
    if (b == std::string::npos) throw bad();
    LeaderboardAfter out;
    const std::string rank = raw.substr(0, a);
    const std::string score = raw.substr(a + 1, b - a - 1);
    out.key.submission_id = raw.substr(b + 1);
    char* end = nullptr;
    errno = 0;
    out.rank = std::strtoll(rank.c_str(), &end, 10);
    if (rank.empty() || *end != '\0' || errno != 0 || out.rank < 1) throw bad();
    errno = 0;
    out.key.rank_score = std::strtod(score.c_str(), &end);
    if (score.empty() || *end != '\0' || errno != 0 || !is_uuid(out.key.submission_id)) throw bad();
    out.key.scored_at = page.after_key;
    return out;
}

json entry_json(const db::LeaderboardEntry& e, std::int64_t rank) {
    return {{"rank", rank},
            {"user_id", e.user_id},
            {"display_name", e.display_name},
            {"best_submission_id", e.best_submission_id},
            {"primary_score", e.primary_score},
            {"scored_at", format_iso8601(e.scored_at)},
            {"submission_count", e.submission_count}};
}

std::vector<std::string> parse_statuses(const std::optional<std::string>& given) {
    static const std::vector<std::string> kAll = {"queued", "scoring", "scored", "failed"};
    if (!given) return {"queued", "scoring", "failed"};
    std::vector<std::string> out;
    for (const auto& part : split(*given, ',')) {
        const std::string v(trim(part));
        if (std::find(kAll.begin(), kAll.end(), v) == kAll.end()) {
            throw validation_error(
                {{{"query", "status"},
                  "status must be a comma list of queued, scoring, scored, failed",
                  "enum"}});
        }
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    if (out.empty()) {
        throw validation_error({{{"query", "status"}, "status must not be empty", "enum"}});
    }
    return out;
}

}  // namespace

void register_submission_routes(http::Router& router, Services& s) {
    const std::size_t upload_limit =
        static_cast<std::size_t>(s.config.submission_upload_max_bytes) + kMultipartFraming;
    router.add({.method = "POST",
                .pattern = "/api/v1/competitions/{slug}/submissions",
                .access = http::Access::user,
                .handler = [&s](http::Request& req) { return upload(s, req); },
                .body_limit = upload_limit,
                .body_to_file = true,
                .before_body = [&s](http::Request& req) { upload_gate(s, req); },
                .too_large =
                    [&s](std::size_t, std::size_t size) {
                        return too_large(s.config.submission_upload_max_bytes, size);
                    },
                .summary = "Upload a submission: multipart field `file`, or a raw text/csv body "
                           "with ?filename=. Validated completely before it is stored; scored at "
                           "once when AUTO_SCORE_ON_SUBMIT is on",
                .request_schema = {{"type", "string"}, {"format", "binary"}},
                .request_content =
                    {{"multipart/form-data",
                      {{"schema",
                        {{"type", "object"},
                         {"required", {"file"}},
                         {"properties", {{"file", {{"type", "string"}, {"format", "binary"}}}}}}}}},
                     {"text/csv", {{"schema", {{"type", "string"}, {"format", "binary"}}}}}},
                .response_schema = {{"type", "object"},
                                    {"properties",
                                     {{"submission", kSubmissionSchema},
                                      {"daily_cap", {{"type", "integer"}}},
                                      {"remaining_today", {{"type", "integer"}}}}}},
                .success_status = 201,
                .problem_statuses = {400, 401, 403, 404, 409, 415, 422, 429, 503},
                .query_params = {"filename"}});

    router.add({.method = "GET",
                .pattern = "/api/v1/competitions/{slug}/submissions/me",
                .access = http::Access::user,
                .handler =
                    [&s](http::Request& req) {
                        const auto comp = find_competition(s, req.param("slug"));
                        auto page = http::parse_page(req, 50);
                        auto rows = s.db.with_connection([&](db::Connection& c) {
                            return db::submissions::list_for_user(
                                c, comp.id, req.principal->user_id, page.has_cursor, page.after_key,
                                page.after_id, page.limit + 1);
                        });
                        auto next = http::next_cursor(rows, page.limit, [](const auto& r) {
                            return std::pair{r.created_at, r.id};
                        });
                        json items = json::array();
                        for (const auto& r : rows) items.push_back(submission_json(r));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "The caller's submissions to a competition, newest first, each with "
                           "its official score",
                .response_schema = {{"type", "array"}, {"items", kSubmissionSchema}},
                .problem_statuses = {400, 401, 404},
                .query_params = {"limit", "cursor"}});

    router.add({.method = "GET",
                .pattern = "/api/v1/submissions/{id}",
                .access = http::Access::user,
                .handler =
                    [&s](http::Request& req) {
                        const auto r = find_submission(s, req.param("id"));
                        if (r.user_id != req.principal->user_id && !req.principal->is_admin()) {
                            throw ApiError(403, "not_owner",
                                           "This submission belongs to another user.");
                        }
                        return http::ok(req, submission_json(r, req.principal->is_admin()));
                    },
                .summary = "One submission with its status, error and official score (owner or "
                           "admin)",
                .response_schema = kSubmissionSchema,
                .problem_statuses = {401, 403, 404}});

    router.add(
        {.method = "GET",
         .pattern = "/api/v1/competitions/{slug}/leaderboard",
         .access = http::Access::anon,
         .handler =
             [&s](http::Request& req) {
                 const auto comp = find_competition(s, req.param("slug"));
                 auto page = http::parse_page(req, 50);
                 std::optional<LeaderboardAfter> after;
                 if (page.has_cursor) after = parse_leaderboard_cursor(page);
                 auto rows = s.db.with_connection([&](db::Connection& c) {
                     return db::leaderboard::page(c, comp.id,
                                                  after ? std::optional(after->key) : std::nullopt,
                                                  page.limit + 1);
                 });
                 const std::int64_t first_rank = after ? after->rank + 1 : 1;
                 std::optional<std::string> next;
                 if (static_cast<int>(rows.size()) > page.limit) {
                     rows.resize(static_cast<std::size_t>(page.limit));
                     next = leaderboard_cursor(
                         rows.back(), first_rank + static_cast<std::int64_t>(rows.size()) - 1);
                 }
                 json entries = json::array();
                 for (std::size_t i = 0; i < rows.size(); ++i) {
                     entries.push_back(
                         entry_json(rows[i], first_rank + static_cast<std::int64_t>(i)));
                 }
                 auto resp = http::ok_list(
                     req, {{"competition_slug", comp.slug}, {"entries", std::move(entries)}},
                     page.limit, next);
                 return resp;
             },
         .summary = "Best score per user (display names only), ranked 1..n across pages; ties "
                    "by earlier score time, then submission id",
         .response_schema = {{"type", "object"},
                             {"properties",
                              {{"competition_slug", {{"type", "string"}}},
                               {"entries",
                                {{"type", "array"},
                                 {"items",
                                  {{"type", "object"},
                                   {"properties",
                                    {{"rank", {{"type", "integer"}}},
                                     {"user_id", {{"type", "string"}}},
                                     {"display_name", {{"type", "string"}}},
                                     {"best_submission_id", {{"type", "string"}}},
                                     {"primary_score", {{"type", "number"}}},
                                     {"scored_at", {{"type", "string"}, {"format", "date-time"}}},
                                     {"submission_count", {{"type", "integer"}}}}}}}}}}}},
         .problem_statuses = {400, 404},
         .query_params = {"limit", "cursor"}});

    router.add({.method = "GET",
                .pattern = "/api/v1/competitions/{slug}/leaderboard/history",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        const auto comp = find_competition(s, req.param("slug"));
                        auto [top, points] = s.db.with_connection([&](db::Connection& c) {
                            auto t = db::leaderboard::page(c, comp.id, std::nullopt, 10);
                            std::vector<std::string> ids;
                            ids.reserve(t.size());
                            for (const auto& e : t) ids.push_back(e.user_id);
                            return std::pair{t, db::leaderboard::official_scores(c, comp.id, ids)};
                        });
                        json out = json::array();
                        for (const auto& e : top) {
                            json series = json::array();
                            std::optional<double> best;
                            for (const auto& p : points) {
                                if (p.user_id != e.user_id) continue;
                                const bool better =
                                    !best || (comp.higher_is_better ? p.primary_score > *best
                                                                    : p.primary_score < *best);
                                if (!better) continue;
                                best = p.primary_score;
                                series.push_back({{"scored_at", format_iso8601(p.created_at)},
                                                  {"best_score", *best}});
                            }
                            out.push_back({{"user_id", e.user_id},
                                           {"display_name", e.display_name},
                                           {"points", std::move(series)}});
                        }
                        return http::ok(req, out);
                    },
                .summary = "For the current top 10: each user's best score over time (a point each "
                           "time it improved)",
                .response_schema = {{"type", "array"}},
                .problem_statuses = {404}});

    router.add({.method = "GET",
                .pattern = "/api/v1/admin/submissions",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        const auto statuses = parse_statuses(req.query_param("status"));
                        auto page = http::parse_page(req, 50);
                        auto rows = s.db.with_connection([&](db::Connection& c) {
                            return db::submissions::list_by_status(c, statuses, page.has_cursor,
                                                                   page.after_key, page.after_id,
                                                                   page.limit + 1);
                        });
                        auto next = http::next_cursor(rows, page.limit, [](const auto& r) {
                            return std::pair{r.created_at, r.id};
                        });
                        json items = json::array();
                        for (const auto& r : rows) items.push_back(submission_json(r, true));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "The scoring queue: submissions in the given statuses (default "
                           "queued,scoring,failed), oldest first, with attempts and lease owner",
                .response_schema = {{"type", "array"}, {"items", kSubmissionSchema}},
                .problem_statuses = {400, 401, 403, 422},
                .query_params = {"status", "limit", "cursor"}});

    router.add({.method = "POST",
                .pattern = "/api/v1/admin/submissions/{id}/score",
                .access = http::Access::admin,
                .handler =
                    [&s](http::Request& req) {
                        const auto r = find_submission(s, req.param("id"));
                        const auto sync = req.query_param("sync");
                        if (sync && *sync != "true" && *sync != "false") {
                            throw validation_error(
                                {{{"query", "sync"}, "sync must be true or false", "bool"}});
                        }
                        s.db.with_connection(
                            [&](db::Connection& c) { db::submissions::requeue(c, r.id); });
                        log::info("submission.rescore_requested",
                                  {{"submission_id", r.id},
                                   {"by", req.principal->user_id},
                                   {"sync", sync && *sync == "true"}});
                        if (sync && *sync == "true") s.scorer.run_one(r.id);
                        const auto now = find_submission(s, r.id);
                        return http::ok(req, {{"submission", submission_json(now, true)}},
                                        sync && *sync == "true" ? 200 : 202);
                    },
                .summary = "Re-queue any submission for a new official score run (?sync=true "
                           "scores it now); the new official score replaces the old one",
                .response_schema = {{"type", "object"},
                                    {"properties", {{"submission", kSubmissionSchema}}}},
                .success_status = 202,
                .problem_statuses = {401, 403, 404, 422},
                .query_params = {"sync"}});
}

}  // namespace medforge::app
