// Run under TSan by `make test` (stage concurrency-tsan, --gtest_filter='Concurrency*'): every
// suite here must start with "Concurrency".

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth_service.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_cache.hpp"
#include "core/errors.hpp"
#include "db/migrations.hpp"
#include "test_support.hpp"

namespace medforge {
namespace {

constexpr Micros kStart = 1'700'000'000'000'000;
constexpr Micros kSecond = kMicrosPerSecond;
constexpr int kThreads = 8;

// Runs body(i) on `n` threads released together, and joins them.
void run_together(int n, const std::function<void(int)>& body) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            ++ready;
            while (!go.load()) std::this_thread::yield();
            body(i);
        });
    }
    while (ready.load() < n) std::this_thread::yield();
    go = true;
    for (auto& t : threads) t.join();
}

auth::CachedCredential credential(const std::string& user, Micros last_seen) {
    auth::CachedCredential c;
    auth::Principal p;
    p.user_id = user;
    c.principal = std::make_shared<const auth::Principal>(std::move(p));
    c.created_at = kStart;
    c.expires_at = kStart + 3600 * kSecond;
    c.last_seen_at = last_seen;
    c.fetched_at = kStart;
    return c;
}

TEST(ConcurrencyTokenCache, HammeredCacheGrantsEachSlideOnce) {
    constexpr int kSlideTokens = 64;
    constexpr Micros kInterval = 60 * kSecond;
    auth::TokenCache cache(3600 * kSecond);
    auto slide_hash = [](int t) { return "slide-" + std::to_string(t); };
    for (int t = 0; t < kSlideTokens; ++t) cache.put(slide_hash(t), credential("stable", kStart));

    std::vector<std::atomic<int>> grants(kSlideTokens);
    std::atomic<int> victim_hits{0};
    auto round = [&](Micros now) {
        for (auto& g : grants) g = 0;
        run_together(kThreads, [&](int id) {
            for (int i = 0; i < 400; ++i) {
                const std::string victim = "victim-" + std::to_string(i % 4);
                const std::string hash = "h-" + std::to_string(id) + "-" + std::to_string(i % 16);
                cache.put(hash, credential(victim, kStart));
                if (cache.get(hash, now)) ++victim_hits;
                if (i % 7 == id % 7) cache.erase_user(victim);
                const int t = (i + id * 8) % kSlideTokens;
                if (cache.claim_slide(slide_hash(t), now, kInterval, now + 3600 * kSecond)) {
                    ++grants[static_cast<std::size_t>(t)];
                }
                (void)cache.get(slide_hash(t), now);
                (void)cache.size();
            }
        });
        for (int t = 0; t < kSlideTokens; ++t) {
            EXPECT_EQ(grants[static_cast<std::size_t>(t)].load(), 1)
                << "token " << t << " at +" << (now - kStart) / kSecond << " s";
        }
    };
    round(kStart + kInterval);
    round(kStart + 2 * kInterval);
    EXPECT_GT(victim_hits.load(), 0);
    for (int t = 0; t < kSlideTokens; ++t) {
        const auto e = cache.get(slide_hash(t), kStart + 2 * kInterval);
        ASSERT_TRUE(e.has_value()) << "erase_user of other users must not drop token " << t;
        EXPECT_EQ(e->last_seen_at, kStart + 2 * kInterval);
    }
}

TEST(ConcurrencyRateLimiter, ExactlyTheLimitIsAllowedOnOneKey) {
    auth::RateLimiter limiter(50, 60 * kSecond);
    std::atomic<int> allowed{0};
    std::atomic<int> refused{0};
    run_together(kThreads, [&](int) {
        for (int i = 0; i < 100; ++i) {
            if (limiter.attempt("203.0.113.9", kStart))
                ++refused;
            else
                ++allowed;
        }
    });
    EXPECT_EQ(allowed.load(), 50);
    EXPECT_EQ(refused.load(), kThreads * 100 - 50);
}

TEST(ConcurrencyRateLimiter, ManyKeysAtOnce) {
    auth::RateLimiter limiter(5, 60 * kSecond, /*max_keys=*/16);
    std::vector<std::atomic<int>> allowed(kThreads);
    run_together(kThreads, [&](int id) {
        for (int i = 0; i < 200; ++i) {
            // Each thread has its own key plus churn keys that force the eviction path.
            if (!limiter.attempt("own-" + std::to_string(id), kStart + i)) {
                ++allowed[static_cast<std::size_t>(id)];
            }
            limiter.attempt("churn-" + std::to_string(id) + "-" + std::to_string(i), kStart + i);
        }
    });
    for (int id = 0; id < kThreads; ++id) {
        EXPECT_EQ(allowed[static_cast<std::size_t>(id)].load(), 5) << "thread " << id;
    }
}

// Two processes (API and worker) starting together: both run the migrations on one fresh file.
// `warm_up` opens each process's connection first, so only run_migrations itself races.
void race_migrations(bool warm_up) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        mftest::TempDir tmp;
        const auto file = tmp.path() / "medforge.db";
        std::vector<std::unique_ptr<db::Database>> dbs;
        dbs.push_back(mftest::open_sqlite(file, 1));
        dbs.push_back(mftest::open_sqlite(file, 1));
        if (warm_up) {
            for (auto& d : dbs) {
                std::string error;
                ASSERT_TRUE(d->ping(error)) << error;
            }
        }
        std::vector<db::MigrationReport> reports(2);
        std::vector<std::string> errors(2);
        run_together(2, [&](int i) {
            const auto k = static_cast<std::size_t>(i);
            try {
                reports[k] = db::run_migrations(*dbs[k]);
            } catch (const std::exception& e) {
                errors[k] = e.what();
            }
        });
        ASSERT_EQ(errors[0], "") << "attempt " << attempt;
        ASSERT_EQ(errors[1], "") << "attempt " << attempt;

        const auto versions = db::migrations_for(db::Dialect::sqlite);
        std::vector<int> applied = reports[0].applied;
        applied.insert(applied.end(), reports[1].applied.begin(), reports[1].applied.end());
        std::sort(applied.begin(), applied.end());
        std::vector<int> expected;
        for (const auto& m : versions) expected.push_back(m.version);
        EXPECT_EQ(applied, expected) << "each version applied by exactly one of the two";
        for (const auto& m : versions) {
            EXPECT_EQ(mftest::query_i64(*dbs[0],
                                        "SELECT COUNT(*) FROM schema_migrations WHERE version = :v",
                                        {std::int64_t{m.version}}),
                      1)
                << "version " << m.version;
        }
        EXPECT_EQ(mftest::query_i64(*dbs[1], "SELECT COUNT(*) FROM schema_migrations"),
                  static_cast<std::int64_t>(versions.size()));
    }
}

TEST(ConcurrencyMigrations, TwoProcessesMigrateTheSameFileAtOnce) { race_migrations(true); }

// Regression (Database::open_slot): the first connections of two
// processes to a fresh SQLite file race on "PRAGMA journal_mode=WAL"; the loser gets "database is
// locked" at once (SQLite does not call the busy handler for this lock upgrade), which surfaces as
// DbUnavailable "cannot connect to the database" from run_migrations (was ~1-2% of attempts)
// in the release build, more often under TSan.
TEST(ConcurrencyMigrations, TwoProcessesOpenAFreshFileAtOnce) { race_migrations(false); }

TEST(ConcurrencyAuthService, ParallelSignupsDistinctAndDuplicate) {
    mftest::TempDir tmp;
    auto db = mftest::open_migrated_sqlite(tmp, kThreads * 2);
    Config config = load_config(mftest::env_from({}));
    config.session_secret = std::string(64, 's');
    mftest::FakeHasher hasher;
    ManualClock clock(kStart);
    auth::TokenCache cache(5 * kSecond);
    auth::AuthService svc(*db, config, hasher, clock, cache,
                          [](std::function<void()> fn) { fn(); });

    std::atomic<int> distinct_ok{0};
    std::atomic<int> same_ok{0};
    std::atomic<int> same_taken{0};
    std::vector<std::string> unexpected(kThreads * 2);
    std::vector<std::string> tokens(kThreads * 2);
    run_together(kThreads * 2, [&](int i) {
        const bool same = i >= kThreads;
        const std::string email =
            same ? "same@example.org" : "user" + std::to_string(i) + "@example.org";
        try {
            tokens[static_cast<std::size_t>(i)] = svc.signup(email, "password " + email, {}).token;
            ++(same ? same_ok : distinct_ok);
        } catch (const ApiError& e) {
            if (same && e.status() == 409 && e.code() == "email_taken")
                ++same_taken;
            else
                unexpected[static_cast<std::size_t>(i)] = e.code();
        } catch (const std::exception& e) {
            unexpected[static_cast<std::size_t>(i)] = e.what();
        }
    });
    for (int i = 0; i < kThreads * 2; ++i) {
        EXPECT_EQ(unexpected[static_cast<std::size_t>(i)], "") << "thread " << i;
    }
    EXPECT_EQ(distinct_ok.load(), kThreads);
    EXPECT_EQ(same_ok.load(), 1);
    EXPECT_EQ(same_taken.load(), kThreads - 1);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM users"), kThreads + 1);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM auth_sessions"), kThreads + 1);

    // Every issued token works, also when checked from many threads at once.
    std::atomic<int> authenticated{0};
    run_together(kThreads * 2, [&](int i) {
        const auto& token = tokens[static_cast<std::size_t>(i)];
        if (token.empty()) return;
        for (int k = 0; k < 20; ++k) {
            if (svc.authenticate(token, auth::CredentialKind::session_cookie)) ++authenticated;
        }
    });
    EXPECT_EQ(authenticated.load(), (kThreads + 1) * 20);
}

}  // namespace
}  // namespace medforge
