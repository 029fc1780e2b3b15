// make_runtime: the back end SESSION_RUNTIME names (make_workspace_store is in
// workspace_store.cpp).
#include "sessions/docker_runtime.hpp"
#include "sessions/process_runtime.hpp"
#include "sessions/runtime.hpp"

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

}  // namespace medforge::sessions
