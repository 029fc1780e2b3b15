// Competition administration: create a competition from an uploaded bundle, and change a
// competition's title, description, daily cap or status (closing it).
//
// An uploaded bundle is stored under <SUBMISSIONS_DIR>/_bundles/<slug>-<8 hex>/ (the volume the
// API and the workers share). Its parts are written to a private staging folder next to it,
// validated there exactly like a seeded bundle, renamed into place, and only then is the row
// written; on any failure the folder is removed and no row exists.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "app/app.hpp"
#include "app/competition_common.hpp"
#include "app/request_bodies.hpp"
#include "competitions/bundle.hpp"
#include "core/ids.hpp"
#include "core/json_input.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "db/competitions_repo.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The largest bundle upload: the four files together (the body is streamed to a file, never held
// in memory; load_bundle then reads each file once).
constexpr std::uint64_t kBundleUploadMaxBytes = std::uint64_t{256} * 1024 * 1024;
constexpr std::size_t kMultipartFraming = std::size_t{64} * 1024;
// competitions.bundle_path is a VARCHAR(255) on MariaDB.
constexpr std::size_t kMaxBundlePath = 255;

struct BundlePart {
    const char* field;
    const char* file;
    unsigned mode;
};
// The holdout is private to the server's user and never served; the other files are public.
constexpr BundlePart kParts[] = {{"manifest", "manifest.json", 0644},
                                 {"holdout_labels", "holdout_labels.csv", 0600},
                                 {"test_ids", "test_ids.csv", 0644},
                                 {"sample_submission", "sample_submission.csv", 0644}};

// Like every 422, with the field-level `errors` list: loc names the form field whose file the
// problem is in (BundleError messages start with the file's name), else the body.
ApiError bundle_invalid(std::string detail) {
    std::vector<std::string> loc = {"body"};
    for (const auto& p : kParts) {
        if (detail.rfind(p.file, 0) == 0) loc.emplace_back(p.field);
    }
    ApiError e(422, "bundle_invalid", detail);
    e.with_errors({{std::move(loc), std::move(detail), "bundle_invalid"}});
    return e;
}

// A folder removed with everything in it unless kept.
struct FolderGuard {
    fs::path path;
    bool keep = false;
    explicit FolderGuard(fs::path p) : path(std::move(p)) {}
    FolderGuard(const FolderGuard&) = delete;
    FolderGuard& operator=(const FolderGuard&) = delete;
    ~FolderGuard() {
        if (keep || path.empty()) return;
        std::error_code ec;
        fs::remove_all(path, ec);
        if (ec) {
            log::error("competitions.bundle_cleanup_failed",
                       {{"path", path.string()}, {"error", ec.message()}});
        }
    }
};

std::string form_boundary(const http::Request& req) {
    const std::string content_type(req.header("content-type").value_or(""));
    auto boundary = http::boundary_from_content_type(content_type);
    if (!boundary) {
        throw ApiError(415, "unsupported_media_type",
                       "Send the bundle as multipart/form-data with the fields manifest, "
                       "holdout_labels, test_ids and sample_submission.");
    }
    return *boundary;
}

http::Response create(Services& s, http::Request& req) {
    const std::string boundary = form_boundary(req);
    std::error_code ec;
    const fs::path root =
        fs::absolute(fs::path(s.config.submissions_dir), ec).lexically_normal() / "_bundles";
    fs::create_directories(root, ec);
    if (ec) throw storage_error("mkdir " + root.string() + ": " + ec.message());

    FolderGuard staging(root / (".staging-" + uuid_v4()));
    if (::mkdir(staging.path.c_str(), 0700) != 0) {
        const std::string why = std::strerror(errno);
        staging.path.clear();  // not ours
        throw storage_error("mkdir staging: " + why);
    }
    std::vector<FormField> fields;
    for (const auto& p : kParts) {
        FormField f;
        f.name = p.field;
        f.path = (staging.path / p.file).string();
        f.mode = p.mode;
        f.max_bytes = kBundleUploadMaxBytes;
        fields.push_back(std::move(f));
    }
    extract_form_fields(req.body_file, boundary, fields, true, bundle_invalid);
    for (const auto& f : fields) {
        if (!f.found) {
            throw bundle_invalid("The form has no `" + f.name +
                                 "` field: send manifest, holdout_labels, test_ids and "
                                 "sample_submission.");
        }
    }

    competitions::Bundle bundle;
    try {
        bundle = competitions::load_bundle(staging.path);
    } catch (const competitions::BundleError& e) {
        throw bundle_invalid(e.what());  // never quotes a holdout value
    } catch (const std::system_error& e) {
        throw storage_error(std::string("reading the staged bundle: ") + e.what());
    }
    const auto& m = bundle.manifest;
    auto exists = [&] {
        return ApiError(409, "competition_exists", "A competition with this slug already exists.")
            .with_member("slug", m.slug);
    };
    if (s.db.with_connection(
            [&](db::Connection& c) { return db::competitions::find_by_slug(c, m.slug); })) {
        throw exists();
    }

    const auto random = random_bytes(4);
    FolderGuard placed(root / (m.slug + "-" + to_hex(random.data(), random.size())));
    if (placed.path.string().size() > kMaxBundlePath) {
        placed.path.clear();
        throw storage_error("bundle path longer than 255 bytes: shorten SUBMISSIONS_DIR");
    }
    if (::rename(staging.path.c_str(), placed.path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        placed.path.clear();  // nothing there
        throw storage_error("rename staged bundle: " + why);
    }
    staging.keep = true;  // moved: `placed` owns it now
    bundle.dir = placed.path;

    // A new dataset's folder gets the public files and a README, as when seeding; it goes too
    // when the competition is not added.
    const DatasetFolder folder = prepare_dataset_folder(s.config, bundle);
    FolderGuard dataset_folder(folder.materialized ? fs::path(folder.path) : fs::path());
    const Micros now = s.clock.now();
    const bool added = s.db.with_connection([&](db::Connection& c) {
        db::Transaction tx(c);
        const auto rows = insert_bundle_rows(c, m, folder, placed.path.string(), now);
        if (!rows.competition_added) return false;  // rolled back: no dataset row either
        tx.commit();
        return true;
    });
    if (!added) throw exists();  // created meanwhile by another request
    placed.keep = true;
    dataset_folder.keep = true;

    log::info("competition.created", {{"request_id", req.request_id},
                                      {"competition", m.slug},
                                      {"by", req.principal->user_id},
                                      {"bundle_path", placed.path.string()},
                                      {"manifest_sha256", bundle.manifest_sha256},
                                      {"holdout_rows", bundle.holdout.rows}});
    return http::ok(req, competition_detail_json(s, find_competition(s, m.slug), req), 201);
}

http::Response patch(Services& s, http::Request& req) {
    const auto comp = find_competition(s, req.param("slug"));
    const auto body = parse_body(req);
    ObjectReader r(body, {"title", "description", "submission_cap_per_day", "status"});
    db::CompetitionPatch p;
    p.title = r.string("title", false, 1, 255);
    if (p.title && trim(*p.title).empty()) r.fail("title", "must not be blank", "value_error");
    p.description = r.string("description", false, 1, 60000);
    if (p.description && trim(*p.description).empty()) {
        r.fail("description", "must not be blank", "value_error");
    }
    p.submission_cap_per_day = r.integer("submission_cap_per_day", false, 1, 100000);
    p.status = r.string("status", false, 1, 16);
    if (p.status && *p.status != "active" && *p.status != "closed") {
        r.fail("status", "must be active or closed", "enum");
    }
    r.finish();
    if (!p.empty()) {
        s.db.with_connection(
            [&](db::Connection& c) { db::competitions::update(c, comp.id, p, s.clock.now()); });
        json changed = json::array();
        if (p.title) changed.push_back("title");
        if (p.description) changed.push_back("description");
        if (p.submission_cap_per_day) changed.push_back("submission_cap_per_day");
        if (p.status) changed.push_back("status");
        log::info("competition.updated", {{"request_id", req.request_id},
                                          {"competition", comp.slug},
                                          {"by", req.principal->user_id},
                                          {"fields", changed},
                                          {"status", p.status.value_or(comp.status)}});
    }
    return http::ok(req, competition_detail_json(s, find_competition(s, comp.slug), req));
}

const nlohmann::json kBundleFormSchema = {
    {"type", "object"},
    {"required", {"manifest", "holdout_labels", "test_ids", "sample_submission"}},
    {"properties",
     {{"manifest", {{"type", "string"}, {"format", "binary"}}},
      {"holdout_labels", {{"type", "string"}, {"format", "binary"}}},
      {"test_ids", {{"type", "string"}, {"format", "binary"}}},
      {"sample_submission", {{"type", "string"}, {"format", "binary"}}}}}};

}  // namespace

void register_admin_competition_routes(http::Router& router, Services& s) {
    router.add({.method = "POST",
                .pattern = "/api/v1/admin/competitions",
                .access = http::Access::admin,
                .handler = [&s](http::Request& req) { return create(s, req); },
                .body_limit = static_cast<std::size_t>(kBundleUploadMaxBytes) + kMultipartFraming,
                .body_to_file = true,
                // A wrong media type is refused before the body is uploaded.
                .before_body = [](http::Request& req) { form_boundary(req); },
                .summary =
                    "Create a competition from a bundle: multipart fields manifest, "
                    "holdout_labels, test_ids, sample_submission (256 MiB in all), validated like "
                    "a seeded bundle; stored under SUBMISSIONS_DIR/_bundles",
                .request_schema = kBundleFormSchema,
                .request_content = {{"multipart/form-data", {{"schema", kBundleFormSchema}}}},
                .response_schema = kCompetitionDetailSchema,
                .success_status = 201,
                .problem_statuses = {400, 401, 403, 409, 413, 415, 422, 503}});

    router.add(
        {.method = "PATCH",
         .pattern = "/api/v1/admin/competitions/{slug}",
         .access = http::Access::admin,
         .handler = [&s](http::Request& req) { return patch(s, req); },
         .summary = "Change a competition's title, description, daily cap or status "
                    "(closed: listed no more and refuses uploads; its leaderboard stays)",
         .request_schema = {{"type", "object"},
                            {"additionalProperties", false},
                            {"properties",
                             {{"title", {{"type", "string"}, {"minLength", 1}, {"maxLength", 255}}},
                              {"description",
                               {{"type", "string"}, {"minLength", 1}, {"maxLength", 60000}}},
                              {"submission_cap_per_day",
                               {{"type", "integer"}, {"minimum", 1}, {"maximum", 100000}}},
                              {"status", {{"type", "string"}, {"enum", {"active", "closed"}}}}}}},
         .response_schema = kCompetitionDetailSchema,
         .problem_statuses = {401, 403, 404, 415, 422}});
}

}  // namespace medforge::app
