// The HTTP server under concurrent keep-alive clients, in-process, so TSan sees every thread:
// I/O threads, the blocking pool, the auth cache, metrics and the graceful stop.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "app/app.hpp"
#include "http/pipeline.hpp"
#include "http/response.hpp"
#include "http/server.hpp"
#include "test_support.hpp"

namespace {

using namespace medforge;

// Sends `count` GET requests on one keep-alive connection; returns how many answered 200.
int client(std::uint16_t port, const std::string& path, const std::string& cookie, int count) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return 0;
    }
    int ok = 0;
    std::string pending;
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: x\r\nCookie: medforge_session=" + cookie + "\r\n\r\n";
    for (int i = 0; i < count; ++i) {
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) break;
        // Read one response: headers, then Content-Length bytes.
        for (;;) {
            auto end = pending.find("\r\n\r\n");
            if (end != std::string::npos) {
                auto cl = pending.find("Content-Length: ");
                const std::size_t len = cl < end ? std::stoul(pending.substr(cl + 16)) : 0;
                if (pending.size() >= end + 4 + len) {
                    if (pending.rfind("HTTP/1.1 200", 0) == 0) ++ok;
                    pending.erase(0, end + 4 + len);
                    break;
                }
            }
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                ::close(fd);
                return ok;
            }
            pending.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return ok;
}

TEST(ConcurrencyHttpServer, KeepAliveClientsOnInlineAndBlockingRoutes) {
    mftest::TempDir dir;
    auto db = mftest::open_migrated_sqlite(dir, 6);
    Config config = load_config(mftest::env_from({{"AUTH_RATE_LIMIT", "0"}}));
    config.session_secret = std::string(64, 'k');
    SystemClock clock;
    app::Services services(config, *db, clock);
    http::Router router;
    app::register_all_routes(router, services);
    http::Pipeline pipeline(config, router, services.auth, services.auth_limiter, clock,
                            services.metrics);
    http::ServerOptions opts;
    opts.port = 0;
    opts.io_threads = 2;
    opts.blocking_threads = 4;
    http::Server server(opts, pipeline);
    services.background = [&server](std::function<void()> fn) {
        server.post_blocking(std::move(fn));
    };
    const std::uint16_t port = server.listen();
    std::thread runner([&] { server.run(); });

    const auto issued = services.auth.signup("load@example.org", "long-enough-pw", {"::1", "t"});
    constexpr int kClients = 8;
    constexpr int kRequests = 50;
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        // Half on the inline path (/api/v1/me), half on the blocking pool (a DB read).
        const std::string path = c % 2 == 0 ? "/api/v1/me" : "/api/v1/competitions";
        clients.emplace_back([&, path] { ok += client(port, path, issued.token, kRequests); });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), kClients * kRequests);

    // An idle keep-alive connection must not hold up the graceful stop.
    int idle = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    server.stop();
    runner.join();
    ::close(idle);
    EXPECT_NE(services.metrics.render().find("medforge_http_requests_total"), std::string::npos);
}

}  // namespace
