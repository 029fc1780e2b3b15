#include "core/net.hpp"

#include "core/strings.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace medforge {

namespace {

bool is_v4_mapped(const IpAddress& a) {
    static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.bytes.data(), kPrefix, 12) == 0;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    if (text.empty() || text.size() > 45) return std::nullopt;
    std::string s(text);
    IpAddress out;
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        out.bytes[10] = 0xff;
        out.bytes[11] = 0xff;
        std::memcpy(out.bytes.data() + 12, &v4, 4);
        return out;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        std::memcpy(out.bytes.data(), &v6, 16);
        return out;
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(*this)) {
        inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    }
    return buf;
}

CidrSet CidrSet::parse(std::string_view comma_list) {
    CidrSet set;
    while (!comma_list.empty()) {
        auto comma = comma_list.find(',');
        std::string_view item = trim(comma_list.substr(0, comma));
        comma_list =
            comma == std::string_view::npos ? std::string_view{} : comma_list.substr(comma + 1);
        if (item.empty()) continue;
        auto slash = item.find('/');
        auto addr = IpAddress::parse(item.substr(0, slash));
        if (!addr) throw std::invalid_argument("not an IP address: '" + std::string(item) + "'");
        const bool v4 = is_v4_mapped(*addr);
        int prefix = 128;
        if (slash != std::string_view::npos) {
            auto p = item.substr(slash + 1);
            int n = -1;
            auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
            const int max = v4 ? 32 : 128;
            if (ec != std::errc{} || ptr != p.data() + p.size() || n < 0 || n > max) {
                throw std::invalid_argument("bad prefix length in '" + std::string(item) + "'");
            }
            prefix = v4 ? 96 + n : n;
        }
        set.blocks_.push_back({*addr, prefix});
    }
    return set;
}

bool CidrSet::contains(const IpAddress& addr) const {
    for (const auto& b : blocks_) {
        int bits = b.prefix;
        bool match = true;
        for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
            const std::uint8_t mask =
                bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
            if ((addr.bytes[i] & mask) != (b.base.bytes[i] & mask)) {
                match = false;
                break;
            }
        }
        if (match) return true;
    }
    return false;
}

IpAddress resolve_client_address(const IpAddress& peer, std::string_view xff,
                                 const CidrSet& trusted_proxies) {
    if (xff.empty() || !trusted_proxies.contains(peer)) return peer;
    IpAddress client = peer;
    // Walk right to left; the first entry that is not a trusted proxy is the client.
    while (!xff.empty()) {
        auto comma = xff.rfind(',');
        std::string_view item = trim(comma == std::string_view::npos ? xff : xff.substr(comma + 1));
        xff = comma == std::string_view::npos ? std::string_view{} : xff.substr(0, comma);
        auto addr = IpAddress::parse(item);
        if (!addr) return client;  // garbage: stop at the last address we could trust
        client = *addr;
        if (!trusted_proxies.contains(*addr)) return client;
    }
    return client;
}

std::pair<std::string, std::uint16_t> parse_host_port(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        throw std::invalid_argument("expected host:port, got '" + std::string(text) + "'");
    }
    std::string_view host = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc{} || ptr != port.data() + port.size() || n > 65535 || port.empty()) {
        throw std::invalid_argument("bad port in '" + std::string(text) + "'");
    }
    if (!IpAddress::parse(host)) {
        throw std::invalid_argument("bind host must be an IP address, got '" + std::string(host) +
                                    "'");
    }
    return {std::string(host), static_cast<std::uint16_t>(n)};
}

}  // namespace medforge
