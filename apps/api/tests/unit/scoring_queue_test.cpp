// The scoring queue on SQLite: leased claims, lost leases, the cap insert and the leaderboard
// entry. Suites named Concurrency* also run under TSan (stage concurrency-tsan).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "db/submissions_repo.hpp"
#include "test_support.hpp"

namespace medforge {
namespace {

using mftest::TempDir;

constexpr std::int64_t kNow = 1'800'000'000'000'000;
constexpr std::int64_t kLease = 120'000'000;

struct Fixture {
    TempDir dir;
    std::unique_ptr<db::Database> db = mftest::open_migrated_sqlite(dir, 8);
    std::string competition = uuid_v4();

    Fixture() {
        db->with_connection([&](db::Connection& c) {
            c.exec(
                "INSERT INTO competitions (id, slug, title, description, tier, status, metric, "
                "metric_version, higher_is_better, scoring_mode, leaderboard_rule, "
                "evaluation_policy, submission_cap_per_day, bundle_path, created_at, updated_at) "
                "VALUES (:id, 'comp', 't', 'd', 'public', 'active', 'accuracy', '1', 1, 'm', 'r', "
                "'p', 5, '/nowhere', 0, 0)",
                {competition});
        });
    }

    std::string user() {
        const std::string id = uuid_v4();
        db->with_connection([&](db::Connection& c) {
            c.exec(
                "INSERT INTO users (id, email, password_hash, role, display_name, created_at) "
                "VALUES (:id, :e, 'x', 'user', 'u', 0)",
                {id, id + "@example.org"});
        });
        return id;
    }

    db::SubmissionRecord record(const std::string& user_id, std::int64_t at) const {
        db::SubmissionRecord r;
        r.id = uuid_v4();
        r.competition_id = competition;
        r.user_id = user_id;
        r.filename = "s.csv";
        r.artifact_path = "/nowhere/" + r.id + ".csv";
        r.artifact_sha256 = std::string(64, '0');
        r.created_at = at;
        return r;
    }

    std::string queue(const std::string& user_id, std::int64_t at) {
        auto r = record(user_id, at);
        db->with_connection(
            [&](db::Connection& c) { db::submissions::insert_within_cap(c, r, 1000, 0); });
        return r.id;
    }

    db::NewScore score(double primary) const {
        db::NewScore s;
        s.id = uuid_v4();
        s.primary_score = primary;
        s.components_json = "{}";
        s.metric = "accuracy";
        s.metric_version = "1";
        s.evaluation_split_version = "v1";
        s.scorer_version = "test";
        s.manifest_sha256 = std::string(64, 'a');
        s.holdout_sha256 = std::string(64, 'b');
        return s;
    }

    std::optional<db::SubmissionRecord> claim(const std::string& owner, std::int64_t now,
                                              const std::optional<std::string>& only = {}) {
        return db->with_connection(
            [&](db::Connection& c) { return db::submissions::claim(c, owner, now, kLease, only); });
    }
};

TEST(ScoringQueue, ClaimsOldestFirstWithALeaseAndAnAttempt) {
    Fixture f;
    const auto u = f.user();
    const auto second = f.queue(u, 20);
    const auto first = f.queue(u, 10);
    auto c = f.claim("w1", kNow);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->id, first);
    EXPECT_EQ(c->status, "scoring");
    EXPECT_EQ(c->lease_owner, "w1");
    EXPECT_EQ(c->lease_expires_at, kNow + kLease);
    EXPECT_EQ(c->attempts, 1);
    EXPECT_EQ(f.claim("w2", kNow)->id, second);
    EXPECT_FALSE(f.claim("w3", kNow));                   // both leased
    EXPECT_EQ(f.claim("w3", kNow + kLease)->id, first);  // first lease expired
}

TEST(ScoringQueue, OnlyIdClaimsThatSubmissionOrNothing) {
    Fixture f;
    const auto u = f.user();
    const auto a = f.queue(u, 10);
    const auto b = f.queue(u, 20);
    EXPECT_EQ(f.claim("api", kNow, b)->id, b);
    EXPECT_FALSE(f.claim("api", kNow, b));  // already leased
    EXPECT_EQ(f.claim("w", kNow)->id, a);
}

TEST(ScoringQueue, ALostLeaseDiscardsTheResult) {
    Fixture f;
    const auto u = f.user();
    const auto id = f.queue(u, 10);
    auto slow = f.claim("slow", kNow);
    auto fast = f.claim("fast", kNow + kLease + 1);
    ASSERT_TRUE(slow && fast);
    const bool kept_fast = f.db->with_connection([&](db::Connection& c) {
        return db::submissions::record_score(c, *fast, "fast", f.score(0.5), true, kNow);
    });
    const bool kept_slow = f.db->with_connection([&](db::Connection& c) {
        return db::submissions::record_score(c, *slow, "slow", f.score(0.9), true, kNow);
    });
    EXPECT_TRUE(kept_fast);
    EXPECT_FALSE(kept_slow);
    EXPECT_EQ(mftest::query_i64(*f.db,
                                "SELECT COUNT(*) FROM submission_scores WHERE submission_id "
                                "= :id AND is_official = 1",
                                {id}),
              1);
    EXPECT_EQ(mftest::query_i64(
                  *f.db, "SELECT COUNT(*) FROM leaderboard_entries WHERE primary_score = 0.5", {}),
              1);
}

TEST(ScoringQueue, RetryBackOffAndDeadLetterRefund) {
    Fixture f;
    const auto u = f.user();
    const auto id = f.queue(u, 10);
    auto c = f.claim("w", kNow);
    f.db->with_connection([&](db::Connection& conn) {
        EXPECT_TRUE(db::submissions::release_for_retry(conn, id, "w", "retry", kNow + 5));
    });
    EXPECT_FALSE(f.claim("w", kNow + 4));  // still backing off
    c = f.claim("w", kNow + 5);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->attempts, 2);
    f.db->with_connection([&](db::Connection& conn) {
        EXPECT_FALSE(db::submissions::fail_and_refund(conn, id, "other", "x"));
        EXPECT_TRUE(db::submissions::fail_and_refund(conn, id, "w", "gave up"));
    });
    auto row = f.db->with_connection(
        [&](db::Connection& conn) { return db::submissions::find(conn, id); });
    EXPECT_EQ(row->status, "failed");
    EXPECT_FALSE(row->counts_toward_cap);
    EXPECT_FALSE(f.claim("w", kNow + kLease * 10));
}

TEST(ScoringQueue, RecomputeKeepsTheBestOfCurrentOfficialScores) {
    Fixture f;
    const auto u = f.user();
    std::vector<std::string> ids = {f.queue(u, 10), f.queue(u, 20)};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto c = f.claim("w", kNow, ids[i]);
        f.db->with_connection([&](db::Connection& conn) {
            db::submissions::record_score(conn, *c, "w", f.score(i == 0 ? 0.9 : 0.4), true, kNow);
        });
    }
    // A re-score of the best lowers it: the entry moves to the other submission.
    f.db->with_connection([&](db::Connection& conn) { db::submissions::requeue(conn, ids[0]); });
    auto c = f.claim("w", kNow, ids[0]);
    f.db->with_connection([&](db::Connection& conn) {
        db::submissions::record_score(conn, *c, "w", f.score(0.1), true, kNow + 1);
    });
    auto page = f.db->with_connection([&](db::Connection& conn) {
        return db::leaderboard::page(conn, f.competition, std::nullopt, 10);
    });
    ASSERT_EQ(page.size(), 1u);
    EXPECT_EQ(page[0].best_submission_id, ids[1]);
    EXPECT_DOUBLE_EQ(page[0].primary_score, 0.4);
    EXPECT_DOUBLE_EQ(page[0].rank_score, -0.4);
    EXPECT_EQ(page[0].submission_count, 2);
}

TEST(ConcurrencyScoringQueue, ParallelClaimersTakeEachJobOnce) {
    Fixture f;
    const auto u = f.user();
    std::vector<std::string> ids;
    for (int i = 0; i < 60; ++i) ids.push_back(f.queue(u, i));
    std::mutex mu;
    std::map<std::string, int> seen;
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            const std::string owner = "w" + std::to_string(t);
            while (auto c = f.claim(owner, kNow)) {
                std::lock_guard lock(mu);
                ++seen[c->id];
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(seen.size(), ids.size());
    for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

TEST(ConcurrencyScoringQueue, ParallelInsertsNeverOvershootTheCap) {
    Fixture f;
    const auto u = f.user();
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
        threads.emplace_back([&, t] {
            auto r = f.record(u, 1000 + t);
            auto left = f.db->with_connection(
                [&](db::Connection& c) { return db::submissions::insert_within_cap(c, r, 5, 0); });
            if (left) ++accepted;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted.load(), 5);
    EXPECT_EQ(mftest::query_i64(*f.db, "SELECT COUNT(*) FROM submissions", {}), 5);
}

}  // namespace
}  // namespace medforge
