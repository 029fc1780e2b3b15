#pragma once

// The workspace back end of a session: where its files live and how they are snapshotted. Two
// implementations stand behind this interface — `zfs` (one dataset per session, the `zfs`
// command) and `dir` (plain directories, snapshots are read-only copies) — chosen by
// WORKSPACE_STORE.
//
// A workspace is named `<user_id>/<session_id>`; a snapshot is named `<workspace>@<tag>` with
// tags `stop-<unix_ms>` and `death-<unix_ms>`.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace medforge::sessions {

// The store cannot be used now (pool gone, root missing or unwritable, zfs command failing for
// every call). Creates answer 503 runtime_unavailable.
class StoreUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One operation failed (quota refused, snapshot exists, …). what() is safe to store in
// sessions.error_message.
class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class WorkspaceStore {
  public:
    virtual ~WorkspaceStore() = default;
    virtual std::string_view kind() const = 0;

    // Throws StoreUnavailable when the store cannot be used now.
    virtual void health() = 0;

    // Creates the workspace (parents as needed), applies the quota (GiB, 0 = none), hands it to
    // the session's owner (uid:gid given at construction) and returns its host path. With
    // `from_snapshot` ("<workspace>@<tag>" of another workspace), the new workspace starts as a
    // copy/clone of that snapshot. Idempotent for an existing workspace.
    virtual std::string provision(const std::string& workspace, int quota_gb,
                                  const std::optional<std::string>& from_snapshot) = 0;

    // Takes the snapshot `<workspace>@<tag>` and returns that name (what `from_snapshot`
    // takes). A tag is taken once per workspace: taking it again is a StoreError.
    virtual std::string snapshot(const std::string& workspace, const std::string& tag) = 0;

    // The workspace's snapshot tags, oldest first by the unix ms in the tag (empty when none or
    // no such workspace).
    virtual std::vector<std::string> list_snapshots(const std::string& workspace) = 0;

    // The host path of an existing workspace (nullopt when it does not exist).
    virtual std::optional<std::string> mountpoint(const std::string& workspace) = 0;

    // The host folder under which the workspaces live (for disk usage on the host dashboard).
    // Throws StoreError when it cannot be learnt now.
    virtual std::string root_path() = 0;
};

// The back end WORKSPACE_STORE names; workspaces are owned by owner_uid:owner_gid.
std::unique_ptr<WorkspaceStore> make_workspace_store(const Config& config, unsigned owner_uid,
                                                     unsigned owner_gid);

}  // namespace medforge::sessions
