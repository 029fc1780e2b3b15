#include "sessions/process_runtime.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "core/log.hpp"
#include "core/unique_fd.hpp"
#include "sessions/process_command.hpp"
#include "sessions/process_table.hpp"

namespace medforge::sessions {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// What the runtime knows about one process it started: the row's runtime_meta and the state
// file (which adds session_id).
struct ProcessRecord {
    pid_t pid = 0;
    pid_t pgid = 0;
    std::uint64_t start_time = 0;
    int port = 0;
    std::string log;
    std::string name;
    std::string boot_id;  // the kernel's boot id: start times only compare within one boot
    std::string session_id;
};

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr auto kKillWait = std::chrono::seconds(5);
constexpr auto kPollStep = std::chrono::milliseconds(25);
constexpr off_t kLogMaxBytes = off_t{8} << 20;

// ---------------------------------------------------------------------------------------------
// Records

nlohmann::json record_json(const ProcessRecord& r) {
    return {{"pid", r.pid}, {"pgid", r.pgid}, {"start_time", r.start_time}, {"port", r.port},
            {"log", r.log}, {"name", r.name}, {"boot_id", r.boot_id}};
}

std::optional<ProcessRecord> parse_record(std::string_view text) {
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return std::nullopt;
    const auto integer = [&](const char* key) -> std::optional<std::int64_t> {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_number_integer()) return std::nullopt;
        return it->get<std::int64_t>();
    };
    const auto text_field = [&](const char* key) -> std::string {
        const auto it = j.find(key);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const auto pid = integer("pid");
    const auto start = integer("start_time");
    if (!pid || !start || *pid <= 1 || *pid > INT32_MAX || *start < 0) return std::nullopt;
    ProcessRecord r;
    r.pid = static_cast<pid_t>(*pid);
    const auto pgid = integer("pgid");
    r.pgid = pgid && *pgid > 1 && *pgid <= INT32_MAX ? static_cast<pid_t>(*pgid) : r.pid;
    r.start_time = static_cast<std::uint64_t>(*start);
    const auto port = integer("port");
    r.port = port && *port > 0 && *port < 65536 ? static_cast<int>(*port) : 0;
    r.log = text_field("log");
    r.name = text_field("name");
    r.boot_id = text_field("boot_id");
    r.session_id = text_field("session_id");
    return r;
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

bool valid_slug(std::string_view slug) {
    if (slug.empty() || slug.size() > 64) return false;
    return std::all_of(slug.begin(), slug.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

std::optional<pid_t> pid_from_id(const std::string& id) {
    if (id.rfind("pid:", 0) != 0) return std::nullopt;
    const auto n = std::strtoll(id.c_str() + 4, nullptr, 10);
    if (n <= 1 || n > INT32_MAX) return std::nullopt;
    return static_cast<pid_t>(n);
}

// ---------------------------------------------------------------------------------------------
// Exit statuses of the children this process reaped. Process-wide, because children belong to
// the process, not to one ProcessRuntime object (a second object in the same process — a test
// simulating a restart — must still be able to reap and report them).

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

class ExitRegistry {
  public:
    static ExitRegistry& instance() {
        static ExitRegistry registry;
        return registry;
    }

    // Reaps `pid` if it is a finished child of this process that started at `start_time`
    // (waitpid on that pid only). Returns how it ended when it has been reaped, now or before.
    std::optional<std::string> reap(pid_t pid, std::uint64_t start_time) {
        std::lock_guard lock(mutex_);
        const auto key = std::make_pair(pid, start_time);
        if (const auto it = exits_.find(key); it != exits_.end()) return it->second;
        const auto st = read_proc_stat(pid);
        if (!st || st->start_time != start_time || !st->dead() || st->ppid != ::getpid()) {
            return std::nullopt;
        }
        int status = 0;
        pid_t r = 0;
        do {
            r = ::waitpid(pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r != pid) return std::nullopt;
        return exits_[key] = describe_status(status);
    }

    void forget(pid_t pid, std::uint64_t start_time) {
        std::lock_guard lock(mutex_);
        exits_.erase(std::make_pair(pid, start_time));
    }

  private:
    std::mutex mutex_;
    std::map<std::pair<pid_t, std::uint64_t>, std::string> exits_;
};

// The record's leader is alive: same pid, same start time, not a zombie.
// /proc/sys/kernel/random/boot_id, "" when unreadable.
const std::string& current_boot_id() {
    static const std::string id = [] {
        auto text = read_small_file("/proc/sys/kernel/random/boot_id").value_or("");
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    }();
    return id;
}

// After a reboot pids and start times start over: a record from an earlier boot names nothing.
bool same_boot(const ProcessRecord& r) {
    return r.boot_id.empty() || current_boot_id().empty() || r.boot_id == current_boot_id();
}

bool leader_alive(const ProcessRecord& r) {
    if (!same_boot(r)) return false;
    const auto st = read_proc_stat(r.pid);
    return st && st->start_time == r.start_time && !st->dead();
}

// ---------------------------------------------------------------------------------------------
// Who the session runs as

struct SessionIdentity {
    bool drop = false;  // the API is root: the child switches to uid/gid/groups before exec
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string name;
};

std::optional<passwd> lookup_user(const std::string& name, std::vector<char>& buf) {
    passwd pw{};
    passwd* found = nullptr;
    buf.assign(16384, '\0');
    const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) return std::nullopt;
    return pw;
}

SessionIdentity resolve_identity(const std::string& user) {
    std::vector<char> buf;
    const auto pw = user.empty() ? std::nullopt : lookup_user(user, buf);
    if (pw && (pw->pw_uid == 0 || pw->pw_gid == 0)) {
        throw RuntimeUnavailable("session user '" + user +
                                 "' is root (uid or gid 0): sessions never run as root");
    }
    SessionIdentity who;
    if (::geteuid() != 0) {
        // Not root: the only user we can be is ourselves (not root either).
        who.uid = ::geteuid();
        who.gid = ::getegid();
        const int n = ::getgroups(0, nullptr);
        if (n > 0) {
            who.groups.resize(static_cast<std::size_t>(n));
            who.groups.resize(static_cast<std::size_t>(::getgroups(n, who.groups.data())));
        }
        std::vector<char> own_buf(16384);
        passwd own{};
        passwd* found = nullptr;
        ::getpwuid_r(who.uid, &own, own_buf.data(), own_buf.size(), &found);
        who.name = found != nullptr ? found->pw_name : std::to_string(who.uid);
        return who;
    }
    if (!pw) {
        throw RuntimeUnavailable("session user '" + user +
                                 "' does not exist (create it: useradd --system --no-create-home " +
                                 user + ")");
    }
    who.drop = true;
    who.uid = pw->pw_uid;
    who.gid = pw->pw_gid;
    who.name = pw->pw_name;
    int n = 32;
    for (int attempt = 0; attempt < 4; ++attempt) {
        who.groups.resize(static_cast<std::size_t>(n));
        if (::getgrouplist(pw->pw_name, pw->pw_gid, who.groups.data(), &n) >= 0) break;
    }
    who.groups.resize(static_cast<std::size_t>(std::max(n, 0)));
    if (std::find(who.groups.begin(), who.groups.end(), gid_t{0}) != who.groups.end()) {
        throw RuntimeUnavailable("session user '" + user +
                                 "' is in the root group: sessions never run as root");
    }
    return who;
}

// Whether `who` may do `bits` (a mask of 4 = read, 2 = write, 1 = search/execute) on `st`,
// by the classic owner/group/other bits (ACLs are not consulted).
bool permits(const struct stat& st, const SessionIdentity& who, unsigned bits) {
    unsigned mode = 0;
    if (st.st_uid == who.uid) {
        mode = (st.st_mode >> 6) & 7u;
    } else if (st.st_gid == who.gid ||
               std::find(who.groups.begin(), who.groups.end(), st.st_gid) != who.groups.end()) {
        mode = (st.st_mode >> 3) & 7u;
    } else {
        mode = st.st_mode & 7u;
    }
    return (mode & bits) == bits;
}

// Why `who` cannot do `bits` on `path` — a directory above it that is not searchable, or the
// path itself — or nullopt when it can.
std::optional<std::string> access_problem(const std::string& path, const SessionIdentity& who,
                                          unsigned bits) {
    fs::path walked = "/";
    const fs::path target(path);
    for (auto it = std::next(target.begin()); it != target.end(); ++it) {
        struct stat st {};
        if (::stat(walked.c_str(), &st) != 0 || !permits(st, who, 1)) {
            return walked.string() + " is not searchable by user " + who.name;
        }
        walked /= *it;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !permits(st, who, bits)) {
        return path + " is not accessible to user " + who.name;
    }
    return std::nullopt;
}

void require_access(const std::string& path, const SessionIdentity& who, unsigned bits,
                    const std::string& what) {
    if (const auto problem = access_problem(path, who, bits)) {
        throw RuntimeError(what + " " + path + " cannot be used: " + *problem);
    }
}

// ---------------------------------------------------------------------------------------------
// The command and the sandbox

// The API's PATH (absolute entries only): where the program is looked up, and the PATH the
// session gets, so what health() checked is what the session finds.
std::string api_path() {
    const char* raw = std::getenv("PATH");
    const std::string_view all = raw != nullptr && *raw != '\0' ? raw : kDefaultPath;
    std::string out;
    std::size_t start = 0;
    while (start <= all.size()) {
        auto end = all.find(':', start);
        if (end == std::string_view::npos) end = all.size();
        const auto dir = all.substr(start, end - start);
        if (!dir.empty() && dir.front() == '/') {
            if (!out.empty()) out += ':';
            out += dir;
        }
        start = end + 1;
    }
    return out.empty() ? std::string(kDefaultPath) : out;
}

std::vector<std::string> command_words(const Config& config, int port,
                                       const std::string& workspace) {
    try {
        return expand_command(split_command_line(config.session_process_command), port, workspace);
    } catch (const CommandLineError& e) {
        throw RuntimeUnavailable(std::string("SESSION_PROCESS_COMMAND: ") + e.what());
    }
}

// bwrap's path when the sessions are sandboxed, nullopt for SESSION_PROCESS_SANDBOX=none.
std::optional<std::string> resolve_sandbox(const std::string& setting) {
    if (setting == "none") return std::nullopt;
    auto bwrap = find_program("bwrap", api_path());
    if (!bwrap && setting == "bwrap") {
        throw RuntimeUnavailable(
            "SESSION_PROCESS_SANDBOX=bwrap but bwrap (bubblewrap) is not installed");
    }
    return bwrap;  // "" (auto): bwrap when installed, else none
}

// The host's top-level system directories other than /usr: symlinks into /usr on a merged-/usr
// system (recreated as the same symlinks), real directories otherwise (bound read-only).
struct SystemEntry {
    std::string path;
    std::string link_target;  // empty: a directory
};

std::vector<SystemEntry> system_entries() {
    std::vector<SystemEntry> out;
    for (const char* p : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
        std::error_code ec;
        const auto status = fs::symlink_status(p, ec);
        if (ec) continue;
        if (fs::is_symlink(status)) {
            out.push_back({p, fs::read_symlink(p, ec).string()});
        } else if (fs::is_directory(status)) {
            out.push_back({p, ""});
        }
    }
    return out;
}

// What of /etc the sandbox sees: accounts (names only, no shadow), name resolution, TLS roots,
// the dynamic linker's cache, alternatives symlinks, locale/time zone and shell start-up files.
// Not /etc as a whole: it can hold credentials (an env file, database passwords, keys).
const char* const kEtcEntries[] = {
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/mime.types",
    "/etc/protocols",
    "/etc/services",
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/locale.alias",
    "/etc/bash.bashrc",
    "/etc/profile",
    "/etc/profile.d",
    "/etc/inputrc",
    "/etc/shells",
    "/etc/terminfo",
    "/etc/gitconfig",
    "/etc/magic",
    "/etc/magic.mime",
    "/etc/python3",
    "/etc/fonts",
};

// GPU device nodes (no isolation between GPUs here: CUDA_VISIBLE_DEVICES selects one).
std::vector<std::string> nvidia_devices() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/dev", ec)) {
        const auto name = e.path().filename().string();
        if (name.rfind("nvidia", 0) == 0) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string canonical_or_absolute(const std::string& p) {
    std::error_code ec;
    auto c = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}

// The program and what the sandbox must show for it to run.
struct Program {
    std::string path;                       // absolute, as found on PATH
    std::vector<std::string> install_dirs;  // outside /usr & co., bound read-only (sandbox only)
};

bool under_any(const std::string& path, const std::vector<std::string>& dirs) {
    return std::any_of(dirs.begin(), dirs.end(),
                       [&](const std::string& d) { return path_within(path, d); });
}

// /usr and the top-level system directories, read-only, as bwrap arguments.
std::vector<std::string> system_bind_arguments() {
    std::vector<std::string> a{"--ro-bind", "/usr", "/usr"};
    for (const auto& e : system_entries()) {
        if (e.link_target.empty()) {
            a.insert(a.end(), {"--ro-bind", e.path, e.path});
        } else {
            a.insert(a.end(), {"--symlink", e.link_target, e.path});
        }
    }
    return a;
}

// Everything under these paths is in the sandbox (as the host's directory or the same symlink).
std::vector<std::string> system_paths() {
    std::vector<std::string> out{"/usr"};
    for (const auto& e : system_entries()) out.push_back(e.path);
    return out;
}

// Finds the program word on PATH (the first one `who` can execute) and, for the sandbox, the
// installation directories of the program and of its script interpreter (`#!/usr/bin/env node`)
// that /usr does not cover. nullopt when there is no such program.
std::optional<Program> find_session_program(const std::string& word, const SessionIdentity& who,
                                            bool sandboxed) {
    const auto path = api_path();
    const auto usable = [&](const std::string& file) { return !access_problem(file, who, 1); };
    auto found = find_program(word, path, usable);
    if (!found) return std::nullopt;
    Program p{*found, {}};
    if (!sandboxed) return p;
    auto visible = system_paths();
    const auto add = [&](const std::string& file) {
        for (const auto& candidate : {file, canonical_or_absolute(file)}) {
            if (under_any(candidate, visible)) continue;
            const auto dir = install_prefix(candidate);
            if (dir.empty() || dir == "/") {
                throw RuntimeUnavailable("the session program " + candidate +
                                         " is not inside an installation directory the sandbox "
                                         "can show (move it under /opt/<name>/ or /usr)");
            }
            visible.push_back(dir);
            p.install_dirs.push_back(dir);
        }
    };
    add(p.path);
    const auto interpreter = script_interpreter(canonical_or_absolute(p.path));
    if (!interpreter.empty()) {
        if (const auto interp = find_program(interpreter, path, usable)) add(*interp);
    }
    return p;
}

// Why find_session_program found nothing, for the error message.
std::string program_problem(const std::string& word, const SessionIdentity& who) {
    if (word.find('/') == std::string::npos) {
        return "the session program '" + word + "' is not found on PATH (" + api_path() +
               ") as a program user " + who.name + " can run";
    }
    const auto abs = fs::absolute(word).lexically_normal().string();
    struct stat st {};
    if (::stat(abs.c_str(), &st) != 0) return "the session program " + abs + " does not exist";
    if (!S_ISREG(st.st_mode)) return "the session program " + abs + " is not a file";
    if (const auto problem = access_problem(abs, who, 1)) {
        return "the session program " + abs + " cannot be run: " + *problem;
    }
    return "the session program " + abs + " is not executable";
}

// Platform directories a session must never see. The sandbox binds only specific directories,
// so these are invisible unless one lies inside a bound one (say, an install under /opt/medforge
// with its data in /opt/medforge/var): then an empty tmpfs is mounted over it.
std::vector<std::string> sensitive_dirs(const Config& config, const std::string& state_dir) {
    std::vector<std::string> raw{state_dir, config.competitions_dir, config.datasets_root,
                                 config.submissions_dir, config.workspace_dir_root};
    if (config.database_url.rfind("sqlite://", 0) == 0) {
        const auto parent = fs::path(config.database_url.substr(9)).parent_path();
        raw.push_back(parent.empty() ? "." : parent.string());
    }
    std::vector<std::string> out;
    for (const auto& r : raw) {
        if (!r.empty()) out.push_back(canonical_or_absolute(r));
    }
    return out;
}

std::vector<std::string> masks_for(const std::vector<std::string>& sensitive,
                                   const std::vector<std::string>& visible) {
    std::vector<std::string> out;
    for (const auto& s : sensitive) {
        for (const auto& v : visible) {
            if (!path_within(s, v)) continue;
            // A directory not created yet would show up through the bind as soon as it is: mask
            // its nearest existing parent instead (a mountpoint cannot be made in a read-only
            // bind), as long as that is not the visible directory itself.
            fs::path m(s);
            std::error_code ec;
            while (!fs::is_directory(m, ec) && m.has_relative_path()) m = m.parent_path();
            if (path_within(v, m.string())) {
                std::string msg = "platform data directory ";
                msg.append(s).append(" would be visible in the sandbox through ").append(v);
                msg.append(" (create it, or move it out of ").append(v).append(")");
                throw RuntimeUnavailable(msg);
            }
            out.push_back(m.string());
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    // A mask inside another one is redundant.
    std::vector<std::string> kept;
    for (const auto& m : out) {
        if (!under_any(m, kept)) kept.push_back(m);
    }
    return kept;
}

struct SandboxLayout {
    std::string hostname;
    std::vector<std::string> gpu_devices;  // bound as devices (with /sys read-only)
    std::string workspace;
    std::vector<DatasetMount> datasets;  // host paths canonical
    std::vector<std::string> install_dirs;
    std::vector<std::string> masks;
    std::int64_t tmpfs_bytes = 0;
};

std::vector<std::string> etc_entries() {
    std::vector<std::string> out;
    for (const char* e : kEtcEntries) out.emplace_back(e);
    // Debian's Python reads /etc/python3.X/sitecustomize.py.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/etc", ec)) {
        const auto name = e.path().filename().string();
        if (name.rfind("python3.", 0) == 0) out.push_back(e.path().string());
    }
    return out;
}

// The tmpfs masks for a sandbox running `program`; RuntimeUnavailable when the program itself
// would be hidden by one.
std::vector<std::string> sandbox_masks(const Config& config, const std::string& state_dir,
                                       const Program& program) {
    auto visible = system_paths();
    visible.insert(visible.end(), program.install_dirs.begin(), program.install_dirs.end());
    for (const auto& e : etc_entries()) visible.push_back(e);
    auto masks = masks_for(sensitive_dirs(config, state_dir), visible);
    const auto real = canonical_or_absolute(program.path);
    if (under_any(program.path, masks) || under_any(real, masks)) {
        throw RuntimeUnavailable("the session program " + real +
                                 " lies inside a platform data directory the sandbox hides");
    }
    return masks;
}

// Order matters: bwrap applies the operations one after another, so tmpfs mounts come before
// anything bound below them, and the read-only remounts come last.
std::vector<std::string> bwrap_arguments(const SandboxLayout& l) {
    std::vector<std::string> a{
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname",    l.hostname,      "--cap-drop",    "ALL"};
    const auto system = system_bind_arguments();
    a.insert(a.end(), system.begin(), system.end());
    for (const auto& e : etc_entries()) a.insert(a.end(), {"--ro-bind-try", e, e});
    a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev"});
    for (const auto& d : l.gpu_devices) a.insert(a.end(), {"--dev-bind", d, d});
    if (!l.gpu_devices.empty())
        a.insert(a.end(), {"--ro-bind", "/sys", "/sys"});  // the CUDA driver reads it
    const auto size = std::to_string(l.tmpfs_bytes);
    a.insert(a.end(), {"--size", size, "--tmpfs", "/dev/shm", "--size", size, "--tmpfs", "/tmp",
                       "--symlink", "/tmp", "/var/tmp"});
    for (const auto& d : l.install_dirs) a.insert(a.end(), {"--ro-bind", d, d});
    for (const auto& m : l.masks) a.insert(a.end(), {"--size", "65536", "--tmpfs", m});
    for (const auto& d : l.datasets) {
        a.insert(a.end(), {"--ro-bind", d.host_path, "/datasets/" + d.slug});
    }
    a.insert(a.end(), {"--bind", l.workspace, l.workspace});
    for (const auto& m : l.masks) a.insert(a.end(), {"--remount-ro", m});
    a.insert(a.end(), {"--remount-ro", "/", "--chdir", l.workspace, "--"});
    return a;
}

// ---------------------------------------------------------------------------------------------
// Spawning. The child does only async-signal-safe calls between fork and exec: everything
// (argv, envp, groups, descriptors) is prepared before the fork.

enum ChildStage : int {
    stage_signals = 1,
    stage_session,
    stage_stdio,
    stage_groups,
    stage_gid,
    stage_uid,
    stage_still_root,
    stage_no_new_privs,
    stage_cwd,
    stage_exec,
};

const char* stage_text(int stage) {
    switch (stage) {
        case stage_signals:
            return "resetting signals";
        case stage_session:
            return "setsid";
        case stage_stdio:
            return "redirecting stdio";
        case stage_groups:
            return "setgroups";
        case stage_gid:
            return "setgid";
        case stage_uid:
            return "setuid";
        case stage_still_root:
            return "dropping root";
        case stage_no_new_privs:
            return "PR_SET_NO_NEW_PRIVS";
        case stage_cwd:
            return "chdir";
        case stage_exec:
            return "exec";
        default:
            return "starting";
    }
}

struct ChildSetup {
    std::string exe;  // absolute
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string cwd;
    int output_fd = -1;                    // the child's stdout and stderr
    const SessionIdentity* who = nullptr;  // drop to this user (the API is root)
};

[[noreturn]] void child_fail(int report_fd, int stage) {
    const int msg[2] = {stage, errno};
    (void)!::write(report_fd, msg, sizeof msg);
    ::_exit(127);
}

void close_from(int first) {
    if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
    rlimit rl{};
    const rlim_t limit =
        ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 65536;
    for (rlim_t fd = static_cast<rlim_t>(first); fd < limit; ++fd) ::close(static_cast<int>(fd));
}

// The child side; `null_fd`, `out_fd` and `report_fd` are all >= 10.
[[noreturn]] void run_child(const ChildSetup& s, char* const* argv, char* const* envp, int null_fd,
                            int out_fd, int report_fd) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // EINVAL: fine
    }
    sigset_t none;
    sigemptyset(&none);
    if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(report_fd, stage_signals);
    // Its own session and process group (no controlling terminal): the whole tree can be
    // signalled as one group, and nothing in it can reach a terminal of the API.
    if (::setsid() < 0) child_fail(report_fd, stage_session);
    if (::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0 ||
        ::dup2(report_fd, 3) < 0) {
        child_fail(report_fd, stage_stdio);
    }
    report_fd = 3;
    if (::fcntl(report_fd, F_SETFD, FD_CLOEXEC) != 0) child_fail(report_fd, stage_stdio);
    close_from(4);
    if (s.who != nullptr) {
        if (::setgroups(s.who->groups.size(), s.who->groups.data()) != 0) {
            child_fail(report_fd, stage_groups);
        }
        if (::setgid(s.who->gid) != 0) child_fail(report_fd, stage_gid);
        if (::setuid(s.who->uid) != 0) child_fail(report_fd, stage_uid);
        if (::setuid(0) == 0 || ::geteuid() == 0 || ::getegid() == 0) {
            errno = EPERM;
            child_fail(report_fd, stage_still_root);
        }
    }
    // Nothing in the session can gain privileges through setuid binaries (sudo, su, …).
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(report_fd, stage_no_new_privs);
    ::umask(077);
    if (::chdir(s.cwd.c_str()) != 0) child_fail(report_fd, stage_cwd);
    ::execve(s.exe.c_str(), argv, envp);
    child_fail(report_fd, stage_exec);
}

UniqueFd high_dup(int fd) {
    UniqueFd out(::fcntl(fd, F_DUPFD_CLOEXEC, 10));
    if (!out) throw RuntimeError(std::string("fcntl(F_DUPFD): ") + std::strerror(errno));
    return out;
}

// Starts the child in its own session; returns its pid once it has exec'd. A failure before the
// exec (bad user, missing program, …) is reported through a close-on-exec pipe: the child is
// reaped and RuntimeError thrown, so nothing is left behind.
pid_t spawn_child(const ChildSetup& s) {
    std::vector<char*> argv;
    for (const auto& a : s.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : s.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) throw RuntimeError(std::string("/dev/null: ") + std::strerror(errno));
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw RuntimeError(std::string("pipe: ") + std::strerror(errno));
    UniqueFd report_read(fds[0]);
    UniqueFd report_write_low(fds[1]);
    // Every descriptor the child dup2()s from is >= 10, so no dup2 overwrites a later source.
    const UniqueFd null_fd = high_dup(devnull.get());
    const UniqueFd out_fd = high_dup(s.output_fd);
    UniqueFd report_write = high_dup(report_write_low.get());
    report_write_low.reset();

    // Signals stay blocked across fork so that no handler of the API runs in the child before
    // the child resets them.
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t pid = ::fork();
    if (pid == 0) {
        run_child(s, argv.data(), envp.data(), null_fd.get(), out_fd.get(), report_write.get());
    }
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) throw RuntimeError(std::string("fork: ") + std::strerror(fork_errno));
    report_write.reset();

    int msg[2] = {0, 0};
    ssize_t n = 0;
    do {
        n = ::read(report_read.get(), msg, sizeof msg);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return pid;           // the pipe closed on exec
    if (n < 0) ::kill(pid, SIGKILL);  // cannot tell whether it exec'd: do not leave it running
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof msg))
        throw RuntimeError("the session process failed to start");
    throw RuntimeError(std::string("cannot start the session process (") + stage_text(msg[0]) +
                       "): " + std::strerror(msg[1]));
}

// ---------------------------------------------------------------------------------------------
// Stopping: every process of the session is found and signalled by pid and start time — the
// process group (everything not started in a new session) plus every descendant, because an
// IDE terminal (node-pty) runs its shell in a session of its own. With the sandbox, the pid
// namespace also guarantees that everything dies with bwrap's init.

class SessionProcesses {
  public:
    explicit SessionProcesses(const ProcessRecord& r) : r_(r) {}

    // Re-reads /proc; true while any process of the session is alive.
    bool refresh() {
        if (!same_boot(r_)) return false;
        const auto table = read_process_table();
        std::map<pid_t, const ProcStat*> by_pid;
        std::multimap<pid_t, pid_t> children;
        for (const auto& st : table) {
            by_pid[st.pid] = &st;
            children.emplace(st.ppid, st.pid);
        }
        const auto leader = by_pid.find(r_.pid);
        leader_reused_ = leader != by_pid.end() && leader->second->start_time != r_.start_time;
        group_alive_ = false;
        if (!leader_reused_) {
            // While anything still uses the number as its process group, the kernel does not
            // hand it out as a new pid: the group's members are this session's.
            for (const auto& st : table) {
                if (st.pgrp == r_.pgid && !st.dead()) {
                    tracked_.emplace(st.pid, st.start_time);
                    group_alive_ = true;
                }
            }
        }
        std::vector<pid_t> queue;
        for (auto it = tracked_.begin(); it != tracked_.end();) {
            const auto found = by_pid.find(it->first);
            if (found == by_pid.end() || found->second->start_time != it->second ||
                found->second->dead()) {
                it = tracked_.erase(it);
            } else {
                queue.push_back(it->first);
                ++it;
            }
        }
        while (!queue.empty()) {
            const pid_t p = queue.back();
            queue.pop_back();
            const auto range = children.equal_range(p);
            for (auto it = range.first; it != range.second; ++it) {
                const auto* st = by_pid[it->second];
                if (st->dead() || tracked_.count(st->pid) != 0) continue;
                tracked_.emplace(st->pid, st->start_time);
                queue.push_back(st->pid);
            }
        }
        return !tracked_.empty();
    }

    void signal(int sig) const {
        if (group_alive_ && !leader_reused_) ::kill(-r_.pgid, sig);
        for (const auto& [pid, start] : tracked_) {
            const auto st = read_proc_stat(pid);
            if (st && st->start_time == start) ::kill(pid, sig);
        }
    }

    std::string pids() const {
        std::string out;
        for (const auto& [pid, start] : tracked_)
            out += (out.empty() ? "" : " ") + std::to_string(pid);
        return out;
    }

  private:
    const ProcessRecord& r_;
    std::map<pid_t, std::uint64_t> tracked_;
    bool leader_reused_ = false;
    bool group_alive_ = false;
};

// True when nothing of the session is alive. The leader is reaped *after* looking, so that a
// leader that turned into a zombie while /proc was read is not left behind unreaped.
bool all_gone(SessionProcesses& procs, const ProcessRecord& r) {
    const bool any = procs.refresh();
    ExitRegistry::instance().reap(r.pid, r.start_time);
    return !any;
}

bool poll_until_gone(SessionProcesses& procs, const ProcessRecord& r, Clock::time_point deadline) {
    for (;;) {
        if (all_gone(procs, r)) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPollStep);
    }
}

void terminate(const ProcessRecord& r, std::chrono::seconds grace) {
    SessionProcesses procs(r);
    if (all_gone(procs, r)) return;
    if (grace.count() > 0) {
        procs.signal(SIGTERM);
        if (poll_until_gone(procs, r, Clock::now() + grace)) return;
        log::warn("session.process.kill", {{"name", r.name},
                                           {"pid", r.pid},
                                           {"pids", procs.pids()},
                                           {"grace_seconds", grace.count()}});
    }
    procs.signal(SIGKILL);
    if (poll_until_gone(procs, r, Clock::now() + kKillWait)) return;
    throw RuntimeError("processes of " +
                       (r.name.empty() ? "pid " + std::to_string(r.pid) : r.name) +
                       " survived SIGKILL: " + procs.pids());
}

bool proc_readable() { return read_proc_stat(::getpid()).has_value(); }

// A log path from a record is only acted on when it is one of ours (the path comes from a stored
// row: never truncate or delete anything else).
bool own_log(const std::string& path, const std::string& records_dir) {
    const fs::path p(path);
    return !path.empty() && p.parent_path() == fs::path(records_dir) && p.extension() == ".log";
}

// Bounds a session's log: the session appends (O_APPEND), so when the file outgrows the limit
// it is emptied in place, with a note; inspect() does this, which the recovery loop calls every
// poll interval.
void trim_log(const std::string& path, const std::string& records_dir) {
    struct stat st {};
    if (!own_log(path, records_dir) || ::stat(path.c_str(), &st) != 0 ||
        st.st_size <= kLogMaxBytes) {
        return;
    }
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
    if (!fd || ::ftruncate(fd.get(), 0) != 0) return;
    const auto note = "[medforge] log emptied at " + std::to_string(st.st_size) + " bytes\n";
    (void)!::write(fd.get(), note.data(), note.size());
}

}  // namespace

// -------------------------------------------------------------------------------------------------

ProcessRuntime::ProcessRuntime(const Config& config, std::string state_dir)
    : config_(config),
      state_dir_(std::move(state_dir)),
      records_dir_((fs::absolute(state_dir_) / "process").lexically_normal().string()) {}

std::string ProcessRuntime::record_path(const std::string& name) const {
    return (fs::path(records_dir_) / (name + ".json")).string();
}

void ProcessRuntime::probe_sandbox(const std::string& bwrap) {
    std::lock_guard lock(probe_mutex_);
    if (sandbox_works_) return;
    const auto who = resolve_identity(config_.session_process_user);
    auto target = find_program(
        "true", api_path(), [&](const std::string& file) { return !access_problem(file, who, 1); });
    if (!target) throw RuntimeUnavailable("the sandbox probe needs `true` on PATH");
    std::vector<std::string> argv{bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts"};
    const auto system = system_bind_arguments();
    argv.insert(argv.end(), system.begin(), system.end());
    argv.insert(argv.end(), {"--proc", "/proc", "--dev", "/dev", "--", *target});
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw RuntimeUnavailable("pipe failed");
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    ChildSetup s{
        bwrap, argv, {"PATH=" + api_path()}, "/", write_end.get(), who.drop ? &who : nullptr};
    pid_t pid = 0;
    try {
        pid = spawn_child(s);
    } catch (const RuntimeError& e) {
        throw RuntimeUnavailable(std::string("the bwrap sandbox cannot start: ") + e.what());
    }
    write_end.reset();
    std::string output;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    bool timed_out = false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{read_end.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
        char buf[512];
        const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        if (output.size() < 4096) output.append(buf, static_cast<std::size_t>(n));
    }
    if (timed_out) ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        sandbox_works_ = true;
        return;
    }
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    throw RuntimeUnavailable("bwrap cannot build a sandbox as user " + who.name + " (" +
                             (timed_out ? std::string("timed out") : describe_status(status)) +
                             (output.empty() ? "" : ": " + output) +
                             "); unprivileged user namespaces may be disabled on this kernel");
}

void ProcessRuntime::health() {
    const auto who = resolve_identity(config_.session_process_user);
    const auto bwrap = resolve_sandbox(config_.session_process_sandbox);
    const auto words = command_words(config_, 1, "/");
    const auto program = find_session_program(words[0], who, bwrap.has_value());
    if (!program) throw RuntimeUnavailable(program_problem(words[0], who));
    if (bwrap) {
        sandbox_masks(config_, state_dir_, *program);
        probe_sandbox(*bwrap);
    }
}

int ProcessRuntime::pick_port() const {
    std::set<int> taken;
    for (const auto& r : read_records()) taken.insert(r.port);
    for (int attempt = 0; attempt < 32; ++attempt) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) break;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            break;
        }
        const int port = ntohs(addr.sin_port);
        if (taken.count(port) == 0) return port;
    }
    throw RuntimeError(std::string("no free loopback port: ") + std::strerror(errno));
}

StartResult ProcessRuntime::start(const StartSpec& spec) {
    if (!valid_slug(spec.slug)) throw RuntimeError("invalid session slug '" + spec.slug + "'");
    if (!valid_name(spec.name)) throw RuntimeError("invalid session name '" + spec.name + "'");
    const auto who = resolve_identity(config_.session_process_user);
    const auto bwrap = resolve_sandbox(config_.session_process_sandbox);

    std::error_code ec;
    const auto workspace = fs::canonical(spec.workspace_path, ec).string();
    if (ec || !fs::is_directory(workspace)) {
        throw RuntimeError("workspace " + spec.workspace_path + " is not a directory");
    }
    std::vector<DatasetMount> datasets;
    for (const auto& d : spec.datasets) {
        if (!valid_slug(d.slug)) throw RuntimeError("invalid dataset slug '" + d.slug + "'");
        const auto host = fs::canonical(d.host_path, ec).string();
        if (ec || !fs::is_directory(host)) {
            throw RuntimeError("dataset " + d.slug + " is missing (" + d.host_path + ")");
        }
        datasets.push_back({d.slug, host});
    }

    const int port = pick_port();
    auto words = command_words(config_, port, workspace);
    const auto program = find_session_program(words[0], who, bwrap.has_value());
    if (!program) throw RuntimeError(program_problem(words[0], who));

    if (who.drop) {
        // The workspace belongs to the session user (only its top directory is changed: nothing
        // inside is touched as root, so links planted in a reused workspace cannot redirect us).
        UniqueFd dir(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        struct stat ws_st {};
        if (!dir || ::fstat(dir.get(), &ws_st) != 0) {
            throw RuntimeError("workspace " + workspace + ": " + std::strerror(errno));
        }
        if ((ws_st.st_uid != who.uid || ws_st.st_gid != who.gid) &&
            ::fchown(dir.get(), who.uid, who.gid) != 0) {
            throw RuntimeError("cannot give workspace " + workspace + " to user " + who.name +
                               ": " + std::strerror(errno));
        }
    }
    require_access(workspace, who, 7, "workspace");
    for (const auto& d : datasets) {
        // The sandbox binds each dataset, which bwrap (running as the session user) can only do
        // when the user reaches it. Without the sandbox nothing is mounted: an unreadable dataset
        // only means the session's code cannot read it there.
        if (bwrap) {
            require_access(d.host_path, who, 5, "dataset");
        } else if (const auto problem = access_problem(d.host_path, who, 5)) {
            log::warn("session.process.dataset_unreachable",
                      {{"name", spec.name}, {"dataset", d.slug}, {"reason", *problem}});
        }
    }

    // SESSION_GPU_MODE=none (a host without GPUs): no device nodes, and CUDA sees none.
    const bool gpus = config_.session_gpu_mode != "none";
    std::string exe = program->path;
    std::vector<std::string> argv;
    words[0] = program->path;
    if (bwrap) {
        probe_sandbox(*bwrap);
        SandboxLayout layout;
        layout.hostname = spec.name;
        if (gpus) layout.gpu_devices = nvidia_devices();
        layout.workspace = workspace;
        layout.datasets = datasets;
        layout.install_dirs = program->install_dirs;
        layout.masks = sandbox_masks(config_, state_dir_, *program);
        layout.tmpfs_bytes = config_.session_shm_size_bytes;
        exe = *bwrap;
        argv.push_back(*bwrap);
        const auto args = bwrap_arguments(layout);
        argv.insert(argv.end(), args.begin(), args.end());
    }
    argv.insert(argv.end(), words.begin(), words.end());

    const auto gpu = std::to_string(spec.gpu_id);
    const std::string shell = ::access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    const std::vector<std::string> env{
        "PATH=" + api_path(),
        "HOME=" + workspace,
        "USER=" + who.name,
        "LOGNAME=" + who.name,
        "SHELL=" + shell,
        "LANG=C.UTF-8",
        "XDG_CONFIG_HOME=" + workspace + "/.config",
        "XDG_DATA_HOME=" + workspace + "/.local/share",
        "XDG_STATE_HOME=" + workspace + "/.local/state",
        "XDG_CACHE_HOME=" + workspace + "/.cache",
        "MEDFORGE_SESSION_ID=" + spec.session_id,
        "MEDFORGE_USER_ID=" + spec.user_id,
        "MEDFORGE_TIER=" + spec.tier,
        "MEDFORGE_GPU_ID=" + gpu,
        "MEDFORGE_DATASETS_DIR=" +
            (bwrap ? std::string("/datasets") : canonical_or_absolute(config_.datasets_root)),
        // nvidia-smi numbers GPUs by PCI bus; CUDA's default order is "fastest first".
        "CUDA_DEVICE_ORDER=PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES=" + (gpus ? gpu : ""),
        "NVIDIA_VISIBLE_DEVICES=" + (gpus ? gpu : "void"),
    };

    fs::create_directories(records_dir_, ec);
    if (ec) throw RuntimeError("cannot create " + records_dir_ + ": " + ec.message());
    ::chmod(records_dir_.c_str(), 0700);
    const auto log_path = (fs::path(records_dir_) / (spec.slug + ".log")).string();
    UniqueFd log_fd(::open(log_path.c_str(),
                           O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!log_fd) throw RuntimeError("cannot open " + log_path + ": " + std::strerror(errno));

    ChildSetup setup{exe,          argv,
                     env,          bwrap ? std::string("/") : workspace,
                     log_fd.get(), who.drop ? &who : nullptr};
    const pid_t pid = spawn_child(setup);

    ProcessRecord rec;
    rec.pid = pid;
    rec.pgid = pid;  // setsid() in the child
    rec.port = port;
    rec.log = log_path;
    rec.name = spec.name;
    rec.boot_id = current_boot_id();
    rec.session_id = spec.session_id;
    try {
        const auto st = read_proc_stat(pid);
        if (!st) throw RuntimeError("the session process vanished at start");
        rec.start_time = st->start_time;
        write_record(rec, spec.session_id);
    } catch (const std::exception& e) {
        // The process is our child, so its pid cannot be reused before we reap it.
        ::kill(-pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        throw RuntimeError(std::string("cannot record the session process: ") + e.what());
    }
    log::info("session.process.started", {{"name", spec.name},
                                          {"session_id", spec.session_id},
                                          {"pid", pid},
                                          {"port", port},
                                          {"sandbox", bwrap ? "bwrap" : "none"},
                                          {"user", who.name}});
    return {"pid:" + std::to_string(pid), "127.0.0.1:" + std::to_string(port),
            record_json(rec).dump()};
}

void ProcessRuntime::write_record(const ProcessRecord& r, const std::string& session_id) const {
    auto j = record_json(r);
    j["session_id"] = session_id;
    const auto text = j.dump();
    static std::atomic<unsigned> counter{0};
    const auto tmp =
        (fs::path(records_dir_) /
         ("." + r.name + ".json." + std::to_string(::getpid()) + "." + std::to_string(counter++)))
            .string();
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) throw RuntimeError("cannot write " + tmp + ": " + std::strerror(errno));
    const bool ok =
        ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
        ::fsync(fd.get()) == 0;
    fd.reset();
    if (!ok || ::rename(tmp.c_str(), record_path(r.name).c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw RuntimeError("cannot write the state file of " + r.name + ": " + std::strerror(err));
    }
}

std::vector<ProcessRecord> ProcessRuntime::read_records() const {
    std::vector<ProcessRecord> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(records_dir_, ec)) {
        const auto file = e.path().filename().string();
        if (file.front() == '.' || e.path().extension() != ".json") continue;
        const auto text = read_small_file(e.path().string());
        auto rec = text ? parse_record(*text) : std::nullopt;
        if (!rec) {
            log::warn("session.process.bad_state_file", {{"path", e.path().string()}});
            continue;
        }
        if (rec->name.empty()) rec->name = e.path().stem().string();
        out.push_back(std::move(*rec));
    }
    return out;
}

std::optional<ProcessRecord> ProcessRuntime::find_record(const std::string& id,
                                                         const std::string& name,
                                                         const std::string& meta) const {
    if (!meta.empty()) {
        if (auto r = parse_record(meta)) {
            if (r->name.empty()) r->name = name;
            return r;
        }
    }
    if (valid_name(name)) {
        if (const auto text = read_small_file(record_path(name))) {
            if (auto r = parse_record(*text)) {
                r->name = name;
                return r;
            }
        }
    }
    if (const auto pid = pid_from_id(id)) {
        for (auto& r : read_records()) {
            if (r.pid == *pid) return r;
        }
    }
    return std::nullopt;
}

Inspection ProcessRuntime::inspect(const std::string& id, const std::string& name,
                                   const std::string& meta) {
    Inspection out;
    if (!proc_readable()) {
        out.detail = "/proc is not readable";
        return out;  // unknown
    }
    const auto rec = find_record(id, name, meta);
    if (!rec) {
        out.state = RuntimeState::missing;
        out.detail = "no record of this session's process";
        return out;
    }
    out.id = "pid:" + std::to_string(rec->pid);
    if (leader_alive(*rec)) {
        trim_log(rec->log, records_dir_);
        out.state = RuntimeState::running;
        out.upstream = "127.0.0.1:" + std::to_string(rec->port);
        return out;
    }
    out.state = RuntimeState::exited;
    const auto how = ExitRegistry::instance().reap(rec->pid, rec->start_time);
    out.detail = how ? *how : "process " + std::to_string(rec->pid) + " has exited";
    return out;
}

void ProcessRuntime::stop(const std::string& id, const std::string& meta,
                          std::chrono::seconds grace) {
    const auto rec = find_record(id, "", meta);
    if (!rec) return;
    terminate(*rec, std::max(grace, std::chrono::seconds(0)));
    log::info("session.process.stopped", {{"name", rec->name}, {"pid", rec->pid}});
}

void ProcessRuntime::remove(const std::string& id, const std::string& meta) {
    auto rec = find_record(id, "", meta);
    if (!rec) return;
    terminate(*rec, std::chrono::seconds(0));
    if (rec->name.empty()) {
        for (const auto& r : read_records()) {
            if (r.pid == rec->pid && r.start_time == rec->start_time) rec->name = r.name;
        }
    }
    if (valid_name(rec->name)) ::unlink(record_path(rec->name).c_str());
    // Only a log of ours: the path comes from a stored row, never delete anything else.
    if (own_log(rec->log, records_dir_)) ::unlink(rec->log.c_str());
    ExitRegistry::instance().forget(rec->pid, rec->start_time);
}

std::vector<ManagedObject> ProcessRuntime::list_managed() {
    std::vector<ManagedObject> out;
    for (const auto& r : read_records()) {
        ManagedObject m;
        m.id = "pid:" + std::to_string(r.pid);
        m.name = r.name;
        m.session_id = r.session_id;
        m.running = leader_alive(r);
        if (!m.running) ExitRegistry::instance().reap(r.pid, r.start_time);
        out.push_back(std::move(m));
    }
    return out;
}

std::unique_ptr<Runtime> make_process_runtime(const Config& config, const std::string& state_dir) {
    return std::make_unique<ProcessRuntime>(config, state_dir);
}

}  // namespace medforge::sessions
