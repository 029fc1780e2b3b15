#include "core/net.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace medforge {
namespace {

IpAddress ip(const char* s) {
    auto a = IpAddress::parse(s);
    if (!a) throw std::invalid_argument(std::string("test address does not parse: ") + s);
    return *a;
}

TEST(IpAddress, ParsesIpv4AsMappedIpv6) {
    const IpAddress a = ip("192.168.1.10");
    EXPECT_EQ(a.to_string(), "192.168.1.10");
    for (int i = 0; i < 10; ++i) EXPECT_EQ(a.bytes[i], 0) << i;
    EXPECT_EQ(a.bytes[10], 0xff);
    EXPECT_EQ(a.bytes[11], 0xff);
    EXPECT_EQ(a.bytes[12], 192);
    EXPECT_EQ(a.bytes[15], 10);
    EXPECT_EQ(ip("::ffff:192.168.1.10"), a) << "v4 and v4-mapped v6 are one address";
}

TEST(IpAddress, ParsesIpv6) {
    EXPECT_EQ(ip("::1").to_string(), "::1");
    EXPECT_EQ(ip("[::1]").to_string(), "::1");
    EXPECT_EQ(ip("2001:DB8::1").to_string(), "2001:db8::1");
    EXPECT_EQ(ip("::1").bytes[15], 1);
    EXPECT_NE(ip("::1"), ip("127.0.0.1"));
}

TEST(IpAddress, TrimsBlanks) { EXPECT_EQ(ip(" 10.0.0.1\t"), ip("10.0.0.1")); }

TEST(IpAddress, RejectsGarbage) {
    for (const char* bad :
         {"", " ", "abc", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4/8", "::g",
          "1:2:3:4:5:6:7:8:9", "[::1", "10.0.0.1:80", "localhost", "01.2.3.4x", "\x01\x02"}) {
        EXPECT_FALSE(IpAddress::parse(bad).has_value()) << "'" << bad << "'";
    }
    EXPECT_FALSE(IpAddress::parse(std::string(1000, '1')).has_value());
}

TEST(CidrSet, ContainsBlocksAndHosts) {
    const CidrSet set = CidrSet::parse("10.0.0.0/8, ::1/128,192.168.0.5");
    EXPECT_FALSE(set.empty());
    EXPECT_TRUE(set.contains(ip("10.0.0.0")));
    EXPECT_TRUE(set.contains(ip("10.255.255.255")));
    EXPECT_FALSE(set.contains(ip("11.0.0.0")));
    EXPECT_FALSE(set.contains(ip("9.255.255.255")));
    EXPECT_TRUE(set.contains(ip("::1")));
    EXPECT_FALSE(set.contains(ip("::2")));
    EXPECT_TRUE(set.contains(ip("192.168.0.5")));  // a bare address is one host
    EXPECT_FALSE(set.contains(ip("192.168.0.6")));
    EXPECT_FALSE(set.contains(ip("192.168.0.4")));
}

TEST(CidrSet, PrefixesNotOnAByteBoundary) {
    const CidrSet set = CidrSet::parse("10.0.0.0/9,2001:db8::/33");
    EXPECT_TRUE(set.contains(ip("10.127.255.255")));
    EXPECT_FALSE(set.contains(ip("10.128.0.0")));
    EXPECT_TRUE(set.contains(ip("2001:db8:7fff::1")));
    EXPECT_FALSE(set.contains(ip("2001:db8:8000::1")));
}

TEST(CidrSet, Ipv4PrefixesStayInsideIpv4) {
    const CidrSet v4_all = CidrSet::parse("0.0.0.0/0");
    EXPECT_TRUE(v4_all.contains(ip("8.8.8.8")));
    EXPECT_FALSE(v4_all.contains(ip("::1")));
    EXPECT_FALSE(v4_all.contains(ip("2001:db8::1")));
    const CidrSet everything = CidrSet::parse("::/0");
    EXPECT_TRUE(everything.contains(ip("2001:db8::1")));
    EXPECT_TRUE(everything.contains(ip("8.8.8.8")));
}

TEST(CidrSet, EmptyListIsEmpty) {
    EXPECT_TRUE(CidrSet::parse("").empty());
    EXPECT_TRUE(CidrSet::parse(" , ,").empty());
    EXPECT_FALSE(CidrSet::parse("").contains(ip("127.0.0.1")));
}

TEST(CidrSet, RejectsMalformedEntries) {
    for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x",
                            "proxy", "10.0.0.0/8,nope", "/8", "10.0.0.0/ 8"}) {
        EXPECT_THROW(CidrSet::parse(bad), std::invalid_argument) << bad;
    }
}

class ClientAddress : public ::testing::Test {
  protected:
    const CidrSet trusted = CidrSet::parse("127.0.0.1,::1,172.18.0.0/16");
};

TEST_F(ClientAddress, UntrustedPeerIgnoresForwardedFor) {
    EXPECT_EQ(resolve_client_address(ip("203.0.113.7"), "1.2.3.4", trusted), ip("203.0.113.7"));
    EXPECT_EQ(resolve_client_address(ip("203.0.113.7"), "127.0.0.1", trusted), ip("203.0.113.7"));
}

TEST_F(ClientAddress, TrustedPeerWithoutHeaderIsTheClient) {
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), "", trusted), ip("127.0.0.1"));
}

TEST_F(ClientAddress, TrustedPeerTakesRightMostUntrustedEntry) {
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), "10.0.0.9, 127.0.0.1", trusted),
              ip("10.0.0.9"));
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), "10.0.0.9", trusted), ip("10.0.0.9"));
    // A client-supplied (spoofed) left part is never believed.
    EXPECT_EQ(resolve_client_address(ip("172.18.0.2"), "6.6.6.6, 10.0.0.9,172.18.0.3", trusted),
              ip("10.0.0.9"));
    EXPECT_EQ(resolve_client_address(ip("::1"), "2001:db8::5", trusted), ip("2001:db8::5"));
}

TEST_F(ClientAddress, GarbageEntriesNeverBecomeTheClient) {
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), "garbage", trusted), ip("127.0.0.1"));
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), "10.0.0.9, ", trusted), ip("127.0.0.1"));
    // Walking right to left stops at garbage: the spoofable 1.1.1.1 left of it is not used.
    const IpAddress got =
        resolve_client_address(ip("127.0.0.1"), "1.1.1.1, garbage, 127.0.0.1", trusted);
    EXPECT_NE(got, ip("1.1.1.1"));
    EXPECT_TRUE(trusted.contains(got));
    EXPECT_EQ(resolve_client_address(ip("127.0.0.1"), ",,,", trusted), ip("127.0.0.1"));
}

TEST_F(ClientAddress, OnlyTrustedEntriesStayTrusted) {
    const IpAddress got = resolve_client_address(ip("127.0.0.1"), "172.18.0.9, ::1", trusted);
    EXPECT_TRUE(trusted.contains(got));
}

TEST(ParseHostPort, AcceptsIpv4AndBracketedIpv6) {
    EXPECT_EQ(parse_host_port("127.0.0.1:8000"),
              (std::pair<std::string, std::uint16_t>{"127.0.0.1", 8000}));
    EXPECT_EQ(parse_host_port("0.0.0.0:0"), (std::pair<std::string, std::uint16_t>{"0.0.0.0", 0}));
    EXPECT_EQ(parse_host_port("[::1]:65535"),
              (std::pair<std::string, std::uint16_t>{"::1", 65535}));
}

TEST(ParseHostPort, RejectsMalformed) {
    for (const char* bad : {"", "127.0.0.1", ":8000", "127.0.0.1:", "127.0.0.1:65536",
                            "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "localhost:8000",
                            "example.org:443", "[::1]", "[]:80", "127.0.0.1:99999999999"}) {
        EXPECT_THROW(parse_host_port(bad), std::invalid_argument) << "'" << bad << "'";
    }
}

}  // namespace
}  // namespace medforge
