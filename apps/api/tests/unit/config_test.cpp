#include "core/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "test_support.hpp"

namespace medforge {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Config load(std::map<std::string, std::string> vars) {
    return load_config(mftest::env_from(std::move(vars)));
}

// The ConfigError message for `vars`, or a failure when the configuration was accepted.
std::string config_error(std::map<std::string, std::string> vars) {
    try {
        load(std::move(vars));
    } catch (const ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "configuration was accepted";
    return {};
}

// How a problem with `var` shows in the message: its own indented "NAME:" line.
std::string names(const std::string& var) { return "\n  " + var + ":"; }

IpAddress ip(const char* s) { return IpAddress::parse(s).value(); }

TEST(Config, DefaultsWithAnEmptyEnvironment) {
    const Config c = load({});
    EXPECT_EQ(c.api_bind_host, "127.0.0.1");
    EXPECT_EQ(c.api_bind_port, 8000);
    EXPECT_EQ(c.database_url, "sqlite://./var/medforge.db");
    EXPECT_EQ(c.domain, "localhost");
    EXPECT_TRUE(c.local_domain());
    EXPECT_EQ(c.public_scheme, "http");
    EXPECT_EQ(c.public_port, 8080);
    EXPECT_EQ(c.cookie_name, "medforge_session");
    EXPECT_EQ(c.cookie_domain, ".medforge.localhost");
    EXPECT_FALSE(c.cookie_secure);
    EXPECT_EQ(c.cookie_samesite, SameSite::lax);
    EXPECT_EQ(c.auth_idle_ttl_seconds, 604800);
    EXPECT_EQ(c.auth_max_ttl_seconds, 2592000);
    EXPECT_EQ(c.auth_rate_limit_count, 10);
    EXPECT_EQ(c.auth_rate_limit_window_seconds, 60);
    EXPECT_TRUE(c.trusted_proxies.contains(ip("127.0.0.1")));
    EXPECT_TRUE(c.trusted_proxies.contains(ip("::1")));
    EXPECT_FALSE(c.trusted_proxies.contains(ip("10.0.0.1")));
    EXPECT_TRUE(c.metrics_allow.contains(ip("127.0.0.1")));
    EXPECT_TRUE(c.metrics_allow.contains(ip("::1")));
    EXPECT_FALSE(c.metrics_allow.contains(ip("192.168.1.1")));
    EXPECT_EQ(c.gpu_count, 7);
    EXPECT_TRUE(c.gpu_ids.empty());
    EXPECT_EQ(c.session_mem_limit_bytes, 64LL << 30);
    EXPECT_EQ(c.session_mem_reservation_bytes, 8LL << 30);
    EXPECT_EQ(c.session_shm_size_bytes, 4LL << 30);
    EXPECT_FALSE(c.session_cpu_limit.has_value());
    EXPECT_FALSE(c.session_pids_limit.has_value());
    EXPECT_EQ(c.public_sessions_subnet, "172.30.0.0/24");
    EXPECT_EQ(c.submission_upload_max_bytes, 10485760);
    EXPECT_EQ(c.log_level, log::Level::info);
    EXPECT_TRUE(c.session_secret.empty()) << "load_config must not resolve the secret";
    EXPECT_EQ(c.web_host(), "medforge.localhost");
    EXPECT_EQ(c.api_host(), "api.medforge.localhost");
}

TEST(Config, EmptyValuesCountAsUnset) {
    const Config c = load({{"API_BIND", ""}, {"AUTH_RATE_LIMIT", ""}, {"DOMAIN", ""}});
    EXPECT_EQ(c.api_bind_port, 8000);
    EXPECT_EQ(c.auth_rate_limit_count, 10);
    EXPECT_EQ(c.domain, "localhost");
}

TEST(Config, ReadsGoodValues) {
    const Config c = load({{"API_BIND", "[::1]:9000"},
                           {"AUTH_RATE_LIMIT", "5/30"},
                           {"GPU_IDS", "0,2,5"},
                           {"SESSION_MEM_LIMIT", "512m"},
                           {"SESSION_SHM_SIZE", "1048576"},
                           {"SESSION_CPU_LIMIT", "2.5"},
                           {"SESSION_PIDS_LIMIT", "4096"},
                           {"PUBLIC_SESSIONS_SUBNET", "10.9.8.0/23"},
                           {"COOKIE_SAMESITE", "strict"},
                           {"TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"},
                           {"LOG_LEVEL", "WARN"},
                           {"COOKIE_SECURE", "yes"}});
    EXPECT_EQ(c.api_bind_host, "::1");
    EXPECT_EQ(c.api_bind_port, 9000);
    EXPECT_EQ(c.auth_rate_limit_count, 5);
    EXPECT_EQ(c.auth_rate_limit_window_seconds, 30);
    EXPECT_EQ(c.gpu_ids, (std::vector<int>{0, 2, 5}));
    EXPECT_EQ(c.session_mem_limit_bytes, 512LL << 20);
    EXPECT_EQ(c.session_shm_size_bytes, 1048576);
    ASSERT_TRUE(c.session_cpu_limit.has_value());
    EXPECT_DOUBLE_EQ(*c.session_cpu_limit, 2.5);
    EXPECT_EQ(c.session_pids_limit, 4096);
    EXPECT_EQ(c.public_sessions_subnet, "10.9.8.0/23");
    EXPECT_EQ(c.cookie_samesite, SameSite::strict);
    EXPECT_TRUE(c.trusted_proxies.contains(ip("10.200.0.1")));
    EXPECT_TRUE(c.trusted_proxies.contains(ip("192.168.1.1")));
    EXPECT_FALSE(c.trusted_proxies.contains(ip("127.0.0.1"))) << "the default is replaced";
    EXPECT_EQ(c.log_level, log::Level::warn);
    EXPECT_TRUE(c.cookie_secure);
}

TEST(Config, RateLimitZeroDisables) {
    EXPECT_EQ(load({{"AUTH_RATE_LIMIT", "0"}}).auth_rate_limit_count, 0);
}

TEST(Config, CookieSecureDefaultsFollowTheDomain) {
    EXPECT_FALSE(load({{"DOMAIN", "localhost"}}).cookie_secure);
    EXPECT_FALSE(load({{"DOMAIN", "dev.localhost"}}).cookie_secure);
    EXPECT_TRUE(load({{"DOMAIN", "example.org"}}).cookie_secure);
    EXPECT_FALSE(load({{"DOMAIN", "example.org"}, {"COOKIE_SECURE", "false"}}).cookie_secure);
    EXPECT_TRUE(load({{"DOMAIN", "localhost"}, {"COOKIE_SECURE", "1"}}).cookie_secure);
}

TEST(Config, LocalDomainIsLocalhostOrASubdomainOfIt) {
    EXPECT_TRUE(load({{"DOMAIN", "LocalHost"}}).local_domain());
    EXPECT_TRUE(load({{"DOMAIN", "a.b.localhost"}}).local_domain());
    EXPECT_FALSE(load({{"DOMAIN", "notlocalhost"}}).local_domain());
    EXPECT_FALSE(load({{"DOMAIN", "localhost.example.org"}}).local_domain());
    EXPECT_FALSE(load({{"DOMAIN", "example.org"}}).local_domain());
}

TEST(Config, CookieDomainDefaultsToTheWebHost) {
    const Config c = load({{"DOMAIN", "Example.ORG"}});
    EXPECT_EQ(c.domain, "example.org");
    EXPECT_EQ(c.cookie_domain, ".medforge.example.org");
    EXPECT_EQ(c.web_host(), "medforge.example.org");
    EXPECT_EQ(c.api_host(), "api.medforge.example.org");
    EXPECT_EQ(load({{"DOMAIN", "example.org"}, {"COOKIE_DOMAIN", ".other.example"}}).cookie_domain,
              ".other.example");
}

TEST(Config, PublicPortDefaultsFollowSchemeAndDomain) {
    EXPECT_EQ(load({}).public_port, 8080);
    EXPECT_EQ(load({{"DOMAIN", "example.org"}, {"PUBLIC_SCHEME", "https"}}).public_port, 443);
    EXPECT_EQ(load({{"DOMAIN", "example.org"}}).public_port, 80);
    EXPECT_EQ(load({{"DOMAIN", "example.org"}, {"PUBLIC_PORT", "8443"}}).public_port, 8443);
}

TEST(Config, SameSiteNoneIsFineWithSecureCookies) {
    const Config c = load({{"DOMAIN", "example.org"}, {"COOKIE_SAMESITE", "none"}});
    EXPECT_EQ(c.cookie_samesite, SameSite::none);
    EXPECT_TRUE(c.cookie_secure);
}

struct BadValue {
    std::map<std::string, std::string> vars;
    std::string variable;  // the one the message must name
};

void PrintTo(const BadValue& b, std::ostream* os) {
    for (const auto& [k, v] : b.vars) *os << k << "='" << v << "' ";
}

class ConfigRejects : public ::testing::TestWithParam<BadValue> {};

TEST_P(ConfigRejects, NamingTheVariable) {
    const std::string msg = config_error(GetParam().vars);
    EXPECT_THAT(msg, HasSubstr("invalid configuration"));
    EXPECT_THAT(msg, HasSubstr(names(GetParam().variable)));
}

INSTANTIATE_TEST_SUITE_P(
    BadValues, ConfigRejects,
    ::testing::Values(
        BadValue{{{"API_BIND", "localhost:8000"}}, "API_BIND"},
        BadValue{{{"API_BIND", "127.0.0.1"}}, "API_BIND"},
        BadValue{{{"API_BIND", "127.0.0.1:65536"}}, "API_BIND"},
        BadValue{{{"API_BIND", "127.0.0.1:http"}}, "API_BIND"},
        BadValue{{{"API_BIND", ":8000"}}, "API_BIND"},
        BadValue{{{"AUTH_RATE_LIMIT", "abc"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "10/0"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "0/60"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "10"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "10/"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "/60"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "-1/60"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "10/60/5"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"AUTH_RATE_LIMIT", "10/86401"}}, "AUTH_RATE_LIMIT"},
        BadValue{{{"COOKIE_SAMESITE", "none"}, {"COOKIE_SECURE", "false"}}, "COOKIE_SAMESITE"},
        BadValue{{{"COOKIE_SAMESITE", "none"}}, "COOKIE_SAMESITE"},  // local: not secure
        BadValue{{{"COOKIE_SAMESITE", "relaxed"}}, "COOKIE_SAMESITE"},
        BadValue{{{"COOKIE_SECURE", "maybe"}}, "COOKIE_SECURE"},
        BadValue{{{"COOKIE_NAME", "a b"}}, "COOKIE_NAME"},
        BadValue{{{"TRUSTED_PROXIES", "10.0.0.0/33"}}, "TRUSTED_PROXIES"},
        BadValue{{{"TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"}}, "TRUSTED_PROXIES"},
        BadValue{{{"TRUSTED_PROXIES", "10.0.0.0/"}}, "TRUSTED_PROXIES"},
        BadValue{{{"METRICS_ALLOW", "::1/129"}}, "METRICS_ALLOW"},
        BadValue{{{"GPU_IDS", "0,1,1"}}, "GPU_IDS"}, BadValue{{{"GPU_IDS", "0,x"}}, "GPU_IDS"},
        BadValue{{{"GPU_IDS", "0,,1"}}, "GPU_IDS"}, BadValue{{{"GPU_IDS", "1024"}}, "GPU_IDS"},
        BadValue{{{"SESSION_MEM_LIMIT", "64x"}}, "SESSION_MEM_LIMIT"},
        BadValue{{{"SESSION_MEM_LIMIT", "0"}}, "SESSION_MEM_LIMIT"},
        BadValue{{{"SESSION_MEM_LIMIT", "-1g"}}, "SESSION_MEM_LIMIT"},
        BadValue{{{"SESSION_MEM_LIMIT", "g"}}, "SESSION_MEM_LIMIT"},
        BadValue{{{"SESSION_SHM_SIZE", "99999999t"}}, "SESSION_SHM_SIZE"},
        BadValue{{{"SESSION_CPU_LIMIT", "0"}}, "SESSION_CPU_LIMIT"},
        BadValue{{{"SESSION_CPU_LIMIT", "2cpu"}}, "SESSION_CPU_LIMIT"},
        BadValue{{{"API_THREADS", "-1"}}, "API_THREADS"},
        BadValue{{{"API_THREADS", "1.5"}}, "API_THREADS"},
        BadValue{{{"API_THREADS", "257"}}, "API_THREADS"},
        BadValue{{{"DATABASE_URL", "postgres://db/x"}}, "DATABASE_URL"},
        BadValue{{{"DOMAIN", "exa mple.org"}}, "DOMAIN"},
        BadValue{{{"DOMAIN", ".example.org"}}, "DOMAIN"},
        BadValue{{{"PUBLIC_SCHEME", "ftp"}}, "PUBLIC_SCHEME"},
        BadValue{{{"PUBLIC_PORT", "0"}}, "PUBLIC_PORT"},
        BadValue{{{"AUTH_IDLE_TTL_SECONDS", "59"}}, "AUTH_IDLE_TTL_SECONDS"},
        BadValue{{{"AUTH_IDLE_TTL_SECONDS", "7200"}, {"AUTH_MAX_TTL_SECONDS", "3600"}},
                 "AUTH_IDLE_TTL_SECONDS"},
        BadValue{{{"MEDFORGE_BOOTSTRAP_ADMIN_EMAIL", "a@b.c"}}, "MEDFORGE_BOOTSTRAP_ADMIN_EMAIL"},
        BadValue{{{"SESSION_PROCESS_USER", "root"}}, "SESSION_PROCESS_USER"},
        BadValue{{{"SESSION_PROCESS_COMMAND", "code-server"}}, "SESSION_PROCESS_COMMAND"},
        BadValue{{{"DOCKER_HOST", "/var/run/docker.sock"}}, "DOCKER_HOST"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "172.30.0.1/24"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "172.30.0.0"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "172.30.0.0/30"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "172.30.0.0/x"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "fd00::/64"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"PUBLIC_SESSIONS_SUBNET", "::ffff:10.0.0.0/24"}}, "PUBLIC_SESSIONS_SUBNET"},
        BadValue{{{"LOG_LEVEL", "verbose"}}, "LOG_LEVEL"}));

TEST(Config, ReportsEveryProblemAtOnce) {
    const std::string msg = config_error({{"API_BIND", "nope"},
                                          {"AUTH_RATE_LIMIT", "abc"},
                                          {"GPU_IDS", "3,3"},
                                          {"SESSION_MEM_LIMIT", "64x"},
                                          {"LOG_LEVEL", "loud"}});
    for (const char* var :
         {"API_BIND", "AUTH_RATE_LIMIT", "GPU_IDS", "SESSION_MEM_LIMIT", "LOG_LEVEL"}) {
        EXPECT_THAT(msg, HasSubstr(names(var))) << var;
    }
    EXPECT_THAT(msg, Not(HasSubstr(names("DOMAIN"))));
}

TEST(Config, MessageQuotesTheBadValue) {
    EXPECT_THAT(config_error({{"API_THREADS", "lots"}}), HasSubstr("'lots'"));
}

// docs/configuration.md: "Sizes accept k, m, g, t suffixes (64g)".
TEST(Config, SizeSuffixes) {
    EXPECT_EQ(load({{"SESSION_MEM_LIMIT", "2k"}}).session_mem_limit_bytes, 2048);
    EXPECT_EQ(load({{"SESSION_MEM_LIMIT", "3G"}}).session_mem_limit_bytes, 3LL << 30);
    EXPECT_EQ(load({{"SESSION_MEM_LIMIT", "1t"}}).session_mem_limit_bytes, 1LL << 40);
}

// Regression (Reader::bytes): the optional 'b' after the unit letter is accepted ("64gb"), and a
// 'b' before it ("64bg") is not.
TEST(Config, SizeWithByteSuffix) {
    EXPECT_EQ(load({{"SESSION_MEM_LIMIT", "64gb"}}).session_mem_limit_bytes, 64LL << 30);
    (void)config_error({{"SESSION_MEM_LIMIT", "64bg"}});
}

TEST(Config, VariableNamesListEveryVariableOnce) {
    const auto& names = config_variable_names();
    for (const char* expected :
         {"DATABASE_URL", "SESSION_SECRET", "AUTH_RATE_LIMIT", "METRICS_ALLOW", "API_BIND",
          "TRUSTED_PROXIES", "GPU_IDS", "COOKIE_SAMESITE", "SESSION_MEM_LIMIT", "LOG_LEVEL"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
    }
    const std::set<std::string> unique(names.begin(), names.end());
    EXPECT_EQ(unique.size(), names.size()) << "a variable is read twice";
}

class SessionSecret : public ::testing::Test {
  protected:
    mftest::TempDir tmp;
    mftest::ScopedEnv no_secret{"SESSION_SECRET", std::nullopt};
};

TEST_F(SessionSecret, LocalInstallCreatesA0600FileAndReusesIt) {
    const std::string state = (tmp.path() / "state" / "nested").string();  // created on demand
    Config first = load({});
    resolve_session_secret(first, state);
    EXPECT_TRUE(first.session_secret_from_file);
    EXPECT_GE(first.session_secret.size(), 32u);

    const auto file = std::filesystem::path(state) / "session_secret";
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(file);
    std::string stored;
    std::getline(in, stored);
    EXPECT_EQ(stored, first.session_secret);

    Config second = load({});
    resolve_session_secret(second, state);
    EXPECT_EQ(second.session_secret, first.session_secret);
    EXPECT_TRUE(second.session_secret_from_file);

    // No temp file left behind.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(state)) ++entries;
    EXPECT_EQ(entries, 1u);
}

TEST_F(SessionSecret, DifferentInstallsGetDifferentSecrets) {
    Config a = load({});
    Config b = load({});
    resolve_session_secret(a, tmp.file("a"));
    resolve_session_secret(b, tmp.file("b"));
    EXPECT_NE(a.session_secret, b.session_secret);
}

TEST_F(SessionSecret, ProductionRefusesToStartWithoutOne) {
    Config c = load({{"DOMAIN", "example.org"}});
    try {
        resolve_session_secret(c, tmp.file("state"));
        FAIL() << "a non-local domain started without SESSION_SECRET";
    } catch (const ConfigError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("SESSION_SECRET"));
    }
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "state" / "session_secret"));
    EXPECT_TRUE(c.session_secret.empty());
}

TEST_F(SessionSecret, EnvironmentSecretWins) {
    const std::string secret(40, 'k');
    mftest::ScopedEnv env("SESSION_SECRET", secret);
    Config c = load({{"DOMAIN", "example.org"}});
    resolve_session_secret(c, tmp.file("state"));
    EXPECT_EQ(c.session_secret, secret);
    EXPECT_FALSE(c.session_secret_from_file);
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "state" / "session_secret"));
}

TEST_F(SessionSecret, ShortEnvironmentSecretIsRefused) {
    mftest::ScopedEnv env("SESSION_SECRET", "too-short");
    Config c = load({});
    EXPECT_THROW(resolve_session_secret(c, tmp.file("state")), ConfigError);
}

}  // namespace
}  // namespace medforge
