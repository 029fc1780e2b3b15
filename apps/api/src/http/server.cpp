#include "http/server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "http/response.hpp"
#include "http/wire.hpp"

namespace medforge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

struct Server::Impl {
    ServerOptions options;
    Pipeline& pipeline;
    asio::io_context ioc;
    asio::thread_pool pool;
    // The acceptor is used only on its own strand: the accept loop runs there and shutdown
    // closes it there (Asio objects are not safe to touch from two threads at once).
    asio::strand<asio::io_context::executor_type> accept_strand;
    tcp::acceptor acceptor;
    asio::signal_set signals;
    std::atomic<bool> stopping{false};
    std::atomic<int> in_flight{0};
    std::atomic<int> blocking_queued{0};
    // Every open connection, so shutdown can cut the idle ones at once. A connection's `idle` is
    // written and read only on that connection's strand; the map is touched on connect and close.
    struct Conn {
        tcp::socket* socket = nullptr;
        bool idle = false;  // waiting for the next request's first bytes
    };
    std::mutex conns_mu;
    std::unordered_map<std::uint64_t, Conn*> conns;
    std::atomic<std::uint64_t> next_conn_id{1};
    std::atomic<int> connections{0};
    std::thread drain_thread;  // joined by run() before it returns

    Impl(ServerOptions o, Pipeline& p)
        : options(std::move(o)),
          pipeline(p),
          ioc(),
          pool(static_cast<std::size_t>(options.blocking_threads)),
          accept_strand(asio::make_strand(ioc)),
          acceptor(accept_strand),
          signals(ioc, SIGTERM, SIGINT) {}

    int io_thread_count() const {
        const int n = options.io_threads > 0
                          ? options.io_threads
                          : static_cast<int>(std::thread::hardware_concurrency());
        return std::max(1, n);
    }
    awaitable<void> accept_loop();
    awaitable<void> serve(tcp::socket socket);
    // Runs fn on the blocking pool (503 server_busy when its queue is full).
    awaitable<Response> run_blocking(Request& req, std::function<Response()> fn);
    void begin_shutdown();
    // Cancels the pending read of every idle connection, on that connection's strand. The entry
    // is looked up again there, so a connection that has since finished is never touched, and one
    // that is busy with a request keeps it.
    void cancel_idle() {
        std::lock_guard lock(conns_mu);
        for (auto& [id, c] : conns) {
            asio::post(c->socket->get_executor(), [this, id = id] {
                std::lock_guard inner(conns_mu);
                if (auto it = conns.find(id); it != conns.end() && it->second->idle) {
                    boost::system::error_code e;
                    it->second->socket->cancel(e);
                }
            });
        }
    }
    void register_conn(std::uint64_t id, Conn* c) {
        std::lock_guard lock(conns_mu);
        if (c != nullptr)
            conns[id] = c;
        else
            conns.erase(id);
    }
};

namespace {

// A TCP socket with one deadline for whatever operation is pending. One timer per connection
// enforces it; a deadline that moves later (the common case: each request pushes it on) costs
// only a store, and the timer, when it fires early, re-arms for the new deadline. A deadline
// that moves earlier than the armed expiry re-arms at once. When the deadline has passed, the
// socket's pending operations are cancelled (they complete with operation_aborted), which cuts
// the connection; as with Beast's tcp_stream, set a deadline before each operation. The socket
// and the timer share the connection's executor, so no two handlers touch them at once. (The
// socket's own asynchronous operations are used as they are, inherited.)
class TimedSocket : public tcp::socket {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit TimedSocket(tcp::socket socket)
        : tcp::socket(std::move(socket)), state_(std::make_shared<State>(get_executor(), this)) {}
    TimedSocket(const TimedSocket&) = delete;
    TimedSocket& operator=(const TimedSocket&) = delete;
    ~TimedSocket() {
        state_->socket = nullptr;  // a timer handler still queued finds nothing to cancel
        boost::system::error_code ec;
        state_->timer.cancel(ec);
    }

    tcp::socket& socket() { return *this; }

    void expires_after(std::chrono::steady_clock::duration d) {
        state_->deadline = std::chrono::steady_clock::now() + d;
        if (!state_->armed || state_->deadline < state_->armed_for) arm(state_);
    }

  private:
    // Shared with the pending wait, which may run after the socket is gone.
    struct State {
        State(const executor_type& ex, tcp::socket* s) : timer(ex), socket(s) {}
        asio::steady_timer timer;
        tcp::socket* socket;  // null once the connection is closed
        time_point deadline = time_point::max();
        time_point armed_for = time_point::max();  // the expiry of the pending wait
        std::uint64_t generation = 0;              // of the pending wait; older ones are stale
        bool armed = false;
    };
    static void arm(const std::shared_ptr<State>& st) {
        st->armed = true;
        st->armed_for = st->deadline;
        const std::uint64_t generation = ++st->generation;
        st->timer.expires_at(st->deadline);  // cancels a pending wait (it becomes stale)
        st->timer.async_wait([st, generation](const boost::system::error_code&) {
            if (st->socket == nullptr || generation != st->generation) return;
            st->armed = false;
            if (std::chrono::steady_clock::now() >= st->deadline) {
                boost::system::error_code ec;
                st->socket->cancel(ec);
                return;
            }
            arm(st);  // the deadline moved on meanwhile
        });
    }
    std::shared_ptr<State> state_;
};

// Errors that mean the client left or was cut off: nothing to answer.
bool peer_went_away(const boost::system::error_code& ec) {
    return ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::operation_aborted;
}

ApiError headers_too_large() {
    return ApiError(431, "headers_too_large", "The request headers exceed 16 KiB.");
}

ApiError payload_too_large(std::size_t limit) {
    return ApiError(413, "payload_too_large",
                    "The request body exceeds " + std::to_string(limit) + " bytes.");
}

// A private temporary file for an upload's body: closed and removed when the request is done
// (a handler that keeps the body renames the file first, and the removal then finds nothing).
struct TempFile {
    std::string path;
    int fd = -1;
    TempFile() = default;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        if (!path.empty()) ::unlink(path.c_str());
        fd = -1;
        path.clear();
    }
};

// Creates `<dir>/upload-<random>.part` (0600, O_EXCL); returns "" and sets `error` on failure.
std::string make_spool_file(const std::string& dir, int& fd, std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::string path = dir + "/upload-" + request_uuid() + ".part";
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) return path;
        if (errno != EEXIST) break;
    }
    error = std::string("cannot create a spool file in ") + dir + ": " + std::strerror(errno);
    return {};
}

bool write_all(int fd, const char* data, std::size_t n, std::string& error) {
    while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            error = std::string("spool write failed: ") + std::strerror(errno);
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool expects_continue(const bhttp::request_header<>& head) {
    auto it = head.find(bhttp::field::expect);
    return it != head.end() && beast::iequals(it->value(), "100-continue");
}

// Reads and drops what the client still sends (at most `limit` + 64 KiB, for at most 5 s).
awaitable<void> drain(TimedSocket& stream, std::size_t limit) {
    std::vector<char> sink(std::size_t{64} * 1024);
    std::size_t total = 0;
    stream.expires_after(std::chrono::seconds(5));
    while (total <= limit + sink.size()) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), as_tuple);
        if (ec) break;
        total += n;
    }
}

Request to_request(const bhttp::request_header<>& msg, const IpAddress& peer) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers.reserve(16);
    for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.peer = peer;
    return req;
}

// Writes up to three buffers (unused ones empty) under one deadline. Callers pass a named array:
// GCC 12 rejects a braced temporary array as an argument inside a coroutine ("array used as
// initializer").
using Pieces = std::array<asio::const_buffer, 3>;
awaitable<beast::error_code> send_all(TimedSocket& stream, const Pieces& buffers,
                                      std::chrono::seconds deadline) {
    stream.expires_after(deadline);
    auto [ec, n] = co_await asio::async_write(stream, buffers, as_tuple);
    co_return ec;
}

// A stream body: the head (chunked), `body` as the first chunk, then each piece `next` yields
// (fetched on the blocking pool, so a waiting producer never holds an I/O thread), then the last
// chunk. The connection closes afterwards. HTTP/1.0 gets the pieces unframed, ended by the close.
awaitable<beast::error_code> write_stream(TimedSocket& stream, Response r, unsigned version,
                                          std::chrono::seconds deadline, asio::thread_pool& pool) {
    const bool chunked = version != 10;
    const std::string head = response_head(r, version, false, Framing::chunked);
    const Pieces head_piece{asio::buffer(head)};
    if (auto ec = co_await send_all(stream, head_piece, deadline)) co_return ec;
    auto next = std::move(r.stream->next);
    std::optional<std::string> piece = std::move(r.body);
    while (piece) {
        if (!piece->empty()) {
            const std::string size = chunked ? chunk_header(piece->size()) : std::string();
            const Pieces chunk{asio::buffer(size), asio::buffer(*piece),
                               asio::buffer(kChunkEnd.data(), chunked ? kChunkEnd.size() : 0)};
            if (auto ec = co_await send_all(stream, chunk, deadline)) co_return ec;
        }
        piece = co_await asio::co_spawn(
            pool.get_executor(),
            [&]() -> awaitable<std::optional<std::string>> {
                try {
                    co_return next();
                } catch (const std::exception& e) {
                    log::warn("http.stream_failed", {{"error", e.what()}});
                    co_return std::nullopt;
                }
            },
            use_awaitable);
    }
    if (!chunked) co_return beast::error_code{};
    const Pieces last{asio::buffer(kLastChunk.data(), kLastChunk.size())};
    co_return co_await send_all(stream, last, deadline);
}

// A file body: pread() of fixed chunks into one buffer, so a download of any size holds kChunk
// bytes; the deadline is renewed per chunk, so a long download keeps going while the client keeps
// reading, and a client that stops reading is cut off. The reads are synchronous on the I/O
// thread (as with Beast's own file_body): fine for local disks.
awaitable<beast::error_code> write_file(TimedSocket& stream, Response r, unsigned version,
                                        bool keep_alive, std::chrono::seconds deadline) {
    static constexpr std::size_t kChunk = std::size_t{128} * 1024;
    const FileBody body = std::move(*r.file);
    if (!body.file || !*body.file) co_return asio::error::bad_descriptor;
    const std::string head =
        response_head(r, version, keep_alive, Framing::content_length, body.length);
    const Pieces head_piece{asio::buffer(head)};
    if (auto ec = co_await send_all(stream, head_piece, deadline)) co_return ec;
    auto buffer = std::make_unique<char[]>(kChunk);
    std::uint64_t pos = body.offset;
    std::uint64_t remain = body.length;
    while (remain > 0) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remain, kChunk));
        ssize_t n = -1;
        do {
            n = ::pread(body.file->get(), buffer.get(), want, static_cast<off_t>(pos));
        } while (n < 0 && errno == EINTR);
        // A read error, or a file that shrank after Content-Length went out: cut the connection.
        if (n <= 0) {
            co_return n < 0 ? beast::error_code(errno, boost::system::system_category())
                            : beast::error_code(asio::error::eof);
        }
        pos += static_cast<std::uint64_t>(n);
        remain -= static_cast<std::uint64_t>(n);
        const Pieces data{asio::buffer(buffer.get(), static_cast<std::size_t>(n))};
        auto ec = co_await send_all(stream, data, deadline);
        if (ec) {
            if (!peer_went_away(ec) && ec != asio::error::broken_pipe) {
                log::warn("http.file_write_failed", {{"error", ec.message()}});
            }
            co_return ec;
        }
    }
    co_return beast::error_code{};
}

// Writes a streamed or file response (serve() writes string bodies itself).
awaitable<beast::error_code> write_response(TimedSocket& stream, Response r, unsigned version,
                                            bool keep_alive, std::chrono::seconds deadline,
                                            asio::thread_pool& pool) {
    if (r.stream) co_return co_await write_stream(stream, std::move(r), version, deadline, pool);
    co_return co_await write_file(stream, std::move(r), version, keep_alive, deadline);
}

IpAddress peer_of(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return IpAddress{};
    return IpAddress::parse(ep.address().to_string()).value_or(IpAddress{});
}

}  // namespace

awaitable<Response> Server::Impl::run_blocking(Request& req, std::function<Response()> fn) {
    if (blocking_queued.load() >= options.blocking_queue_max) {
        co_return pipeline.early_problem(
            req, ApiError(503, "server_busy", "The server is busy; try again shortly.")
                     .with_header("Retry-After", "1"));
    }
    ++blocking_queued;
    struct Dec {
        std::atomic<int>& n;
        ~Dec() { --n; }
    } dec{blocking_queued};
    co_return co_await asio::co_spawn(
        pool.get_executor(), [&]() -> awaitable<Response> { co_return fn(); }, use_awaitable);
}

awaitable<void> Server::Impl::serve(tcp::socket socket) {
    const std::uint64_t conn_id = next_conn_id++;
    ++connections;
    const IpAddress peer = peer_of(socket);
    TimedSocket stream(std::move(socket));
    Conn conn{&stream.socket()};
    register_conn(conn_id, &conn);
    struct Dec {
        Impl& impl;
        std::uint64_t id;
        ~Dec() {
            impl.register_conn(id, nullptr);
            --impl.connections;
        }
    } dec{*this, conn_id};
    beast::flat_buffer buffer;
    bool first = true;

    // Answers a request the socket layer refused (bad framing, limits) and closes the connection.
    // `head` is the parsed header when there is one.
    auto reject = [&](const bhttp::request_header<>* head, ApiError error) -> awaitable<void> {
        Request req = head != nullptr ? to_request(*head, peer) : Request{};
        req.peer = peer;
        req.received_at = SystemClock().now();
        Response resp = pipeline.early_problem(req, error);
        pipeline.finish(req, resp, 0.0);
        const std::string wire_head =
            response_head(resp, 11, false, Framing::content_length, resp.body.size());
        const Pieces pieces{asio::buffer(wire_head), asio::buffer(resp.body)};
        co_await send_all(stream, pieces, std::chrono::seconds(options.body_timeout_seconds));
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    };

    for (;;) {
        if (stopping.load()) break;
        if (buffer.size() == 0) {
            // Wait for the next request's first bytes: the idle (keep-alive) deadline.
            stream.expires_after(std::chrono::seconds(first ? options.header_timeout_seconds
                                                            : options.idle_timeout_seconds));
            conn.idle = true;
            if (stopping.load()) break;
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(8192), as_tuple);
            conn.idle = false;
            if (ec) break;
            buffer.commit(n);
        }
        ++in_flight;
        struct InFlight {
            std::atomic<int>& n;
            ~InFlight() { --n; }
        } inflight_guard{in_flight};

        // The whole header must arrive within the header deadline (slow clients are cut off).
        // The header is read with an empty body; the body type is chosen once the route is known.
        bhttp::request_parser<bhttp::empty_body> head_parser;
        head_parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        // The route's own limit is applied once the header names the route.
        head_parser.body_limit(boost::none);
        // Usually the whole header is in the buffer already: parse it here, without an
        // asynchronous operation; otherwise read the rest under the header deadline.
        beast::error_code hec;
        buffer.consume(head_parser.put(buffer.data(), hec));
        if (hec == bhttp::error::need_more) {
            stream.expires_after(std::chrono::seconds(options.header_timeout_seconds));
            std::tie(hec, std::ignore) =
                co_await bhttp::async_read_header(stream, buffer, head_parser, as_tuple);
        }
        const auto started = std::chrono::steady_clock::now();
        if (hec) {
            if (hec == bhttp::error::header_limit) {
                co_await reject(nullptr, headers_too_large());
            } else if (!peer_went_away(hec)) {
                co_await reject(nullptr,
                                ApiError(400, "bad_request", "The request is not valid HTTP/1.1."));
            }
            break;
        }

        const auto& head = head_parser.get();
        // Beast checks header_limit only against unconsumed bytes, so a header that arrives in
        // one piece can exceed it; measure the parsed header as well.
        std::size_t header_bytes = head.method_string().size() + head.target().size() + 12;
        for (const auto& f : head) header_bytes += f.name_string().size() + f.value().size() + 4;
        if (header_bytes > options.header_limit) {
            co_await reject(&head.base(), headers_too_large());
            break;
        }
        const std::string_view target = head.target();
        RouteMatch match = pipeline.match(head.method_string(), target.substr(0, target.find('?')));
        const Route* route = match.route;
        const std::size_t limit = route != nullptr ? route->body_limit : kJsonBodyLimit;
        auto too_large = [&](std::size_t size) {
            return route != nullptr && route->too_large ? route->too_large(limit, size)
                                                        : payload_too_large(limit);
        };
        const bool to_file = route != nullptr && route->body_to_file;

        Request req;
        Response resp;
        bool answered = false;     // resp is final (a refusal before or while reading the body)
        bool body_unread = false;  // the refusal left body bytes on the wire: drain, then close
        TempFile body_file;
        if (to_file) {
            // Uploads: the pipeline and the route's gate run before a byte of the body is read.
            req = to_request(head, peer);
            req.received_at = SystemClock().now();
            // (std::exchange: the other prepare() below is on a path that excludes this one.)
            auto prepared = pipeline.prepare(req, std::exchange(match, RouteMatch{}));
            if (prepared.response) {
                resp = std::move(*prepared.response);
                answered = true;
            } else {
                auto refusal = co_await run_blocking(req, [&]() -> Response {
                    return pipeline.before_body(req).value_or(Response{0});
                });
                if (refusal.status != 0) {
                    resp = std::move(refusal);
                    answered = true;
                }
            }
            body_unread = answered && !head_parser.is_done();
        }
        const auto content_length = head_parser.content_length();
        if (!answered && content_length && *content_length > limit) {
            if (!to_file) {
                co_await reject(&head.base(), too_large(static_cast<std::size_t>(*content_length)));
                break;
            }
            resp =
                pipeline.early_problem(req, too_large(static_cast<std::size_t>(*content_length)));
            answered = true;
            body_unread = true;
        }
        if (!answered && !head_parser.is_done() && expects_continue(head)) {
            // The client waits for this before sending the body (curl does for large uploads).
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            stream.expires_after(std::chrono::seconds(options.body_timeout_seconds));
            auto [cec, cn] = co_await asio::async_write(
                stream, asio::buffer(kContinue.data(), kContinue.size()), as_tuple);
            if (cec) break;
        }

        std::optional<bhttp::request<bhttp::string_body>> msg;
        if (!answered && to_file) {
            // Stream the body to a private temporary file, enforcing the limit as it arrives.
            std::string error;
            body_file.path = make_spool_file(options.spool_dir, body_file.fd, error);
            if (body_file.path.empty()) {
                log::error("http.spool_failed", {{"request_id", req.request_id}, {"error", error}});
                resp = pipeline.early_problem(
                    req, ApiError(503, "storage_unavailable",
                                  "The upload could not be stored; try again shortly."));
                answered = true;
                body_unread = true;
            } else {
                bhttp::request_parser<bhttp::buffer_body> body_parser(std::move(head_parser));
                body_parser.body_limit(boost::none);
                std::vector<char> chunk(std::size_t{64} * 1024);
                std::uint64_t written = 0;
                bool aborted = false;
                stream.expires_after(std::chrono::seconds(options.body_timeout_seconds));
                while (!body_parser.is_done()) {
                    body_parser.get().body().data = chunk.data();
                    body_parser.get().body().size = chunk.size();
                    auto [bec, bn] =
                        co_await bhttp::async_read(stream, buffer, body_parser, as_tuple);
                    if (bec == bhttp::error::need_buffer) bec = {};
                    if (bec) {
                        if (!peer_went_away(bec) && bec != bhttp::error::partial_message) {
                            co_await reject(
                                &body_parser.get().base(),
                                ApiError(400, "bad_request", "The request body is malformed."));
                        }
                        aborted = true;
                        break;
                    }
                    const std::size_t got = chunk.size() - body_parser.get().body().size;
                    written += got;
                    if (written > limit) {
                        resp = pipeline.early_problem(req, too_large(written));
                        answered = true;
                        body_unread = !body_parser.is_done();
                        break;
                    }
                    if (got > 0 && !write_all(body_file.fd, chunk.data(), got, error)) {
                        log::error("http.spool_failed",
                                   {{"request_id", req.request_id}, {"error", error}});
                        resp = pipeline.early_problem(
                            req, ApiError(503, "storage_unavailable",
                                          "The upload could not be stored; try again shortly."));
                        answered = true;
                        body_unread = !body_parser.is_done();
                        break;
                    }
                }
                if (aborted) break;
                if (!answered) {
                    ::close(body_file.fd);
                    body_file.fd = -1;
                    req.body_file = body_file.path;
                    req.body_size = written;
                    req.credential_resolved = true;
                    resp = co_await run_blocking(req, [&] { return pipeline.execute(req); });
                    answered = true;
                }
                msg.emplace(body_parser.get().base(), std::string{});
            }
        } else if (!answered) {
            bhttp::request_parser<bhttp::string_body> parser(std::move(head_parser));
            parser.body_limit(limit);
            if (!parser.is_done()) {
                stream.expires_after(std::chrono::seconds(options.body_timeout_seconds));
                auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, as_tuple);
                if (bec) {
                    if (bec == bhttp::error::body_limit) {
                        co_await reject(&head.base(), too_large(limit + 1));
                    } else if (!peer_went_away(bec) && bec != bhttp::error::partial_message) {
                        co_await reject(&head.base(), ApiError(400, "bad_request",
                                                               "The request body is malformed."));
                    }
                    break;
                }
            }
            msg.emplace(parser.release());
            req = to_request(*msg, peer);
            req.body = std::move(msg->body());
            req.received_at = SystemClock().now();
            // Answered by the pipeline, or on this thread, or on the blocking pool. (No nested
            // coroutine on the first two paths: each frame is an allocation per request.)
            auto prepared = pipeline.prepare(req, std::exchange(match, RouteMatch{}));
            if (prepared.response) {
                resp = std::move(*prepared.response);
            } else if (prepared.run_inline) {
                resp = pipeline.execute(req);
            } else {
                resp = co_await run_blocking(req, [&] { return pipeline.execute(req); });
            }
        }
        if (!msg) msg.emplace(head.base(), std::string{});
        body_file.reset();  // before answering: a refused upload leaves nothing behind
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        pipeline.finish(req, resp, seconds);
        const bool keep_alive = msg->keep_alive() && !resp.close_connection && !resp.stream &&
                                !body_unread && !stopping.load();
        const auto write_deadline = std::chrono::seconds(options.body_timeout_seconds);
        beast::error_code wec;
        if (!resp.stream && !resp.file) {
            // The common case, written here: head and body in one write.
            if (status_forbids_body(resp.status)) resp.body.clear();
            const std::string wire_head = response_head(resp, msg->version(), keep_alive,
                                                        Framing::content_length, resp.body.size());
            const std::array<asio::const_buffer, 2> buffers{asio::buffer(wire_head),
                                                            asio::buffer(resp.body)};
            stream.expires_after(write_deadline);
            std::tie(wec, std::ignore) = co_await asio::async_write(stream, buffers, as_tuple);
        } else {
            wec = co_await write_response(stream, std::move(resp), msg->version(), keep_alive,
                                          write_deadline, pool);
        }
        if (wec || !keep_alive) {
            boost::system::error_code ec;
            stream.socket().shutdown(tcp::socket::shutdown_send, ec);
            // A refused upload's body may still be on its way: read and drop it (bounded), so
            // the client reads our answer instead of a connection reset.
            if (!wec && body_unread) co_await drain(stream, limit);
            break;
        }
        first = false;
    }
    boost::system::error_code ec;
    stream.socket().close(ec);
}

awaitable<void> Server::Impl::accept_loop() {
    for (;;) {
        // With one I/O thread every handler runs on it in turn: a strand per connection would
        // only add a queue and a lock to every completion.
        const asio::any_io_executor exec = io_thread_count() == 1
                                               ? asio::any_io_executor(ioc.get_executor())
                                               : asio::any_io_executor(asio::make_strand(ioc));
        auto [ec, socket] = co_await acceptor.async_accept(exec, as_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            log::warn("http.accept_failed", {{"error", ec.message()}});
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto socket_exec = socket.get_executor();
        asio::co_spawn(socket_exec, serve(std::move(socket)), asio::detached);
    }
}

void Server::Impl::begin_shutdown() {
    if (stopping.exchange(true)) return;
    log::info("http.shutdown_started", {{"in_flight", in_flight.load()}});
    asio::post(accept_strand, [this] {
        boost::system::error_code ec;
        acceptor.close(ec);
    });
    cancel_idle();
    // Drain: wait for in-flight requests (bounded by the grace period), then stop the loop.
    drain_thread = std::thread([this] {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(options.shutdown_grace_seconds);
        while (std::chrono::steady_clock::now() < deadline &&
               (in_flight.load() > 0 || connections.load() > 0)) {
            cancel_idle();  // connections that went idle after the first sweep, too
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        log::info("http.shutdown_drained",
                  {{"in_flight", in_flight.load()}, {"connections", connections.load()}});
        ioc.stop();
    });
}

Server::Server(ServerOptions options, Pipeline& pipeline)
    : impl_(std::make_unique<Impl>(std::move(options), pipeline)) {}

Server::~Server() { impl_->pool.join(); }

std::uint16_t Server::listen() {
    auto addr = asio::ip::make_address(impl_->options.host);
    tcp::endpoint ep(addr, impl_->options.port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    return impl_->acceptor.local_endpoint().port();
}

void Server::run() {
    impl_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        log::info("http.signal", {{"signal", sig}});
        impl_->begin_shutdown();
    });
    asio::co_spawn(impl_->accept_strand, impl_->accept_loop(), asio::detached);
    const int n = impl_->io_thread_count();
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (auto& t : threads) t.join();
    if (impl_->drain_thread.joinable()) impl_->drain_thread.join();
}

void Server::stop() {
    asio::post(impl_->ioc, [this] { impl_->begin_shutdown(); });
}

void Server::post_blocking(std::function<void()> fn) { asio::post(impl_->pool, std::move(fn)); }

int Server::blocking_queued() const { return impl_->blocking_queued.load(); }

}  // namespace medforge::http
