// The `zfs` workspace store against a real ZFS (zfs-fuse on a file-backed pool, started by
// scripts/zfs-throwaway.sh): datasets, quota, ownership, snapshots, clone + promote, and a pool
// that disappears. MEDFORGE_TEST_ZFS_ROOT names the parent dataset; every test works below its
// own random user id and destroys it afterwards.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/strings.hpp"
#include "core/subprocess.hpp"
#include "sessions/zfs_store.hpp"
#include "system_support.hpp"

namespace medforge::sessions {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr unsigned kUid = 1000;
constexpr unsigned kGid = 1000;

std::string random_hex(int n) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string out;
    for (int i = 0; i < n; ++i) out += "0123456789abcdef"[rng() % 16];
    return out;
}

CommandResult sh(const std::vector<std::string>& argv) { return run_command(argv, 60s); }

// Runs a command that must succeed and returns its trimmed stdout.
std::string must(const std::vector<std::string>& argv) {
    const auto r = sh(argv);
    EXPECT_EQ(r.exit_code, 0) << describe_command(argv) << ": " << r.err;
    return std::string(trim(r.out));
}

// zfs-fuse unmounts nested datasets asynchronously: a destroy right after use can fail with
// "busy" once and succeed when tried again.
void destroy_with_retries(const std::vector<std::string>& argv) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    CommandResult r = sh(argv);
    while (r.exit_code != 0 && r.err.find("busy") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        r = sh(argv);
    }
    EXPECT_EQ(r.exit_code, 0) << describe_command(argv) << ": " << r.err;
}

bool dataset_exists(const std::string& ds) {
    return sh({"zfs", "list", "-H", "-o", "name", ds}).exit_code == 0;
}

std::string zfs_get(const std::string& property, const std::string& ds) {
    return must({"zfs", "get", "-H", "-o", "value", property, ds});
}

void write(const fs::path& p, const std::string& content) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ZfsStoreSystem : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = system_test::service_env("MEDFORGE_TEST_ZFS_ROOT");
        if (root_.empty()) return;  // skipped (or failed under CI)
        user_ = "t" + random_hex(10);
        store_.emplace(root_, kUid, kGid, false);
    }
    void TearDown() override {
        if (!root_.empty() && dataset_exists(root_ + "/" + user_)) {
            destroy_with_retries({"zfs", "destroy", "-R", "-f", root_ + "/" + user_});
        }
    }

    std::string ws(const std::string& session) const { return user_ + "/" + session; }
    std::string ds(const std::string& session) const { return root_ + "/" + ws(session); }

    std::string root_;
    std::string user_;
    std::optional<ZfsWorkspaceStore> store_;
};

#define REQUIRE_ZFS() \
    if (root_.empty()) return

TEST_F(ZfsStoreSystem, ProvisionCreatesAQuotaedDatasetOwnedByTheSessionUser) {
    REQUIRE_ZFS();
    store_->health();
    EXPECT_FALSE(dataset_exists(root_ + "/" + user_));
    const std::string path = store_->provision(ws("s1"), 1, std::nullopt);

    EXPECT_TRUE(dataset_exists(root_ + "/" + user_));
    EXPECT_TRUE(dataset_exists(ds("s1")));
    EXPECT_EQ(zfs_get("quota", ds("s1")), "1G");
    EXPECT_EQ(zfs_get("mountpoint", ds("s1")), path);
    EXPECT_EQ(store_->mountpoint(ws("s1")), path);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUid);
    EXPECT_EQ(st.st_gid, kGid);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    // The owner (not only root) can write there. (cd first, as root: the pool's mount may sit
    // below a private temp directory that uid 1000 cannot traverse.)
    const auto r = sh({"sh", "-c",
                       "cd \"$0\" && exec setpriv --reuid=1000 --regid=1000 --clear-groups "
                       "sh -c 'echo written-by-owner > note'",
                       path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read(fs::path(path) / "note"), "written-by-owner\n");
}

TEST_F(ZfsStoreSystem, ProvisionIsIdempotent) {
    REQUIRE_ZFS();
    const std::string path = store_->provision(ws("s1"), 1, std::nullopt);
    write(fs::path(path) / "keep", "kept");
    EXPECT_EQ(store_->provision(ws("s1"), 1, std::nullopt), path);
    EXPECT_EQ(read(fs::path(path) / "keep"), "kept");
    EXPECT_EQ(zfs_get("quota", ds("s1")), "1G");
    // A second workspace of the same user reuses the user's dataset.
    store_->provision(ws("s2"), 0, std::nullopt);
    EXPECT_EQ(zfs_get("quota", ds("s2")), "none");
}

TEST_F(ZfsStoreSystem, SnapshotsAreNamedByTagAndListedOldestFirst) {
    REQUIRE_ZFS();
    store_->provision(ws("s1"), 0, std::nullopt);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const std::string stop = "stop-" + std::to_string(ms);
    EXPECT_EQ(store_->snapshot(ws("s1"), stop), ws("s1") + "@" + stop);
    EXPECT_EQ(must({"zfs", "list", "-H", "-t", "snapshot", "-o", "name", ds("s1") + "@" + stop}),
              ds("s1") + "@" + stop);
    EXPECT_EQ(zfs_get("medforge:workspace", ds("s1") + "@" + stop), ws("s1"));
    EXPECT_THROW(store_->snapshot(ws("s1"), stop), StoreError);

    store_->snapshot(ws("s1"), "death-" + std::to_string(ms + 5));
    store_->snapshot(ws("s1"), "stop-" + std::to_string(ms + 10));
    EXPECT_THAT(
        store_->list_snapshots(ws("s1")),
        ElementsAre(stop, "death-" + std::to_string(ms + 5), "stop-" + std::to_string(ms + 10)));
    // Another workspace's snapshots are not listed, nor are those of a missing one.
    store_->provision(ws("s10"), 0, std::nullopt);
    store_->snapshot(ws("s10"), "stop-1");
    EXPECT_THAT(store_->list_snapshots(ws("s10")), ElementsAre("stop-1"));
    EXPECT_THAT(store_->list_snapshots(ws("never")), IsEmpty());
    EXPECT_THAT(store_->list_snapshots("nobody" + random_hex(6) + "/s"), IsEmpty());
    EXPECT_EQ(store_->mountpoint(ws("never")), std::nullopt);
    EXPECT_THROW(store_->snapshot(ws("never"), "stop-1"), StoreError);
}

TEST_F(ZfsStoreSystem, ContinuingFromASnapshotClonesAndPromotes) {
    REQUIRE_ZFS();
    const fs::path a = store_->provision(ws("a"), 1, std::nullopt);
    write(a / "file", "v1");
    store_->snapshot(ws("a"), "stop-1000");
    write(a / "file", "v2");
    write(a / "later", "after the snapshot");
    store_->snapshot(ws("a"), "stop-2000");

    const fs::path b = store_->provision(ws("b"), 1, std::string(ws("a") + "@stop-1000"));
    EXPECT_EQ(read(b / "file"), "v1");
    EXPECT_FALSE(fs::exists(b / "later"));
    EXPECT_EQ(zfs_get("quota", ds("b")), "1G");
    struct stat st {};
    ASSERT_EQ(::stat(b.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUid);

    // Promoted: b stands alone, a hangs off b's (moved) snapshot.
    EXPECT_EQ(zfs_get("origin", ds("b")), "-");
    EXPECT_EQ(zfs_get("origin", ds("a")), ds("b") + "@stop-1000");
    // Later changes on either side stay on that side.
    write(a / "file", "v3");
    write(b / "file", "b's own");
    EXPECT_EQ(read(b / "file"), "b's own");
    EXPECT_EQ(read(a / "file"), "v3");

    // Each workspace still lists exactly the snapshots it took.
    EXPECT_THAT(store_->list_snapshots(ws("a")), ElementsAre("stop-1000", "stop-2000"));
    EXPECT_THAT(store_->list_snapshots(ws("b")), IsEmpty());
    store_->snapshot(ws("b"), "stop-3000");
    EXPECT_THAT(store_->list_snapshots(ws("b")), ElementsAre("stop-3000"));
    // a's tag is still a's even though its snapshot sits on b now.
    EXPECT_THROW(store_->snapshot(ws("a"), "stop-1000"), StoreError);

    // Continuing from a@stop-1000 again finds it where the promote moved it.
    const fs::path c = store_->provision(ws("c"), 0, std::string(ws("a") + "@stop-1000"));
    EXPECT_EQ(read(c / "file"), "v1");
    EXPECT_THAT(store_->list_snapshots(ws("a")), ElementsAre("stop-1000", "stop-2000"));
    // And from b's own snapshot.
    const fs::path d = store_->provision(ws("d"), 0, std::string(ws("b") + "@stop-3000"));
    EXPECT_EQ(read(d / "file"), "b's own");
    EXPECT_THAT(store_->list_snapshots(ws("b")), ElementsAre("stop-3000"));

    // Idempotent: provisioning b again neither fails nor clones again.
    EXPECT_EQ(store_->provision(ws("b"), 1, std::string(ws("a") + "@stop-1000")), b.string());
    EXPECT_EQ(read(b / "file"), "b's own");
}

TEST_F(ZfsStoreSystem, ContinuingFromAMissingSnapshotFailsAndCreatesNothing) {
    REQUIRE_ZFS();
    store_->provision(ws("a"), 0, std::nullopt);
    try {
        store_->provision(ws("b"), 0, std::string(ws("a") + "@stop-1"));
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_THAT(e.what(), HasSubstr("no snapshot " + ws("a") + "@stop-1"));
    }
    EXPECT_FALSE(dataset_exists(ds("b")));
}

TEST_F(ZfsStoreSystem, WorksThroughSudoWithoutATerminal) {
    REQUIRE_ZFS();
    CommandResult probe;
    try {
        probe = sh({"sudo", "-n", "true"});
    } catch (const CommandNotFound&) {
        GTEST_SKIP() << "sudo is not installed";
    }
    if (probe.exit_code != 0) GTEST_SKIP() << "sudo -n is not allowed here: " << probe.err;
    ZfsWorkspaceStore via_sudo(root_, kUid, kGid, true);
    via_sudo.health();
    const std::string path = via_sudo.provision(ws("s1"), 1, std::nullopt);
    EXPECT_EQ(zfs_get("quota", ds("s1")), "1G");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUid);
    via_sudo.snapshot(ws("s1"), "stop-1");
    EXPECT_THAT(via_sudo.list_snapshots(ws("s1")), ElementsAre("stop-1"));
}

// A second, private pool that a test can pull away from under the store.
class DoomedPool {
  public:
    DoomedPool() : name_("mfstoresgone" + random_hex(8)) {
        fs::create_directories(dir_ / "mnt");
        must({"truncate", "-s", "128M", (dir_ / "pool.img").string()});
        must({"zpool", "create", "-m", (dir_ / "mnt").string(), name_,
              (dir_ / "pool.img").string()});
        must({"zfs", "create", name_ + "/ws"});
    }
    ~DoomedPool() {
        if (sh({"zpool", "list", "-H", "-o", "name", name_}).exit_code == 0) destroy();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    DoomedPool(const DoomedPool&) = delete;
    DoomedPool& operator=(const DoomedPool&) = delete;

    void destroy() { destroy_with_retries({"zpool", "destroy", "-f", name_}); }
    const std::string& name() const { return name_; }

  private:
    std::string name_;
    fs::path dir_ = fs::temp_directory_path() / ("medforge-" + random_hex(10));
};

TEST_F(ZfsStoreSystem, APoolThatIsGoneMakesTheStoreUnavailable) {
    REQUIRE_ZFS();
    DoomedPool pool;
    ZfsWorkspaceStore store(pool.name() + "/ws", kUid, kGid, false);
    store.health();
    store.provision("u1/s1", 0, std::nullopt);

    pool.destroy();
    try {
        store.health();
        FAIL() << "expected StoreUnavailable";
    } catch (const StoreUnavailable& e) {
        EXPECT_THAT(e.what(), HasSubstr(pool.name()));
    }
    try {
        store.provision("u1/s2", 0, std::nullopt);
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_THAT(e.what(), HasSubstr("zfs"));
        EXPECT_THAT(e.what(), HasSubstr(pool.name()));
    }
    EXPECT_THROW(store.snapshot("u1/s1", "stop-1"), StoreError);
}

TEST_F(ZfsStoreSystem, AMissingRootDatasetMakesTheStoreUnavailable) {
    REQUIRE_ZFS();
    ZfsWorkspaceStore store(root_ + "/absent" + random_hex(6), kUid, kGid, false);
    EXPECT_THROW(store.health(), StoreUnavailable);
}

}  // namespace
}  // namespace medforge::sessions
