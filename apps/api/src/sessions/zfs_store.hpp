#pragma once

// WORKSPACE_STORE=zfs: one dataset per session, driven through the `zfs` command (prefixed with
// `sudo -n` when SESSION_RUNTIME_USE_SUDO=true, as are the `chown`/`chmod` of the mountpoint).
// Only flags that exist in both OpenZFS and zfs-fuse are used, so the system tests run against a
// real (userspace) ZFS.
//
//   <WORKSPACE_ZFS_ROOT>                         must exist: created by the operator
//   <WORKSPACE_ZFS_ROOT>/<user_id>               created on first use
//   <WORKSPACE_ZFS_ROOT>/<user_id>/<session_id>  quota=<N>G when N > 0; its mountpoint is chowned
//                                                to uid:gid and chmod 0700
//
// Snapshots are `<dataset>@<tag>`, taken with the user property medforge:workspace=<workspace>.
//
// Continuing from a snapshot is `zfs clone <snapshot> <new dataset>` then `zfs promote <new
// dataset>`, so that the old workspace no longer pins the new one (the old one becomes the clone
// and can be destroyed; the new one can live on). Promote moves the origin's snapshots up to and
// including the cloned one onto the new dataset — `u/A@stop-1` becomes `u/B@stop-1` — while the
// blocks stay shared. A snapshot therefore belongs to the workspace that took it, as recorded in
// medforge:workspace (which moves with it), not to the dataset it sits on today: list_snapshots
// lists the snapshots under `<root>/<user_id>` carrying that property (snapshots without it,
// made by hand, count for the dataset they sit on), and a from_snapshot is found the same way
// wherever a later promote moved it. Clones never leave `<root>/<user_id>` (sessions continue
// only their owner's sessions), so that subtree holds every snapshot a workspace ever took.
//
// Space: after the promote the moved snapshots are charged to the new dataset, so the quota of
// a continued workspace counts the old workspace's data the way a copy would.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/subprocess.hpp"
#include "sessions/workspace_store.hpp"

namespace medforge::sessions {

// How the store runs a command (run_command, or a test double).
using CommandRunner =
    std::function<CommandResult(const std::vector<std::string>& argv, std::chrono::milliseconds)>;

class ZfsWorkspaceStore final : public WorkspaceStore {
  public:
    ZfsWorkspaceStore(std::string root_dataset, unsigned owner_uid, unsigned owner_gid,
                      bool use_sudo, CommandRunner runner = nullptr);

    std::string_view kind() const override { return "zfs"; }
    void health() override;
    std::string provision(const std::string& workspace, int quota_gb,
                          const std::optional<std::string>& from_snapshot) override;
    std::string snapshot(const std::string& workspace, const std::string& tag) override;
    std::vector<std::string> list_snapshots(const std::string& workspace) override;
    std::optional<std::string> mountpoint(const std::string& workspace) override;
    // The mountpoint of WORKSPACE_ZFS_ROOT.
    std::string root_path() override;

    // The dataset of a workspace name (validated): `<root>/<user_id>/<session_id>`.
    std::string dataset(const std::string& workspace) const;

  private:
    struct Snapshot {
        std::string full_name;  // where it sits now: <dataset>@<tag>
        std::string tag;
        std::string taken_by;  // the workspace that took it
    };

    CommandResult run(std::vector<std::string> argv) const;
    std::string zfs_checked(std::vector<std::string> args) const;
    bool dataset_exists(const std::string& dataset) const;
    void ensure_dataset(const std::string& dataset) const;
    std::vector<Snapshot> snapshots_of_user(const std::string& user_id) const;
    std::optional<Snapshot> find_snapshot(const std::string& workspace,
                                          const std::string& tag) const;
    std::string mount_and_hand_over(const std::string& dataset) const;

    std::string root_;
    unsigned uid_;
    unsigned gid_;
    bool use_sudo_;
    CommandRunner runner_;
};

std::unique_ptr<WorkspaceStore> make_zfs_store(const Config& config, unsigned owner_uid,
                                               unsigned owner_gid);

}  // namespace medforge::sessions
