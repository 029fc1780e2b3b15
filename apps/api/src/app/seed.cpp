// Seeding competition bundles and their datasets at start: insert what is missing, never rewrite.
#include <algorithm>
#include <filesystem>

#include "app/app.hpp"
#include "competitions/bundle.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "db/competitions_repo.hpp"

namespace medforge::app {

namespace {

namespace fs = std::filesystem;

// Size and a listing checksum of a dataset folder: SHA-256 over "relative path\0size\n" of every
// regular file in path order. Cheap to compute at start, and it changes when files are added,
// removed or resized.
std::pair<std::int64_t, std::string> describe_dataset_folder(const fs::path& root) {
    std::vector<std::pair<std::string, std::int64_t>> files;
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
        for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
                files.emplace_back(fs::relative(it->path(), root, ec).string(),
                                   static_cast<std::int64_t>(it->file_size(ec)));
            }
        }
    }
    std::sort(files.begin(), files.end());
    std::string listing;
    std::int64_t bytes = 0;
    for (const auto& [name, size] : files) {
        listing += name;
        listing.push_back('\0');
        listing += std::to_string(size);
        listing.push_back('\n');
        bytes += size;
    }
    return {bytes, competitions::sha256_hex(listing)};
}

}  // namespace

SeedReport seed_competitions(db::Database& db, const Config& config, const Clock& clock) {
    SeedReport report;
    std::error_code ec;
    const fs::path root = fs::absolute(config.competitions_dir, ec);
    if (!fs::is_directory(root, ec)) {
        log::warn("competitions.seed_skipped", {{"reason", "COMPETITIONS_DIR is not a folder"}});
        return report;
    }
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        if (entry.is_directory() && fs::exists(entry.path() / "manifest.json")) {
            dirs.push_back(entry.path());
        }
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& dir : dirs) {
        competitions::Bundle bundle;
        try {
            bundle = competitions::load_bundle(dir);
        } catch (const competitions::BundleError& e) {
            report.rejected.push_back(dir.filename().string());
            log::error("competitions.bundle_rejected",
                       {{"bundle", dir.filename().string()}, {"error", e.what()}});
            continue;
        }
        const auto& m = bundle.manifest;
        const Micros now = clock.now();
        db.with_connection([&](db::Connection& c) {
            db::Transaction tx(c);
            db::DatasetRecord ds;
            ds.id = uuid_v4();
            ds.slug = m.dataset.slug;
            ds.title = m.dataset.title;
            ds.source = m.dataset.source;
            ds.license = m.dataset.license;
            ds.storage_path = (fs::absolute(config.datasets_root, ec) / m.dataset.slug).string();
            std::tie(ds.bytes, ds.checksum) = describe_dataset_folder(ds.storage_path);
            ds.created_at = now;
            if (db::datasets::insert_if_missing(c, ds)) ++report.datasets_added;
            const auto dataset = db::datasets::find_by_slug(c, m.dataset.slug);
            db::CompetitionRecord r;
            r.id = uuid_v4();
            r.slug = m.slug;
            r.title = m.title;
            r.description = m.description;
            r.tier = "public";
            r.status = "active";
            r.metric = std::string(competitions::metric_name(m.metric));
            r.metric_version = m.metric_version;
            r.higher_is_better = m.higher_is_better;
            r.submission_cap_per_day = m.submission_cap_per_day;
            r.scoring_mode = m.scoring_mode;
            r.leaderboard_rule = m.leaderboard_rule;
            r.evaluation_policy = m.evaluation_policy;
            r.dataset_id = dataset ? dataset->id : std::string{};
            r.bundle_path = fs::absolute(dir, ec).string();
            r.created_at = now;
            r.updated_at = now;
            if (db::competitions::insert_if_missing(c, r)) ++report.competitions_added;
            tx.commit();
        });
    }
    log::info("competitions.seeded", {{"competitions_added", report.competitions_added},
                                      {"datasets_added", report.datasets_added},
                                      {"rejected", report.rejected}});
    return report;
}

}  // namespace medforge::app
