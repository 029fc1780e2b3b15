#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/pipeline.hpp"

namespace medforge::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    int io_threads = 0;  // 0 = hardware concurrency
    int header_timeout_seconds = 10;
    int idle_timeout_seconds = 60;
    int body_timeout_seconds = 60;
    int shutdown_grace_seconds = 20;
    int blocking_threads = 8;
    int blocking_queue_max = 1024;
    std::size_t header_limit = std::size_t{16} * 1024;
    // Where upload bodies (routes with body_to_file) are spooled; created on demand.
    std::string spool_dir = "/tmp";
};

// HTTP/1.1 on Asio/Beast: one coroutine per connection, keep-alive, pipelined requests answered
// in order, header/body/idle deadlines, size limits, blocking work on a bounded pool, and a
// graceful stop (SIGTERM/SIGINT: stop accepting, finish in-flight requests, close idle ones).
class Server {
  public:
    Server(ServerOptions options, Pipeline& pipeline);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens; returns the bound port (useful with port 0).
    std::uint16_t listen();
    // Serves until stop() or a termination signal; returns after the graceful drain.
    void run();
    // Thread-safe.
    void stop();
    // Runs fn on the blocking pool (fire and forget), e.g. idle-TTL slides.
    void post_blocking(std::function<void()> fn);
    // Requests handed to the blocking pool and not finished (running or waiting). Thread-safe.
    int blocking_queued() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace medforge::http
