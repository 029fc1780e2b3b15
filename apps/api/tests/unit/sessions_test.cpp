// The sessions plane's pure parts and its repository: host grammar, gate cache, allocation
// (caps, lowest free GPU, the database's own guard), compare-and-set transitions and events.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "core/ids.hpp"
#include "db/sessions_repo.hpp"
#include "sessions/gate.hpp"
#include "sessions/lifecycle.hpp"
#include "test_support.hpp"

namespace medforge {
namespace {

using mftest::TempDir;
using sessions::session_slug_from_host;

TEST(SessionHost, AcceptsExactHostsAfterNormalisation) {
    EXPECT_EQ(session_slug_from_host("s-abcdefgh.medforge.localhost", "localhost"), "abcdefgh");
    EXPECT_EQ(session_slug_from_host("S-ABCDEFGH.MEDFORGE.LOCALHOST", "localhost"), "abcdefgh");
    EXPECT_EQ(session_slug_from_host("s-abcd2345.medforge.example.org.", "example.org"),
              "abcd2345");
    EXPECT_EQ(session_slug_from_host("s-abcdefgh.medforge.example.org:443", "Example.ORG"),
              "abcdefgh");
    EXPECT_EQ(session_slug_from_host("s-abcdefgh.medforge.example.org.:8080", "example.org"),
              "abcdefgh");
}

TEST(SessionHost, RefusesEverythingElse) {
    for (const char* h : {"", "medforge.localhost", "api.medforge.localhost",
                          "s-abcdefgh.medforge.localhost..", "x.s-abcdefgh.medforge.localhost",
                          "s-abcdefgh.x.medforge.localhost", "s-abcdefg.medforge.localhost",
                          "s-abcdefghi.medforge.localhost", "s-abcdefg1.medforge.localhost",
                          "s-abcdefg8.medforge.localhost", "s-abcdefg-.medforge.localhost",
                          "s_abcdefgh.medforge.localhost", "s-abcdefgh.medforge.localhost.evil",
                          "s-abcdefgh.medforge.localhost:", "s-abcdefgh.medforge.localhost:99999a",
                          "s-abcdefgh.medforge.localhost:123456", "s-abcdefgh.medforge.other",
                          "[::1]:80", "s-abcdefgh.medforge.localhost\r\nx: y"}) {
        EXPECT_FALSE(session_slug_from_host(h, "localhost").has_value()) << h;
    }
}

TEST(SessionSlug, NewSlugsMatchTheGrammarAndDiffer) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto s = sessions::new_slug();
        ASSERT_TRUE(sessions::valid_slug(s)) << s;
        seen.insert(s);
    }
    EXPECT_GT(seen.size(), 995u);
    EXPECT_EQ(sessions::container_name("abcdefgh"), "mf-session-abcdefgh");
}

TEST(GateCache, ServesFreshEntriesAndForgetsOldOnes) {
    sessions::GateCache cache(2 * kMicrosPerSecond);
    EXPECT_FALSE(cache.get("abcdefgh", 100).has_value());
    cache.put("abcdefgh", db::RunningSession{"id", "user", "127.0.0.1:1"}, 100);
    auto hit = cache.get("abcdefgh", 100 + kMicrosPerSecond);
    ASSERT_TRUE(hit && hit->session);
    EXPECT_EQ(hit->session->upstream, "127.0.0.1:1");
    EXPECT_FALSE(hit->refresh);  // young
    // Past half its life plus its spread (at most a quarter): one caller is told to refresh it,
    // the others are not.
    EXPECT_TRUE(cache.get("abcdefgh", 100 + kMicrosPerSecond + 600000)->refresh);
    EXPECT_FALSE(cache.get("abcdefgh", 100 + kMicrosPerSecond + 700000)->refresh);
    EXPECT_FALSE(cache.get("abcdefgh", 100 + 3 * kMicrosPerSecond).has_value());
    cache.put("zzzzzzzz", std::nullopt, 100);
    hit = cache.get("zzzzzzzz", 200);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->session, nullptr);  // a cached "not running"
    cache.erase("zzzzzzzz");
    EXPECT_FALSE(cache.get("zzzzzzzz", 200).has_value());
}

struct Db {
    TempDir dir;
    std::unique_ptr<db::Database> db = mftest::open_migrated_sqlite(dir, 8);

    explicit Db(int gpus) {
        db->with_connection([&](db::Connection& c) {
            for (int i = 0; i < gpus; ++i) {
                c.exec("INSERT INTO gpu_devices (id, name, enabled) VALUES (:i, 'g', 1)",
                       {std::int64_t{i}});
            }
        });
    }
    std::string user(int cap = 1) {
        const std::string id = uuid_v4();
        db->with_connection([&](db::Connection& c) {
            c.exec(
                "INSERT INTO users (id, email, password_hash, role, max_concurrent_sessions, "
                "display_name, created_at) VALUES (:id, :e, 'x', 'user', :cap, 'u', 0)",
                {id, id + "@example.org", std::int64_t{cap}});
        });
        return id;
    }
    db::sessions::Allocation allocate(const std::string& user) {
        db::sessions::NewSession n;
        n.id = uuid_v4();
        n.user_id = user;
        n.tier = "public";
        n.pack_id = "00000000-0000-0000-0000-000000000100";
        n.slug = sessions::new_slug();
        n.workspace = user + "/" + n.id;
        n.now = 1000;
        return db->with_connection([&](db::Connection& c) { return db::sessions::allocate(c, n); });
    }
};

TEST(SessionAllocation, CapLowestFreeGpuAndRelease) {
    Db d(3);
    const auto a = d.user(2);
    const auto b = d.user(1);
    auto a1 = d.allocate(a);
    ASSERT_EQ(a1.outcome, db::sessions::AllocationOutcome::allocated);
    EXPECT_EQ(a1.gpu_id, 0);
    EXPECT_EQ(d.allocate(a).gpu_id, 1);
    EXPECT_EQ(d.allocate(a).outcome, db::sessions::AllocationOutcome::limit_reached);
    EXPECT_EQ(d.allocate(b).gpu_id, 2);
    EXPECT_EQ(d.allocate(d.user(1)).outcome, db::sessions::AllocationOutcome::no_gpu);
    // Leaving the active set frees the GPU; the lowest free one is taken next.
    ASSERT_TRUE(d.db->with_connection([&](db::Connection& c) {
        return db::sessions::transition(c, a1.session.id, "starting", "error", 2000, "failed");
    }));
    auto again = d.allocate(d.user(1));
    EXPECT_EQ(again.gpu_id, 0);
    // A disabled GPU is never allocated.
    d.db->with_connection(
        [&](db::Connection& c) { return db::sessions::set_gpu_enabled(c, 0, false); });
    EXPECT_EQ(d.allocate(d.user(1)).outcome, db::sessions::AllocationOutcome::no_gpu);
}

TEST(SessionAllocation, TheDatabaseRefusesTwoActiveSessionsOnOneGpu) {
    Db d(1);
    const auto u = d.user(2);
    auto s = d.allocate(u);
    ASSERT_EQ(s.outcome, db::sessions::AllocationOutcome::allocated);
    EXPECT_THROW(d.db->with_connection([&](db::Connection& c) {
        return c.exec(
            "INSERT INTO sessions (id, user_id, tier, pack_id, status, gpu_id, active_gpu_id, "
            "slug, workspace, created_at, status_changed_at) VALUES ('x', :u, 'public', "
            "'00000000-0000-0000-0000-000000000100', 'running', 0, 0, 'zzzzzzzz', 'w/x', 0, 0)",
            {u});
    }),
                 db::UniqueViolation);
}

TEST(SessionTransitions, CompareAndSetWithEvents) {
    Db d(1);
    auto s = d.allocate(d.user()).session;
    auto cas = [&](const char* from, const char* to) {
        return d.db->with_connection([&](db::Connection& c) {
            db::sessions::TransitionFields f;
            f.upstream = "127.0.0.1:9";
            return db::sessions::transition(c, s.id, from, to, 5000, std::string("to ") + to, f);
        });
    };
    EXPECT_FALSE(cas("running", "stopping"));  // it is starting
    EXPECT_TRUE(cas("starting", "running"));
    EXPECT_FALSE(cas("starting", "running"));  // the loser changes nothing
    EXPECT_TRUE(cas("running", "stopping"));
    EXPECT_TRUE(cas("stopping", "stopped"));
    auto row =
        d.db->with_connection([&](db::Connection& c) { return db::sessions::find(c, s.id); });
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "stopped");
    EXPECT_EQ(row->upstream, "127.0.0.1:9");
    EXPECT_EQ(mftest::query_i64(*d.db, "SELECT COUNT(*) FROM sessions WHERE active_gpu_id IS NULL"),
              1);
    auto events = d.db->with_connection(
        [&](db::Connection& c) { return db::sessions::events_after(c, s.id, 0, 100); });
    std::vector<std::string> kinds;
    for (const auto& e : events) kinds.push_back(e.kind);
    EXPECT_EQ(kinds, (std::vector<std::string>{"starting", "running", "stopping", "stopped"}));
    auto later = d.db->with_connection(
        [&](db::Connection& c) { return db::sessions::events_after(c, s.id, events[1].id, 100); });
    EXPECT_EQ(later.size(), 2u);
}

TEST(SessionTransitions, LongErrorMessagesAreTruncatedOnACharacterBoundary) {
    Db d(1);
    auto s = d.allocate(d.user()).session;
    std::string msg(1999, 'x');
    msg += "\xc3\xa9\xc3\xa9";  // two 2-byte characters straddling the limit
    d.db->with_connection([&](db::Connection& c) {
        db::sessions::TransitionFields f;
        f.error_message = msg;
        return db::sessions::transition(c, s.id, "starting", "error", 1, "x", f);
    });
    auto row =
        d.db->with_connection([&](db::Connection& c) { return db::sessions::find(c, s.id); });
    ASSERT_TRUE(row && row->error_message);
    EXPECT_EQ(row->error_message->size(), 1999u);
}

TEST(ConcurrencySessionAllocation, ParallelCreatesNeverShareAGpu) {
    Db d(7);
    std::vector<std::string> users;
    for (int i = 0; i < 10; ++i) users.push_back(d.user(8));
    std::mutex mu;
    std::vector<std::int64_t> gpus;
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 10; ++t) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < 5; ++k) {
                try {
                    auto a = d.allocate(users[static_cast<std::size_t>(t)]);
                    if (a.outcome == db::sessions::AllocationOutcome::allocated) {
                        std::lock_guard lk(mu);
                        gpus.push_back(a.gpu_id);
                    } else {
                        ++refused;
                    }
                } catch (const db::UniqueViolation&) {
                    ++refused;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    std::sort(gpus.begin(), gpus.end());
    EXPECT_EQ(gpus, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(refused.load(), 43);
}

}  // namespace
}  // namespace medforge
