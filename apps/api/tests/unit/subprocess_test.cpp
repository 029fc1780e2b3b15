// run_command: exit codes, captured output, time limit, missing programs, bounded output, and
// concurrent use from several threads.

#include "core/subprocess.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace medforge {
namespace {

using namespace std::chrono_literals;
using mftest::TempDir;
using Clock = std::chrono::steady_clock;

TEST(Subprocess, ReportsExitCodes) {
    EXPECT_EQ(run_command({"true"}, 5s).exit_code, 0);
    EXPECT_EQ(run_command({"false"}, 5s).exit_code, 1);
    EXPECT_EQ(run_command({"sh", "-c", "exit 42"}, 5s).exit_code, 42);
}

TEST(Subprocess, ASignalDeathIs128PlusTheSignal) {
    EXPECT_EQ(run_command({"sh", "-c", "kill -TERM $$"}, 5s).exit_code, 128 + SIGTERM);
}

TEST(Subprocess, CapturesStdoutAndStderrSeparately) {
    const auto r = run_command({"sh", "-c", "printf 'to out'; printf 'to err' >&2"}, 5s);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "to out");
    EXPECT_EQ(r.err, "to err");
    EXPECT_FALSE(r.truncated);
}

TEST(Subprocess, PassesArgumentsVerbatimWithoutAShell) {
    const auto r = run_command({"printf", "%s|", "a b", "$HOME", "*", "; rm -rf /"}, 5s);
    EXPECT_EQ(r.out, "a b|$HOME|*|; rm -rf /|");
}

TEST(Subprocess, StdinIsEmpty) {
    // cat would wait forever on an inherited terminal or pipe.
    const auto r = run_command({"cat"}, 5s);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
}

TEST(Subprocess, KillsAProgramThatRunsPastTheTimeout) {
    const auto t0 = Clock::now();
    EXPECT_THROW(run_command({"sleep", "10"}, 200ms), CommandTimeout);
    EXPECT_LT(Clock::now() - t0, 3s);
}

// True while pid is a live process (a zombie counts as gone: it has been killed).
bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto close_paren = line.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < line.size() &&
           line[close_paren + 2] != 'Z' && line[close_paren + 2] != 'X';
}

TEST(Subprocess, TheTimeoutKillsTheWholeProcessGroup) {
    // Killing only the shell would leave its child running (holding the pipes).
    TempDir dir;
    const std::string pid_file = dir.file("grandchild.pid");
    const auto t0 = Clock::now();
    EXPECT_THROW(run_command({"sh", "-c", "sleep 30 & echo $! > " + pid_file + "; wait"}, 500ms),
                 CommandTimeout);
    EXPECT_LT(Clock::now() - t0, 3s);
    std::ifstream in(pid_file);
    pid_t grandchild = 0;
    ASSERT_TRUE(in >> grandchild) << "the shell did not start its child in time";
    const auto deadline = Clock::now() + 5s;
    while (alive(grandchild) && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(alive(grandchild));
}

TEST(Subprocess, AMissingProgramThrowsCommandNotFoundNamingIt) {
    try {
        run_command({"medforge-no-such-program-xyz", "--help"}, 5s);
        FAIL() << "expected CommandNotFound";
    } catch (const CommandNotFound& e) {
        EXPECT_NE(std::string(e.what()).find("medforge-no-such-program-xyz"), std::string::npos);
    }
    EXPECT_THROW(run_command({}, 5s), CommandError);
}

TEST(Subprocess, OutputBeyondTheLimitIsReadAndDropped) {
    // 4 MiB through a 64 KiB pipe: the program must not block, and only max_output is kept.
    const auto r = run_command({"head", "-c", "4194304", "/dev/zero"}, 20s, 100'000);
    EXPECT_EQ(r.exit_code, 0);  // not killed by SIGPIPE: the rest was read
    EXPECT_EQ(r.out.size(), 100'000u);
    EXPECT_TRUE(r.truncated);
    const auto err = run_command({"sh", "-c", "head -c 5000 /dev/zero >&2"}, 20s, 10);
    EXPECT_EQ(err.err.size(), 10u);
    EXPECT_TRUE(err.truncated);
}

TEST(Subprocess, LargeOutputWithinTheLimitArrivesWhole) {
    const auto r = run_command({"head", "-c", "3000000", "/dev/zero"}, 20s, 4u << 20);
    EXPECT_EQ(r.out.size(), 3'000'000u);
    EXPECT_FALSE(r.truncated);
}

TEST(Subprocess, DoesNotWaitForAGrandchildHoldingTheOutputOpen) {
    // The shell exits at once; its background child keeps stdout open for 5 s more.
    const auto t0 = Clock::now();
    const auto r = run_command({"sh", "-c", "echo started; sleep 5 & exit 3"}, 10s);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "started\n");
    EXPECT_LT(Clock::now() - t0, 3s);
}

TEST(Subprocess, ConcurrentCommandsEachGetTheirOwnOutput) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([t, &wrong] {
            for (int i = 0; i < 10; ++i) {
                const std::string want = std::to_string(t) + ":" + std::to_string(i);
                const auto r = run_command({"printf", "%s", want}, 10s);
                if (r.out != want || r.exit_code != 0) ++wrong;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Subprocess, DiagnosticIsTrimmedJoinedAndBounded) {
    CommandResult r;
    r.err = "  cannot open 'x': dataset does not exist\n\nsecond\tline\n";
    EXPECT_EQ(command_diagnostic(r), "cannot open 'x': dataset does not exist; secondline");
    r.err = "";
    r.out = "only stdout\n";
    EXPECT_EQ(command_diagnostic(r), "only stdout");
    r.out = std::string(1000, 'a');
    const auto cut = command_diagnostic(r, 50);
    EXPECT_EQ(cut, std::string(50, 'a') + "\u2026");
    r.out = "";
    EXPECT_EQ(command_diagnostic(r), "");
}

}  // namespace
}  // namespace medforge
