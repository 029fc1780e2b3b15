// The docker runtime without a daemon: the container and network specs it sends, how it reads a
// container's state, DOCKER_HOST parsing, and how its client fails (unreachable daemon, no
// answer in time, an oversized answer) against a fake daemon on a unix socket.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "sessions/docker_client.hpp"
#include "sessions/docker_runtime.hpp"
#include "test_support.hpp"

namespace medforge::sessions {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// RuntimeState as text, so a failed expectation names the states.
std::string state_name(RuntimeState s) { return std::string(to_string(s)); }

StartSpec sample_spec() {
    StartSpec s;
    s.session_id = "0b7e5c1a-1111-4222-8333-444455556666";
    s.user_id = "7f000001-aaaa-4bbb-8ccc-ddddeeeeffff";
    s.slug = "abcd2345";
    s.name = "mf-session-abcd2345";
    s.tier = "public";
    s.image = "registry.example/medforge/pack@sha256:0123";
    s.gpu_id = 3;
    s.workspace_path = "/srv/workspaces/u/s";
    s.datasets = {{"chest-xray", "/srv/datasets/chest-xray"}, {"mri_2", "/srv/datasets/mri_2"}};
    return s;
}

Config sample_config() {
    Config c;
    c.session_gpu_mode = "nvidia";
    c.session_cpu_shares = 512;
    c.session_mem_limit_bytes = 16LL << 30;
    c.session_mem_reservation_bytes = 2LL << 30;
    c.session_shm_size_bytes = 1LL << 30;
    return c;
}

TEST(DockerSpec, ContainerCreateBodyIsTheSessionSpec) {
    const json body = container_create_body(sample_spec(), sample_config());
    EXPECT_EQ(body["Image"], "registry.example/medforge/pack@sha256:0123");
    EXPECT_EQ(body["User"], "1000:1000");
    EXPECT_EQ(body["Env"], json::array({"MEDFORGE_SESSION_ID=0b7e5c1a-1111-4222-8333-444455556666",
                                        "MEDFORGE_USER_ID=7f000001-aaaa-4bbb-8ccc-ddddeeeeffff",
                                        "MEDFORGE_TIER=public", "MEDFORGE_GPU_ID=3",
                                        "NVIDIA_VISIBLE_DEVICES=3", "CUDA_VISIBLE_DEVICES=0"}));
    EXPECT_EQ(body["Labels"], (json{{"medforge.session_id", "0b7e5c1a-1111-4222-8333-444455556666"},
                                    {"medforge.user_id", "7f000001-aaaa-4bbb-8ccc-ddddeeeeffff"},
                                    {"medforge.slug", "abcd2345"}}));
    EXPECT_FALSE(body.contains("Cmd")) << "the image runs the IDE itself";
    EXPECT_FALSE(body.contains("Entrypoint"));
    EXPECT_FALSE(body.contains("ExposedPorts"));

    const json& h = body["HostConfig"];
    EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
    EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true"}));
    EXPECT_EQ(h["Privileged"], false);
    EXPECT_EQ(h["Init"], true);
    EXPECT_EQ(h["Binds"], json::array({"/srv/workspaces/u/s:/workspace:rw",
                                       "/srv/datasets/chest-xray:/datasets/chest-xray:ro",
                                       "/srv/datasets/mri_2:/datasets/mri_2:ro"}));
    EXPECT_EQ(h["NetworkMode"], "medforge-public-sessions");
    EXPECT_EQ(h["PortBindings"], json::object());
    EXPECT_EQ(h["PublishAllPorts"], false);
    EXPECT_EQ(h["CpuShares"], 512);
    EXPECT_EQ(h["Memory"], 16LL << 30);
    EXPECT_EQ(h["MemorySwap"], 16LL << 30);
    EXPECT_EQ(h["MemoryReservation"], 2LL << 30);
    EXPECT_EQ(h["ShmSize"], 1LL << 30);
    EXPECT_FALSE(h.contains("NanoCpus")) << "SESSION_CPU_LIMIT is unset";
    EXPECT_FALSE(h.contains("PidsLimit")) << "SESSION_PIDS_LIMIT is unset";
    EXPECT_FALSE(h.contains("Mounts"));
    EXPECT_FALSE(h.contains("Devices"));
    EXPECT_EQ(body.dump().find("docker.sock"), std::string::npos);
}

TEST(DockerSpec, GpuModeNvidiaRequestsExactlyTheSessionsGpu) {
    const json h = container_create_body(sample_spec(), sample_config())["HostConfig"];
    ASSERT_TRUE(h.contains("DeviceRequests"));
    EXPECT_EQ(h["DeviceRequests"],
              json::array({json{{"Driver", "nvidia"},
                                {"DeviceIDs", json::array({"3"})},
                                {"Capabilities", json::array({json::array({"gpu"})})}}}));
}

TEST(DockerSpec, GpuModeNoneRequestsNoDevice) {
    Config c = sample_config();
    c.session_gpu_mode = "none";
    const json body = container_create_body(sample_spec(), c);
    EXPECT_FALSE(body["HostConfig"].contains("DeviceRequests"));
    EXPECT_FALSE(body["HostConfig"].contains("Runtime"));
}

TEST(DockerSpec, OptionalLimitsWhenSet) {
    Config c = sample_config();
    c.session_cpu_limit = 2.5;
    c.session_pids_limit = 4096;
    const json h = container_create_body(sample_spec(), c)["HostConfig"];
    EXPECT_EQ(h["NanoCpus"], 2'500'000'000LL);
    EXPECT_EQ(h["PidsLimit"], 4096);
}

TEST(DockerSpec, ReservationAboveTheLimitIsCappedAtTheLimit) {
    Config c = sample_config();
    c.session_mem_limit_bytes = 1LL << 30;  // the default reservation (8g) is above it
    c.session_mem_reservation_bytes = 8LL << 30;
    const json h = container_create_body(sample_spec(), c)["HostConfig"];
    EXPECT_EQ(h["MemoryReservation"], 1LL << 30);
    EXPECT_EQ(h["Memory"], 1LL << 30);
}

TEST(DockerSpec, NoDatasetsMeansOnlyTheWorkspace) {
    StartSpec s = sample_spec();
    s.datasets.clear();
    EXPECT_EQ(container_create_body(s, sample_config())["HostConfig"]["Binds"],
              json::array({"/srv/workspaces/u/s:/workspace:rw"}));
}

TEST(DockerSpec, RefusesBindsItCannotExpressSafely) {
    auto with_workspace = [](std::string path) {
        StartSpec s = sample_spec();
        s.workspace_path = std::move(path);
        return s;
    };
    for (const char* bad : {"", "relative/ws", "/srv/ws:/etc", "/srv/a,b"}) {
        EXPECT_THROW(container_create_body(with_workspace(bad), sample_config()), RuntimeError)
            << bad;
    }
    for (const char* slug : {"", ".", "..", "a/b", "x:y", "ds ro"}) {
        StartSpec s = sample_spec();
        s.datasets = {{slug, "/srv/datasets/x"}};
        EXPECT_THROW(container_create_body(s, sample_config()), RuntimeError) << slug;
    }
    StartSpec s = sample_spec();
    s.datasets = {{"ok", "/srv/datasets/x:/workspace"}};
    EXPECT_THROW(container_create_body(s, sample_config()), RuntimeError);
}

TEST(DockerSpec, NetworkIsABridgeOnTheConfiguredSubnet) {
    Config c;
    json body = network_create_body(c);
    EXPECT_EQ(body["Name"], "medforge-public-sessions");
    EXPECT_EQ(body["Driver"], "bridge");
    EXPECT_EQ(body["CheckDuplicate"], true);
    EXPECT_EQ(body["IPAM"]["Config"],
              json::array({json{{"Subnet", "172.30.0.0/24"}, {"Gateway", "172.30.0.1"}}}));

    c.public_sessions_network = "other-net";
    c.public_sessions_subnet = "10.9.8.0/23";
    body = network_create_body(c);
    EXPECT_EQ(body["Name"], "other-net");
    EXPECT_EQ(body["IPAM"]["Config"][0]["Subnet"], "10.9.8.0/23");
    EXPECT_EQ(body["IPAM"]["Config"][0]["Gateway"], "10.9.8.1");
}

json container(const std::string& status, json extra_state = json::object()) {
    json state = {{"Status", status}, {"ExitCode", 0}, {"OOMKilled", false}, {"Error", ""}};
    state.update(extra_state);
    return json{{"Id", "c0ffee"},
                {"State", state},
                {"NetworkSettings",
                 {{"Networks",
                   {{"bridge", {{"IPAddress", "172.17.0.5"}}},
                    {"medforge-public-sessions", {{"IPAddress", "172.30.0.7"}}}}}}}};
}

TEST(DockerInspect, RunningGivesTheAddressOnTheSessionsNetwork) {
    const auto in = inspection_from_json(container("running"), "medforge-public-sessions");
    EXPECT_EQ(state_name(in.state), "running");
    EXPECT_EQ(in.id, "c0ffee");
    EXPECT_EQ(in.upstream, "172.30.0.7:8080");
}

TEST(DockerInspect, RunningOffTheSessionsNetworkHasNoUpstream) {
    const auto in = inspection_from_json(container("running"), "some-other-network");
    EXPECT_EQ(state_name(in.state), "running");
    EXPECT_EQ(in.upstream, "");
    EXPECT_THAT(in.detail, HasSubstr("some-other-network"));
}

TEST(DockerInspect, ExitedDeadAndNeverStartedAreExited) {
    auto in = inspection_from_json(container("exited", {{"ExitCode", 137}, {"OOMKilled", true}}),
                                   "medforge-public-sessions");
    EXPECT_EQ(state_name(in.state), "exited");
    EXPECT_EQ(in.upstream, "");
    EXPECT_THAT(in.detail, HasSubstr("exit code 137"));
    EXPECT_THAT(in.detail, HasSubstr("OOM"));

    in = inspection_from_json(container("dead", {{"ExitCode", 1}, {"Error", "driver failed"}}),
                              "medforge-public-sessions");
    EXPECT_EQ(state_name(in.state), "exited");
    EXPECT_THAT(in.detail, HasSubstr("driver failed"));

    in = inspection_from_json(container("created"), "medforge-public-sessions");
    EXPECT_EQ(state_name(in.state), "exited");
    EXPECT_THAT(in.detail, HasSubstr("never started"));

    in = inspection_from_json(container("stopped"), "medforge-public-sessions");  // Podman
    EXPECT_EQ(state_name(in.state), "exited");
}

TEST(DockerInspect, TransientStatesAreUnknown) {
    for (const char* status : {"paused", "restarting", "removing", ""}) {
        const auto in = inspection_from_json(container(status), "medforge-public-sessions");
        EXPECT_EQ(state_name(in.state), "unknown") << status;
        EXPECT_EQ(in.upstream, "") << status;
    }
}

TEST(DockerInspect, MalformedAnswersAreUnknownNotExceptions) {
    for (const json& odd : {json::object(), json{{"State", nullptr}}, json{{"State", "running"}},
                            json{{"State", {{"Status", 5}}}}, json::array(), json(nullptr),
                            json{{"State", {{"Status", "running"}}}, {"NetworkSettings", 3}},
                            json{{"State", {{"Status", "exited"}, {"ExitCode", "x"}}}}}) {
        Inspection in;
        EXPECT_NO_THROW(in = inspection_from_json(odd, "n")) << odd.dump();
        EXPECT_EQ(in.upstream, "") << odd.dump();
    }
}

TEST(DockerEndpoint, ParsesUnixAndTcp) {
    auto e = DockerEndpoint::parse("unix:///var/run/docker.sock");
    EXPECT_EQ(e.socket_path, "/var/run/docker.sock");
    EXPECT_EQ(e.describe(), "unix:///var/run/docker.sock");
    e = DockerEndpoint::parse("tcp://10.0.0.5:2375");
    EXPECT_EQ(e.socket_path, "");
    EXPECT_EQ(e.host, "10.0.0.5");
    EXPECT_EQ(e.port, "2375");
    e = DockerEndpoint::parse("tcp://[fd00::1]:2375/");
    EXPECT_EQ(e.host, "fd00::1");
    EXPECT_EQ(e.describe(), "tcp://[fd00::1]:2375");
    for (const char* bad : {"", "/var/run/docker.sock", "unix://", "unix://relative.sock",
                            "tcp://host", "tcp://:2375", "tcp://host:", "tcp://host:0",
                            "tcp://host:70000", "tcp://host:12ab", "ssh://host", "npipe:////./x"}) {
        EXPECT_THROW(DockerEndpoint::parse(bad), std::invalid_argument) << bad;
    }
}

// A one-connection fake daemon on a unix socket: reads the request head, then answers `reply`
// (or, when empty, holds the connection open without answering until the client gives up).
class FakeDaemon {
  public:
    FakeDaemon(const std::string& path, std::string reply) {
        listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path.copy(addr.sun_path, sizeof addr.sun_path - 1);
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
            ::listen(listener_, 1)) {
            throw std::runtime_error("fake daemon: cannot listen on " + path);
        }
        thread_ = std::thread([this, reply = std::move(reply)] { serve(reply); });
    }
    ~FakeDaemon() {
        join();
        ::close(listener_);
    }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    // What the client sent (head and Content-Length body); read it after join().
    const std::string& received() const { return received_; }

  private:
    void serve(const std::string& reply) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        char buf[4096];
        auto read_until = [&](auto done) {
            while (!done()) {
                const auto n = ::read(fd, buf, sizeof buf);
                if (n <= 0) return;
                received_.append(buf, static_cast<std::size_t>(n));
            }
        };
        read_until([&] { return received_.find("\r\n\r\n") != std::string::npos; });
        const auto head_end = received_.find("\r\n\r\n");
        const auto cl = received_.find("Content-Length: ");
        if (head_end != std::string::npos && cl != std::string::npos && cl < head_end) {
            const std::size_t want = head_end + 4 + std::stoul(received_.substr(cl + 16));
            read_until([&] { return received_.size() >= want; });
        }
        if (!reply.empty()) {
            std::size_t off = 0;
            while (off < reply.size()) {
                const auto n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
                if (n <= 0) break;
                off += static_cast<std::size_t>(n);
            }
        } else {
            // Hold until the client closes (bounded, so a broken client cannot hang the test).
            pollfd p{fd, POLLIN, 0};
            while (::poll(&p, 1, 10'000) > 0 && ::read(fd, buf, sizeof buf) > 0) {
            }
        }
        ::close(fd);
    }

    int listener_ = -1;
    std::thread thread_;
    std::string received_;
};

TEST(DockerClient, SendsTheRequestWithItsJsonBodyAndReadsTheAnswer) {
    mftest::TempDir dir;
    const std::string sock = dir.file("d.sock");
    FakeDaemon daemon(sock,
                      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                      "Content-Length: 38\r\n\r\n{\"message\":\"No such container: nope\"}\n");
    DockerClient client(DockerEndpoint::parse("unix://" + sock));
    const auto reply = client.request("POST", "/v1.41/containers/create?name=x",
                                      std::string(R"({"Image":"i"})"), 5s);
    EXPECT_EQ(reply.status, 404);
    EXPECT_THAT(reply.body, HasSubstr("No such container: nope"));
    daemon.join();
    const std::string got = daemon.received();
    EXPECT_EQ(got.rfind("POST /v1.41/containers/create?name=x HTTP/1.1\r\n", 0), 0u) << got;
    EXPECT_THAT(got, HasSubstr("\r\nContent-Type: application/json\r\n"));
    EXPECT_THAT(got, HasSubstr("\r\nHost: "));
    EXPECT_EQ(got.substr(got.find("\r\n\r\n") + 4), R"({"Image":"i"})");
}

TEST(DockerClient, MissingSocketOrRefusedPortIsUnavailable) {
    mftest::TempDir dir;
    DockerClient missing(DockerEndpoint::parse("unix://" + dir.file("no-such.sock")));
    EXPECT_THROW(missing.request("GET", "/v1.41/_ping", std::nullopt, 5s), RuntimeUnavailable);

    // A port that was just free: nothing listens there.
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(s);
    DockerClient refused(
        DockerEndpoint::parse("tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))));
    try {
        refused.request("GET", "/v1.41/_ping", std::nullopt, 5s);
        FAIL() << "expected RuntimeUnavailable";
    } catch (const RuntimeUnavailable& e) {
        EXPECT_THAT(e.what(), HasSubstr("tcp://127.0.0.1:"));
    }
}

TEST(DockerClient, NoAnswerBeforeTheDeadlineIsARuntimeError) {
    mftest::TempDir dir;
    const std::string sock = dir.file("d.sock");
    FakeDaemon daemon(sock, "");
    DockerClient client(DockerEndpoint::parse("unix://" + sock));
    const auto t0 = std::chrono::steady_clock::now();
    try {
        client.request("GET", "/v1.41/_ping", std::nullopt, 300ms);
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        EXPECT_THAT(e.what(), HasSubstr("no answer"));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(DockerClient, AnAnswerOverTheBoundIsARuntimeError) {
    mftest::TempDir dir;
    const std::string sock = dir.file("d.sock");
    const std::string big(64 * 1024, 'x');
    FakeDaemon daemon(sock, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) +
                                "\r\n\r\n" + big);
    DockerClient client(DockerEndpoint::parse("unix://" + sock), 1024);
    try {
        client.request("GET", "/v1.41/containers/json", std::nullopt, 5s);
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        EXPECT_THAT(e.what(), HasSubstr("larger than 1024 bytes"));
    }
}

TEST(DockerRuntimeUnit, UnreachableDaemonIsUnavailableAndErrorStatusCarriesTheMessage) {
    mftest::TempDir dir;
    Config c;
    c.docker_host = "unix://" + dir.file("absent.sock");
    DockerRuntime runtime(c);
    EXPECT_EQ(runtime.kind(), "docker");
    EXPECT_THROW(runtime.health(), RuntimeUnavailable);
    EXPECT_THROW(runtime.list_managed(), RuntimeUnavailable);

    c.docker_host = "unix://" + dir.file("d.sock");
    FakeDaemon daemon(dir.file("d.sock"),
                      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                      "Content-Length: 34\r\n\r\n{\"message\":\"remove failed: busy\"}\n");
    DockerRuntime failing(c);
    try {
        failing.remove("c0ffee", "");
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        EXPECT_THAT(e.what(), HasSubstr("HTTP 500"));
        EXPECT_THAT(e.what(), HasSubstr("remove failed: busy"));
    }
}

TEST(DockerRuntimeUnit, DaemonMessagesAreCutShortAndPrintableAscii) {
    mftest::TempDir dir;
    const std::string body =
        "{\"message\":\"bad\\nthing \xc3\xa9 " + std::string(2000, 'x') + "\"}";
    FakeDaemon daemon(dir.file("d.sock"), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: " +
                                              std::to_string(body.size()) + "\r\n\r\n" + body);
    Config c;
    c.docker_host = "unix://" + dir.file("d.sock");
    DockerRuntime runtime(c);
    try {
        runtime.stop("c0ffee", "", 1s);
        FAIL() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
        const std::string what = e.what();
        EXPECT_THAT(what, HasSubstr("): bad thing ?? xxx")) << "the message, not the JSON";
        EXPECT_LT(what.size(), 500u);
        EXPECT_TRUE(std::all_of(what.begin(), what.end(), [](char ch) {
            return static_cast<unsigned char>(ch) >= 0x20 && static_cast<unsigned char>(ch) < 0x7f;
        })) << what;
    }
}

TEST(DockerRuntimeUnit, RefusesAMalformedDockerHost) {
    Config c;
    c.docker_host = "tcp://no-port";
    EXPECT_THROW(DockerRuntime{c}, std::invalid_argument);
}

}  // namespace
}  // namespace medforge::sessions
