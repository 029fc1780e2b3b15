// The `zfs` workspace store with a scripted command runner: which commands it issues (sudo -n
// prefix, chown/chmod of the mountpoint), name checks before any command, how snapshots moved by
// a promote are attributed, and how failures surface. The real thing runs against zfs-fuse in
// tests/system/workspace_store_test.cpp.

#include "sessions/zfs_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace medforge::sessions {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Argv = std::vector<std::string>;

// Answers each command from `answer` and records every argv it was given.
struct ScriptedRunner {
    std::vector<Argv> calls;
    std::function<CommandResult(const Argv&)> answer = [](const Argv&) { return CommandResult{}; };

    CommandRunner runner() {
        return [this](const Argv& argv, std::chrono::milliseconds) {
            calls.push_back(argv);
            return answer(argv);
        };
    }
};

CommandResult ok(std::string out = "") { return CommandResult{0, std::move(out), "", false}; }
CommandResult failed(std::string err) { return CommandResult{1, "", std::move(err), false}; }

// The answers of a pool where tank/ws exists and nothing below it yet.
CommandResult fresh_pool(const Argv& a) {
    // a is {"sudo", "-n", ...} or {"zfs", ...}: find the zfs sub-command.
    const auto zfs = std::find(a.begin(), a.end(), "zfs");
    if (zfs == a.end()) return ok();  // chown, chmod
    const std::string sub = *(zfs + 1);
    if (sub == "list" && a.back() != "tank/ws") {
        return failed("cannot open '" + a.back() + "': dataset does not exist\n");
    }
    if (sub == "get") return ok("/tank/ws/u1/s1\nyes\n");
    return ok();
}

TEST(ZfsStore, EveryCommandGoesThroughSudoWhenAsked) {
    ScriptedRunner fake;
    fake.answer = fresh_pool;
    ZfsWorkspaceStore store("tank/ws", 1000, 1001, true, fake.runner());
    EXPECT_EQ(store.provision("u1/s1", 2, std::nullopt), "/tank/ws/u1/s1");
    ASSERT_FALSE(fake.calls.empty());
    for (const auto& c : fake.calls) {
        ASSERT_GE(c.size(), 3u);
        EXPECT_EQ(c[0], "sudo");
        EXPECT_EQ(c[1], "-n");
    }
    const auto has = [&](const Argv& want) {
        return std::find(fake.calls.begin(), fake.calls.end(), want) != fake.calls.end();
    };
    EXPECT_TRUE(has({"sudo", "-n", "zfs", "create", "tank/ws/u1"}));
    EXPECT_TRUE(has({"sudo", "-n", "zfs", "create", "tank/ws/u1/s1"}));
    EXPECT_TRUE(has({"sudo", "-n", "zfs", "set", "quota=2G", "tank/ws/u1/s1"}));
    EXPECT_TRUE(has({"sudo", "-n", "chown", "1000:1001", "/tank/ws/u1/s1"}));
    EXPECT_TRUE(has({"sudo", "-n", "chmod", "0700", "/tank/ws/u1/s1"}));
}

TEST(ZfsStore, WithoutSudoTheCommandsRunDirectlyAndNoQuotaMeansNoSet) {
    ScriptedRunner fake;
    fake.answer = fresh_pool;
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    store.provision("u1/s1", 0, std::nullopt);
    for (const auto& c : fake.calls) {
        EXPECT_NE(c[0], "sudo");
        EXPECT_FALSE(c.size() > 1 && c[1] == "set") << "quota set although quota_gb is 0";
    }
}

TEST(ZfsStore, BadNamesAreRefusedBeforeAnyCommand) {
    ScriptedRunner fake;
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    for (const std::string w : {"../x", "u1", "u1/s1/x", "u1/s1@t", "u1/-o", "u 1/s"}) {
        EXPECT_THROW(store.provision(w, 0, std::nullopt), StoreError) << w;
        EXPECT_THROW(store.snapshot(w, "stop-1"), StoreError) << w;
        EXPECT_THROW(store.list_snapshots(w), StoreError) << w;
        EXPECT_THROW(store.mountpoint(w), StoreError) << w;
    }
    EXPECT_THROW(store.snapshot("u1/s1", "-r"), StoreError);
    EXPECT_THROW(store.provision("u1/s2", 0, std::string("u1/s1")), StoreError);
    EXPECT_THAT(fake.calls, IsEmpty());
    for (const char* root : {"", "/tank", "tank/", "tank//ws", "tank@x/ws", "-o/ws", "tank ws"}) {
        EXPECT_THROW(ZfsWorkspaceStore(root, 1000, 1000, false, fake.runner()), StoreError) << root;
    }
}

TEST(ZfsStore, SnapshotsBelongToTheWorkspaceThatTookThemWhereverTheySit) {
    ScriptedRunner fake;
    // u1/B was cloned from u1/A@stop-2 and promoted: A's first two snapshots sit on B now.
    fake.answer = [](const Argv&) {
        return ok(
            "tank/ws/u1/B@stop-1\tu1/A\n"
            "tank/ws/u1/B@stop-2\tu1/A\n"
            "tank/ws/u1/A@stop-3\tu1/A\n"
            "tank/ws/u1/A@by-hand\t-\n"
            "tank/ws/u1/B@stop-4\tu1/B\n");
    };
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    // Oldest first by the time in the tag; a tag without one (made by hand) sorts first.
    EXPECT_THAT(store.list_snapshots("u1/A"), ElementsAre("by-hand", "stop-1", "stop-2", "stop-3"));
    EXPECT_THAT(store.list_snapshots("u1/B"), ElementsAre("stop-4"));
    EXPECT_THAT(fake.calls.back(),
                ElementsAre("zfs", "list", "-H", "-t", "snapshot", "-o", "name,medforge:workspace",
                            "-s", "createtxg", "-r", "tank/ws/u1"));
    // Continuing from A@stop-1 clones it where it sits now.
    fake.calls.clear();
    EXPECT_THROW(store.snapshot("u1/A", "stop-1"), StoreError);  // the tag is taken
    fake.answer = [](const Argv& a) {
        if (a[1] == "list" && a[3] == "-t") return ok("tank/ws/u1/B@stop-1\tu1/A\n");
        if (a[1] == "list") return failed("cannot open 'x': dataset does not exist");
        if (a[1] == "get" && a.back() == "tank/ws/u1/C" && a[5] == "origin") {
            return ok("tank/ws/u1/B@stop-1\n");
        }
        if (a[1] == "get") return ok("/tank/ws/u1/C\nyes\n");
        return ok();
    };
    store.provision("u1/C", 0, std::string("u1/A@stop-1"));
    EXPECT_NE(std::find(fake.calls.begin(), fake.calls.end(),
                        Argv{"zfs", "clone", "tank/ws/u1/B@stop-1", "tank/ws/u1/C"}),
              fake.calls.end());
    EXPECT_NE(
        std::find(fake.calls.begin(), fake.calls.end(), Argv{"zfs", "promote", "tank/ws/u1/C"}),
        fake.calls.end());
}

TEST(ZfsStore, FailuresCarryWhatZfsSaid) {
    ScriptedRunner fake;
    fake.answer = [](const Argv&) {
        return failed("cannot open 'tank/ws': pool I/O is suspended");
    };
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    try {
        store.health();
        FAIL() << "expected StoreUnavailable";
    } catch (const StoreUnavailable& e) {
        EXPECT_THAT(e.what(), HasSubstr("pool I/O is suspended"));
    }
    try {
        store.provision("u1/s1", 0, std::nullopt);
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_THAT(e.what(), HasSubstr("pool I/O is suspended"));
    }
    ScriptedRunner missing;
    missing.answer = [](const Argv&) -> CommandResult {
        throw CommandNotFound("cannot run zfs: command not found");
    };
    ZfsWorkspaceStore without_zfs("tank/ws", 1000, 1000, false, missing.runner());
    EXPECT_THROW(without_zfs.health(), StoreUnavailable);
    EXPECT_THROW(without_zfs.snapshot("u1/s1", "stop-1"), StoreError);
}

TEST(ZfsStore, AMissingWorkspaceHasNoMountpointAndNoSnapshots) {
    ScriptedRunner fake;
    fake.answer = [](const Argv& a) {
        return failed("cannot open '" + a.back() + "': dataset does not exist");
    };
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    EXPECT_EQ(store.mountpoint("u1/s1"), std::nullopt);
    EXPECT_THAT(store.list_snapshots("u1/s1"), IsEmpty());
}

TEST(ZfsStore, RootPathIsTheRootDatasetsMountpoint) {
    ScriptedRunner fake;
    fake.answer = [](const Argv&) { return ok("/tank/ws\n"); };
    ZfsWorkspaceStore store("tank/ws", 1000, 1000, false, fake.runner());
    EXPECT_EQ(store.root_path(), "/tank/ws");
    EXPECT_THAT(fake.calls,
                ElementsAre(Argv{"zfs", "get", "-H", "-o", "value", "mountpoint", "tank/ws"}));
    fake.answer = [](const Argv&) { return ok("none\n"); };
    EXPECT_THROW(store.root_path(), StoreError);
    fake.answer = [](const Argv&) {
        return failed("cannot open 'tank/ws': dataset does not exist");
    };
    EXPECT_THROW(store.root_path(), StoreError);
}

}  // namespace
}  // namespace medforge::sessions
