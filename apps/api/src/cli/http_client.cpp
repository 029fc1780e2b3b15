#include "cli/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <optional>

namespace medforge::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

// A TCP stream with a timer, on the io_context's own executor type (no type-erased executor).
using TcpStream = beast::basic_stream<tcp, asio::io_context::executor_type>;

constexpr std::uint64_t kMaxReplyBytes = std::uint64_t{4} * 1024 * 1024;

[[noreturn]] void bad_url(const std::string& why) {
    throw std::invalid_argument("the API URL " + why +
                                " (expected http[s]://host[:port][/path], e.g. "
                                "http://127.0.0.1:8000)");
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

HttpReply to_reply(bhttp::response<bhttp::string_body>&& res) {
    HttpReply out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.body = std::move(res.body());
    return out;
}

// Runs one asynchronous operation to completion. The stream's deadline (basic_stream's
// timer) bounds it: past the deadline the operation fails with beast::error::timeout. Plain
// completion handlers rather than coroutines keep this simple and sequential.
template <class Start>
void run(asio::io_context& ioc, Start&& start) {
    beast::error_code result;
    start([&result](const beast::error_code& ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    if (result) throw boost::system::system_error(result);
}

template <class Stream>
HttpReply read_reply(asio::io_context& ioc, Stream& stream, beast::flat_buffer& buf) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxReplyBytes);
    run(ioc, [&](auto h) { bhttp::async_read(stream, buf, parser, std::move(h)); });
    return to_reply(parser.release());
}

template <class Stream>
HttpReply exchange(asio::io_context& ioc, Stream& stream, const BaseUrl& base,
                   const HttpRequest& r) {
    const auto verb = bhttp::string_to_verb(r.method);
    auto prepare = [&](auto& req) {
        req.method(verb);
        req.target(r.target);
        req.version(11);
        req.set(bhttp::field::host, base.host_header());
        req.set(bhttp::field::user_agent, std::string("medforge-cli/") + MEDFORGE_VERSION);
        req.set(bhttp::field::accept, "application/json");
        req.set(bhttp::field::connection, "close");
        for (const auto& [k, v] : r.headers) req.set(k, v);
    };
    beast::flat_buffer buf;
    if (r.body_file.empty()) {
        bhttp::request<bhttp::empty_body> req;
        prepare(req);
        run(ioc, [&](auto h) { bhttp::async_write(stream, req, std::move(h)); });
        return read_reply(ioc, stream, buf);
    }
    bhttp::request<bhttp::file_body> req;
    prepare(req);
    beast::error_code ec;
    req.body().open(r.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) throw NetworkError("cannot read " + r.body_file + ": " + ec.message());
    req.set(bhttp::field::content_type, r.content_type);
    req.set(bhttp::field::expect, "100-continue");
    req.prepare_payload();
    bhttp::request_serializer<bhttp::file_body> sr{req};
    run(ioc, [&](auto h) { bhttp::async_write_header(stream, sr, std::move(h)); });
    // Either "100 Continue" (send the file) or the final answer (a refusal before the body).
    bhttp::response_parser<bhttp::string_body> first;
    first.body_limit(kMaxReplyBytes);
    run(ioc, [&](auto h) { bhttp::async_read_header(stream, buf, first, std::move(h)); });
    if (first.get().result() != bhttp::status::continue_) {
        if (!first.is_done()) {
            run(ioc, [&](auto h) { bhttp::async_read(stream, buf, first, std::move(h)); });
        }
        return to_reply(first.release());
    }
    run(ioc, [&](auto h) { bhttp::async_write(stream, sr, std::move(h)); });
    return read_reply(ioc, stream, buf);
}

std::string describe(const std::exception_ptr& e, const BaseUrl& base) {
    const std::string where = (base.tls ? "https://" : "http://") + base.host_header();
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
        const auto& code = se.code();
        if (code == beast::error::timeout) return "no answer from " + where + " in time";
        if (code == asio::error::connection_refused) {
            return "connection refused by " + where + " (is the API running there?)";
        }
        if (code == asio::error::host_not_found || code == asio::error::host_not_found_try_again) {
            return "cannot resolve the host of " + where;
        }
        if (code == bhttp::error::body_limit) return "the answer from " + where + " is too large";
        if (code.category() == asio::error::get_ssl_category() ||
            code == asio::ssl::error::stream_truncated) {
            return "TLS with " + where + " failed: " + code.message() +
                   " (the certificate must be trusted by the system store; SSL_CERT_FILE names "
                   "another CA bundle)";
        }
        return "talking to " + where + " failed: " + code.message();
    }
}

}  // namespace

BaseUrl BaseUrl::parse(std::string_view url) {
    BaseUrl out;
    std::string lower(url.substr(0, std::min<std::size_t>(url.size(), 8)));
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view rest;
    if (lower.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else if (lower.rfind("https://", 0) == 0) {
        out.tls = true;
        rest = url.substr(8);
    } else {
        bad_url("must start with http:// or https://");
    }
    for (const char ch : rest) {
        if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
            bad_url("has a space or control character");
    }
    if (rest.find_first_of("?#") != std::string_view::npos)
        bad_url("must not have a query or fragment");
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos)
        bad_url("must not hold a user name or password");
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) bad_url("has an unclosed '['");
        out.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') bad_url("has characters after ']'");
            port = after.substr(1);
            if (port.empty()) bad_url("has an empty port");
        }
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) bad_url("has an empty port");
        }
    }
    if (out.host.empty()) bad_url("has no host");
    if (!port.empty()) {
        if (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
            std::stoi(std::string(port)) > 65535) {
            bad_url("has an invalid port");
        }
        out.port = std::string(port);
    } else {
        out.port = out.tls ? "443" : "80";
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.prefix = std::string(path);
    return out;
}

std::string BaseUrl::host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host + "]" : host;
    if (port != (tls ? "443" : "80")) h += ":" + port;
    return h;
}

HttpReply send_request(const BaseUrl& base, const HttpRequest& req, std::chrono::seconds deadline) {
    asio::io_context ioc;
    std::optional<ssl::context> tls;
    try {
        if (base.tls) {
            tls.emplace(ssl::context::tls_client);
            tls->set_default_verify_paths();  // honours SSL_CERT_FILE / SSL_CERT_DIR
            tls->set_verify_mode(ssl::verify_peer);
        }
        // Name resolution has no deadline of its own; the stream's timer bounds the rest.
        tcp::resolver resolver(ioc);
        const auto endpoints = resolver.resolve(base.host, base.port);
        TcpStream tcp(ioc.get_executor());
        tcp.expires_after(deadline);
        run(ioc, [&](auto h) { tcp.async_connect(endpoints, std::move(h)); });
        if (!tls) return exchange(ioc, tcp, base, req);
        beast::ssl_stream<TcpStream> stream(std::move(tcp), *tls);
        if (SSL_set_tlsext_host_name(stream.native_handle(), base.host.c_str()) != 1) {
            throw NetworkError("TLS setup failed for " + base.host);
        }
        stream.set_verify_callback(ssl::host_name_verification(base.host));
        run(ioc, [&](auto h) { stream.async_handshake(ssl::stream_base::client, std::move(h)); });
        return exchange(ioc, stream, base, req);
    } catch (const boost::system::system_error&) {
        throw NetworkError(describe(std::current_exception(), base));
    }
}

}  // namespace medforge::cli
