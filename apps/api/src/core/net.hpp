#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medforge {

// An IP address as 16 bytes (IPv4 stored as IPv4-mapped IPv6), so one comparison serves both.
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};
    static std::optional<IpAddress> parse(std::string_view text);
    std::string to_string() const;
    bool operator==(const IpAddress&) const = default;
};

// A list of CIDR blocks ("10.0.0.0/8,::1/128"); a bare address means a single host.
class CidrSet {
  public:
    // Throws std::invalid_argument with a readable message on a malformed entry.
    static CidrSet parse(std::string_view comma_list);
    bool contains(const IpAddress& addr) const;
    bool empty() const { return blocks_.empty(); }

  private:
    struct Block {
        IpAddress base;
        int prefix;  // in the 128-bit space
    };
    std::vector<Block> blocks_;
};

// The client address for rate limiting: the peer, or, when the peer is a trusted proxy, the
// right-most X-Forwarded-For entry that is not itself a trusted proxy.
IpAddress resolve_client_address(const IpAddress& peer, std::string_view x_forwarded_for,
                                 const CidrSet& trusted_proxies);

// "host:port" → (host, port). Accepts "[::1]:8000". Throws std::invalid_argument.
std::pair<std::string, std::uint16_t> parse_host_port(std::string_view text);

}  // namespace medforge
