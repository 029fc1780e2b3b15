// The docker runtime against a real dockerd (scripts/dockerd-throwaway.sh: a private daemon with
// the session image — real code-server — imported): the full lifecycle of a session container,
// the spec the daemon actually applied, what the container can and cannot write, lookups by
// name, deaths behind the runtime's back, orphan listing and failed starts.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sessions/docker_client.hpp"
#include "sessions/docker_runtime.hpp"
#include "system_support.hpp"

namespace medforge::sessions {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using namespace std::chrono_literals;

// RuntimeState as text, so a failed expectation names the states.
std::string state_name(RuntimeState s) { return std::string(to_string(s)); }

constexpr auto kReadyDeadline = 30s;

std::string random_slug() {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    static std::mt19937_64 rng{std::random_device{}()};
    std::string s;
    for (int i = 0; i < 8; ++i) s.push_back(kAlphabet[rng() % 32]);
    return s;
}

// Polls `probe` until it is true or `deadline` passes.
template <class Probe>
bool eventually(std::chrono::milliseconds deadline, Probe&& probe) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
        if (probe()) return true;
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(100ms);
    }
}

class DockerRuntimeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string host = system_test::service_env("MEDFORGE_TEST_DOCKER_HOST");
        if (!host.empty()) image_ = system_test::service_env("MEDFORGE_TEST_DOCKER_IMAGE");
        if (host.empty() || image_.empty()) {
            if (HasFailure()) GTEST_FAIL() << "the docker system tests need a daemon";
            return;  // skipped
        }
        config_.docker_host = host;
        config_.session_gpu_mode = "none";  // no GPU on the test machines
        config_.public_sessions_network = "mf-test-" + random_slug();
        if (const char* subnet = std::getenv("MEDFORGE_TEST_DOCKER_SUBNET")) {
            config_.public_sessions_subnet = subnet;
        }
        config_.session_cpu_shares = 512;
        config_.session_cpu_limit = 1.5;
        config_.session_mem_limit_bytes = 1LL << 30;
        config_.session_mem_reservation_bytes = 256LL << 20;
        config_.session_shm_size_bytes = 64LL << 20;
        config_.session_pids_limit = 512;
        client_ = std::make_unique<DockerClient>(DockerEndpoint::parse(host));
        runtime_ = make_docker_runtime(config_);

        root_ = fs::temp_directory_path() / ("medforge-docker-test-" + random_slug());
        fs::create_directories(root_ / "ws");
        fs::create_directories(root_ / "datasets" / "toy");
        std::ofstream(root_ / "datasets" / "toy" / "labels.csv") << "id,label\n1,0\n";
        ASSERT_EQ(::chown((root_ / "ws").c_str(), 1000, 1000), 0);
        // Everyone may pass through the test root (mktemp-style roots are 0700).
        fs::permissions(root_,
                        fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    }

    void TearDown() override {
        if (!client_) return;
        for (const auto& name : names_) {
            api("DELETE", "/containers/" + name + "?force=true&v=true");
        }
        api("DELETE", "/networks/" + config_.public_sessions_network);
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    DockerReply api(std::string_view method, const std::string& path,
                    const std::optional<std::string>& body = std::nullopt) {
        return client_->request(method, "/v1.41" + path, body, 30s);
    }

    json inspect_raw(const std::string& ref) {
        const auto r = api("GET", "/containers/" + ref + "/json");
        EXPECT_EQ(r.status, 200) << r.body;
        return json::parse(r.body);
    }

    StartSpec spec() {
        StartSpec s;
        s.session_id = "5e55" + random_slug();
        s.user_id = "u5e7" + random_slug();
        s.slug = random_slug();
        s.name = std::string(kSessionNamePrefix) + s.slug;
        s.tier = "public";
        s.image = image_;
        s.gpu_id = 2;
        s.workspace_path = (root_ / "ws").string();
        s.datasets = {{"toy", (root_ / "datasets" / "toy").string()}};
        names_.push_back(s.name);
        return s;
    }

    // Runs `cmd` in the container (as its user) and returns the exit code.
    int exec(const std::string& id, const std::vector<std::string>& cmd) {
        const auto created = api("POST", "/containers/" + id + "/exec",
                                 json{{"Cmd", cmd}, {"AttachStdout", false}}.dump());
        EXPECT_EQ(created.status, 201) << created.body;
        const std::string exec_id = json::parse(created.body).at("Id");
        const auto started =
            api("POST", "/exec/" + exec_id + "/start", json{{"Detach", true}}.dump());
        EXPECT_EQ(started.status, 200) << started.body;
        int code = -1;
        EXPECT_TRUE(eventually(10s, [&] {
            const json st = json::parse(api("GET", "/exec/" + exec_id + "/json").body);
            if (st.value("Running", true) || !st["ExitCode"].is_number()) return false;
            code = st["ExitCode"].get<int>();
            return true;
        })) << "exec did not finish";
        return code;
    }

    // True once code-server answers GET /healthz with 200 on `upstream`.
    static bool ide_ready(const std::string& upstream) {
        DockerClient ide(DockerEndpoint::parse("tcp://" + upstream));
        return eventually(kReadyDeadline, [&] {
            try {
                return ide.request("GET", "/healthz", std::nullopt, 2s).status == 200;
            } catch (const std::runtime_error&) {
                return false;  // not listening yet
            }
        });
    }

    Config config_;
    std::string image_;
    std::unique_ptr<DockerClient> client_;
    std::unique_ptr<Runtime> runtime_;
    fs::path root_;
    std::vector<std::string> names_;
};

TEST_F(DockerRuntimeTest, RunsCodeServerWithTheSessionSpecThenStopsAndRemovesIt) {
    ASSERT_NO_THROW(runtime_->health());
    const StartSpec s = spec();
    const StartResult started = runtime_->start(s);
    EXPECT_THAT(started.id, ::testing::MatchesRegex("[0-9a-f]{64}"));
    EXPECT_THAT(started.upstream, ::testing::MatchesRegex("[0-9.]+:8080"));
    EXPECT_EQ(started.meta, "");

    Inspection seen = runtime_->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(state_name(seen.state), "running");
    EXPECT_EQ(seen.id, started.id);
    EXPECT_EQ(seen.upstream, started.upstream);
    EXPECT_TRUE(ide_ready(started.upstream)) << "code-server never answered /healthz";

    // The network the runtime created: a bridge on the configured subnet, gateway first.
    const json net = json::parse(api("GET", "/networks/" + config_.public_sessions_network).body);
    EXPECT_EQ(net["Driver"], "bridge");
    EXPECT_EQ(net["IPAM"]["Config"][0]["Subnet"], config_.public_sessions_subnet);
    const std::string subnet_base =
        config_.public_sessions_subnet.substr(0, config_.public_sessions_subnet.rfind('.') + 1);
    EXPECT_EQ(net["IPAM"]["Config"][0]["Gateway"], subnet_base + "1");
    EXPECT_EQ(started.upstream.rfind(subnet_base, 0), 0u) << started.upstream;

    // What the daemon actually applied.
    const json c = inspect_raw(started.id);
    EXPECT_EQ(c["Name"], "/" + s.name);
    EXPECT_EQ(c["Config"]["User"], "1000:1000");
    EXPECT_EQ(c["Config"]["Image"], image_);
    EXPECT_EQ(c["Config"]["Cmd"],
              json::array({"code-server", "--auth", "none", "--bind-addr", "0.0.0.0:8080",
                           "--disable-telemetry", "/workspace"}))
        << "the image's own command runs";
    EXPECT_THAT(
        c["Config"]["Env"].get<std::vector<std::string>>(),
        IsSupersetOf({"MEDFORGE_SESSION_ID=" + s.session_id, "MEDFORGE_USER_ID=" + s.user_id,
                      std::string("MEDFORGE_TIER=public"), std::string("MEDFORGE_GPU_ID=2"),
                      std::string("NVIDIA_VISIBLE_DEVICES=2"),
                      std::string("CUDA_VISIBLE_DEVICES=0")}));
    EXPECT_EQ(c["Config"]["Labels"]["medforge.session_id"], s.session_id);
    EXPECT_EQ(c["Config"]["Labels"]["medforge.user_id"], s.user_id);
    EXPECT_EQ(c["Config"]["Labels"]["medforge.slug"], s.slug);
    const json& h = c["HostConfig"];
    EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
    EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true"}));
    EXPECT_EQ(h["Privileged"], false);
    EXPECT_EQ(h["Init"], true);
    EXPECT_EQ(h["Binds"], json::array({s.workspace_path + ":/workspace:rw",
                                       s.datasets[0].host_path + ":/datasets/toy:ro"}));
    EXPECT_EQ(h["NetworkMode"], config_.public_sessions_network);
    EXPECT_EQ(h["CpuShares"], 512);
    EXPECT_EQ(h["NanoCpus"], 1'500'000'000LL);
    EXPECT_EQ(h["Memory"], 1LL << 30);
    EXPECT_EQ(h["MemorySwap"], 1LL << 30);
    EXPECT_EQ(h["MemoryReservation"], 256LL << 20);
    EXPECT_EQ(h["ShmSize"], 64LL << 20);
    EXPECT_EQ(h["PidsLimit"], 512);
    EXPECT_TRUE(h["PortBindings"].is_null() || h["PortBindings"].empty()) << h["PortBindings"];
    EXPECT_TRUE(c["NetworkSettings"]["Ports"].is_null() ||
                std::all_of(c["NetworkSettings"]["Ports"].begin(),
                            c["NetworkSettings"]["Ports"].end(),
                            [](const json& v) { return v.is_null(); }))
        << "nothing is published: " << c["NetworkSettings"]["Ports"];
    EXPECT_TRUE(h["DeviceRequests"].is_null() || h["DeviceRequests"].empty());
    for (const auto& m : c["Mounts"]) {
        EXPECT_EQ(m["Source"].get<std::string>().find("docker.sock"), std::string::npos);
    }

    // Inside: writes land in the host workspace as uid 1000; datasets are read-only; no new
    // privileges.
    EXPECT_EQ(exec(started.id, {"sh", "-c", "echo hello > /workspace/from-container.txt"}), 0);
    struct stat st {};
    ASSERT_EQ(::stat((root_ / "ws" / "from-container.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1000u);
    EXPECT_EQ(exec(started.id, {"cat", "/datasets/toy/labels.csv"}), 0);
    EXPECT_NE(exec(started.id, {"touch", "/datasets/toy/new-file"}), 0);
    EXPECT_FALSE(fs::exists(root_ / "datasets" / "toy" / "new-file"));
    EXPECT_EQ(exec(started.id, {"grep", "-q", "NoNewPrivs:[[:space:]]*1", "/proc/self/status"}), 0);
    EXPECT_EQ(exec(started.id,
                   {"grep", "-q", "CapEff:[[:space:]]*0000000000000000", "/proc/self/status"}),
              0);

    const auto t0 = std::chrono::steady_clock::now();
    runtime_->stop(started.id, started.meta, 10s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "code-server exits on SIGTERM";
    seen = runtime_->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(state_name(seen.state), "exited");
    EXPECT_THAT(seen.detail, HasSubstr("exit code"));
    EXPECT_EQ(seen.upstream, "");
    EXPECT_NO_THROW(runtime_->stop(started.id, started.meta, 10s)) << "stopped again: 304";

    runtime_->remove(started.id, started.meta);
    EXPECT_EQ(state_name(runtime_->inspect(started.id, s.name, started.meta).state), "missing");
    EXPECT_NO_THROW(runtime_->remove(started.id, started.meta)) << "gone already: 404";
    EXPECT_NO_THROW(runtime_->stop(started.id, started.meta, 1s)) << "gone already: 404";
}

TEST_F(DockerRuntimeTest, InspectFindsTheContainerByNameWhenTheIdIsEmptyOrUnknown) {
    const StartSpec s = spec();
    const StartResult started = runtime_->start(s);
    Inspection seen = runtime_->inspect("", s.name, "");
    EXPECT_EQ(state_name(seen.state), "running");
    EXPECT_EQ(seen.id, started.id);
    EXPECT_EQ(seen.upstream, started.upstream);
    seen = runtime_->inspect(std::string(64, 'f'), s.name, "");
    EXPECT_EQ(state_name(seen.state), "running");
    EXPECT_EQ(seen.id, started.id);
    EXPECT_EQ(state_name(runtime_->inspect(std::string(64, 'f'), "mf-session-nothere", "").state),
              "missing");
    EXPECT_EQ(state_name(runtime_->inspect("", "", "").state), "missing");
}

TEST_F(DockerRuntimeTest, AContainerKilledBehindTheRuntimesBackIsExited) {
    const StartSpec s = spec();
    const StartResult started = runtime_->start(s);
    ASSERT_EQ(api("POST", "/containers/" + started.id + "/kill").status, 204);
    Inspection seen;
    EXPECT_TRUE(eventually(10s, [&] {
        seen = runtime_->inspect(started.id, s.name, "");
        return seen.state != RuntimeState::running;
    }));
    EXPECT_EQ(state_name(seen.state), "exited");
    EXPECT_THAT(seen.detail, HasSubstr("exit code 137"));
}

TEST_F(DockerRuntimeTest, ListManagedFindsSessionContainersOnly) {
    const StartSpec s = spec();
    const StartResult started = runtime_->start(s);
    // Matches the daemon's substring name filter but is not a session container.
    const std::string unrelated = "x-" + std::string(kSessionNamePrefix) + random_slug();
    // A session-named container that was never started and carries no labels (an orphan).
    const std::string orphan = std::string(kSessionNamePrefix) + random_slug();
    names_.push_back(unrelated);
    names_.push_back(orphan);
    for (const auto& name : {unrelated, orphan}) {
        const auto r = api("POST", "/containers/create?name=" + name,
                           json{{"Image", image_}, {"Cmd", {"true"}}}.dump());
        ASSERT_EQ(r.status, 201) << r.body;
    }

    const auto managed = runtime_->list_managed();
    std::vector<std::string> names;
    for (const auto& m : managed) names.push_back(m.name);
    EXPECT_THAT(names, Contains(s.name));
    EXPECT_THAT(names, Contains(orphan));
    EXPECT_THAT(names, Not(Contains(unrelated)));
    for (const auto& m : managed) {
        if (m.name == s.name) {
            EXPECT_EQ(m.id, started.id);
            EXPECT_EQ(m.session_id, s.session_id);
            EXPECT_TRUE(m.running);
        } else if (m.name == orphan) {
            EXPECT_EQ(m.session_id, "");
            EXPECT_FALSE(m.running);
            EXPECT_THAT(m.id, ::testing::MatchesRegex("[0-9a-f]{64}"));
        }
    }
}

TEST_F(DockerRuntimeTest, AMissingImageFailsAndLeavesNothingBehind) {
    StartSpec s = spec();
    s.image = "medforge/no-such-image:" + random_slug();
    try {
        runtime_->start(s);
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        // dockerd: "No such image: …"; Podman: "no such image: …".
        EXPECT_THAT(e.what(), ::testing::ContainsRegex("[Nn]o such image"));
    }
    EXPECT_EQ(state_name(runtime_->inspect("", s.name, "").state), "missing");
}

TEST_F(DockerRuntimeTest, AFailedStartRemovesTheCreatedContainer) {
    StartSpec s = spec();
    // A regular file where the workspace directory should be: create succeeds, start fails
    // when the runtime mounts it over /workspace.
    const fs::path file = root_ / "not-a-directory";
    std::ofstream(file) << "x";
    s.workspace_path = file.string();
    try {
        runtime_->start(s);
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        EXPECT_THAT(e.what(), HasSubstr("docker start of " + s.name)) << "failed after create";
    }
    EXPECT_EQ(state_name(runtime_->inspect("", s.name, "").state), "missing");
    for (const auto& m : runtime_->list_managed()) EXPECT_NE(m.name, s.name);
}

TEST_F(DockerRuntimeTest, AnExistingNetworkIsReused) {
    const auto created = api(
        "POST", "/networks/create",
        json{
            {"Name", config_.public_sessions_network},
            {"Driver", "bridge"},
            {"CheckDuplicate", true},
            {"IPAM", {{"Config", json::array({json{{"Subnet", config_.public_sessions_subnet}}})}}}}
            .dump());
    ASSERT_EQ(created.status, 201) << created.body;
    const StartResult started = runtime_->start(spec());
    EXPECT_EQ(state_name(runtime_->inspect(started.id, "", "").state), "running");
    const json nets = json::parse(api("GET", "/networks").body);
    EXPECT_EQ(
        std::count_if(nets.begin(), nets.end(),
                      [&](const json& n) { return n["Name"] == config_.public_sessions_network; }),
        1);
}

TEST(DockerRuntimeUnreachable, AMissingSocketMakesHealthAndStartUnavailable) {
    Config c;
    c.docker_host = "unix:///nonexistent/medforge-" + random_slug() + "/docker.sock";
    c.session_gpu_mode = "none";
    const auto runtime = make_docker_runtime(c);
    EXPECT_THROW(runtime->health(), RuntimeUnavailable);
    StartSpec s;
    s.name = "mf-session-" + random_slug();
    s.image = "medforge/session:local";
    s.workspace_path = "/tmp";
    EXPECT_THROW(runtime->start(s), RuntimeUnavailable);
    EXPECT_THROW(runtime->inspect("", s.name, ""), RuntimeUnavailable);
}

}  // namespace
}  // namespace medforge::sessions
