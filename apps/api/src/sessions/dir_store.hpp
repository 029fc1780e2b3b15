#pragma once

// WORKSPACE_STORE=dir: workspaces are plain directories, snapshots read-only copies. For a box
// without ZFS and for development. Layout under WORKSPACE_DIR_ROOT (made absolute at start):
//
//   <root>/                                   0711, created when absent
//   <root>/<user_id>/                         0711: users can enter but not list it
//   <root>/<user_id>/<session_id>/            0700, owned by the session's uid:gid
//   <root>/.snapshots/<user_id>/              0700: users never see the snapshot tree
//   <root>/.snapshots/<user_id>/<session_id>@<tag>/
//
// A snapshot is a copy of the workspace made file by file (FICLONE reflink where the file system
// supports it, else a byte copy): directories, regular files (modes without write, set-id and
// sticky bits, mtimes kept) and symlinks (copied as links, never followed). Sockets, FIFOs and
// devices are left out, and hard links become separate files. The copy is built under a
// `.tmp-…` name and renamed into place, so a half-made snapshot is never listed. A workspace
// continued from a snapshot is a copy of it with the owner's write bit back on every entry.
//
// There is no quota: SESSION_WORKSPACE_QUOTA_GB is ignored by this store.
//
// Ownership: as root, workspaces and everything copied into them are handed to uid:gid. A
// non-root API cannot give files away, so its workspaces stay owned by its own user (a
// development setup where sessions run as that same user).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "sessions/workspace_store.hpp"

namespace medforge::sessions {

class DirWorkspaceStore final : public WorkspaceStore {
  public:
    // `root` is made absolute against the current directory.
    DirWorkspaceStore(const std::string& root, unsigned owner_uid, unsigned owner_gid);

    std::string_view kind() const override { return "dir"; }
    void health() override;
    // quota_gb is ignored (no quota on plain directories).
    std::string provision(const std::string& workspace, int quota_gb,
                          const std::optional<std::string>& from_snapshot) override;
    std::string snapshot(const std::string& workspace, const std::string& tag) override;
    std::vector<std::string> list_snapshots(const std::string& workspace) override;
    std::optional<std::string> mountpoint(const std::string& workspace) override;
    std::string root_path() override { return root_; }

    const std::string& root() const { return root_; }

  private:
    std::string root_;
    unsigned uid_;
    unsigned gid_;
};

std::unique_ptr<WorkspaceStore> make_dir_store(const Config& config, unsigned owner_uid,
                                               unsigned owner_gid);

}  // namespace medforge::sessions
