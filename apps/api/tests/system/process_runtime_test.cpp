// The process runtime against the real thing: processes, users, bubblewrap and code-server on
// this machine. Tests that run code-server need MEDFORGE_TEST_CODE_SERVER (the executable, from
// scripts/setup-code-server.sh); the others use sh, sleep and python3. Sandboxed tests need
// bwrap on PATH (skipped without it, failed under CI=true).
//
// Run as root (as CI does), the sessions run as the system user `medforge-session`, which the
// fixture creates with `useradd --system --no-create-home` when it is missing; run as another
// user, they run as that user and the root-only checks are skipped.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sessions/process_command.hpp"
#include "sessions/process_runtime.hpp"
#include "sessions/process_table.hpp"
#include "system_support.hpp"

extern char** environ;

namespace medforge::sessions {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kSessionUser = "medforge-session";

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step = 20ms) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

// The status code of `GET path` on 127.0.0.1:port over a plain socket, or -1.
int http_status(int port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string req =
            "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        std::string in;
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            char buf[512];
            while (in.find("\r\n") == std::string::npos) {
                const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
            }
        }
        if (in.rfind("HTTP/1.", 0) == 0 && in.size() >= 12) status = std::atoi(in.c_str() + 9);
    }
    ::close(fd);
    return status;
}

struct Identity {
    uid_t uid = 0;
    std::string name;
};

// The user sessions run as: medforge-session when we are root (created if missing), else us.
Identity session_identity() {
    if (::geteuid() != 0) {
        const passwd* pw = ::getpwuid(::geteuid());
        return {::geteuid(), pw != nullptr ? pw->pw_name : ""};
    }
    if (::getpwnam(kSessionUser) == nullptr) {
        const std::string cmd = std::string("useradd --system --no-create-home --shell ") +
                                "/usr/sbin/nologin " + kSessionUser;
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    const passwd* pw = ::getpwnam(kSessionUser);
    if (pw == nullptr) {
        ADD_FAILURE() << "cannot create the user " << kSessionUser;
        return {};
    }
    return {pw->pw_uid, pw->pw_name};
}

bool have_bwrap() { return find_program("bwrap", std::getenv("PATH")).has_value(); }

#define REQUIRE_BWRAP()                                                            \
    if (!have_bwrap()) {                                                           \
        if (system_test::in_ci()) FAIL() << "bwrap (bubblewrap) is not installed"; \
        GTEST_SKIP() << "bwrap (bubblewrap) is not installed";                     \
    }

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& text, fs::perms perms = fs::perms(0644)) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    fs::permissions(p, perms);
}

// key=value lines.
std::map<std::string, std::string> parse_lines(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

std::vector<ProcStat> group_members(pid_t pgid) {
    std::vector<ProcStat> out;
    for (const auto& st : read_process_table()) {
        if (st.pgrp == pgid && !st.dead()) out.push_back(st);
    }
    return out;
}

// The four Uid: values (real, effective, saved, filesystem) of a process.
std::vector<uid_t> uids_of(pid_t pid) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Uid:", 0) == 0) {
            std::istringstream fields(line.substr(4));
            std::vector<uid_t> out;
            uid_t u = 0;
            while (fields >> u) out.push_back(u);
            return out;
        }
    }
    return {};
}

std::string status_field(pid_t pid, const std::string& key) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) == 0) {
            auto v = line.substr(key.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    }
    return "";
}

// Children of this test process, zombies included: a stopped session must have been reaped.
std::vector<pid_t> our_children() {
    std::vector<pid_t> out;
    for (const auto& st : read_process_table()) {
        if (st.ppid == ::getpid()) out.push_back(st.pid);
    }
    return out;
}

bool alive(pid_t pid, std::uint64_t start_time) {
    const auto st = read_proc_stat(pid);
    return st && st->start_time == start_time && !st->dead();
}

class ProcessRuntimeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        who_ = session_identity();
        char tmpl[] = "/tmp/mf-process-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        fs::permissions(root_, fs::perms(0755));
        // An installation whose data lives inside the directory the sandbox shows for the
        // program (app/bin/…): the sandbox must hide app/var and app/data all the same.
        app_ = root_ / "app";
        state_dir_ = app_ / "var";
        workspace_ = state_dir_ / "workspaces" / "u1" / "s1";
        other_workspace_ = state_dir_ / "workspaces" / "u2" / "s2";
        fs::create_directories(workspace_);
        write_text(other_workspace_ / "secret.txt", "other user's work\n");
        write_text(state_dir_ / "medforge.db", "not really sqlite\n");
        write_text(state_dir_ / "session_secret", "s3cret\n", fs::perms(0600));
        write_text(app_ / "data/competitions/c1/holdout/labels.csv", "id,label\n1,0\n");
        write_text(state_dir_ / "submissions/u1/sub.csv", "id,label\n1,1\n");
        write_text(state_dir_ / "datasets/ds1/train.csv", "id,x\n1,42\n");
        config_.database_url = "sqlite://" + (state_dir_ / "medforge.db").string();
        config_.competitions_dir = (app_ / "data/competitions").string();
        config_.datasets_root = (state_dir_ / "datasets").string();
        config_.submissions_dir = (state_dir_ / "submissions").string();
        config_.workspace_dir_root = (state_dir_ / "workspaces").string();
        config_.session_process_user = kSessionUser;
        config_.session_process_sandbox = "";
        config_.session_shm_size_bytes = 64LL << 20;
    }

    void TearDown() override {
        // Whatever a failed test left running.
        ProcessRuntime rt(config_, state_dir_.string());
        for (const auto& m : rt.list_managed()) {
            try {
                rt.remove(m.id, "");
            } catch (const std::exception& e) {
                ADD_FAILURE() << "cleanup of " << m.name << ": " << e.what();
            }
        }
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    std::unique_ptr<Runtime> runtime() {
        return make_process_runtime(config_, state_dir_.string());
    }

    StartSpec spec(const std::string& slug) const {
        StartSpec s;
        s.session_id = "sess-" + slug;
        s.user_id = "user-1";
        s.slug = slug;
        s.name = "mf-session-" + slug;
        s.tier = "public";
        s.gpu_id = 3;
        s.workspace_path = workspace_.string();
        s.datasets = {{"ds1", (state_dir_ / "datasets/ds1").string()}};
        return s;
    }

    static nlohmann::json meta_of(const StartResult& r) { return nlohmann::json::parse(r.meta); }

    fs::path record_file(const std::string& name) const {
        return state_dir_ / "process" / (name + ".json");
    }

    // Waits until code-server (or any HTTP server) answers 200 on `path`.
    static bool wait_http_ok(int port, const std::string& path, std::chrono::milliseconds timeout) {
        return wait_for([&] { return http_status(port, path) == 200; }, timeout);
    }

    Identity who_;
    fs::path root_, app_, state_dir_, workspace_, other_workspace_;
    Config config_;
};

// ---------------------------------------------------------------------------------------------
// code-server, end to end

class ProcessRuntimeCodeServer : public ProcessRuntimeTest,
                                 public ::testing::WithParamInterface<std::string> {};

TEST_P(ProcessRuntimeCodeServer, StartsServesRunsAsSessionUserAndStopsTheWholeGroup) {
    MEDFORGE_REQUIRE_SERVICE(code_server, "MEDFORGE_TEST_CODE_SERVER");
    config_.session_process_sandbox = GetParam();
    if (GetParam() == "bwrap") {
        REQUIRE_BWRAP();
    }
    config_.session_process_command =
        code_server + " --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}";
    auto rt = runtime();
    ASSERT_NO_THROW(rt->health());

    const auto s = spec("cs2abcde");
    const auto started = rt->start(s);
    const auto meta = meta_of(started);
    const pid_t pid = meta.at("pid").get<pid_t>();
    const int port = meta.at("port").get<int>();
    const auto start_time = meta.at("start_time").get<std::uint64_t>();
    EXPECT_EQ(started.id, "pid:" + std::to_string(pid));
    EXPECT_EQ(started.upstream, "127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(meta.at("pgid").get<pid_t>(), pid);
    EXPECT_EQ(read_proc_stat(pid)->start_time, start_time);

    ASSERT_TRUE(wait_http_ok(port, "/healthz", 10s))
        << "code-server did not answer /healthz; log:\n"
        << read_text(meta.at("log").get<std::string>());

    const auto running = rt->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(running.state, RuntimeState::running);
    EXPECT_EQ(running.upstream, started.upstream);
    EXPECT_EQ(running.id, started.id);

    // Every process of the session runs as the session user, none can regain privileges.
    const auto members = group_members(pid);
    EXPECT_GE(members.size(), 2u);  // the launcher and code-server's own node process at least
    for (const auto& m : members) {
        EXPECT_EQ(uids_of(m.pid), std::vector<uid_t>(4, who_.uid)) << "pid " << m.pid;
        EXPECT_EQ(status_field(m.pid, "NoNewPrivs"), "1") << "pid " << m.pid;
    }
    struct stat ws {};
    ASSERT_EQ(::stat(workspace_.c_str(), &ws), 0);
    EXPECT_EQ(ws.st_uid, who_.uid);  // code-server wrote its config there as that user
    EXPECT_TRUE(fs::exists(workspace_ / ".config/code-server/config.yaml"));

    // The state file: private, atomic, naming the session.
    struct stat rec {};
    ASSERT_EQ(::stat(record_file(s.name).c_str(), &rec), 0);
    EXPECT_EQ(rec.st_mode & 0777, 0600u);
    const auto record = nlohmann::json::parse(read_text(record_file(s.name)));
    EXPECT_EQ(record.at("session_id"), s.session_id);
    EXPECT_EQ(record.at("pid"), pid);
    EXPECT_EQ(record.at("start_time"), start_time);
    EXPECT_EQ(record.at("boot_id").get<std::string>().size(), 36u);
    EXPECT_NE(read_text(meta.at("log").get<std::string>()).find("HTTP server listening"),
              std::string::npos);

    const auto t0 = Clock::now();
    rt->stop(started.id, started.meta, 5s);
    EXPECT_LT(Clock::now() - t0, 5s) << "code-server should exit on SIGTERM, not need SIGKILL";
    EXPECT_TRUE(group_members(pid).empty());
    EXPECT_TRUE(our_children().empty());
    for (const auto& m : members) EXPECT_FALSE(alive(m.pid, m.start_time)) << "pid " << m.pid;
    EXPECT_EQ(http_status(port, "/healthz"), -1);

    const auto stopped = rt->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(stopped.state, RuntimeState::exited);
    EXPECT_FALSE(stopped.detail.empty());
    EXPECT_TRUE(rt->list_managed().size() == 1 && !rt->list_managed()[0].running);

    rt->remove(started.id, started.meta);
    EXPECT_FALSE(fs::exists(record_file(s.name)));
    EXPECT_FALSE(fs::exists(meta.at("log").get<std::string>()));
    EXPECT_EQ(rt->inspect("", s.name, "").state, RuntimeState::missing);
    EXPECT_TRUE(rt->list_managed().empty());
    // Stopping and removing again: missing is not an error.
    EXPECT_NO_THROW(rt->stop(started.id, started.meta, 1s));
    EXPECT_NO_THROW(rt->remove(started.id, started.meta));
}

INSTANTIATE_TEST_SUITE_P(ProcessSandbox, ProcessRuntimeCodeServer,
                         ::testing::Values("bwrap", "none"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------------
// What a session can see

class ProcessRuntimeProbe : public ProcessRuntimeTest {
  protected:
    // A program inside app/bin (so the sandbox shows app/) that reports what it sees.
    std::map<std::string, std::string> run_probe(const std::string& slug) {
        const auto script = app_ / "bin/probe";
        const auto ds = state_dir_ / "datasets/ds1";
        std::string text =
            "#!/bin/sh\n"
            "ws=\"$1\"\n"
            "seen() { if [ -e \"$2\" ]; then echo \"$1=visible\"; else echo \"$1=hidden\"; fi; }\n"
            "writable() { if ( : > \"$2\" ) 2>/dev/null; then echo \"$1=writable\"; "
            "else echo \"$1=readonly\"; fi; }\n"
            "{\n";
        text += "seen db " + config_.database_url.substr(9) + "\n";
        text += "seen state_secret " + (state_dir_ / "session_secret").string() + "\n";
        text += "seen holdout " + config_.competitions_dir + "/c1/holdout/labels.csv\n";
        text += "seen submission " + config_.submissions_dir + "/u1/sub.csv\n";
        text += "seen other_workspace " + (other_workspace_ / "secret.txt").string() + "\n";
        text += "seen dataset_host_path " + (ds / "train.csv").string() + "\n";
        text +=
            "seen shadow /etc/shadow\n"
            "echo \"dataset=$(cat /datasets/ds1/train.csv 2>/dev/null | tr '\\n' ';')\"\n"
            "writable dataset_write /datasets/ds1/new.csv\n"
            "writable workspace_write \"$ws/new.txt\"\n"
            "writable usr_write /usr/medforge-probe\n"
            "writable root_write /medforge-probe\n"
            "writable etc_write /etc/medforge-probe\n"
            "echo \"uid=$(id -u)\"\n"
            "echo \"cwd=$(pwd)\"\n"
            "echo \"home=$HOME\"\n"
            "echo \"session_id=$MEDFORGE_SESSION_ID\"\n"
            "echo \"user_id=$MEDFORGE_USER_ID\"\n"
            "echo \"cuda=$CUDA_VISIBLE_DEVICES\"\n"
            "echo \"nvidia=$NVIDIA_VISIBLE_DEVICES\"\n"
            "echo \"secret_env=${SESSION_SECRET:-unset}\"\n"
            "echo \"database_env=${DATABASE_URL:-unset}\"\n"
            "echo \"nprocs=$(ls -d /proc/[0-9]* | wc -l)\"\n"
            "} > \"$ws/probe.tmp\"\n"
            "mv \"$ws/probe.tmp\" \"$ws/probe.out\"\n";
        write_text(script, text, fs::perms(0755));
        config_.session_process_command = script.string() + " {workspace} {port}";
        auto rt = runtime();
        const auto s = spec(slug);
        const auto started = rt->start(s);
        const auto out = workspace_ / "probe.out";
        EXPECT_TRUE(wait_for([&] { return fs::exists(out); }, 10s))
            << "the probe wrote nothing; log:\n"
            << read_text(nlohmann::json::parse(started.meta).at("log").get<std::string>());
        EXPECT_TRUE(wait_for(
            [&] {
                const auto i = rt->inspect(started.id, s.name, started.meta);
                return i.state == RuntimeState::exited && i.detail == "exit code 0";
            },
            5s));
        rt->remove(started.id, started.meta);
        auto seen = parse_lines(read_text(out));
        fs::remove(out);
        return seen;
    }
};

TEST_F(ProcessRuntimeProbe, SandboxShowsOnlyTheWorkspaceWritableAndDatasetsReadOnly) {
    REQUIRE_BWRAP();
    config_.session_process_sandbox = "bwrap";
    ::setenv("SESSION_SECRET", "must-not-leak", 1);
    ::setenv("DATABASE_URL", "sqlite:///must/not/leak.db", 1);
    const auto seen = run_probe("sbx2abcd");
    ::unsetenv("SESSION_SECRET");
    ::unsetenv("DATABASE_URL");
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.at("db"), "hidden");
    EXPECT_EQ(seen.at("state_secret"), "hidden");
    EXPECT_EQ(seen.at("holdout"), "hidden");
    EXPECT_EQ(seen.at("submission"), "hidden");
    EXPECT_EQ(seen.at("other_workspace"), "hidden");
    EXPECT_EQ(seen.at("dataset_host_path"), "hidden");
    EXPECT_EQ(seen.at("shadow"), "hidden");
    EXPECT_EQ(seen.at("dataset"), "id,x;1,42;");
    EXPECT_EQ(seen.at("dataset_write"), "readonly");
    EXPECT_EQ(seen.at("workspace_write"), "writable");
    EXPECT_EQ(seen.at("usr_write"), "readonly");
    EXPECT_EQ(seen.at("root_write"), "readonly");
    EXPECT_EQ(seen.at("etc_write"), "readonly");
    EXPECT_EQ(seen.at("uid"), std::to_string(who_.uid));
    EXPECT_EQ(seen.at("cwd"), workspace_.string());
    EXPECT_EQ(seen.at("home"), workspace_.string());
    EXPECT_EQ(seen.at("session_id"), "sess-sbx2abcd");
    EXPECT_EQ(seen.at("user_id"), "user-1");
    EXPECT_EQ(seen.at("cuda"), "3");
    EXPECT_EQ(seen.at("nvidia"), "3");
    EXPECT_EQ(seen.at("secret_env"), "unset");
    EXPECT_EQ(seen.at("database_env"), "unset");
    EXPECT_LT(std::stoi(seen.at("nprocs")), 10);  // its own pid namespace
    EXPECT_TRUE(fs::exists(workspace_ / "new.txt"));
}

// The same probe without the sandbox sees the platform's files (file permissions are all that
// protect them then): this is what the sandbox test above must tell apart.
TEST_F(ProcessRuntimeProbe, WithoutSandboxOnlyPermissionsAndACleanEnvironmentProtect) {
    config_.session_process_sandbox = "none";
    ::setenv("SESSION_SECRET", "must-not-leak", 1);
    const auto seen = run_probe("nsb2abcd");
    ::unsetenv("SESSION_SECRET");
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.at("db"), "visible");
    EXPECT_EQ(seen.at("holdout"), "visible");
    EXPECT_EQ(seen.at("workspace_write"), "writable");
    EXPECT_EQ(seen.at("uid"), std::to_string(who_.uid));
    EXPECT_EQ(seen.at("cwd"), workspace_.string());
    EXPECT_EQ(seen.at("secret_env"), "unset");
    EXPECT_EQ(seen.at("cuda"), "3");
    if (::geteuid() == 0) {
        EXPECT_EQ(seen.at("root_write"), "readonly");
        EXPECT_EQ(seen.at("etc_write"), "readonly");
    }
}

// ---------------------------------------------------------------------------------------------
// Re-adoption, pid reuse, stopping

TEST_F(ProcessRuntimeTest, AReStartedApiReadoptsByPidAndStartTimeAndNoticesADeath) {
    config_.session_process_command =
        "python3 -m http.server {port} --bind 127.0.0.1 --directory {workspace}";
    const auto s = spec("rdp2abcd");
    StartResult started;
    {
        auto first = runtime();
        started = first->start(s);
    }  // the "API" that started it is gone
    const auto meta = meta_of(started);
    ASSERT_TRUE(wait_http_ok(meta.at("port").get<int>(), "/", 10s))
        << "log:\n"
        << read_text(meta.at("log").get<std::string>());

    auto second = runtime();
    const auto by_meta = second->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(by_meta.state, RuntimeState::running);
    EXPECT_EQ(by_meta.upstream, started.upstream);
    const auto by_name = second->inspect("", s.name, "");  // from the state file alone
    EXPECT_EQ(by_name.state, RuntimeState::running);
    EXPECT_EQ(by_name.id, started.id);
    const auto by_id = second->inspect(started.id, "", "");
    EXPECT_EQ(by_id.state, RuntimeState::running);
    auto listed = second->list_managed();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, s.name);
    EXPECT_EQ(listed[0].id, started.id);
    EXPECT_EQ(listed[0].session_id, s.session_id);
    EXPECT_TRUE(listed[0].running);

    // Killed behind the runtime's back.
    ASSERT_EQ(::kill(-meta.at("pgid").get<pid_t>(), SIGKILL), 0);
    Inspection dead;
    EXPECT_TRUE(wait_for(
        [&] {
            dead = second->inspect(started.id, s.name, started.meta);
            return dead.state != RuntimeState::running;
        },
        5s));
    EXPECT_EQ(dead.state, RuntimeState::exited);
    EXPECT_EQ(dead.detail, "signal 9");  // this test process is the parent: it reaped the status
    listed = second->list_managed();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_FALSE(listed[0].running);  // an orphan record for the recovery loop to remove
    second->remove(listed[0].id, "");
    EXPECT_TRUE(second->list_managed().empty());
}

TEST_F(ProcessRuntimeTest, ALivePidWithAnotherStartTimeIsNeitherRunningNorSignalled) {
    // An unrelated process (its own session, like a session's would be) whose pid a stale
    // record names with a different start time: pid reuse.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    const char* argv[] = {"sleep", "60", nullptr};
    pid_t other = 0;
    ASSERT_EQ(
        posix_spawnp(&other, "sleep", nullptr, &attr, const_cast<char* const*>(argv), environ), 0);
    posix_spawnattr_destroy(&attr);
    const auto st = read_proc_stat(other);
    ASSERT_TRUE(st.has_value());
    const nlohmann::json stale{{"pid", other}, {"pgid", other}, {"start_time", st->start_time + 1},
                               {"port", 1},    {"log", ""},     {"name", "mf-session-reused"}};
    auto rt = runtime();
    const auto id = "pid:" + std::to_string(other);
    const auto i = rt->inspect(id, "mf-session-reused", stale.dump());
    EXPECT_NE(i.state, RuntimeState::running);
    EXPECT_NO_THROW(rt->stop(id, stale.dump(), 1s));
    EXPECT_NO_THROW(rt->remove(id, stale.dump()));
    EXPECT_TRUE(alive(other, st->start_time)) << "a process that is not the session's was killed";
    // The control: with the right start time the same record is the session's.
    const nlohmann::json right{{"pid", other}, {"pgid", other}, {"start_time", st->start_time},
                               {"port", 1},    {"log", ""},     {"name", "mf-session-reused"}};
    EXPECT_EQ(rt->inspect(id, "", right.dump()).state, RuntimeState::running);
    // The same pid and start time from another boot of the machine name something else too.
    auto this_boot = right;
    this_boot["boot_id"] = read_text("/proc/sys/kernel/random/boot_id").substr(0, 36);
    EXPECT_EQ(rt->inspect(id, "", this_boot.dump()).state, RuntimeState::running);
    auto other_boot = right;
    other_boot["boot_id"] = "00000000-0000-4000-8000-000000000000";
    EXPECT_NE(rt->inspect(id, "", other_boot.dump()).state, RuntimeState::running);
    EXPECT_NO_THROW(rt->stop(id, other_boot.dump(), 1s));
    EXPECT_TRUE(alive(other, st->start_time)) << "a process from the record of another boot";
    ::kill(other, SIGKILL);
    int status = 0;
    ::waitpid(other, &status, 0);
}

TEST_F(ProcessRuntimeTest, StopEscalatesToSigkillAndReachesDescendantsInOtherSessions) {
    config_.session_process_sandbox = "none";
    // Ignores SIGTERM, and leaves a process in a session of its own (like an IDE terminal).
    config_.session_process_command =
        "sh -c 'trap \"\" TERM; setsid sleep 600 & echo $! > {workspace}/escaped.pid; "
        "while :; do sleep 1; done' {port}";
    auto rt = runtime();
    const auto s = spec("esc2abcd");
    const auto started = rt->start(s);
    const auto pid_file = workspace_ / "escaped.pid";
    ASSERT_TRUE(wait_for([&] { return !read_text(pid_file).empty(); }, 5s));
    const pid_t escaped = std::stoi(read_text(pid_file));
    std::optional<ProcStat> escaped_st;
    ASSERT_TRUE(wait_for(
        [&] {
            escaped_st = read_proc_stat(escaped);
            return escaped_st && escaped_st->session == escaped;  // setsid has run
        },
        5s));
    EXPECT_NE(escaped_st->pgrp, meta_of(started).at("pgid").get<pid_t>());

    const auto t0 = Clock::now();
    rt->stop(started.id, started.meta, 1s);
    const auto took = Clock::now() - t0;
    EXPECT_GE(took, 1s);  // it waited out the grace period
    EXPECT_LT(took, 6s);
    EXPECT_FALSE(alive(escaped, escaped_st->start_time));
    EXPECT_TRUE(our_children().empty());
    EXPECT_TRUE(group_members(meta_of(started).at("pgid").get<pid_t>()).empty());
    const auto i = rt->inspect(started.id, s.name, started.meta);
    EXPECT_EQ(i.state, RuntimeState::exited);
    EXPECT_EQ(i.detail, "signal 9");
    rt->remove(started.id, started.meta);
}

TEST_F(ProcessRuntimeTest, TheLogIsBoundedWhileTheSessionRuns) {
    config_.session_process_sandbox = "none";
    config_.session_process_command =
        "sh -c 'head -c 9000000 /dev/zero; echo after; exec sleep 60' {port}";
    auto rt = runtime();
    const auto s = spec("log2abcd");
    const auto started = rt->start(s);
    const auto log = meta_of(started).at("log").get<std::string>();
    ASSERT_TRUE(wait_for([&] { return read_text(log).find("after") != std::string::npos; }, 10s));
    EXPECT_GT(fs::file_size(log), 9000000u);
    EXPECT_EQ(rt->inspect(started.id, s.name, started.meta).state, RuntimeState::running);
    EXPECT_LT(fs::file_size(log), 4096u);
    EXPECT_EQ(read_text(log).rfind("[medforge] log emptied", 0), 0u);
    rt->stop(started.id, started.meta, 1s);
    EXPECT_TRUE(our_children().empty());
    rt->remove(started.id, started.meta);
}

TEST_F(ProcessRuntimeTest, WithoutGpusCudaSeesNone) {
    config_.session_process_sandbox = "none";
    config_.session_gpu_mode = "none";
    config_.session_process_command =
        "sh -c 'echo \"cuda=[$CUDA_VISIBLE_DEVICES] gpu=$MEDFORGE_GPU_ID\" > {workspace}/gpu.tmp; "
        "mv {workspace}/gpu.tmp {workspace}/gpu.txt' {port}";
    auto rt = runtime();
    const auto started = rt->start(spec("gpu2abcd"));
    ASSERT_TRUE(wait_for([&] { return fs::exists(workspace_ / "gpu.txt"); }, 5s));
    EXPECT_EQ(read_text(workspace_ / "gpu.txt"), "cuda=[] gpu=3\n");
    rt->remove(started.id, started.meta);
    EXPECT_TRUE(our_children().empty());
}

// ---------------------------------------------------------------------------------------------
// Refusals

TEST_F(ProcessRuntimeTest, RefusesToRunSessionsAsRoot) {
    config_.session_process_user = "root";
    config_.session_process_command = "sleep 60 {port}";
    auto rt = runtime();
    EXPECT_THROW(rt->health(), RuntimeUnavailable);
    EXPECT_THROW(rt->start(spec("root2abc")), RuntimeUnavailable);
    EXPECT_TRUE(rt->list_managed().empty());
}

TEST_F(ProcessRuntimeTest, AMissingSessionUserMakesTheRuntimeUnavailable) {
    if (::geteuid() != 0) GTEST_SKIP() << "the user is only looked up when the API is root";
    config_.session_process_user = "medforge-no-such-user";
    config_.session_process_command = "sleep 60 {port}";
    auto rt = runtime();
    try {
        rt->health();
        ADD_FAILURE() << "health() accepted a missing user";
    } catch (const RuntimeUnavailable& e) {
        EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    }
    EXPECT_THROW(rt->start(spec("nou2abcd")), RuntimeUnavailable);
}

TEST_F(ProcessRuntimeTest, AMissingProgramFailsTheStartAndLeavesNothingRunning) {
    for (const char* command :
         {"/nonexistent/medforge-ide --port {port}", "medforge-no-such-program --port {port}"}) {
        config_.session_process_command = command;
        auto rt = runtime();
        EXPECT_THROW(rt->health(), RuntimeUnavailable) << command;
        EXPECT_THROW(rt->start(spec("nop2abcd")), RuntimeError) << command;
        EXPECT_TRUE(rt->list_managed().empty()) << command;
    }
}

TEST_F(ProcessRuntimeTest, AnExecFailureIsReportedAndTheChildReaped) {
    config_.session_process_sandbox = "none";
    const auto bogus = app_ / "bin/not-a-program";
    write_text(bogus,
               std::string("\x7f"
                           "ELF garbage",
                           12),
               fs::perms(0755));
    config_.session_process_command = bogus.string() + " {port}";
    auto rt = runtime();
    try {
        rt->start(spec("exf2abcd"));
        ADD_FAILURE() << "start() accepted a file that cannot be executed";
    } catch (const RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("exec"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(rt->list_managed().empty());
    EXPECT_TRUE(our_children().empty());
}

TEST_F(ProcessRuntimeTest, AMissingWorkspaceOrDatasetFailsTheStart) {
    config_.session_process_command = "sleep 60 {port}";
    auto rt = runtime();
    auto s = spec("mis2abcd");
    s.workspace_path = (root_ / "no-such-workspace").string();
    EXPECT_THROW(rt->start(s), RuntimeError);
    s = spec("mis2abcd");
    s.datasets = {{"ds9", (state_dir_ / "datasets/ds9").string()}};
    EXPECT_THROW(rt->start(s), RuntimeError);
    EXPECT_TRUE(rt->list_managed().empty());
}

TEST_F(ProcessRuntimeTest, ADatasetTheSessionUserCannotReachFailsOnlyASandboxedStart) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a directory the user cannot enter";
    REQUIRE_BWRAP();
    config_.session_process_command = "sleep 60 {port}";
    const auto locked = root_ / "locked";
    fs::create_directories(locked / "ds1");
    fs::permissions(locked, fs::perms(0700));
    auto s = spec("lcd2abcd");
    s.datasets = {{"ds1", (locked / "ds1").string()}};
    config_.session_process_sandbox = "bwrap";
    try {
        runtime()->start(s);
        ADD_FAILURE() << "a sandboxed start accepted a dataset bwrap cannot bind";
    } catch (const RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("not searchable"), std::string::npos) << e.what();
    }
    // Without the sandbox nothing is mounted: the session starts (its code cannot read the data).
    config_.session_process_sandbox = "none";
    auto rt = runtime();
    const auto started = rt->start(s);
    EXPECT_EQ(rt->inspect(started.id, s.name, started.meta).state, RuntimeState::running);
    rt->remove(started.id, started.meta);
}

TEST_F(ProcessRuntimeTest, AWorkspaceTheSessionUserCannotReachFailsTheStart) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a directory the user cannot enter";
    config_.session_process_command = "sleep 60 {port}";
    const auto locked = root_ / "locked";
    fs::create_directories(locked / "ws");
    fs::permissions(locked, fs::perms(0700));
    auto s = spec("lck2abcd");
    s.workspace_path = (locked / "ws").string();
    try {
        runtime()->start(s);
        ADD_FAILURE() << "start() accepted an unreachable workspace";
    } catch (const RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("not searchable"), std::string::npos) << e.what();
    }
}

TEST_F(ProcessRuntimeTest, APlatformDirectoryThatWouldShowThroughTheInstallIsRefused) {
    REQUIRE_BWRAP();
    config_.session_process_sandbox = "bwrap";
    write_text(app_ / "bin/ide", "#!/bin/sh\nexec sleep 60\n", fs::perms(0755));
    config_.session_process_command = (app_ / "bin/ide").string() + " {port}";
    ASSERT_NO_THROW(runtime()->health());
    // Not created yet: it would appear inside the sandbox (through the bind of app/) the moment
    // it is, and a mask cannot be mounted over a directory that does not exist.
    config_.submissions_dir = (app_ / "later/submissions").string();
    auto rt = runtime();
    EXPECT_THROW(rt->health(), RuntimeUnavailable);
    EXPECT_THROW(rt->start(spec("lat2abcd")), RuntimeUnavailable);
    EXPECT_TRUE(rt->list_managed().empty());
}

TEST_F(ProcessRuntimeTest, WithoutARecordTheProcessIsMissing) {
    auto rt = runtime();
    EXPECT_EQ(rt->inspect("", "mf-session-nothere", "").state, RuntimeState::missing);
    EXPECT_EQ(rt->inspect("pid:12345", "", "").state, RuntimeState::missing);
    EXPECT_NO_THROW(rt->stop("pid:12345", "", 1s));
    EXPECT_NO_THROW(rt->remove("pid:12345", ""));
}

// ---------------------------------------------------------------------------------------------
// Start-up time: process start → code-server /healthz 200. Opt-in (it takes a while): set
// MEDFORGE_MEASURE_STARTUP_RUNS=10. Prints a table; asserts only that every run got ready.

TEST_F(ProcessRuntimeTest, MeasureTimeToHealthz) {
    MEDFORGE_REQUIRE_SERVICE(code_server, "MEDFORGE_TEST_CODE_SERVER");
    const char* runs_env = std::getenv("MEDFORGE_MEASURE_STARTUP_RUNS");
    if (runs_env == nullptr) GTEST_SKIP() << "set MEDFORGE_MEASURE_STARTUP_RUNS=10 to measure";
    const int runs = std::max(1, std::atoi(runs_env));
    config_.session_process_command =
        code_server + " --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}";
    std::vector<std::string> modes{"none"};
    if (have_bwrap()) modes.insert(modes.begin(), "bwrap");
    std::map<std::string, std::vector<double>> ms;
    // Interleaved, so that load from elsewhere on the machine hits both modes alike.
    for (int i = 0; i < runs; ++i) {
        for (const auto& sandbox : modes) {
            config_.session_process_sandbox = sandbox;
            auto rt = runtime();
            auto s = spec("msr2" + std::string(1, static_cast<char>('a' + i % 26)) + "aaa");
            const auto ws = root_ / ("bench-" + sandbox + "-" + std::to_string(i));
            fs::create_directories(ws);
            s.workspace_path = ws.string();
            const auto t0 = Clock::now();
            const auto started = rt->start(s);
            const int port = meta_of(started).at("port").get<int>();
            ASSERT_TRUE(wait_for([&] { return http_status(port, "/healthz") == 200; }, 15s, 5ms));
            ms[sandbox].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            rt->stop(started.id, started.meta, 5s);
            rt->remove(started.id, started.meta);
        }
    }
    std::printf("\n%-8s %5s %9s %9s %9s\n", "sandbox", "runs", "min ms", "median ms", "max ms");
    for (auto& [sandbox, v] : ms) {
        std::sort(v.begin(), v.end());
        const double median =
            v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
        std::printf("%-8s %5zu %9.0f %9.0f %9.0f\n", sandbox.c_str(), v.size(), v.front(), median,
                    v.back());
    }
}

}  // namespace
}  // namespace medforge::sessions
