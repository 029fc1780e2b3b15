#include "sessions/docker_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>
#include <utility>

#include "sessions/runtime.hpp"

namespace medforge::sessions {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Executor = asio::io_context::executor_type;
using UnixStream = beast::basic_stream<asio::local::stream_protocol, Executor>;
using TcpStream = beast::basic_stream<asio::ip::tcp, Executor>;

constexpr std::string_view kUnixPrefix = "unix://";
constexpr std::string_view kTcpPrefix = "tcp://";

// Runs one asynchronous operation to completion on `ioc`; the stream's own deadline (set once
// per request) cancels it with beast::error::timeout.
template <class Start>
beast::error_code run_one(asio::io_context& ioc, Start&& start) {
    beast::error_code result;
    start([&result](const beast::error_code& ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

std::string seconds_text(std::chrono::milliseconds d) {
    return std::to_string((d.count() + 999) / 1000) + " s";
}

class Exchange {
  public:
    Exchange(const DockerEndpoint& endpoint, std::size_t max_reply_bytes,
             std::chrono::milliseconds deadline)
        : endpoint_(endpoint), max_reply_bytes_(max_reply_bytes), deadline_(deadline) {}

    template <class Stream>
    DockerReply send(asio::io_context& ioc, Stream& stream, bhttp::request<bhttp::string_body>& req,
                     std::string_view what) {
        if (auto ec =
                run_one(ioc, [&](auto h) { bhttp::async_write(stream, req, std::move(h)); })) {
            fail(ec, what, "sending the request");
        }
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(max_reply_bytes_);
        if (auto ec = run_one(
                ioc, [&](auto h) { bhttp::async_read(stream, buffer, parser, std::move(h)); })) {
            fail(ec, what, "reading the answer");
        }
        auto res = parser.release();
        return DockerReply{static_cast<int>(res.result_int()), std::move(res.body())};
    }

    [[noreturn]] void unreachable(const beast::error_code& ec) const {
        if (ec == beast::error::timeout) {
            throw RuntimeUnavailable("docker daemon at " + endpoint_.describe() +
                                     " did not accept a connection within " +
                                     seconds_text(deadline_));
        }
        throw RuntimeUnavailable("docker daemon at " + endpoint_.describe() +
                                 " cannot be reached: " + ec.message());
    }

  private:
    [[noreturn]] void fail(const beast::error_code& ec, std::string_view what,
                           std::string_view phase) const {
        const std::string prefix = "docker " + std::string(what) + ": ";
        if (ec == beast::error::timeout) {
            throw RuntimeError(prefix + "no answer from " + endpoint_.describe() + " within " +
                               seconds_text(deadline_));
        }
        if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
            throw RuntimeError(prefix + "the answer is larger than " +
                               std::to_string(max_reply_bytes_) + " bytes");
        }
        throw RuntimeError(prefix + std::string(phase) + " failed: " + ec.message());
    }

    const DockerEndpoint& endpoint_;
    std::size_t max_reply_bytes_;
    std::chrono::milliseconds deadline_;
};

}  // namespace

DockerEndpoint DockerEndpoint::parse(std::string_view docker_host) {
    DockerEndpoint out;
    if (docker_host.substr(0, kUnixPrefix.size()) == kUnixPrefix) {
        out.socket_path = std::string(docker_host.substr(kUnixPrefix.size()));
        if (out.socket_path.empty() || out.socket_path.front() != '/') {
            throw std::invalid_argument("DOCKER_HOST unix:// needs an absolute socket path");
        }
        return out;
    }
    if (docker_host.substr(0, kTcpPrefix.size()) == kTcpPrefix) {
        std::string_view rest = docker_host.substr(kTcpPrefix.size());
        while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        std::size_t colon = rest.rfind(':');
        if (!rest.empty() && rest.front() == '[') {  // [v6]:port
            const auto close = rest.find(']');
            if (close == std::string_view::npos || close + 1 != colon) colon = std::string::npos;
            out.host = colon == std::string::npos ? "" : std::string(rest.substr(1, close - 1));
        } else if (colon != std::string_view::npos) {
            out.host = std::string(rest.substr(0, colon));
        }
        if (colon != std::string_view::npos) out.port = std::string(rest.substr(colon + 1));
        if (out.host.empty() || out.port.empty() ||
            out.port.find_first_not_of("0123456789") != std::string::npos || out.port.size() > 5 ||
            std::stoi(out.port) < 1 || std::stoi(out.port) > 65535) {
            throw std::invalid_argument("DOCKER_HOST tcp:// needs host:port, got '" +
                                        std::string(docker_host) + "'");
        }
        return out;
    }
    throw std::invalid_argument("DOCKER_HOST must be unix:///path or tcp://host:port, got '" +
                                std::string(docker_host) + "'");
}

std::string DockerEndpoint::describe() const {
    if (!socket_path.empty()) return std::string(kUnixPrefix) + socket_path;
    const bool v6 = host.find(':') != std::string::npos;
    return std::string(kTcpPrefix) + (v6 ? "[" + host + "]" : host) + ":" + port;
}

DockerClient::DockerClient(DockerEndpoint endpoint, std::size_t max_reply_bytes)
    : endpoint_(std::move(endpoint)), max_reply_bytes_(max_reply_bytes) {}

DockerReply DockerClient::request(std::string_view method, const std::string& target,
                                  const std::optional<std::string>& json_body,
                                  std::chrono::milliseconds deadline) const {
    const auto verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) {
        throw std::invalid_argument("unknown HTTP method " + std::string(method));
    }
    const std::string what = std::string(method) + " " + target;
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    // The daemon ignores Host on a unix socket, but HTTP/1.1 requires one.
    req.set(bhttp::field::host, endpoint_.socket_path.empty()
                                    ? endpoint_.describe().substr(kTcpPrefix.size())
                                    : std::string("docker"));
    req.set(bhttp::field::user_agent, std::string("medforge-api/") + MEDFORGE_VERSION);
    req.set(bhttp::field::accept, "application/json");
    req.set(bhttp::field::connection, "close");
    if (json_body) {
        req.set(bhttp::field::content_type, "application/json");
        req.body() = *json_body;
    }
    req.prepare_payload();

    asio::io_context ioc;
    Exchange exchange(endpoint_, max_reply_bytes_, deadline);
    if (!endpoint_.socket_path.empty()) {
        UnixStream stream(ioc.get_executor());
        stream.expires_after(deadline);
        const asio::local::stream_protocol::endpoint ep(endpoint_.socket_path);
        if (auto ec = run_one(ioc, [&](auto h) { stream.async_connect(ep, std::move(h)); })) {
            exchange.unreachable(ec);
        }
        return exchange.send(ioc, stream, req, what);
    }
    // Resolution has no deadline of its own (DOCKER_HOST is normally an address); the stream's
    // timer bounds everything after it.
    asio::ip::tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(endpoint_.host, endpoint_.port, ec);
    if (ec) exchange.unreachable(ec);
    TcpStream stream(ioc.get_executor());
    stream.expires_after(deadline);
    if (auto cec = run_one(ioc, [&](auto h) { stream.async_connect(endpoints, std::move(h)); })) {
        exchange.unreachable(cec);
    }
    return exchange.send(ioc, stream, req, what);
}

}  // namespace medforge::sessions
