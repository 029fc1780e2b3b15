// The host dashboard's parts that need no server: the /proc parsers (on text captured from a
// Debian 12 host), the nvidia-smi usage parser (on output captured from an H200 host), the DB
// pool's usage and the platform counts.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/host_stats.hpp"
#include "db/status_repo.hpp"
#include "sessions/gpu_inventory.hpp"
#include "test_support.hpp"

namespace medforge {
namespace {

using mftest::fixture;

TEST(ProcBytes, ReadsMeminfoCapturedOnAHost) {
    const std::string text = fixture("proc-meminfo.txt");
    EXPECT_EQ(parse_proc_bytes(text, "MemTotal"), std::int64_t{24684084} * 1024);
    EXPECT_EQ(parse_proc_bytes(text, "MemAvailable"), std::int64_t{21289108} * 1024);
    // A key is matched whole: "Mem" is no key, "MemTotal" is not "MemTotalX".
    EXPECT_FALSE(parse_proc_bytes(text, "Mem"));
    EXPECT_FALSE(parse_proc_bytes(text, "NoSuchKey"));
    // HugePages_Total has no unit: a plain count is taken as is.
    EXPECT_TRUE(parse_proc_bytes(text, "HugePages_Total"));
}

TEST(ProcBytes, ReadsVmRssFromProcSelfStatus) {
    EXPECT_EQ(parse_proc_bytes(fixture("proc-self-status.txt"), "VmRSS"), 1776 * 1024);
}

TEST(ProcBytes, RefusesMalformedValues) {
    EXPECT_EQ(parse_proc_bytes("A: 5\n", "A"), 5);
    EXPECT_EQ(parse_proc_bytes("A:\t7 kB\r\n", "A"), 7 * 1024);
    for (const char* bad :
         {"A: -5 kB\n", "A: 5 MB\n", "A: five kB\n", "A:\n", "A: 5x kB\n",
          "A: 99999999999999999999 kB\n", "A: 9007199254740993 kB\n", "A 5 kB\n", ""}) {
        EXPECT_FALSE(parse_proc_bytes(bad, "A")) << bad;
    }
    // The first line with the key decides.
    EXPECT_FALSE(parse_proc_bytes("A: x\nA: 5\n", "A"));
}

TEST(LoadAverage, ParsesProcLoadavg) {
    const auto l = parse_loadavg(fixture("proc-loadavg.txt"));
    ASSERT_TRUE(l);
    EXPECT_DOUBLE_EQ(l->one, 7.60);
    EXPECT_DOUBLE_EQ(l->five, 5.87);
    EXPECT_DOUBLE_EQ(l->fifteen, 4.42);
    const auto zero = parse_loadavg("0.00 0.00 0.00 1/1 1\n");
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->fifteen, 0.0);
}

TEST(LoadAverage, RefusesMalformedText) {
    for (const char* bad : {"", "\n", "0.1 0.2", "0.1 0.2 x 1/2 3", "-1 0 0 1/1 1", "nan 0 0 1/1 1",
                            "inf 0 0", "0.1,0.2,0.3", "0.1 0.2 0.3x"}) {
        EXPECT_FALSE(parse_loadavg(bad)) << bad;
    }
    EXPECT_TRUE(parse_loadavg("  1.5  2.5   3.5"));  // no PID fields, extra spaces
}

TEST(HostReaders, AnswerOnLinux) {
    EXPECT_GE(online_cpu_count(), 1);
    EXPECT_TRUE(read_load_average());
    const auto mem = read_memory_info();
    ASSERT_TRUE(mem.total_bytes && mem.available_bytes);
    EXPECT_GT(*mem.total_bytes, 0);
    EXPECT_LE(*mem.available_bytes, *mem.total_bytes);
    const auto rss = read_own_rss_bytes();
    ASSERT_TRUE(rss);
    EXPECT_GT(*rss, 0);
}

TEST(HostReaders, DiskUsageOfAFolderAndOfNothing) {
    mftest::TempDir dir;
    std::string error;
    const auto u = disk_usage(dir.path().string(), error);
    ASSERT_TRUE(u) << error;
    EXPECT_GT(u->total_bytes, 0);
    EXPECT_LE(u->available_bytes, u->free_bytes);
    EXPECT_LE(u->free_bytes, u->total_bytes);
    EXPECT_FALSE(disk_usage(dir.file("missing"), error));
    EXPECT_EQ(error, "No such file or directory");
}

}  // namespace

namespace sessions {
namespace {

TEST(NvidiaSmiUsage, ParsesRealH200Output) {
    // `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu
    // --format=csv,noheader,nounits`, driver 580.159.04, an idle H200.
    const auto gpus = parse_nvidia_smi_usage(fixture("nvidia-smi-h200-usage.csv"));
    ASSERT_EQ(gpus.size(), 1u);
    EXPECT_EQ(gpus[0], (GpuUsage{0, 0, 0, 143771, 34}));
}

TEST(NvidiaSmiUsage, UnknownFiguresBecomeNull) {
    const auto gpus = parse_nvidia_smi_usage(
        "0, [N/A], 10, 81559, [Not Supported]\r\n\n"
        "3, 97, [N/A], [N/A], 71\n"
        "4, 5.5, -1, 12 MiB, \n");
    ASSERT_EQ(gpus.size(), 3u);
    EXPECT_EQ(gpus[0], (GpuUsage{0, std::nullopt, 10, 81559, std::nullopt}));
    EXPECT_EQ(gpus[1], (GpuUsage{3, 97, std::nullopt, std::nullopt, 71}));
    // A decimal is rounded down; a negative number, a unit or nothing is unknown.
    EXPECT_EQ(gpus[2], (GpuUsage{4, 5, std::nullopt, std::nullopt, std::nullopt}));
    EXPECT_TRUE(parse_nvidia_smi_usage("").empty());
    EXPECT_TRUE(parse_nvidia_smi_usage("\n \r\n").empty());
}

TEST(NvidiaSmiUsage, RefusesOutputThatIsNotTheQuery) {
    for (const char* bad : {"0, 1, 2, 3\n", "0, 1, 2, 3, 4, 5\n", "x, 1, 2, 3, 4\n",
                            "-1, 1, 2, 3, 4\n", "0, 1, 2, 3, 4\n0, 1, 2, 3, 4\n",
                            "0, NVIDIA H200, GPU-2af2be95-0a80-cd27-c657-145a517faf58\n",
                            "NVIDIA-SMI has failed because it couldn't communicate with the "
                            "NVIDIA driver.\n"}) {
        EXPECT_THROW(parse_nvidia_smi_usage(bad), GpuDiscoveryError) << bad;
    }
    try {
        parse_nvidia_smi_usage("0, 1, 2, 3, 4\nbroken\n");
        FAIL();
    } catch (const GpuDiscoveryError& e) {
        EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace sessions

namespace db {
namespace {

TEST(DatabasePool, ReportsSizeAndLeasedConnections) {
    mftest::TempDir dir;
    auto db = mftest::open_migrated_sqlite(dir, 3);
    EXPECT_EQ(db->pool_stats().size, 3u);
    EXPECT_EQ(db->pool_stats().in_use, 0u);
    db->with_connection([&](Connection&) {
        EXPECT_EQ(db->pool_stats().in_use, 1u);
        db->with_connection([&](Connection&) { EXPECT_EQ(db->pool_stats().in_use, 2u); });
    });
    EXPECT_EQ(db->pool_stats().in_use, 0u);
}

TEST(PlatformCounts, EveryKnownStatusIsCountedFromZero) {
    mftest::TempDir dir;
    auto db = mftest::open_migrated_sqlite(dir);
    auto counts = db->with_connection([](Connection& c) { return status::platform_counts(c); });
    EXPECT_EQ(counts.sessions,
              (std::map<std::string, std::int64_t>{
                  {"error", 0}, {"running", 0}, {"starting", 0}, {"stopped", 0}, {"stopping", 0}}));
    EXPECT_EQ(counts.competitions,
              (std::map<std::string, std::int64_t>{{"active", 0}, {"closed", 0}}));
    EXPECT_EQ(counts.submissions.size(), 4u);
    EXPECT_EQ(counts.users, 0);
    EXPECT_EQ(counts.admins, 0);
    EXPECT_EQ(counts.datasets, 0);
    db->with_connection([](Connection& c) {
        for (const auto& [id, role] :
             {std::pair{"u1", "user"}, std::pair{"u2", "admin"}, std::pair{"u3", "user"}}) {
            c.exec(
                "INSERT INTO users (id, email, password_hash, role, max_concurrent_sessions, "
                "display_name, created_at) VALUES (:id, :e, 'h', :r, 1, :n, 1)",
                {std::string(id), std::string(id) + "@example.org", std::string(role),
                 std::string(id)});
        }
    });
    counts = db->with_connection([](Connection& c) { return status::platform_counts(c); });
    EXPECT_EQ(counts.users, 3);
    EXPECT_EQ(counts.admins, 1);
}

}  // namespace
}  // namespace db
}  // namespace medforge
