#pragma once

// Running a program and collecting what it prints: the one place that spawns helper commands
// (`zfs`, `nvidia-smi`, `chown`, …). No shell is involved — argv[0] is looked up in PATH and the
// arguments reach the program as given — so nothing in an argument is ever interpreted.
//
// Thread-safe: every descriptor it opens is close-on-exec (so a command started by another thread
// at the same moment does not inherit this one's pipes), the child is set up with
// posix_spawn_file_actions only, and nothing global is changed.

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace medforge {

struct CommandResult {
    int exit_code = 0;       // the exit status; 128 + N when the program died of signal N
    std::string out;         // stdout, at most max_output bytes
    std::string err;         // stderr, at most max_output bytes
    bool truncated = false;  // stdout or stderr was longer than max_output (the rest is dropped)
};

// The command could not be run or its outcome could not be learnt.
class CommandError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// argv[0] was not found in PATH, or is not executable (EACCES, which is also what a PATH entry
// that may not be searched gives).
class CommandNotFound : public CommandError {
  public:
    using CommandError::CommandError;
};

// The command ran past its time limit; it (and its process group) was killed with SIGKILL.
class CommandTimeout : public CommandError {
  public:
    using CommandError::CommandError;
};

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null, in a process group of its own,
// and returns its exit status, stdout and stderr. Output beyond `max_output` bytes per stream is
// read and dropped (the program is never blocked on a full pipe nor killed by SIGPIPE). A program
// that is still running at `timeout` is killed with SIGKILL together with its process group and
// reaped, then CommandTimeout is thrown. Throws CommandNotFound when argv[0] cannot be found and
// CommandError for any other failure to start or wait for it; a non-zero exit status is not an
// error here.
//
// A child that exits while a grandchild keeps its stdout open is not waited for beyond what it
// already wrote. Elsewhere in the process, nobody may reap children they did not start
// (waitpid(-1, …)) or set SIGCHLD to SIG_IGN: the exit status would be lost (CommandError).
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          std::size_t max_output = std::size_t{1} << 20);

// "zfs create a/b" — argv joined by spaces for messages and logs (not for a shell).
std::string describe_command(const std::vector<std::string>& argv);

// What a failed command said, fit for an error message: its stderr (its stdout when stderr is
// empty) trimmed, lines joined with "; ", control characters dropped, at most `max_bytes` bytes
// (cut with "…"). Empty when it said nothing.
std::string command_diagnostic(const CommandResult& result, std::size_t max_bytes = 400);

}  // namespace medforge
