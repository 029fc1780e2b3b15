// GPU discovery: nvidia-smi output parsing (fixture captured on an H100 host), static inventories
// and the gpu_devices sync rules.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sessions/gpu_inventory.hpp"
#include "test_support.hpp"

namespace medforge::sessions {
namespace {

using mftest::fixture;

TEST(GpuInventory, ParsesRealH100Output) {
    // `nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader`, driver 580.159.04.
    const auto gpus = parse_nvidia_smi(fixture("nvidia-smi-h100.csv"));
    ASSERT_EQ(gpus.size(), 1u);
    EXPECT_EQ(gpus[0].id, 0);
    EXPECT_EQ(gpus[0].name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(gpus[0].uuid, "GPU-1c90579f-960e-e13d-fc64-688ee3de88db");
}

TEST(GpuInventory, ParsesSeveralGpusCrlfBlankLinesAndMissingUuid) {
    const auto gpus = parse_nvidia_smi(
        "0, NVIDIA A100-SXM4-80GB, GPU-aaaa\r\n\n3, NVIDIA A100-SXM4-80GB, [N/A]\n"
        "7, Tesla T4, MIG-bbbb\n");
    ASSERT_EQ(gpus.size(), 3u);
    EXPECT_EQ(gpus[1].id, 3);
    EXPECT_FALSE(gpus[1].uuid);
    EXPECT_EQ(gpus[2].uuid, "MIG-bbbb");
    EXPECT_TRUE(parse_nvidia_smi("").empty());
}

TEST(GpuInventory, RefusesMalformedOutput) {
    for (const char* bad :
         {"zero, A100, GPU-1\n", "0, A100\n", "0, A100, GPU-1, extra\n", "0, , GPU-1\n",
          "-1, A100, GPU-1\n", "0, A, GPU-1\n0, B, GPU-2\n", "0, A100, nonsense\n",
          "NVIDIA-SMI has failed because it couldn't communicate\n"}) {
        EXPECT_THROW(parse_nvidia_smi(bad), GpuDiscoveryError) << bad;
    }
    try {
        parse_nvidia_smi("0, A, GPU-1\nbroken\n");
        FAIL();
    } catch (const GpuDiscoveryError& e) {
        EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos);
    }
}

TEST(GpuInventory, StaticFromCountOrIds) {
    Config c;
    c.gpu_count = 3;
    auto gpus = static_gpus(c);
    ASSERT_EQ(gpus.size(), 3u);
    EXPECT_EQ(gpus[2].id, 2);
    EXPECT_EQ(gpus[2].name, "GPU 2");
    c.gpu_ids = {4, 6};
    gpus = static_gpus(c);
    ASSERT_EQ(gpus.size(), 2u);
    EXPECT_EQ(gpus[1].id, 6);
}

std::string fake_smi() { return "0, Fake GPU, GPU-0\n1, Fake GPU, GPU-1\n"; }
std::string failing_smi() { throw GpuDiscoveryError("cannot run nvidia-smi"); }

TEST(GpuInventory, DiscoveryFollowsTheConfiguration) {
    Config c;
    c.gpu_discovery = "nvidia-smi";
    EXPECT_EQ(discover_gpus(c, &fake_smi).size(), 2u);
    EXPECT_THROW(discover_gpus(c, &failing_smi), GpuDiscoveryError);
    c.gpu_discovery = "static";
    c.gpu_count = 7;
    EXPECT_EQ(discover_gpus(c, &failing_smi).size(), 7u);
}

TEST(GpuInventory, SyncAddsRefreshesDisablesAndNeverDeletes) {
    mftest::TempDir dir;
    auto db = mftest::open_migrated_sqlite(dir);
    auto sync = [&](const std::vector<GpuInfo>& g) {
        return db->with_connection([&](db::Connection& c) { return sync_gpu_inventory(c, g); });
    };
    auto r = sync({{0, "A", "GPU-0"}, {1, "A", "GPU-1"}, {2, "A", std::nullopt}});
    EXPECT_EQ(r.added, 3);
    // an admin disables GPU 1; GPU 2 disappears; GPU 0 is renamed
    db->with_connection(
        [](db::Connection& c) { c.exec("UPDATE gpu_devices SET enabled = 0 WHERE id = 1"); });
    r = sync({{0, "B", "GPU-0"}, {1, "A", "GPU-1"}});
    EXPECT_EQ(r.added, 0);
    EXPECT_EQ(r.refreshed, 2);
    EXPECT_EQ(r.disabled, 1);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT COUNT(*) FROM gpu_devices"), 3);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT enabled FROM gpu_devices WHERE id = 1"), 0);
    EXPECT_EQ(mftest::query_i64(*db, "SELECT enabled FROM gpu_devices WHERE id = 2"), 0);
    EXPECT_EQ(
        mftest::query_i64(*db, "SELECT COUNT(*) FROM gpu_devices WHERE id = 0 AND name = 'B'"), 1);
    // a second identical sync changes nothing but names
    r = sync({{0, "B", "GPU-0"}, {1, "A", "GPU-1"}});
    EXPECT_EQ(r.disabled, 0);
    EXPECT_EQ(r.added, 0);
}

}  // namespace
}  // namespace medforge::sessions
