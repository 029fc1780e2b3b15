// load_bundle_cached: the same Bundle (or BundleError) as load_bundle, a hit only for exactly the
// bytes that were validated, and a damaged, foreign or truncated cache file ignored and rebuilt.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "competitions/bundle.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medforge::competitions;
using mftest::TempDir;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// The repository's example bundles (apps/api/data/competitions), found upwards from the working
// directory or this file.
fs::path repo_bundles() {
    for (fs::path dir : {fs::current_path(), fs::path(__FILE__).parent_path()}) {
        dir = fs::absolute(dir);
        while (true) {
            const fs::path candidate = dir / "apps/api/data/competitions";
            if (fs::is_directory(candidate)) return candidate;
            if (!dir.has_parent_path() || dir.parent_path() == dir) break;
            dir = dir.parent_path();
        }
    }
    return {};
}

// An accuracy bundle with n shuffled integer ids and labels 0..9.
void make_accuracy_bundle(const fs::path& dir, std::size_t n, unsigned seed = 1) {
    fs::create_directories(dir);
    std::mt19937 rng(seed);
    std::vector<std::size_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = i;
    std::shuffle(ids.begin(), ids.end(), rng);
    std::string holdout = "id,label\n";
    std::string test_ids = "id\n";
    std::string sample = "id,label\n";
    for (std::size_t id : ids) {
        holdout += std::to_string(id) + "," + std::to_string(rng() % 10) + "\n";
        test_ids += std::to_string(id) + "\n";
        sample += std::to_string(id) + ",0\n";
    }
    write_file(dir / "holdout_labels.csv", holdout);
    write_file(dir / "test_ids.csv", test_ids);
    write_file(dir / "sample_submission.csv", sample);
    write_file(dir / "manifest.json", R"({
  "slug": "cache-test", "title": "Cache test", "description": "test", "metric": "accuracy",
  "metric_version": "1", "higher_is_better": true, "submission_cap_per_day": 5,
  "id_column": "id", "target_columns": ["label"], "expected_row_count": )" +
                                          std::to_string(n) + R"(,
  "evaluation_split_version": "v1", "scoring_mode": "single_realtime_hidden",
  "leaderboard_rule": "best_per_user", "evaluation_policy": "canonical_test_first",
  "dataset": {"slug": "d", "title": "D", "source": "synthetic", "license": "CC0-1.0"},
  "params": {"labels": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
})");
}

void expect_same(const Bundle& a, const Bundle& b) {
    EXPECT_EQ(a.dir, b.dir);
    EXPECT_EQ(a.manifest.slug, b.manifest.slug);
    EXPECT_EQ(a.manifest.metric, b.manifest.metric);
    EXPECT_EQ(a.manifest_sha256, b.manifest_sha256);
    EXPECT_EQ(a.holdout_sha256, b.holdout_sha256);
    const Holdout& x = a.holdout;
    const Holdout& y = b.holdout;
    EXPECT_EQ(x.rows, y.rows);
    ASSERT_EQ(x.index.size(), y.index.size());
    for (std::size_t i = 0; i < x.index.size(); ++i) {
        ASSERT_EQ(x.index.id(i), y.index.id(i));
        ASSERT_EQ(y.index.find(x.index.id(i)), static_cast<std::uint32_t>(i));
    }
    EXPECT_FALSE(y.index.find("no such id").has_value());
    EXPECT_EQ(x.labels, y.labels);
    ASSERT_EQ(x.boxes.size(), y.boxes.size());
    for (std::size_t i = 0; i < x.boxes.size(); ++i) {
        ASSERT_EQ(x.boxes[i].size(), y.boxes[i].size());
        for (std::size_t k = 0; k < x.boxes[i].size(); ++k) {
            EXPECT_EQ(x.boxes[i][k].x, y.boxes[i][k].x);
            EXPECT_EQ(x.boxes[i][k].y, y.boxes[i][k].y);
            EXPECT_EQ(x.boxes[i][k].width, y.boxes[i][k].width);
            EXPECT_EQ(x.boxes[i][k].height, y.boxes[i][k].height);
        }
    }
    EXPECT_EQ(x.masks, y.masks);
    EXPECT_EQ(x.sizes, y.sizes);
}

std::vector<fs::path> cache_files(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
    return out;
}

Bundle load(const fs::path& bundle, const fs::path& cache, BundleCacheOutcome& outcome) {
    return load_bundle_cached(bundle, {.dir = cache, .min_bundle_bytes = 0}, &outcome);
}

TEST(BundleCache, MissStoresAndHitGivesTheSameBundleAndScores) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 5000);
    const Bundle plain = load_bundle(bundle);

    BundleCacheOutcome outcome{};
    const Bundle first = load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    expect_same(plain, first);
    const auto files = cache_files(cache);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].extension(), ".bundle");
    struct stat st {};
    ASSERT_EQ(::stat(files[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "cache files hold holdout labels: owner only";
    ASSERT_EQ(::stat(cache.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    const Bundle second = load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::hit);
    expect_same(plain, second);

    // The same submission parses and scores identically against both.
    const std::string sub = read_file(bundle / "holdout_labels.csv");
    MemorySource s1(sub);
    MemorySource s2(sub);
    EXPECT_EQ(score_submission(plain, parse_submission(plain, s1)).primary, 1.0);
    EXPECT_EQ(score_submission(second, parse_submission(second, s2)).primary, 1.0);
}

TEST(BundleCache, AnyChangedByteOfAnyFileIsAMiss) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 2000);
    BundleCacheOutcome outcome{};
    load(bundle, cache, outcome);
    ASSERT_EQ(outcome, BundleCacheOutcome::stored);

    // One holdout label changes (the file stays valid and the same size).
    std::string holdout = read_file(bundle / "holdout_labels.csv");
    const std::size_t comma = holdout.find(',', holdout.find('\n'));
    holdout[comma + 1] = holdout[comma + 1] == '3' ? '4' : '3';
    write_file(bundle / "holdout_labels.csv", holdout);
    const Bundle changed = load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    expect_same(load_bundle(bundle), changed);
    EXPECT_EQ(changed.holdout.labels[0], holdout[comma + 1] - '0');
    EXPECT_EQ(cache_files(cache).size(), 1u) << "the older version's file is dropped";
    load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::hit);

    // A blank line added to each other file keeps it valid but changes its bytes.
    for (const char* name : {"test_ids.csv", "sample_submission.csv", "manifest.json"}) {
        write_file(bundle / name, read_file(bundle / name) + "\n");
        load(bundle, cache, outcome);
        EXPECT_EQ(outcome, BundleCacheOutcome::stored) << name;
        load(bundle, cache, outcome);
        EXPECT_EQ(outcome, BundleCacheOutcome::hit) << name;
    }
}

TEST(BundleCache, DamagedTruncatedOrForeignCacheFilesAreIgnoredAndRebuilt) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 3000);
    const Bundle plain = load_bundle(bundle);
    BundleCacheOutcome outcome{};
    load(bundle, cache, outcome);
    ASSERT_EQ(outcome, BundleCacheOutcome::stored);
    const fs::path file = cache_files(cache).at(0);
    const std::string good = read_file(file);

    auto damaged = [&](const std::string& bytes, const char* what) {
        write_file(file, bytes);
        ::chmod(file.c_str(), 0600);
        const Bundle b = load(bundle, cache, outcome);
        EXPECT_EQ(outcome, BundleCacheOutcome::stored) << what;
        expect_same(plain, b);
        EXPECT_EQ(read_file(file), good) << what << ": the file is rewritten";
    };
    for (std::size_t at :
         {std::size_t{0}, std::size_t{20}, std::size_t{170}, good.size() / 2, good.size() - 1}) {
        std::string bytes = good;
        bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
        damaged(bytes, ("flipped byte " + std::to_string(at)).c_str());
    }
    damaged(good.substr(0, good.size() - 8), "truncated");
    damaged(good.substr(0, 100), "truncated inside the header");
    damaged("", "empty");
    damaged(good + "x", "trailing byte");

    // Readable by others: not trusted (and rewritten private).
    ::chmod(file.c_str(), 0644);
    load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::hit);
}

TEST(BundleCache, InvalidBundlesGiveLoadBundlesErrorAndAreNotCached) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 100);
    std::string sample = read_file(bundle / "sample_submission.csv");
    sample.replace(sample.rfind(",0"), 2, ",11");  // not an allowed label
    write_file(bundle / "sample_submission.csv", sample);
    std::string expected;
    try {
        load_bundle(bundle);
    } catch (const BundleError& e) {
        expected = e.what();
    }
    ASSERT_NE(expected.find("sample_submission.csv does not pass validation"), std::string::npos);
    for (int i = 0; i < 2; ++i) {
        try {
            BundleCacheOutcome outcome{};
            load(bundle, cache, outcome);
            ADD_FAILURE() << "no BundleError";
        } catch (const BundleError& e) {
            EXPECT_EQ(std::string(e.what()), expected);
        }
    }
    EXPECT_TRUE(cache_files(cache).empty());

    fs::remove(bundle / "holdout_labels.csv");
    try {
        BundleCacheOutcome outcome{};
        load(bundle, cache, outcome);
        ADD_FAILURE() << "no BundleError";
    } catch (const BundleError& e) {
        EXPECT_EQ(std::string(e.what()), "holdout_labels.csv is missing or unreadable");
    }
}

TEST(BundleCache, EveryMetricRoundTrips) {
    const fs::path repo = repo_bundles();
    ASSERT_FALSE(repo.empty());
    for (const char* slug :
         {"titanic-survival", "rsna-pneumonia-detection", "cifar-100-classification",
          "oxford-pet-segmentation", "chest-xray-pneumothorax"}) {
        TempDir tmp;
        const fs::path bundle = tmp.path() / slug;
        fs::copy(repo / slug, bundle);
        const fs::path cache = tmp.path() / "cache";
        const Bundle plain = load_bundle(bundle);
        BundleCacheOutcome outcome{};
        load(bundle, cache, outcome);
        EXPECT_EQ(outcome, BundleCacheOutcome::stored) << slug;
        const Bundle hit = load(bundle, cache, outcome);
        EXPECT_EQ(outcome, BundleCacheOutcome::hit) << slug;
        expect_same(plain, hit);
        const std::string sub = read_file(bundle / "sample_submission.csv");
        MemorySource s1(sub);
        MemorySource s2(sub);
        const auto r1 = score_submission(plain, parse_submission(plain, s1));
        const auto r2 = score_submission(hit, parse_submission(hit, s2));
        EXPECT_EQ(r1.primary, r2.primary) << slug;
        EXPECT_EQ(r1.components, r2.components) << slug;
    }
}

TEST(BundleCache, SmallBundlesAndNoFolderSkipTheCache) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 50);
    BundleCacheOutcome outcome{};
    load_bundle_cached(bundle, {.dir = cache}, &outcome);  // default minimum: 1 MiB
    EXPECT_EQ(outcome, BundleCacheOutcome::not_used);
    load_bundle_cached(bundle, {}, &outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::not_used);
    EXPECT_FALSE(fs::exists(cache));
}

TEST(BundleCache, AnUnusableFolderStillLoads) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    make_accuracy_bundle(bundle, 100);
    write_file(tmp.path() / "file", "x");
    BundleCacheOutcome outcome{};
    const Bundle b = load(bundle, tmp.path() / "file" / "cache", outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::not_stored);
    expect_same(load_bundle(bundle), b);
    // A folder others may write to is not used.
    fs::create_directory(tmp.path() / "shared");
    ::chmod((tmp.path() / "shared").c_str(), 0777);
    load(bundle, tmp.path() / "shared", outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::not_stored);
    EXPECT_TRUE(cache_files(tmp.path() / "shared").empty());
}

TEST(BundleCache, ConcurrentLoadsAgreeAndLeaveOneValidFile) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 20000);
    const Bundle plain = load_bundle(bundle);
    std::vector<std::thread> threads;
    std::vector<Bundle> results(6);
    for (std::size_t i = 0; i < results.size(); ++i) {
        threads.emplace_back([&, i] {
            BundleCacheOutcome outcome{};
            results[i] = load(bundle, cache, outcome);
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) expect_same(plain, r);
    ASSERT_EQ(cache_files(cache).size(), 1u) << "no temporary file is left behind";
    BundleCacheOutcome outcome{};
    load(bundle, cache, outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::hit);
}

TEST(BundleCache, UseRunsOnceOnAHitAndAgainWhenTheCacheIsStale) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 3000);
    const BundleCacheOptions options{.dir = cache, .min_bundle_bytes = 0};
    std::vector<std::uint64_t> seen;  // the first holdout label each call saw
    auto use = [&](const Bundle& b) {
        seen.push_back(static_cast<std::uint64_t>(b.holdout.labels.at(0)));
        expect_same(load_bundle(bundle), b);
    };
    BundleCacheOutcome outcome{};
    use_bundle_cached(bundle, options, use, &outcome);  // no cache file yet
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    EXPECT_EQ(seen.size(), 1u);
    use_bundle_cached(bundle, options, use, &outcome);  // speculation that stands
    EXPECT_EQ(outcome, BundleCacheOutcome::hit);
    EXPECT_EQ(seen.size(), 2u);

    // The holdout changes: the speculative call sees the old label, the call that stands the new.
    std::string holdout = read_file(bundle / "holdout_labels.csv");
    const std::size_t comma = holdout.find(',', holdout.find('\n'));
    const char old_label = holdout[comma + 1];
    holdout[comma + 1] = old_label == '3' ? '4' : '3';
    write_file(bundle / "holdout_labels.csv", holdout);
    seen.clear();
    std::vector<std::uint64_t> expected = {static_cast<std::uint64_t>(old_label - '0'),
                                           static_cast<std::uint64_t>(holdout[comma + 1] - '0')};
    // expect_same inside `use` would flag the stale call: compare by hand instead.
    use_bundle_cached(
        bundle, options,
        [&](const Bundle& b) {
            seen.push_back(static_cast<std::uint64_t>(b.holdout.labels.at(0)));
        },
        &outcome);
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    EXPECT_EQ(seen, expected);
}

TEST(BundleCache, UseErrorsStandOnlyFromTheCallThatStands) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    const fs::path cache = tmp.path() / "cache";
    make_accuracy_bundle(bundle, 3000);
    const BundleCacheOptions options{.dir = cache, .min_bundle_bytes = 0};
    use_bundle_cached(bundle, options, [](const Bundle&) {});
    // A valid hit: the exception of the (only) call propagates.
    EXPECT_THROW(
        use_bundle_cached(bundle, options, [](const Bundle&) { throw SubmissionError("no"); }),
        SubmissionError);
    // A stale file: the speculative call's exception is dropped, the second call's result stands.
    write_file(bundle / "sample_submission.csv",
               read_file(bundle / "sample_submission.csv") + "\n");
    int calls = 0;
    BundleCacheOutcome outcome{};
    use_bundle_cached(
        bundle, options,
        [&](const Bundle&) {
            if (++calls == 1) throw SubmissionError("from the stale bundle");
        },
        &outcome);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(outcome, BundleCacheOutcome::stored);
    // A bundle that became invalid: load_bundle's error, whatever the speculative call did.
    write_file(bundle / "test_ids.csv", "id\n");
    EXPECT_THROW(use_bundle_cached(bundle, options, [](const Bundle&) {}), BundleError);
}

// A hit keeps the id index in a mapping of the cache file: copies, moves and changes behave as
// for any index, and the mapping outlives the Bundle it came with.
TEST(BundleCache, MappedIndexesAreOrdinaryValues) {
    const fs::path repo = repo_bundles();
    TempDir tmp;
    const fs::path bundle = tmp.path() / "rsna";  // UUID ids: a hashed index
    fs::copy(repo / "rsna-pneumonia-detection", bundle);
    const fs::path cache = tmp.path() / "cache";
    BundleCacheOutcome outcome{};
    load(bundle, cache, outcome);
    IdIndex copy;
    IdIndex moved;
    std::string first;
    {
        Bundle hit = load(bundle, cache, outcome);
        ASSERT_EQ(outcome, BundleCacheOutcome::hit);
        first = std::string(hit.holdout.index.id(0));
        copy = hit.holdout.index;
        moved = std::move(hit.holdout.index);
        EXPECT_EQ(hit.holdout.index.size(), 0u) << "a moved-from index is empty";
        EXPECT_FALSE(hit.holdout.index.find(first).has_value());
    }
    fs::remove_all(cache);  // the mapping stays valid without the file
    ASSERT_GT(copy.size(), 100u);
    EXPECT_EQ(copy.find(first), 0u);
    EXPECT_EQ(moved.find(first), 0u);
    const std::size_t n = copy.size();
    // Inserting copies the tables out of the mapping; the other index is unaffected.
    EXPECT_EQ(copy.insert("new-id"), std::make_pair(static_cast<std::uint32_t>(n), true));
    EXPECT_EQ(copy.insert(first), std::make_pair(0u, false));
    EXPECT_EQ(copy.find("new-id"), static_cast<std::uint32_t>(n));
    EXPECT_FALSE(moved.find("new-id").has_value());
    EXPECT_EQ(moved.size(), n);
    IdIndex again(moved);
    EXPECT_EQ(again.id(n - 1), moved.id(n - 1));
    again = copy;
    EXPECT_EQ(again.find("new-id"), static_cast<std::uint32_t>(n));
}

TEST(BundleCache, DefaultFolder) {
    TempDir tmp;
    const fs::path bundle = tmp.path() / "b";
    make_accuracy_bundle(bundle, 10);
    {
        mftest::ScopedEnv env("MEDFORGE_BUNDLE_CACHE_DIR", "off");
        EXPECT_TRUE(default_bundle_cache_dir(bundle).empty());
    }
    {
        mftest::ScopedEnv env("MEDFORGE_BUNDLE_CACHE_DIR", "/somewhere/else");
        EXPECT_EQ(default_bundle_cache_dir(bundle), fs::path("/somewhere/else"));
    }
    mftest::ScopedEnv unset("MEDFORGE_BUNDLE_CACHE_DIR", std::nullopt);
    EXPECT_EQ(default_bundle_cache_dir(bundle), bundle / ".cache");
    EXPECT_FALSE(fs::exists(bundle / ".cache")) << "resolving creates nothing";
    mftest::ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_bundle_cache_dir(tmp.path() / "missing"), fs::path("/xdg/medforge/bundles"));
}

}  // namespace
