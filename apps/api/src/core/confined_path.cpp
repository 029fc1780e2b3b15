#include "core/confined_path.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>

namespace medforge {

namespace {

int open_retry(int dir_fd, const char* name, int flags) {
    int fd = -1;
    do {
        fd = ::openat(dir_fd, name, flags);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

bool servable(const struct stat& st) { return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode); }

}  // namespace

bool visible_component(std::string_view name) {
    if (name.empty() || name.size() > kMaxConfinedComponentBytes || name.front() == '.') {
        return false;
    }
    return std::none_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == '/';
    });
}

std::optional<std::vector<std::string>> split_relative_path(std::string_view path) {
    std::vector<std::string> parts;
    if (path.size() > kMaxConfinedPathBytes) return std::nullopt;
    if (path.empty()) return parts;
    if (path.front() == '/') return std::nullopt;   // absolute
    if (path.back() == '/') path.remove_suffix(1);  // "folder/" names the folder
    std::size_t pos = 0;
    for (;;) {
        const auto slash = path.find('/', pos);
        const auto part = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
        // Covers "", ".", ".." and every other hidden name, NUL and control characters.
        if (!visible_component(part)) return std::nullopt;
        parts.emplace_back(part);
        if (parts.size() > kMaxConfinedDepth) return std::nullopt;
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return parts;
}

std::optional<ConfinedEntry> open_confined(const std::string& root, std::string_view relative) {
    const auto parts = split_relative_path(relative);
    if (!parts || root.empty()) return std::nullopt;
    // The root is configuration, not input: it is opened normally (it may be a symlink).
    UniqueFd current(open_retry(AT_FDCWD, root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!current) return std::nullopt;
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const bool last = i + 1 == parts->size();
        // O_NOFOLLOW: a symlink fails with ELOOP (last component) or ENOTDIR/ELOOP (a folder on
        // the way). The last component may be a file: O_NONBLOCK keeps a FIFO from blocking the
        // open and O_NOCTTY keeps a terminal from becoming ours; both are refused below.
        const int flags =
            O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | (last ? O_NONBLOCK : O_DIRECTORY);
        UniqueFd next(open_retry(current.get(), (*parts)[i].c_str(), flags));
        if (!next) return std::nullopt;
        current = std::move(next);
    }
    ConfinedEntry entry;
    if (::fstat(current.get(), &entry.st) != 0 || !servable(entry.st)) return std::nullopt;
    if (S_ISREG(entry.st.st_mode)) {
        // Reads of a regular file ignore O_NONBLOCK, but clear it anyway.
        const int fl = ::fcntl(current.get(), F_GETFL);
        if (fl >= 0) ::fcntl(current.get(), F_SETFL, fl & ~O_NONBLOCK);
    }
    entry.fd = std::move(current);
    return entry;
}

ConfinedDirPage list_confined_dir(int dir_fd, std::string_view after, std::size_t limit) {
    ConfinedDirPage page;
    // A fresh open file description, so reading it does not move the caller's offset.
    const int fd = open_retry(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return page;
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        ::close(fd);
        return page;
    }
    std::vector<std::string> names;
    for (const dirent* ent = ::readdir(dir); ent != nullptr; ent = ::readdir(dir)) {
        const std::string_view name(ent->d_name);
        if (!visible_component(name) || name <= after) continue;
        // Cheap filtering where the file system reports the type; the rest is checked by stat.
        if (ent->d_type != DT_REG && ent->d_type != DT_DIR && ent->d_type != DT_UNKNOWN) continue;
        names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !servable(st)) {
            continue;
        }
        if (page.entries.size() == limit) {
            page.has_more = true;
            break;
        }
        const bool is_dir = S_ISDIR(st.st_mode);
        page.entries.push_back(
            {name, is_dir ? std::uint64_t{0} : static_cast<std::uint64_t>(st.st_size), is_dir});
    }
    return page;
}

}  // namespace medforge
