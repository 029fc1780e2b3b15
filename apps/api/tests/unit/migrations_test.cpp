#include "db/migrations.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "core/ids.hpp"
#include "db/users_repo.hpp"
#include "test_support.hpp"

namespace medforge::db {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SplitStatements, SplitsOnSemicolonAtEndOfLine) {
    const auto s = split_statements(
        "-- header comment\n"
        "\n"
        "CREATE TABLE a (\n"
        "    x INT\n"
        ");\n"
        "INSERT INTO a VALUES ('a;b');  \n"
        "-- a comment that ends with a semicolon;\n"
        "INSERT INTO a VALUES (2);\n"
        "-- trailing comment\n");
    ASSERT_EQ(s.size(), 3u);
    EXPECT_THAT(s[0], HasSubstr("CREATE TABLE a ("));
    EXPECT_EQ(s[0].back(), ')');
    EXPECT_EQ(s[1], "INSERT INTO a VALUES ('a;b')");
    EXPECT_THAT(s[2], HasSubstr("INSERT INTO a VALUES (2)"));
    for (const auto& stmt : s) EXPECT_NE(stmt.back(), ';') << stmt;
}

TEST(SplitStatements, HandlesCrLfAndNoTrailingNewline) {
    const auto s = split_statements("SELECT 1;\r\nSELECT 2;");
    EXPECT_THAT(s, ElementsAre("SELECT 1", "SELECT 2"));
}

TEST(SplitStatements, EmptyAndCommentOnlyInputs) {
    EXPECT_THAT(split_statements(""), IsEmpty());
    EXPECT_THAT(split_statements("-- nothing here\n\n  -- still nothing\n"), IsEmpty());
}

TEST(SplitStatements, UnterminatedStatementIsAnError) {
    EXPECT_THROW(split_statements("SELECT 1;\nSELECT 2\n"), std::runtime_error);
    EXPECT_THROW(split_statements("CREATE TABLE a (x INT); -- trailing\n"), std::runtime_error);
}

void expect_well_formed(const std::vector<Migration>& ms) {
    ASSERT_FALSE(ms.empty());
    for (std::size_t i = 0; i < ms.size(); ++i) {
        EXPECT_EQ(ms[i].version, static_cast<int>(i) + 1) << "versions are 1, 2, 3, ...";
        EXPECT_FALSE(ms[i].steps.empty()) << ms[i].name;
        for (const auto& step : ms[i].steps) {
            EXPECT_FALSE(step.empty());
            EXPECT_NE(step.back(), ';') << step;
        }
    }
    EXPECT_EQ(ms.front().name, "0001_init");
}

TEST(MigrationsFor, SqliteStartsAtOneWithoutGaps) {
    const auto ms = migrations_for(Dialect::sqlite);
    expect_well_formed(ms);
    for (const auto& m : ms) {
        for (const auto& step : m.steps) EXPECT_THAT(step, ::testing::Not(HasSubstr("ENGINE=")));
    }
}

TEST(MigrationsFor, MariadbStartsAtOneWithoutGaps) {
    const auto ms = migrations_for(Dialect::mariadb);
    expect_well_formed(ms);
    bool innodb = false;
    for (const auto& step : ms.front().steps)
        innodb |= step.find("ENGINE=InnoDB") != std::string::npos;
    EXPECT_TRUE(innodb) << "the MariaDB file wins over any portable one";
}

TEST(MigrationsFor, BothDialectsHaveTheSameVersions) {
    EXPECT_EQ(migrations_for(Dialect::sqlite).size(), migrations_for(Dialect::mariadb).size());
}

class MigratedDb : public ::testing::Test {
  protected:
    void SetUp() override {
        db = mftest::open_sqlite(tmp.path() / "medforge.db");
        const auto report = run_migrations(*db);
        const int latest = migrations_for(Dialect::sqlite).back().version;
        ASSERT_EQ(report.current_version, latest);
        ASSERT_EQ(report.applied.size(), static_cast<std::size_t>(latest));
        ASSERT_EQ(report.applied.front(), 1);
    }

    std::int64_t count(const std::string& sql, const std::vector<Value>& params = {}) {
        return mftest::query_i64(*db, sql, params);
    }

    void exec(const std::string& sql, const std::vector<Value>& params) {
        db->with_connection([&](Connection& c) { c.exec(sql, params); });
    }

    std::string add_user(const std::string& email) {
        UserRecord u;
        u.id = uuid_v4();
        u.email = email;
        u.password_hash = "x";
        u.role = "user";
        u.display_name = "u";
        u.created_at = 1;
        db->with_connection([&](Connection& c) { users::insert(c, u); });
        return u.id;
    }

    void add_gpu(std::int64_t id) {
        exec("INSERT INTO gpu_devices (id, name, uuid, enabled) VALUES (:i, :n, NULL, 1)",
             {id, "gpu" + std::to_string(id)});
    }

    // Inserts a session row; `active_gpu` nullopt stores NULL.
    void add_session(const std::string& user, const std::string& status, std::int64_t gpu,
                     std::optional<std::int64_t> active_gpu) {
        const std::string id = uuid_v4();
        exec(
            "INSERT INTO sessions (id, user_id, tier, pack_id, status, gpu_id, active_gpu_id, "
            "slug, workspace, created_at, status_changed_at) VALUES (:id, :u, 'public', "
            ":pack, :st, :g, :ag, :slug, :ws, 1, 1)",
            {id, user, std::string(kDefaultPack), status, gpu,
             active_gpu ? Value(*active_gpu) : Value(std::monostate{}), "slug-" + id, "ws-" + id});
    }

    void expect_check_failure(const std::string& user, const std::string& status, std::int64_t gpu,
                              std::optional<std::int64_t> active);

    static constexpr const char* kDefaultPack = "00000000-0000-0000-0000-000000000100";
    mftest::TempDir tmp;
    std::unique_ptr<Database> db;
};

TEST_F(MigratedDb, SecondRunAppliesNothing) {
    const auto again = run_migrations(*db);
    EXPECT_THAT(again.applied, IsEmpty());
    EXPECT_EQ(again.current_version, migrations_for(Dialect::sqlite).back().version);
    EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"),
              static_cast<std::int64_t>(migrations_for(Dialect::sqlite).size()));
    EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations WHERE version = 1"), 1);
}

TEST_F(MigratedDb, ANewDatabaseObjectSeesTheSchema) {
    db.reset();
    auto reopened = mftest::open_sqlite(tmp.path() / "medforge.db");
    EXPECT_THAT(run_migrations(*reopened).applied, IsEmpty());
}

TEST_F(MigratedDb, CreatesTheTablesOfTheSpec) {
    for (const char* table : {"users", "auth_sessions", "access_tokens", "packs", "gpu_devices",
                              "sessions", "session_events", "datasets", "competitions",
                              "submissions", "submission_scores", "leaderboard_entries"}) {
        EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :n",
                        {std::string(table)}),
                  1)
            << table;
    }
}

TEST_F(MigratedDb, SeedsTheDefaultPack) {
    EXPECT_EQ(count("SELECT COUNT(*) FROM packs WHERE id = :id AND name = 'default'",
                    {std::string(kDefaultPack)}),
              1);
}

TEST_F(MigratedDb, UsersEmailIsUnique) {
    add_user("a@example.org");
    EXPECT_THROW(add_user("a@example.org"), UniqueViolation);
}

TEST_F(MigratedDb, AtMostOneActiveSessionPerGpu) {
    const std::string u = add_user("a@example.org");
    add_gpu(0);
    add_gpu(1);
    add_session(u, "running", 0, 0);
    EXPECT_THROW(add_session(u, "running", 0, 0), UniqueViolation);
    EXPECT_THROW(add_session(u, "starting", 0, 0), UniqueViolation);
    EXPECT_NO_THROW(add_session(u, "running", 1, 1)) << "another GPU is free";
    EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE active_gpu_id = 0"), 1);
}

TEST_F(MigratedDb, TerminalSessionsHoldNoGpu) {
    const std::string u = add_user("a@example.org");
    add_gpu(0);
    add_session(u, "running", 0, 0);
    EXPECT_NO_THROW(add_session(u, "stopped", 0, std::nullopt));
    EXPECT_NO_THROW(add_session(u, "error", 0, std::nullopt));
    EXPECT_NO_THROW(add_session(u, "stopped", 0, std::nullopt));

    // Once the running one ends, the GPU can be allocated again.
    exec("UPDATE sessions SET status = 'stopped', active_gpu_id = NULL WHERE status = :s",
         {std::string("running")});
    EXPECT_NO_THROW(add_session(u, "starting", 0, 0));
}

// Expects the insert to fail on a CHECK constraint (not on the unique index).
void MigratedDb::expect_check_failure(const std::string& user, const std::string& status,
                                      std::int64_t gpu, std::optional<std::int64_t> active) {
    try {
        add_session(user, status, gpu, active);
        ADD_FAILURE() << status << " on GPU " << gpu << " with active_gpu_id "
                      << (active ? std::to_string(*active) : "NULL") << " was accepted";
    } catch (const UniqueViolation& e) {
        ADD_FAILURE() << "expected a CHECK failure, got a unique violation: " << e.what();
    } catch (const std::exception& e) {
        SUCCEED() << e.what();
    }
}

TEST_F(MigratedDb, ActiveGpuMustMatchTheStatus) {
    const std::string u = add_user("a@example.org");
    add_gpu(0);
    add_gpu(1);
    expect_check_failure(u, "running", 0, 1);  // active on another GPU than its own
    expect_check_failure(u, "starting", 1, 0);
    expect_check_failure(u, "stopped", 0, 0);  // terminal but still holding the GPU
    expect_check_failure(u, "error", 1, 1);
    expect_check_failure(u, "paused", 0, 0);  // unknown status
    EXPECT_EQ(count("SELECT COUNT(*) FROM sessions"), 0);
}

// Regression (sessions CHECK): without "active_gpu_id IS NOT NULL" the CHECK evaluates to NULL for
// an active row with active_gpu_id NULL (TRUE AND NULL = NULL, OR FALSE) and SQL accepts a NULL
// CHECK, so an active session could escape the one-per-GPU unique index.
TEST_F(MigratedDb, ActiveSessionWithoutActiveGpuIsRefused) {
    const std::string u = add_user("a@example.org");
    add_gpu(0);
    expect_check_failure(u, "running", 0, std::nullopt);
    expect_check_failure(u, "starting", 0, std::nullopt);
    expect_check_failure(u, "stopping", 0, std::nullopt);
    EXPECT_EQ(count("SELECT COUNT(*) FROM sessions"), 0);
}

TEST_F(MigratedDb, ForeignKeysAreEnforced) {
    const std::string u = add_user("a@example.org");
    EXPECT_ANY_THROW(add_session(u, "stopped", 7, std::nullopt)) << "no gpu_devices row 7";
    add_gpu(0);
    EXPECT_ANY_THROW(add_session("no-such-user", "stopped", 0, std::nullopt));
}

}  // namespace
}  // namespace medforge::db
