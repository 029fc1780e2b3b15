#include "sessions/dir_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // FICLONE
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "sessions/workspace_names.hpp"

namespace medforge::sessions {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSnapshotsDir = ".snapshots";
constexpr const char* kTempPrefix = ".tmp-";
constexpr mode_t kRootMode = 0711;
constexpr mode_t kUserDirMode = 0711;
constexpr mode_t kSnapshotsMode = 0700;
constexpr mode_t kWorkspaceMode = 0700;
// Deeper trees are refused rather than risk running out of descriptors (two per level).
constexpr int kMaxDepth = 100;

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void fail(const std::string& what, int err) {
    throw StoreError(what + ": " + errno_text(err));
}

// `op subject: <strerror(errno)>`. errno is read before anything else can change it.
[[noreturn]] void fail_errno(std::string_view op, const std::string& subject) {
    const int err = errno;
    fail(std::string(op) + " " + subject, err);
}

bool running_as_root() { return ::geteuid() == 0; }

std::string random_suffix() {
    const auto bytes = random_bytes(6);
    return to_hex(bytes.data(), bytes.size());
}

// A directory below the root that may need creating: made with `mode` (umask aside), then it
// must be a real directory — not a symlink, a file or anything else.
void ensure_dir(const std::string& path, mode_t mode, const std::string& shown) {
    if (::mkdir(path.c_str(), mode) == 0) {
        if (::chmod(path.c_str(), mode) != 0) fail_errno("chmod", shown);
        return;
    }
    if (errno != EEXIST) fail_errno("mkdir", shown);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) fail_errno("stat", shown);
    if (!S_ISDIR(st.st_mode)) throw StoreError(shown + " exists and is not a directory");
}

// The root is configuration: it may be a symlink, and its parents are created as needed.
void ensure_root(const std::string& root) {
    const std::string shown = "workspace root " + root;
    struct stat st {};
    if (::stat(root.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) throw StoreError(shown + " is not a directory");
        return;
    }
    if (errno != ENOENT) fail_errno("stat", shown);
    std::error_code ec;
    fs::create_directories(fs::path(root).parent_path(), ec);
    if (ec) throw StoreError("mkdir " + shown + ": " + ec.message());
    ensure_dir(root, kRootMode, shown);
}

// Calls f(name) for every entry of the open directory `dir_fd` but "." and "..".
template <class F>
void for_each_entry(int dir_fd, const std::string& shown, F&& f) {
    const int listing_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (listing_fd < 0) fail_errno("read directory", shown);
    DIR* listing = ::fdopendir(listing_fd);
    if (listing == nullptr) {
        const int e = errno;
        ::close(listing_fd);
        fail("read directory " + shown, e);
    }
    const std::unique_ptr<DIR, int (*)(DIR*)> guard(listing, &::closedir);
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(listing);
        if (entry == nullptr) {
            if (errno != 0) fail_errno("read directory", shown);
            return;
        }
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") f(entry->d_name);
    }
}

UniqueFd open_dir_nofollow(int at, const char* name) {
    return UniqueFd(::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Removes a tree best-effort, making its directories writable first (snapshots are read-only,
// and a non-root API needs write permission to empty them). Never follows symlinks.
void remove_tree(const std::string& path) noexcept {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        }
    }
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
}

// Renames `from` to `to` unless `to` exists. Returns false when it does.
bool rename_noreplace(const std::string& from, const std::string& to, const std::string& shown) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
        return true;
    }
    if (errno == EEXIST) return false;
    if (errno != EINVAL && errno != ENOSYS) fail_errno("rename into", shown);
    // No RENAME_NOREPLACE on this file system: rename(2) refuses a non-empty target directory.
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) return false;
    if (::rename(from.c_str(), to.c_str()) == 0) return true;
    if (errno == EEXIST || errno == ENOTEMPTY) return false;
    fail_errno("rename into", shown);
}

// How a tree is copied: into a snapshot (read-only, kept by the API's user) or back into a
// workspace (owner-writable, handed to the session's owner when running as root).
struct CopyPolicy {
    bool to_snapshot = true;
    std::optional<std::pair<uid_t, gid_t>> owner;

    mode_t mode_for(const struct stat& st) const {
        const bool dir = S_ISDIR(st.st_mode);
        if (to_snapshot) return (st.st_mode & 0555) | (dir ? 0500 : 0400);
        return (st.st_mode & 0777) | (dir ? 0700 : 0600);
    }
};

class TreeCopier {
  public:
    explicit TreeCopier(CopyPolicy policy) : policy_(policy) {}

    // Copies the contents of `src_dir` into the empty `dst_dir`, then gives `dst_dir` the
    // metadata of `src_st` (mode per policy, owner, mtime).
    void copy_contents(int src_dir, int dst_dir, const struct stat& src_st) {
        copy_dir(src_dir, dst_dir, "", 0);
        finish(dst_dir, src_st, ".");
    }

  private:
    void copy_dir(int src_dir, int dst_dir, const std::string& rel, int depth) {
        if (depth > kMaxDepth) {
            throw StoreError("copy " + rel + ": more than " + std::to_string(kMaxDepth) +
                             " nested directories");
        }
        for_each_entry(src_dir, shown(rel), [&](const char* name) {
            copy_entry(src_dir, dst_dir, name, rel.empty() ? name : rel + "/" + name, depth);
        });
    }

    void copy_entry(int src_dir, int dst_dir, const std::string& name, const std::string& rel,
                    int depth) {
        struct stat st {};
        if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            fail_errno("stat", rel);
        }
        if (S_ISDIR(st.st_mode)) {
            const UniqueFd src = open_dir_nofollow(src_dir, name.c_str());
            if (!src) fail_errno("open", rel);
            if (::mkdirat(dst_dir, name.c_str(), 0700) != 0) fail_errno("mkdir", rel);
            const UniqueFd dst = open_dir_nofollow(dst_dir, name.c_str());
            if (!dst) fail_errno("open copy of", rel);
            copy_dir(src.get(), dst.get(), rel, depth + 1);
            finish(dst.get(), st, rel);
        } else if (S_ISREG(st.st_mode)) {
            const UniqueFd src(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!src) fail_errno("open", rel);
            const UniqueFd dst(::openat(
                dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!dst) fail_errno("create copy of", rel);
            copy_bytes(src.get(), dst.get(), st.st_size, rel);
            finish(dst.get(), st, rel);
        } else if (S_ISLNK(st.st_mode)) {
            copy_symlink(src_dir, dst_dir, name, st, rel);
        }
        // Sockets, FIFOs and devices are not workspace content: left out.
    }

    // FICLONE shares the blocks (btrfs, XFS); anything else gets a byte copy, in the kernel where
    // it can (copy_file_range), by read/write where it cannot.
    static void copy_bytes(int src, int dst, off_t size, const std::string& rel) {
        if (::ioctl(dst, FICLONE, src) == 0) return;
        bool kernel_copy = true;
        off_t copied = 0;
        for (;;) {
            ssize_t n = 0;
            if (kernel_copy) {
                n = ::copy_file_range(src, nullptr, dst, nullptr, std::size_t{1} << 30, 0);
                // Unsupported here, or (some FUSE and pseudo file systems) "0 bytes" at the start
                // of a non-empty file: offsets are unchanged, go on by hand.
                if ((n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                               errno == EOPNOTSUPP)) ||
                    (n == 0 && copied == 0 && size > 0)) {
                    kernel_copy = false;
                    continue;
                }
            } else {
                char buf[1 << 16];
                n = ::read(src, buf, sizeof buf);
                if (n > 0) write_all(dst, buf, static_cast<std::size_t>(n), rel);
            }
            if (n == 0) return;
            if (n > 0) copied += n;
            if (n < 0 && errno != EINTR) fail_errno("copy", rel);
        }
    }

    static void write_all(int fd, const char* data, std::size_t n, const std::string& rel) {
        while (n > 0) {
            const ssize_t w = ::write(fd, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) fail_errno("copy", rel);
            data += w;
            n -= static_cast<std::size_t>(w);
        }
    }

    void copy_symlink(int src_dir, int dst_dir, const std::string& name, const struct stat& st,
                      const std::string& rel) {
        std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
        const ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
        if (n < 0) fail_errno("read link", rel);
        if (static_cast<std::size_t>(n) >= target.size()) {
            throw StoreError("read link " + rel + ": it changed while being copied");
        }
        target.resize(static_cast<std::size_t>(n));
        if (::symlinkat(target.c_str(), dst_dir, name.c_str()) != 0) fail_errno("link", rel);
        if (policy_.owner && ::fchownat(dst_dir, name.c_str(), policy_.owner->first,
                                        policy_.owner->second, AT_SYMLINK_NOFOLLOW) != 0) {
            fail_errno("chown", rel);
        }
        const timespec times[2] = {st.st_atim, st.st_mtim};
        if (::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
            fail_errno("set times of", rel);
        }
    }

    // Owner first: chown clears set-id bits, and the mode below never has them anyway.
    void finish(int fd, const struct stat& src_st, const std::string& rel) {
        if (policy_.owner && ::fchown(fd, policy_.owner->first, policy_.owner->second) != 0) {
            fail_errno("chown", shown(rel));
        }
        if (::fchmod(fd, policy_.mode_for(src_st)) != 0) fail_errno("chmod", shown(rel));
        const timespec times[2] = {src_st.st_atim, src_st.st_mtim};
        if (::futimens(fd, times) != 0) fail_errno("set times of", shown(rel));
    }

    static const std::string& shown(const std::string& rel) {
        static const std::string dot = ".";
        return rel.empty() ? dot : rel;
    }

    CopyPolicy policy_;
};

}  // namespace

DirWorkspaceStore::DirWorkspaceStore(const std::string& root, unsigned owner_uid,
                                     unsigned owner_gid)
    : root_(fs::absolute(fs::path(root)).lexically_normal().string()),
      uid_(owner_uid),
      gid_(owner_gid) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

void DirWorkspaceStore::health() {
    try {
        ensure_root(root_);
    } catch (const StoreError& e) {
        throw StoreUnavailable(e.what());
    }
    // access(2) says yes to root whatever the mode; only a real write shows a read-only mount.
    const std::string probe = root_ + "/.health-" + random_suffix();
    const UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
        const int err = errno;
        throw StoreUnavailable("workspace root " + root_ + " is not writable: " + errno_text(err));
    }
    ::unlink(probe.c_str());
}

std::string DirWorkspaceStore::provision(const std::string& workspace, int /*quota_gb*/,
                                         const std::optional<std::string>& from_snapshot) {
    const WorkspaceName name = parse_workspace_name(workspace);
    std::optional<SnapshotName> source;
    if (from_snapshot) source = parse_snapshot_name(*from_snapshot);
    const std::string source_name = source ? source->str() : "";

    ensure_root(root_);
    const std::string user_dir = root_ + "/" + name.user_id;
    ensure_dir(user_dir, kUserDirMode, "user directory " + name.user_id);
    std::string path = user_dir + "/" + name.session_id;
    const bool as_root = running_as_root();

    const auto hand_over = [&] {
        if (as_root && ::lchown(path.c_str(), uid_, gid_) != 0) fail_errno("chown", workspace);
    };

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            throw StoreError("workspace " + workspace + " is not a directory");
        hand_over();
        return path;
    }
    if (errno != ENOENT) fail_errno("stat workspace", workspace);

    if (!source) {
        if (::mkdir(path.c_str(), kWorkspaceMode) != 0 && errno != EEXIST) {
            fail_errno("mkdir workspace", workspace);
        }
        if (::chmod(path.c_str(), kWorkspaceMode) != 0) fail_errno("chmod", workspace);
        hand_over();
        return path;
    }

    const std::string snap_path = root_ + "/" + kSnapshotsDir + "/" + source->workspace.user_id +
                                  "/" + source->workspace.session_id + "@" + source->tag;
    const UniqueFd snap(open_dir_nofollow(AT_FDCWD, snap_path.c_str()));
    if (!snap) {
        if (errno == ENOENT) throw StoreError("no snapshot " + source_name);
        fail_errno("open snapshot", source_name);
    }
    struct stat snap_st {};
    if (::fstat(snap.get(), &snap_st) != 0) fail_errno("stat snapshot", source_name);

    const std::string tmp = user_dir + "/" + kTempPrefix + name.session_id + "." + random_suffix();
    if (::mkdir(tmp.c_str(), 0700) != 0) fail_errno("mkdir workspace", workspace);
    try {
        const UniqueFd dst(open_dir_nofollow(AT_FDCWD, tmp.c_str()));
        if (!dst) fail_errno("open new workspace", workspace);
        CopyPolicy policy{false, std::nullopt};
        if (as_root) policy.owner = std::make_pair(uid_t{uid_}, gid_t{gid_});
        TreeCopier(policy).copy_contents(snap.get(), dst.get(), snap_st);
        if (::fchmod(dst.get(), kWorkspaceMode) != 0) fail_errno("chmod", workspace);
        if (!rename_noreplace(tmp, path, "workspace " + workspace)) {
            // A concurrent provision of the same workspace won; it is the workspace now.
            remove_tree(tmp);
        }
    } catch (...) {
        remove_tree(tmp);
        throw;
    }
    return path;
}

std::string DirWorkspaceStore::snapshot(const std::string& workspace, const std::string& tag) {
    const WorkspaceName name = parse_workspace_name(workspace);
    check_snapshot_tag(tag);
    std::string full_name = SnapshotName{name, tag}.str();

    const std::string path = root_ + "/" + name.user_id + "/" + name.session_id;
    const UniqueFd src(open_dir_nofollow(AT_FDCWD, path.c_str()));
    if (!src) {
        if (errno == ENOENT) throw StoreError("no workspace " + workspace);
        fail_errno("open workspace", workspace);
    }
    struct stat src_st {};
    if (::fstat(src.get(), &src_st) != 0) fail_errno("stat workspace", workspace);

    const std::string snapshots = root_ + "/" + kSnapshotsDir;
    ensure_dir(snapshots, kSnapshotsMode, "snapshot directory");
    const std::string user_dir = snapshots + "/" + name.user_id;
    ensure_dir(user_dir, kSnapshotsMode, "snapshot directory of " + name.user_id);
    const std::string final_path = user_dir + "/" + name.session_id + "@" + tag;
    struct stat st {};
    if (::lstat(final_path.c_str(), &st) == 0) {
        throw StoreError("snapshot " + full_name + " already exists");
    }

    const std::string tmp =
        user_dir + "/" + kTempPrefix + name.session_id + "@" + tag + "." + random_suffix();
    if (::mkdir(tmp.c_str(), 0700) != 0) fail_errno("mkdir snapshot", full_name);
    try {
        const UniqueFd dst(open_dir_nofollow(AT_FDCWD, tmp.c_str()));
        if (!dst) fail_errno("open snapshot", full_name);
        TreeCopier(CopyPolicy{true, std::nullopt}).copy_contents(src.get(), dst.get(), src_st);
        if (!rename_noreplace(tmp, final_path, "snapshot " + full_name)) {
            throw StoreError("snapshot " + full_name + " already exists");
        }
    } catch (...) {
        remove_tree(tmp);
        throw;
    }
    return full_name;
}

std::vector<std::string> DirWorkspaceStore::list_snapshots(const std::string& workspace) {
    const WorkspaceName name = parse_workspace_name(workspace);
    const std::string user_dir = root_ + "/" + kSnapshotsDir + "/" + name.user_id;
    const UniqueFd dir(open_dir_nofollow(AT_FDCWD, user_dir.c_str()));
    if (!dir) {
        if (errno == ENOENT) return {};
        fail_errno("open snapshot directory of", name.user_id);
    }
    const std::string prefix = name.session_id + "@";
    std::vector<std::string> tags;
    for_each_entry(dir.get(), "snapshots of " + workspace, [&](const char* entry) {
        const std::string_view entry_name = entry;
        if (entry_name.substr(0, prefix.size()) != prefix) return;
        const auto tag = entry_name.substr(prefix.size());
        struct stat st {};
        if (valid_snapshot_tag(tag) && ::fstatat(dir.get(), entry, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            tags.emplace_back(tag);
        }
    });
    sort_tags_oldest_first(tags);
    return tags;
}

std::optional<std::string> DirWorkspaceStore::mountpoint(const std::string& workspace) {
    const WorkspaceName name = parse_workspace_name(workspace);
    const std::string path = root_ + "/" + name.user_id + "/" + name.session_id;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail_errno("stat workspace", workspace);
    }
    if (!S_ISDIR(st.st_mode)) return std::nullopt;
    return path;
}

std::unique_ptr<WorkspaceStore> make_dir_store(const Config& config, unsigned owner_uid,
                                               unsigned owner_gid) {
    return std::make_unique<DirWorkspaceStore>(config.workspace_dir_root, owner_uid, owner_gid);
}

}  // namespace medforge::sessions
