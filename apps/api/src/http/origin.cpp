#include "http/origin.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace medforge::http {

bool origin_allowed(const Config& config, std::string_view origin) {
    std::string o(origin);
    std::transform(o.begin(), o.end(), o.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string scheme;
    if (o.rfind("https://", 0) == 0)
        scheme = "https";
    else if (o.rfind("http://", 0) == 0)
        scheme = "http";
    else
        return false;  // includes "null"
    std::string rest = o.substr(scheme.size() + 3);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) return false;
    std::string host = rest;
    std::string port;
    // "[::1]:3000": the port follows the closing bracket.
    const auto host_end = rest.front() == '[' ? rest.find(']') : std::string::npos;
    if (rest.front() == '[' && host_end == std::string::npos) return false;
    const auto colon =
        rest.front() == '['
            ? (host_end + 1 < rest.size() && rest[host_end + 1] == ':' ? host_end + 1
                                                                       : std::string::npos)
            : rest.rfind(':');
    if (rest.front() == '[' && colon == std::string::npos && host_end + 1 != rest.size())
        return false;
    if (colon != std::string::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(),
                         [](unsigned char c) { return std::isdigit(c); })) {
            return false;
        }
    }
    if (host.rfind("s-", 0) == 0) return false;  // never a session host
    const bool local = config.local_domain();
    if (local && (host == "localhost" || host == "127.0.0.1" || host == "[::1]")) return true;
    if (host != config.web_host() && host != config.api_host()) return false;
    if (local) return true;  // any port on a local install (dev servers, the Caddy port)
    if (scheme != config.public_scheme) return false;
    const int default_port = scheme == "https" ? 443 : 80;
    const std::string expected =
        config.public_port == default_port ? std::string{} : std::to_string(config.public_port);
    return port == expected || (port == std::to_string(default_port) && expected.empty());
}

}  // namespace medforge::http
