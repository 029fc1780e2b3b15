// make_runtime / make_workspace_store: the back ends SESSION_RUNTIME and WORKSPACE_STORE name.
#include "sessions/dir_store.hpp"
#include "sessions/docker_runtime.hpp"
#include "sessions/process_runtime.hpp"
#include "sessions/runtime.hpp"
#include "sessions/workspace_store.hpp"
#include "sessions/zfs_store.hpp"

namespace medforge::sessions {

std::string_view to_string(RuntimeState s) {
    switch (s) {
        case RuntimeState::running:
            return "running";
        case RuntimeState::exited:
            return "exited";
        case RuntimeState::missing:
            return "missing";
        case RuntimeState::unknown:
            break;
    }
    return "unknown";
}

std::unique_ptr<Runtime> make_runtime(const Config& config, const std::string& state_dir) {
    if (config.session_runtime == "docker") return make_docker_runtime(config);
    return make_process_runtime(config, state_dir);
}

std::unique_ptr<WorkspaceStore> make_workspace_store(const Config& config, unsigned owner_uid,
                                                     unsigned owner_gid) {
    if (config.workspace_store == "zfs") return make_zfs_store(config, owner_uid, owner_gid);
    return make_dir_store(config, owner_uid, owner_gid);
}

}  // namespace medforge::sessions
