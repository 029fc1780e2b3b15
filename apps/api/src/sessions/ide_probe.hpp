#pragma once

// Asks a session's IDE whether it is up: `GET /healthz` on its upstream (host:port) over a plain
// socket with a short deadline. code-server answers `{"status":"alive|expired",
// "lastHeartbeat":<unix ms>}`; the heartbeat drives idle stop.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace medforge::sessions {

struct IdeHealth {
    int status = 0;                              // HTTP status
    std::optional<std::int64_t> last_heartbeat;  // unix ms, when the body carries one (0 = never)
};

// nullopt when the connection fails, times out, or the answer is not HTTP.
std::optional<IdeHealth> probe_ide(const std::string& upstream, std::chrono::milliseconds timeout);

}  // namespace medforge::sessions
