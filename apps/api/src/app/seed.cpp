// Seeding competition bundles and their datasets at start: insert what is missing, never rewrite.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "app/app.hpp"
#include "app/competition_common.hpp"
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

// The public files of a bundle: what a participant may have. Never holdout_labels.csv nor
// manifest.json.
constexpr std::array<const char*, 2> kPublicBundleFiles = {"sample_submission.csv", "test_ids.csv"};

std::string dataset_readme(const competitions::Manifest& m) {
    std::string out = "# " + m.dataset.title + "\n\n";
    out += "- Source: " + m.dataset.source + "\n";
    out += "- License: " + m.dataset.license + "\n";
    out += "- Competition: `" + m.slug + "` (" + m.title + ")\n\n";
    out += "## Files\n\n";
    out += "- `test_ids.csv`: the ids to predict (`" + m.id_column + "`).\n";
    out += "- `sample_submission.csv`: a valid submission to start from.\n\n";
    out += "The labels used for scoring are hidden and are not part of this dataset.\n\n";
    out += "## The competition\n\n" + m.description;
    if (!out.ends_with('\n')) out.push_back('\n');
    return out;
}

// Gives a seeded dataset content the first time: its folder gets the bundle's public files and a
// README.md made from the manifest. A folder that exists is never touched (an operator's content
// wins). The folder is built under a hidden temporary name beside it and renamed into place, so
// another process never sees it half-written and a concurrent seeder loses the rename cleanly.
// Returns whether it created the folder; failures are logged, never fatal.
bool materialize_dataset_folder(const competitions::Bundle& bundle, const fs::path& target) {
    std::error_code ec;
    if (fs::exists(target, ec) || ec) return false;
    const auto& m = bundle.manifest;
    const fs::path parent = target.parent_path();
    fs::create_directories(parent, ec);
    const auto suffix = random_bytes(6);
    const fs::path tmp =
        parent / ("." + m.dataset.slug + ".seed-" + to_hex(suffix.data(), suffix.size()));
    bool ok = !ec && fs::create_directory(tmp, ec) && !ec;
    for (const char* name : kPublicBundleFiles) {
        if (ok) ok = fs::copy_file(bundle.dir / name, tmp / name, ec) && !ec;
    }
    if (ok) {
        std::ofstream readme(tmp / "README.md", std::ios::binary);
        readme << dataset_readme(m);
        readme.close();
        ok = readme.good();
    }
    if (ok) {
        fs::permissions(tmp,
                        fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec,
                        ec);
        fs::rename(tmp, target, ec);
        if (ec && fs::exists(target)) {
            fs::remove_all(tmp, ec);
            return false;  // another process was first
        }
        ok = !ec;
    }
    if (!ok) {
        log::warn("datasets.seed_files_failed",
                  {{"dataset", m.dataset.slug}, {"error", ec ? ec.message() : "write failed"}});
        std::error_code ignored;
        fs::remove_all(tmp, ignored);
    }
    return ok;
}

}  // namespace

DatasetFolder prepare_dataset_folder(const Config& config, const competitions::Bundle& bundle) {
    std::error_code ec;
    DatasetFolder out;
    const fs::path storage = fs::absolute(config.datasets_root, ec) / bundle.manifest.dataset.slug;
    out.path = storage.string();
    out.materialized = materialize_dataset_folder(bundle, storage);
    std::tie(out.bytes, out.checksum) = describe_dataset_folder(storage);
    return out;
}

BundleRows insert_bundle_rows(db::Connection& c, const competitions::Manifest& m,
                              const DatasetFolder& folder, const std::string& bundle_path,
                              Micros now) {
    BundleRows out;
    db::DatasetRecord ds;
    ds.id = uuid_v4();
    ds.slug = m.dataset.slug;
    ds.title = m.dataset.title;
    ds.source = m.dataset.source;
    ds.license = m.dataset.license;
    ds.storage_path = folder.path;
    ds.bytes = folder.bytes;
    ds.checksum = folder.checksum;
    ds.created_at = now;
    out.dataset_added = db::datasets::insert_if_missing(c, ds);
    auto dataset = db::datasets::find_by_slug(c, m.dataset.slug);
    if (folder.materialized && dataset && dataset->storage_path == ds.storage_path &&
        dataset->checksum != ds.checksum) {
        // A row seeded before its folder had content: its size and checksum are stale.
        db::datasets::update_stats(c, ds.slug, ds.bytes, ds.checksum);
    }
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
    r.bundle_path = bundle_path;
    r.created_at = now;
    r.updated_at = now;
    out.competition_added = db::competitions::insert_if_missing(c, r);
    return out;
}

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
        const Micros now = clock.now();
        const DatasetFolder folder = prepare_dataset_folder(config, bundle);
        db.with_connection([&](db::Connection& c) {
            db::Transaction tx(c);
            const auto added =
                insert_bundle_rows(c, bundle.manifest, folder, fs::absolute(dir, ec).string(), now);
            if (added.dataset_added) ++report.datasets_added;
            if (added.competition_added) ++report.competitions_added;
            tx.commit();
        });
    }
    log::info("competitions.seeded", {{"competitions_added", report.competitions_added},
                                      {"datasets_added", report.datasets_added},
                                      {"rejected", report.rejected}});
    return report;
}

}  // namespace medforge::app
