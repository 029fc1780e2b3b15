#include "core/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/strings.hpp"
#include "core/unique_fd.hpp"

extern char** environ;

namespace medforge {

namespace {

using Clock = std::chrono::steady_clock;

// After SIGKILL a process normally dies at once; one stuck in the kernel (a hung file system) may
// not. We wait this long before leaving it to a background reaper.
constexpr std::chrono::milliseconds kKillGrace{5000};
// Without pidfds (kernels before 5.3) the exit is noticed by polling at this interval.
constexpr std::chrono::milliseconds kExitPollSlice{20};

std::string errno_text(int err) { return std::strerror(err); }

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int ms_until(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
}

// The parent's end of one output pipe and what has been read from it.
class Capture {
  public:
    Capture(UniqueFd fd, std::size_t max, std::string& sink, bool& truncated)
        : fd_(std::move(fd)), max_(max), sink_(sink), truncated_(truncated) {}

    bool open() const { return static_cast<bool>(fd_); }
    int fd() const { return fd_.get(); }

    // Reads until the pipe is empty (EAGAIN) or at EOF (then closes it).
    void read_available() {
        char buf[65536];
        while (fd_) {
            const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
            if (n > 0) {
                keep(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) return;
            fd_.reset();  // EOF, or an error that ends this stream
        }
    }

  private:
    void keep(const char* data, std::size_t n) {
        const std::size_t room = max_ > sink_.size() ? max_ - sink_.size() : 0;
        if (n > room) truncated_ = true;
        sink_.append(data, std::min(n, room));
    }

    UniqueFd fd_;
    std::size_t max_;
    std::string& sink_;
    bool& truncated_;
};

struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw CommandError("pipe: " + errno_text(errno));
    Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
    // Only our end is non-blocking: the child's end is the program's stdout/stderr as it expects.
    const int flags = ::fcntl(p.read_end.get(), F_GETFL);
    if (flags < 0 || ::fcntl(p.read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        throw CommandError("fcntl: " + errno_text(errno));
    }
    return p;
}

// posix_spawn's two attribute objects, destroyed on every path.
class SpawnSetup {
  public:
    SpawnSetup(int out_fd, int err_fd) {
        check(posix_spawn_file_actions_init(&actions_), "posix_spawn_file_actions_init");
        actions_ok_ = true;
        check(posix_spawnattr_init(&attr_), "posix_spawnattr_init");
        attr_ok_ = true;
        check(posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
              "addopen");
        // dup2 leaves the copies without close-on-exec; the originals close at exec.
        check(posix_spawn_file_actions_adddup2(&actions_, out_fd, STDOUT_FILENO), "adddup2");
        check(posix_spawn_file_actions_adddup2(&actions_, err_fd, STDERR_FILENO), "adddup2");
        // A session of its own: no controlling terminal (sudo -n never finds one to prompt on or
        // to stop for), and a process group that a timeout kills as a whole. Signals ignored or
        // blocked by this server (SIGPIPE above all) are reset to their defaults.
        sigset_t none;
        sigemptyset(&none);
        sigset_t defaults;
        sigemptyset(&defaults);
        for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD}) {
            sigaddset(&defaults, sig);
        }
        check(posix_spawnattr_setsigmask(&attr_, &none), "setsigmask");
        check(posix_spawnattr_setsigdefault(&attr_, &defaults), "setsigdefault");
        check(posix_spawnattr_setflags(
                  &attr_, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
              "setflags");
    }
    ~SpawnSetup() {
        if (attr_ok_) posix_spawnattr_destroy(&attr_);
        if (actions_ok_) posix_spawn_file_actions_destroy(&actions_);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;

    const posix_spawn_file_actions_t* actions() const { return &actions_; }
    const posix_spawnattr_t* attr() const { return &attr_; }

  private:
    static void check(int rc, const char* what) {
        if (rc != 0) throw CommandError(std::string(what) + ": " + errno_text(rc));
    }

    posix_spawn_file_actions_t actions_{};
    posix_spawnattr_t attr_{};
    bool actions_ok_ = false;
    bool attr_ok_ = false;
};

UniqueFd open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
#endif
    return UniqueFd();
}

// waitpid(WNOHANG): true once reaped (status filled in). Throws when the child cannot be waited
// for — someone else reaped it.
bool try_reap(pid_t pid, int& status, const std::string& what) {
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return true;
        if (r == 0) return false;
        const int err = errno;
        if (err == EINTR) continue;
        throw CommandError(what + ": cannot wait for it: " + errno_text(err));
    }
}

// Kills the child's process group and reaps the child, giving up (to a detached reaper) after
// kKillGrace so that a process stuck in the kernel cannot hang the caller.
void kill_and_reap(pid_t pid, const UniqueFd& pidfd) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    const auto deadline = Clock::now() + kKillGrace;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return;
        if (Clock::now() >= deadline) break;
        if (pidfd) {
            pollfd p{pidfd.get(), POLLIN, 0};
            ::poll(&p, 1, ms_until(deadline));
        } else {
            ::poll(nullptr, 0, static_cast<int>(kExitPollSlice.count()));
        }
    }
    std::thread([pid] {
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }).detach();
}

}  // namespace

std::string describe_command(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        out += a;
    }
    return out;
}

std::string command_diagnostic(const CommandResult& result, std::size_t max_bytes) {
    const std::string& said = trim(result.err).empty() ? result.out : result.err;
    std::string out;
    for (auto line : split(said, '\n')) {
        line = trim(line);
        if (line.empty()) continue;
        if (!out.empty()) out += "; ";
        for (char ch : line) {
            if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f) out += ch;
        }
    }
    if (out.size() > max_bytes) {
        out.resize(max_bytes);
        // Do not leave half a UTF-8 sequence before the ellipsis.
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) {
            out.pop_back();
        }
        if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80) != 0) out.pop_back();
        out += "\u2026";
    }
    return out;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          std::size_t max_output) {
    if (argv.empty() || argv[0].empty()) throw CommandError("run_command: empty argv");
    const std::string what = describe_command(argv);

    Pipe out_pipe = make_pipe();
    Pipe err_pipe = make_pipe();
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    pid_t pid = 0;
    {
        SpawnSetup setup(out_pipe.write_end.get(), err_pipe.write_end.get());
        const int rc =
            posix_spawnp(&pid, args[0], setup.actions(), setup.attr(), args.data(), environ);
        if (rc == ENOENT || rc == ENOTDIR) {
            throw CommandNotFound("cannot run " + argv[0] + ": command not found");
        }
        // As execvp: found but not executable, or a PATH directory that may not be searched.
        if (rc == EACCES) throw CommandNotFound("cannot run " + argv[0] + ": permission denied");
        if (rc != 0) throw CommandError("cannot run " + argv[0] + ": " + errno_text(rc));
    }
    const auto deadline = Clock::now() + timeout;
    // Only the child holds the write ends now, so EOF means it (and its children) closed them.
    out_pipe.write_end.reset();
    err_pipe.write_end.reset();

    CommandResult result;
    Capture out(std::move(out_pipe.read_end), max_output, result.out, result.truncated);
    Capture err(std::move(err_pipe.read_end), max_output, result.err, result.truncated);
    const UniqueFd pidfd = open_pidfd(pid);

    int status = 0;
    for (;;) {
        if (try_reap(pid, status, what)) {
            // Whatever it wrote is in the pipes; a grandchild holding them open is not waited for.
            out.read_available();
            err.read_available();
            break;
        }
        if (Clock::now() >= deadline) {
            kill_and_reap(pid, pidfd);
            throw CommandTimeout(what + ": did not finish within " +
                                 std::to_string(timeout.count()) + " ms (killed)");
        }
        pollfd fds[3];
        nfds_t n = 0;
        if (out.open()) fds[n++] = {out.fd(), POLLIN, 0};
        if (err.open()) fds[n++] = {err.fd(), POLLIN, 0};
        if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
        int wait_ms = ms_until(deadline);
        if (!pidfd) wait_ms = std::min(wait_ms, static_cast<int>(kExitPollSlice.count()));
        if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) {
            const int e = errno;
            kill_and_reap(pid, pidfd);
            throw CommandError(what + ": poll: " + errno_text(e));
        }
        out.read_available();
        err.read_available();
    }
    result.exit_code = decode_status(status);
    return result;
}

}  // namespace medforge
