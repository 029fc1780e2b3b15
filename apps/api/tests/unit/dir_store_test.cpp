// The `dir` workspace store on temp directories: layout and ownership, snapshots as faithful
// read-only copies (symlinks kept as links, never followed), continuing from a snapshot, listing
// order, hostile names, health. Ownership checks need root (chown to another user) and are
// skipped otherwise.

#include "sessions/dir_store.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sessions/workspace_store.hpp"
#include "test_support.hpp"

namespace medforge::sessions {
namespace {

namespace fs = std::filesystem;
using mftest::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr unsigned kUid = 1000;
constexpr unsigned kGid = 1000;

bool is_root() { return ::geteuid() == 0; }

void write(const fs::path& p, const std::string& content, mode_t mode = 0644) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
}

mode_t mode_of(const fs::path& p) { return lstat_of(p).st_mode & 07777; }

// Every entry below `dir` (not following symlinks), the top included.
std::vector<fs::path> walk(const fs::path& dir) {
    std::vector<fs::path> out{dir};
    for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(e.path());
    return out;
}

class DirStore : public ::testing::Test {
  protected:
    fs::path root() const { return base_.path() / "workspaces"; }
    fs::path snapshot_dir(const std::string& name) const {
        return root() / ".snapshots" / name;  // name: "<user>/<session>@<tag>"
    }
    TempDir base_;  // before store_, which is built from it
    DirWorkspaceStore store_{(base_.path() / "workspaces").string(), kUid, kGid};
};

TEST_F(DirStore, ProvisionCreatesThePrivateLayout) {
    const std::string path = store_.provision("u1/s1", 5, std::nullopt);
    EXPECT_EQ(path, (root() / "u1" / "s1").string());
    ASSERT_TRUE(fs::is_directory(path));
    EXPECT_EQ(mode_of(root()), 0711u);
    EXPECT_EQ(mode_of(root() / "u1"), 0711u);
    EXPECT_EQ(mode_of(path), 0700u);
    EXPECT_EQ(store_.mountpoint("u1/s1"), path);
    EXPECT_EQ(store_.kind(), "dir");
    if (!is_root()) GTEST_SKIP() << "ownership checks need root";
    EXPECT_EQ(lstat_of(path).st_uid, kUid);
    EXPECT_EQ(lstat_of(path).st_gid, kGid);
    EXPECT_EQ(lstat_of(root() / "u1").st_uid, 0u);
}

TEST_F(DirStore, ProvisionIsIdempotent) {
    const std::string path = store_.provision("u1/s1", 0, std::nullopt);
    write(fs::path(path) / "keep.txt", "still here");
    EXPECT_EQ(store_.provision("u1/s1", 0, std::nullopt), path);
    EXPECT_EQ(read(fs::path(path) / "keep.txt"), "still here");
}

TEST_F(DirStore, TheRootIsMadeAbsolute) {
    const fs::path cwd = fs::current_path();
    fs::current_path(base_.path());
    DirWorkspaceStore relative("./rel/ws", kUid, kGid);
    fs::current_path(cwd);
    EXPECT_EQ(relative.root(), (base_.path() / "rel" / "ws").string());
    EXPECT_EQ(relative.provision("u/s", 0, std::nullopt),
              (base_.path() / "rel" / "ws" / "u" / "s").string());
}

TEST_F(DirStore, MountpointOfAMissingWorkspaceIsEmpty) {
    EXPECT_EQ(store_.mountpoint("u1/nope"), std::nullopt);
}

class DirStoreWithContent : public DirStore {
  protected:
    void SetUp() override {
        ws_ = store_.provision("u1/s1", 0, std::nullopt);
        write(ws_ / "a.txt", "hello", 0644);
        write(ws_ / "bin" / "run.sh", "#!/bin/sh\necho hi\n", 0755);
        write(ws_ / "sub" / "deep" / "secret", "mine", 0600);
        write(ws_ / "empty", "", 0640);
        fs::create_directories(ws_ / "emptydir");
        // Outside the workspace: a symlink to it must be copied as a link, never followed.
        write(base_.path() / "outside" / "other-user-file", "not yours", 0644);
        fs::create_symlink(base_.path() / "outside", ws_ / "escape");
        fs::create_symlink("a.txt", ws_ / "rel-link");
        fs::create_symlink("/nonexistent/target", ws_ / "dangling");
        ASSERT_EQ(::mkfifo((ws_ / "fifo").c_str(), 0600), 0);
        struct timespec times[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, (ws_ / "a.txt").c_str(), times, 0), 0);
    }

    fs::path ws_;
};

TEST_F(DirStoreWithContent, SnapshotIsAFaithfulReadOnlyCopy) {
    EXPECT_EQ(store_.snapshot("u1/s1", "stop-1000"), "u1/s1@stop-1000");
    const fs::path snap = snapshot_dir("u1/s1@stop-1000");
    ASSERT_TRUE(fs::is_directory(snap));
    EXPECT_EQ(mode_of(root() / ".snapshots"), 0700u);
    EXPECT_EQ(mode_of(root() / ".snapshots" / "u1"), 0700u);

    EXPECT_EQ(read(snap / "a.txt"), "hello");
    EXPECT_EQ(read(snap / "bin" / "run.sh"), "#!/bin/sh\necho hi\n");
    EXPECT_EQ(read(snap / "sub" / "deep" / "secret"), "mine");
    EXPECT_EQ(read(snap / "empty"), "");
    EXPECT_TRUE(fs::is_directory(snap / "emptydir"));
    // Modes kept without their write bits.
    EXPECT_EQ(mode_of(snap / "a.txt"), 0444u);
    EXPECT_EQ(mode_of(snap / "bin" / "run.sh"), 0555u);
    EXPECT_EQ(mode_of(snap / "sub" / "deep" / "secret"), 0400u);
    EXPECT_EQ(mode_of(snap / "empty"), 0440u);
    EXPECT_EQ(mode_of(snap), 0500u);
    EXPECT_EQ(mode_of(snap / "bin"), 0555u);
    EXPECT_EQ(lstat_of(snap / "a.txt").st_mtim.tv_sec, 1'600'000'000);
    for (const auto& p : walk(snap)) {
        if (!fs::is_symlink(p)) {
            EXPECT_EQ(mode_of(p) & 0222, 0u) << p;
        }
    }
    // Symlinks are links with their targets unchanged; nothing behind them was copied.
    ASSERT_TRUE(fs::is_symlink(snap / "escape"));
    EXPECT_EQ(fs::read_symlink(snap / "escape"), base_.path() / "outside");
    EXPECT_EQ(fs::read_symlink(snap / "rel-link"), "a.txt");
    EXPECT_EQ(fs::read_symlink(snap / "dangling"), "/nonexistent/target");
    EXPECT_FALSE(fs::exists(snap / "other-user-file"));
    // A FIFO is not workspace content.
    EXPECT_FALSE(fs::exists(fs::symlink_status(snap / "fifo")));
    // No temp copy is left behind.
    for (const auto& e : fs::directory_iterator(root() / ".snapshots" / "u1")) {
        EXPECT_EQ(e.path().filename(), "s1@stop-1000");
    }
    if (!is_root()) {
        std::ofstream attempt(snap / "a.txt", std::ios::app);
        EXPECT_FALSE(attempt.is_open()) << "a snapshot file is writable";
        return;
    }
    EXPECT_EQ(lstat_of(snap / "a.txt").st_uid, 0u);  // kept by the API's user, not the session's
}

TEST_F(DirStoreWithContent, SnapshotDoesNotChangeWithTheWorkspace) {
    store_.snapshot("u1/s1", "stop-1000");
    write(ws_ / "a.txt", "changed", 0644);
    fs::remove_all(ws_ / "sub");
    const fs::path snap = snapshot_dir("u1/s1@stop-1000");
    EXPECT_EQ(read(snap / "a.txt"), "hello");
    EXPECT_EQ(read(snap / "sub" / "deep" / "secret"), "mine");
}

TEST_F(DirStoreWithContent, ATagIsTakenOnce) {
    store_.snapshot("u1/s1", "stop-1000");
    EXPECT_THROW(store_.snapshot("u1/s1", "stop-1000"), StoreError);
    EXPECT_THROW(store_.snapshot("u1/none", "stop-1000"), StoreError);
}

TEST_F(DirStoreWithContent, ContinuingFromASnapshotCopiesItWritable) {
    store_.snapshot("u1/s1", "stop-1000");
    const std::string path = store_.provision("u1/s2", 0, std::string("u1/s1@stop-1000"));
    const fs::path ws2 = path;
    EXPECT_EQ(path, (root() / "u1" / "s2").string());
    EXPECT_EQ(read(ws2 / "a.txt"), "hello");
    EXPECT_EQ(read(ws2 / "sub" / "deep" / "secret"), "mine");
    EXPECT_EQ(mode_of(ws2), 0700u);
    EXPECT_EQ(mode_of(ws2 / "a.txt"), 0644u);
    EXPECT_EQ(mode_of(ws2 / "bin" / "run.sh"), 0755u);
    EXPECT_EQ(mode_of(ws2 / "sub" / "deep" / "secret"), 0600u);
    EXPECT_EQ(mode_of(ws2 / "bin"), 0755u);
    EXPECT_EQ(fs::read_symlink(ws2 / "escape"), base_.path() / "outside");
    EXPECT_EQ(fs::read_symlink(ws2 / "rel-link"), "a.txt");

    // The two workspaces and the snapshot are independent from now on.
    write(ws_ / "a.txt", "origin changed", 0644);
    write(ws2 / "a.txt", "continued changed", 0644);
    EXPECT_EQ(read(ws2 / "a.txt"), "continued changed");
    EXPECT_EQ(read(ws_ / "a.txt"), "origin changed");
    EXPECT_EQ(read(snapshot_dir("u1/s1@stop-1000") / "a.txt"), "hello");
    // Its own snapshots start empty.
    EXPECT_THAT(store_.list_snapshots("u1/s2"), IsEmpty());
    EXPECT_THAT(store_.list_snapshots("u1/s1"), ElementsAre("stop-1000"));
    // No temp copy is left behind.
    for (const auto& e : fs::directory_iterator(root() / "u1")) {
        EXPECT_THAT(e.path().filename().string(), ::testing::AnyOf("s1", "s2"));
    }

    if (!is_root()) GTEST_SKIP() << "ownership checks need root";
    for (const auto& p : walk(ws2)) {
        EXPECT_EQ(lstat_of(p).st_uid, kUid) << p;
        EXPECT_EQ(lstat_of(p).st_gid, kGid) << p;
    }
}

TEST_F(DirStoreWithContent, ProvisionOfAnExistingWorkspaceDoesNotCopyAgain) {
    store_.snapshot("u1/s1", "stop-1000");
    const std::string path = store_.provision("u1/s2", 0, std::string("u1/s1@stop-1000"));
    write(fs::path(path) / "a.txt", "edited", 0644);
    EXPECT_EQ(store_.provision("u1/s2", 0, std::string("u1/s1@stop-1000")), path);
    EXPECT_EQ(read(fs::path(path) / "a.txt"), "edited");
}

TEST_F(DirStore, ContinuingFromAMissingSnapshotFailsAndCreatesNothing) {
    store_.provision("u1/s1", 0, std::nullopt);
    EXPECT_THROW(store_.provision("u1/s2", 0, std::string("u1/s1@stop-1")), StoreError);
    EXPECT_EQ(store_.mountpoint("u1/s2"), std::nullopt);
    EXPECT_FALSE(fs::exists(root() / "u1" / "s2"));
}

TEST_F(DirStore, ListsSnapshotsOldestFirstByTheirTimestamp) {
    store_.provision("u1/s1", 0, std::nullopt);
    store_.provision("u1/s10", 0, std::nullopt);
    for (const char* tag : {"stop-20000", "death-1000", "stop-900", "stop-3000"}) {
        store_.snapshot("u1/s1", tag);
    }
    store_.snapshot("u1/s10", "stop-5");
    EXPECT_THAT(store_.list_snapshots("u1/s1"),
                ElementsAre("stop-900", "death-1000", "stop-3000", "stop-20000"));
    EXPECT_THAT(store_.list_snapshots("u1/s10"), ElementsAre("stop-5"));
    EXPECT_THAT(store_.list_snapshots("u1/never"), IsEmpty());
    EXPECT_THAT(store_.list_snapshots("u9/never"), IsEmpty());
}

TEST_F(DirStore, HostileNamesAreRefusedAndTouchNothing) {
    store_.provision("u1/s1", 0, std::nullopt);
    const std::vector<std::string> bad_workspaces = {"",           "u1",
                                                     "u1/",        "/s1",
                                                     "..",         "../x",
                                                     "u1/..",      "../../x",
                                                     "u1/s1/x",    "/etc/passwd",
                                                     "u1/../../x", "u1/.s",
                                                     "u1/-rf",     "u1/s 1",
                                                     "u1/s@x",     "u1//s1",
                                                     "u1/s1\n",    std::string("u1/s\0x", 6),
                                                     "./s1",       "u1\\s1",
                                                     "u1/s1/",     std::string(70, 'a') + "/s1"};
    for (const auto& w : bad_workspaces) {
        EXPECT_THROW(store_.provision(w, 0, std::nullopt), StoreError) << w;
        EXPECT_THROW(store_.snapshot(w, "stop-1"), StoreError) << w;
        EXPECT_THROW(store_.list_snapshots(w), StoreError) << w;
        EXPECT_THROW(store_.mountpoint(w), StoreError) << w;
    }
    for (const std::string tag : {"", "../x", "a/b", "x@y", "-x", "..", "stop 1", "."}) {
        EXPECT_THROW(store_.snapshot("u1/s1", tag), StoreError) << tag;
    }
    for (const std::string from :
         {"u1/s1", "u1/s1@", "u1/s1@../../x", "../u1@stop-1", "u1/s1@stop-1/x", "u1/s1@@stop-1"}) {
        EXPECT_THROW(store_.provision("u1/s2", 0, from), StoreError) << from;
    }
    // Nothing appeared outside the root, and inside it only the one workspace.
    std::vector<std::string> top;
    for (const auto& e : fs::directory_iterator(base_.path())) top.push_back(e.path().filename());
    EXPECT_THAT(top, ElementsAre("workspaces"));
    std::vector<std::string> users;
    for (const auto& e : fs::directory_iterator(root())) users.push_back(e.path().filename());
    EXPECT_THAT(users, ElementsAre("u1"));
    std::vector<std::string> sessions;
    for (const auto& e : fs::directory_iterator(root() / "u1")) {
        sessions.push_back(e.path().filename());
    }
    EXPECT_THAT(sessions, ElementsAre("s1"));
}

TEST_F(DirStore, AWorkspaceReplacedByASymlinkIsNotFollowed) {
    fs::create_directories(root() / "u1");
    write(base_.path() / "elsewhere" / "file", "outside", 0644);
    fs::create_symlink(base_.path() / "elsewhere", root() / "u1" / "s1");
    EXPECT_THROW(store_.snapshot("u1/s1", "stop-1"), StoreError);
    EXPECT_THROW(store_.provision("u1/s1", 0, std::nullopt), StoreError);
    EXPECT_EQ(store_.mountpoint("u1/s1"), std::nullopt);
    EXPECT_FALSE(fs::exists(snapshot_dir("u1/s1@stop-1")));
}

TEST_F(DirStore, ATooDeepTreeFailsTheSnapshotWithoutLeftovers) {
    const fs::path ws = store_.provision("u1/s1", 0, std::nullopt);
    fs::path p = ws;
    for (int i = 0; i < 105; ++i) p /= "d";
    fs::create_directories(p);
    EXPECT_THROW(store_.snapshot("u1/s1", "stop-1"), StoreError);
    EXPECT_THAT(store_.list_snapshots("u1/s1"), IsEmpty());
    EXPECT_TRUE(fs::is_empty(root() / ".snapshots" / "u1"));
}

TEST_F(DirStore, HealthCreatesAMissingRoot) {
    EXPECT_FALSE(fs::exists(root()));
    store_.health();
    EXPECT_TRUE(fs::is_directory(root()));
    EXPECT_EQ(mode_of(root()), 0711u);
    EXPECT_TRUE(fs::is_empty(root())) << "the write probe was left behind";
}

TEST_F(DirStore, HealthFailsOnARootThatIsAFile) {
    write(root(), "not a directory");
    EXPECT_THROW(store_.health(), StoreUnavailable);
    EXPECT_THROW(store_.provision("u1/s1", 0, std::nullopt), StoreError);
}

TEST_F(DirStore, HealthFailsOnAnUnwritableRoot) {
    // procfs refuses new files even to root; a directory without write permission refuses them to
    // everybody else.
    DirWorkspaceStore proc("/proc/self/fdinfo", kUid, kGid);
    EXPECT_THROW(proc.health(), StoreUnavailable);
    if (is_root()) return;
    fs::create_directories(root());
    fs::permissions(root(), fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_THROW(store_.health(), StoreUnavailable);
    fs::permissions(root(), fs::perms::owner_all);
}

TEST(WorkspaceStoreFactory, PicksTheBackEndByName) {
    TempDir dir;
    Config c;
    c.workspace_dir_root = dir.path().string();
    c.workspace_store = "dir";
    EXPECT_EQ(make_workspace_store(c, kUid, kGid)->kind(), "dir");
    c.workspace_store = "zfs";
    c.workspace_zfs_root = "tank/medforge/workspaces";
    EXPECT_EQ(make_workspace_store(c, kUid, kGid)->kind(), "zfs");
    c.workspace_store = "nfs";
    EXPECT_THROW(make_workspace_store(c, kUid, kGid), StoreError);
}

}  // namespace
}  // namespace medforge::sessions
