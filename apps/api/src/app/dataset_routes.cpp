// The dataset catalog: list, detail (with the top level of the dataset's folder) and the files
// themselves (a folder listing or a download with Range support), confined to the dataset's folder.
#include <sys/stat.h>

#include "app/app.hpp"
#include "competitions/manifest.hpp"
#include "core/confined_path.hpp"
#include "db/competitions_repo.hpp"
#include "http/file_response.hpp"
#include "http/response.hpp"

namespace medforge::app {

namespace {

using nlohmann::json;

// The detail lists at most this many top-level entries (files_truncated says when there are
// more; the files route pages through any folder).
constexpr std::size_t kDetailFileCap = 1000;
// Folder listings are pages of at most 500 entries (?limit=1..500, default 500).
constexpr int kListingDefaultLimit = 500;

json summary_json(const db::DatasetRecord& d) {
    return {{"slug", d.slug}, {"title", d.title}, {"source", d.source}};
}

json entry_json(const ConfinedDirEntry& e) {
    return {{"name", e.name}, {"size", e.size}, {"type", e.is_dir ? "dir" : "file"}};
}

db::DatasetRecord find_dataset(Services& s, const std::string& slug) {
    std::optional<db::DatasetRecord> d;
    if (competitions::valid_slug(slug)) {
        d = s.db.with_connection(
            [&](db::Connection& conn) { return db::datasets::find_by_slug(conn, slug); });
    }
    if (!d) throw not_found("dataset_not_found", "No dataset has this slug.");
    return *d;
}

// Every way a path can fail (invalid, hidden, missing, a symlink, leaving the folder) is the same
// answer, which never names a server path.
ApiError file_not_found() {
    return not_found("file_not_found", "The dataset has no file or folder at this path.");
}

// The path as the client should see it: components joined by '/', without a trailing '/'.
std::string display_path(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

const json kSummarySchema = {{"type", "object"},
                             {"properties",
                              {{"slug", {{"type", "string"}}},
                               {"title", {{"type", "string"}}},
                               {"source", {{"type", "string"}}}}}};

const json kEntrySchema = {{"type", "object"},
                           {"properties",
                            {{"name", {{"type", "string"}}},
                             {"size", {{"type", "integer"}}},
                             {"type", {{"type", "string"}, {"enum", {"file", "dir"}}}}}}};

const json kDetailSchema = {{"type", "object"},
                            {"properties",
                             {{"slug", {{"type", "string"}}},
                              {"title", {{"type", "string"}}},
                              {"source", {{"type", "string"}}},
                              {"license", {{"type", "string"}}},
                              {"bytes", {{"type", "integer"}}},
                              {"checksum", {{"type", "string"}}},
                              {"files", {{"type", "array"}, {"items", kEntrySchema}}},
                              {"files_truncated", {{"type", "boolean"}}}}}};

const json kListingSchema = {
    {"type", "object"},
    {"properties",
     {{"path", {{"type", "string"}}}, {"entries", {{"type", "array"}, {"items", kEntrySchema}}}}}};

}  // namespace

void register_dataset_routes(http::Router& router, Services& s) {
    router.add({.method = "GET",
                .pattern = "/api/v1/datasets",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        auto page = http::parse_page(req, 50);
                        auto rows = s.db.with_connection([&](db::Connection& c) {
                            return db::datasets::list(c, page.after_id, page.limit + 1);
                        });
                        auto next =
                            http::next_cursor(rows, page.limit, [](const db::DatasetRecord& d) {
                                return std::pair{std::int64_t{0}, d.slug};
                            });
                        json items = json::array();
                        for (const auto& d : rows) items.push_back(summary_json(d));
                        return http::ok_list(req, items, page.limit, next);
                    },
                .summary = "Datasets ordered by slug",
                .response_schema = {{"type", "array"}, {"items", kSummarySchema}},
                .problem_statuses = {400},
                .query_params = {"limit", "cursor"}});

    router.add({.method = "GET",
                .pattern = "/api/v1/datasets/{slug}",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        const auto d = find_dataset(s, req.param("slug"));
                        json files = json::array();
                        bool truncated = false;
                        if (auto root = open_confined(d.storage_path, "");
                            root && S_ISDIR(root->st.st_mode)) {
                            auto page = list_confined_dir(root->fd.get(), "", kDetailFileCap);
                            for (const auto& e : page.entries) files.push_back(entry_json(e));
                            truncated = page.has_more;
                        }
                        json j = summary_json(d);
                        j["license"] = d.license;
                        j["bytes"] = d.bytes;
                        j["checksum"] = d.checksum;
                        j["files"] = std::move(files);
                        j["files_truncated"] = truncated;
                        return http::ok(req, j);
                    },
                .summary = "One dataset: license, size, checksum and the top level of its folder "
                           "(at most 1000 entries; files_truncated says when there are more)",
                .response_schema = kDetailSchema,
                .problem_statuses = {404}});

    router.add({.method = "GET",
                .pattern = "/api/v1/datasets/{slug}/files/{path...}",
                .access = http::Access::anon,
                .handler =
                    [&s](http::Request& req) {
                        const auto d = find_dataset(s, req.param("slug"));
                        const auto& path = req.param("path");
                        const auto parts = split_relative_path(path);
                        if (!parts || parts->empty()) throw file_not_found();
                        auto entry = open_confined(d.storage_path, path);
                        if (!entry) throw file_not_found();
                        if (S_ISREG(entry->st.st_mode)) {
                            if (path.ends_with('/')) throw file_not_found();  // "file.csv/"
                            const auto& name = parts->back();
                            return http::file_response(req, std::move(entry->fd), entry->st, name,
                                                       http::content_type_for(name));
                        }
                        auto page = http::parse_page(req, kListingDefaultLimit);
                        auto listing = list_confined_dir(
                            entry->fd.get(), page.has_cursor ? page.after_id : std::string{},
                            static_cast<std::size_t>(page.limit));
                        std::optional<std::string> next;
                        if (listing.has_more && !listing.entries.empty()) {
                            next = http::encode_cursor(0, listing.entries.back().name);
                        }
                        json entries = json::array();
                        for (const auto& e : listing.entries) entries.push_back(entry_json(e));
                        return http::ok_list(
                            req, {{"path", display_path(*parts)}, {"entries", std::move(entries)}},
                            page.limit, next);
                    },
                .summary = "A file of the dataset (download; a single Range gives 206) or a "
                           "folder listing sorted by name (paginated, at most 500 entries a page)",
                .response_schema = kListingSchema,
                .problem_statuses = {400, 404, 416},
                .query_params = {"limit", "cursor"},
                .file_content_type = "application/octet-stream"});
}

}  // namespace medforge::app
