#pragma once

// A minimal HTTP/1.1 client for the Docker Engine API (also Podman's compatible service): one
// request per connection over a unix socket or plain TCP, JSON bodies, a deadline per call and
// a bound on the answer's size. Kept apart from the runtime so that Beast is compiled in one
// translation unit only.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace medforge::sessions {

// Where the daemon listens, from DOCKER_HOST: `unix:///path` or `tcp://host:port`.
struct DockerEndpoint {
    std::string socket_path;  // unix socket; empty for TCP
    std::string host;         // TCP
    std::string port;         // TCP

    // Throws std::invalid_argument for any other form (tcp:// without a port, an empty path…).
    static DockerEndpoint parse(std::string_view docker_host);
    std::string describe() const;  // "unix:///path" or "tcp://host:port"
};

struct DockerReply {
    int status = 0;
    std::string body;
};

class DockerClient {
  public:
    static constexpr std::size_t kDefaultMaxReplyBytes = std::size_t{8} << 20;

    explicit DockerClient(DockerEndpoint endpoint,
                          std::size_t max_reply_bytes = kDefaultMaxReplyBytes);

    // Sends `method target` (target includes the /v1.41 prefix and the query) with an optional
    // JSON body and returns the daemon's answer, whatever its status. The whole exchange must
    // finish within `deadline`.
    // Throws RuntimeUnavailable when the daemon cannot be reached (no socket, connection refused,
    // no connection before the deadline) and RuntimeError when the exchange fails after
    // connecting (deadline, a malformed or oversized answer).
    DockerReply request(std::string_view method, const std::string& target,
                        const std::optional<std::string>& json_body,
                        std::chrono::milliseconds deadline) const;

    const DockerEndpoint& endpoint() const { return endpoint_; }

  private:
    DockerEndpoint endpoint_;
    std::size_t max_reply_bytes_;
};

}  // namespace medforge::sessions
