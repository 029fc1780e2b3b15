#include "sessions/ide_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/unique_fd.hpp"

namespace medforge::sessions {

namespace {

using Clock = std::chrono::steady_clock;

bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left));
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

}  // namespace

std::optional<IdeHealth> probe_ide(const std::string& upstream, std::chrono::milliseconds timeout) {
    const auto colon = upstream.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    const std::string host = upstream.substr(0, colon);
    int port = 0;
    const auto* pb = upstream.data() + colon + 1;
    const auto* pe = upstream.data() + upstream.size();
    if (std::from_chars(pb, pe, port).ptr != pe || port <= 0 || port > 65535) return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return std::nullopt;

    const auto deadline = Clock::now() + timeout;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return std::nullopt;
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS || !wait_for(fd.get(), POLLOUT, deadline)) return std::nullopt;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            return std::nullopt;
        }
    }
    const std::string req = "GET /healthz HTTP/1.0\r\nHost: " + upstream +
                            "\r\nUser-Agent: medforge-probe\r\nConnection: close\r\n\r\n";
    std::size_t sent = 0;
    while (sent < req.size()) {
        if (!wait_for(fd.get(), POLLOUT, deadline)) return std::nullopt;
        const ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return std::nullopt;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string resp;
    char buf[4096];
    while (resp.size() < std::size_t{64} * 1024) {
        if (!wait_for(fd.get(), POLLIN, deadline)) break;
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            break;
        }
        if (n == 0) break;
        resp.append(buf, static_cast<std::size_t>(n));
    }
    // "HTTP/1.x NNN ..."
    if (resp.size() < 12 || resp.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    const auto sp = resp.find(' ');
    if (sp == std::string::npos || sp + 4 > resp.size()) return std::nullopt;
    IdeHealth h;
    if (std::from_chars(resp.data() + sp + 1, resp.data() + sp + 4, h.status).ec != std::errc{}) {
        return std::nullopt;
    }
    const auto body = resp.find("\r\n\r\n");
    if (body != std::string::npos) {
        auto j = nlohmann::json::parse(resp.begin() + static_cast<std::ptrdiff_t>(body) + 4,
                                       resp.end(), nullptr, false);
        if (j.is_object() && j.contains("lastHeartbeat") && j["lastHeartbeat"].is_number()) {
            h.last_heartbeat = j["lastHeartbeat"].get<std::int64_t>();
        }
    }
    return h;
}

}  // namespace medforge::sessions
