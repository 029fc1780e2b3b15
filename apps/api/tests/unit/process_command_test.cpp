// The process runtime's pure parts: splitting SESSION_PROCESS_COMMAND, placeholders, program
// lookup, install prefixes, and /proc/<pid>/stat parsing.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sessions/process_command.hpp"
#include "sessions/process_table.hpp"

namespace medforge::sessions {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;

TEST(ProcessCommand, SplitsOnUnquotedBlanks) {
    EXPECT_EQ(
        split_command_line("code-server --auth none  --bind-addr\t127.0.0.1:{port}\n{workspace}"),
        (Words{"code-server", "--auth", "none", "--bind-addr", "127.0.0.1:{port}", "{workspace}"}));
    EXPECT_EQ(split_command_line("  a  "), (Words{"a"}));
}

TEST(ProcessCommand, QuotesKeepTextTogetherAndLiteral) {
    EXPECT_EQ(split_command_line("sh -c 'echo $HOME; ls \"x\"' end"),
              (Words{"sh", "-c", "echo $HOME; ls \"x\"", "end"}));
    EXPECT_EQ(split_command_line(R"(a "b c" "d \" \\ \n e")"),
              (Words{"a", "b c", R"(d " \ \n e)"}));
    EXPECT_EQ(split_command_line(R"(a\ b c\'d)"), (Words{"a b", "c'd"}));
    EXPECT_EQ(split_command_line(R"("a"'b'c)"), (Words{"abc"}));
    EXPECT_EQ(split_command_line("x '' \"\""), (Words{"x", "", ""}));
    // Nothing is special but quotes, backslashes and blanks.
    EXPECT_EQ(split_command_line("a;b|c >d $E ~ *"), (Words{"a;b|c", ">d", "$E", "~", "*"}));
}

TEST(ProcessCommand, RejectsBrokenLines) {
    EXPECT_THROW(split_command_line("a 'b"), CommandLineError);
    EXPECT_THROW(split_command_line("a \"b"), CommandLineError);
    EXPECT_THROW(split_command_line("a \"b\\\""), CommandLineError);
    EXPECT_THROW(split_command_line("a\\"), CommandLineError);
    EXPECT_THROW(split_command_line(""), CommandLineError);
    EXPECT_THROW(split_command_line(" \t\n"), CommandLineError);
}

TEST(ProcessCommand, ExpandsPlaceholdersInsideWordsAfterSplitting) {
    const auto words = expand_command(
        split_command_line("x --bind-addr 127.0.0.1:{port} {workspace} --p={port}{port} {other}"),
        8123, "/w/my space");
    EXPECT_EQ(words, (Words{"x", "--bind-addr", "127.0.0.1:8123", "/w/my space", "--p=81238123",
                            "{other}"}));
}

class ProgramLookup : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/mf-prog-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        fs::create_directories(dir_ / "a");
        fs::create_directories(dir_ / "b");
        make(dir_ / "a/tool", "#!/bin/sh\n", fs::perms(0644));  // not executable
        make(dir_ / "b/tool", "#!/usr/bin/env -S node --flag\n", fs::perms(0755));
        make(dir_ / "b/plain",
             "\x7f"
             "ELF",
             fs::perms(0755));
        make(dir_ / "b/shell", "#!/bin/sh -e\n", fs::perms(0755));
    }
    void TearDown() override { fs::remove_all(dir_); }
    static void make(const fs::path& p, const std::string& text, fs::perms perms) {
        std::ofstream(p) << text;
        fs::permissions(p, perms);
    }
    fs::path dir_;
};

TEST_F(ProgramLookup, SearchesPathForAnExecutableFile) {
    const auto path = (dir_ / "a").string() + ":relative:" + (dir_ / "b").string();
    EXPECT_EQ(find_program("tool", path), (dir_ / "b/tool").string());
    EXPECT_EQ(find_program("nope", path), std::nullopt);
    EXPECT_EQ(find_program("b", dir_.string()), std::nullopt);  // a directory
    // The caller's filter makes the search go on (as the session user's shell would).
    const auto not_b = [&](const std::string& f) { return f.find("/b/") == std::string::npos; };
    EXPECT_EQ(find_program("tool", path, not_b), std::nullopt);
}

TEST_F(ProgramLookup, APathIsTakenAsIs) {
    EXPECT_EQ(find_program((dir_ / "b/../b/tool").string(), ""), (dir_ / "b/tool").string());
    EXPECT_EQ(find_program((dir_ / "a/tool").string(), "/usr/bin"), std::nullopt);
}

TEST_F(ProgramLookup, ReadsTheScriptInterpreter) {
    EXPECT_EQ(script_interpreter((dir_ / "b/tool").string()), "node");
    EXPECT_EQ(script_interpreter((dir_ / "b/shell").string()), "/bin/sh");
    EXPECT_EQ(script_interpreter((dir_ / "b/plain").string()), "");
    EXPECT_EQ(script_interpreter((dir_ / "missing").string()), "");
}

TEST(ProcessCommand, InstallPrefixIsTheWholeInstallation) {
    EXPECT_EQ(install_prefix("/opt/medforge/code-server/node_modules/.bin/code-server"),
              "/opt/medforge/code-server");
    EXPECT_EQ(
        install_prefix("/opt/medforge/code-server/node_modules/code-server/out/node/entry.js"),
        "/opt/medforge/code-server");
    EXPECT_EQ(install_prefix("/opt/code-server-4.100.3/bin/code-server"),
              "/opt/code-server-4.100.3");
    EXPECT_EQ(install_prefix("/srv/tools/ide"), "/srv/tools");
    EXPECT_EQ(install_prefix("/ide"), "/");
}

TEST(ProcessCommand, PathWithinComparesComponents) {
    EXPECT_TRUE(path_within("/a/b", "/a/b"));
    EXPECT_TRUE(path_within("/a/b/c", "/a/b"));
    EXPECT_TRUE(path_within("/a/b/c", "/a/b/"));
    EXPECT_FALSE(path_within("/a/bc", "/a/b"));
    EXPECT_FALSE(path_within("/a", "/a/b"));
    EXPECT_TRUE(path_within("/anything", "/"));
}

// A real line's shape; the command name holds spaces and parentheses.
const std::string kStatLine =
    "4242 (we(ird) n) ame) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 "
    "987654321 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

std::string replaced(std::string s, const std::string& what, const std::string& with) {
    return s.replace(s.find(what), what.size(), with);
}

TEST(ProcStatParse, ReadsFieldsAfterTheLastParenthesis) {
    const auto st = parse_proc_stat(kStatLine);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->pid, 4242);
    EXPECT_EQ(st->state, 'S');
    EXPECT_EQ(st->ppid, 1);
    EXPECT_EQ(st->pgrp, 4242);
    EXPECT_EQ(st->session, 4242);
    EXPECT_EQ(st->start_time, 987654321u);
    EXPECT_FALSE(st->dead());
    EXPECT_TRUE(parse_proc_stat("7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0")->dead());
}

TEST(ProcStatParse, RejectsTruncatedOrMalformedText) {
    EXPECT_FALSE(parse_proc_stat("").has_value());
    EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2 3").has_value());
    EXPECT_FALSE(parse_proc_stat(kStatLine.substr(0, kStatLine.find("987654321"))).has_value());
    EXPECT_FALSE(parse_proc_stat(replaced(kStatLine, "(we(ird) n) ame)", "x")).has_value());
    EXPECT_FALSE(parse_proc_stat(replaced(kStatLine, "4242 (", "ab (")).has_value());
    EXPECT_FALSE(parse_proc_stat(replaced(kStatLine, "987654321", "98765x321")).has_value());
    EXPECT_FALSE(parse_proc_stat(replaced(kStatLine, ") S 1", ") S x1")).has_value());
    EXPECT_FALSE(parse_proc_stat(replaced(kStatLine, ") S 1", ") SS 1")).has_value());
}

TEST(ProcStatParse, ReadsTheLiveTable) {
    const auto self = read_proc_stat(::getpid());
    ASSERT_TRUE(self.has_value());
    EXPECT_EQ(self->pid, ::getpid());
    EXPECT_EQ(self->ppid, ::getppid());
    EXPECT_GT(self->start_time, 0u);
    EXPECT_EQ(read_proc_stat(::getpid())->start_time, self->start_time);  // stable
    const auto table = read_process_table();
    EXPECT_TRUE(std::any_of(table.begin(), table.end(),
                            [](const ProcStat& s) { return s.pid == ::getpid(); }));
    EXPECT_FALSE(read_proc_stat(0).has_value());
}

}  // namespace
}  // namespace medforge::sessions
