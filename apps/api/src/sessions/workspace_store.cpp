#include "sessions/workspace_store.hpp"

#include "sessions/dir_store.hpp"
#include "sessions/zfs_store.hpp"

namespace medforge::sessions {

std::unique_ptr<WorkspaceStore> make_workspace_store(const Config& config, unsigned owner_uid,
                                                     unsigned owner_gid) {
    if (config.workspace_store == "zfs") return make_zfs_store(config, owner_uid, owner_gid);
    if (config.workspace_store == "dir") return make_dir_store(config, owner_uid, owner_gid);
    throw StoreError("WORKSPACE_STORE must be zfs or dir, not \"" + config.workspace_store + "\"");
}

}  // namespace medforge::sessions
