#pragma once

// Opening files below a root folder without ever leaving it, whatever the (untrusted) relative
// path says. Used to serve dataset and bundle files.
//
// Policy (docs/decisions.md, "Dataset files"):
// - A path is a plain relative path: no leading '/', no "." or ".." component, no empty component
//   ("a//b"), no NUL or other control character, at most 4096 bytes, 255 bytes per component and
//   64 levels. One trailing '/' is allowed. The caller decodes percent-escapes first.
// - Hidden entries (a component starting with '.') are never served nor listed.
// - Symlinks below the root are never followed, wherever they point: the walk opens one component
//   at a time with openat(O_NOFOLLOW) from the previous folder's descriptor, so a concurrent
//   rename or symlink swap cannot redirect it. The root itself is configuration and may be a
//   symlink.
// - Only regular files and folders are served (no FIFOs, sockets or devices).

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"

namespace medforge {

constexpr std::size_t kMaxConfinedPathBytes = 4096;
constexpr std::size_t kMaxConfinedComponentBytes = 255;
constexpr std::size_t kMaxConfinedDepth = 64;

// Whether `name` may be served or listed as one path component (not hidden, no control
// characters, no '/', 1..255 bytes).
bool visible_component(std::string_view name);

// The components of a relative path as described above; an empty vector for "" (the root itself),
// nullopt when the path is not acceptable.
std::optional<std::vector<std::string>> split_relative_path(std::string_view path);

struct ConfinedEntry {
    UniqueFd fd;        // open read-only; a regular file or a folder
    struct stat st {};  // fstat of `fd`
};

// Opens `relative` (see split_relative_path) below the folder `root`. nullopt when the path is not
// acceptable, does not exist, goes through or ends at a symlink, or is neither a regular file nor
// a folder. The caller learns nothing more on purpose: every failure is the same "not found".
std::optional<ConfinedEntry> open_confined(const std::string& root, std::string_view relative);

struct ConfinedDirEntry {
    std::string name;
    std::uint64_t size = 0;  // 0 for folders
    bool is_dir = false;
};

struct ConfinedDirPage {
    std::vector<ConfinedDirEntry> entries;  // sorted by name (bytewise)
    bool has_more = false;                  // entries after the last one exist
};

// The visible regular files and folders of the open folder `dir_fd` (symlinks and other kinds are
// left out) whose names sort after `after`, sorted by name, at most `limit` of them.
ConfinedDirPage list_confined_dir(int dir_fd, std::string_view after, std::size_t limit);

}  // namespace medforge
