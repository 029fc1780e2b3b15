#include "http/cookies.hpp"

#include "core/strings.hpp"

namespace medforge::http {

namespace {

std::string attributes(const Config& c, std::int64_t max_age) {
    std::string out = "; Path=/";
    if (!c.cookie_domain.empty()) out += "; Domain=" + c.cookie_domain;
    out += "; Max-Age=" + std::to_string(max_age);
    out += "; HttpOnly";
    out += c.cookie_samesite == SameSite::strict ? "; SameSite=Strict"
           : c.cookie_samesite == SameSite::none ? "; SameSite=None"
                                                 : "; SameSite=Lax";
    if (c.cookie_secure) out += "; Secure";
    return out;
}

}  // namespace

std::vector<std::string_view> cookie_values(const std::vector<std::string_view>& cookie_headers,
                                            std::string_view name) {
    std::vector<std::string_view> out;
    for (auto header : cookie_headers) {
        while (!header.empty()) {
            auto semi = header.find(';');
            auto pair = trim(header.substr(0, semi));
            header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
            auto eq = pair.find('=');
            if (eq == std::string_view::npos) continue;
            if (trim(pair.substr(0, eq)) != name) continue;
            auto value = trim(pair.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            out.emplace_back(value);
        }
    }
    return out;
}

std::string session_cookie(const Config& config, const std::string& token) {
    return config.cookie_name + "=" + token + attributes(config, config.auth_max_ttl_seconds);
}

std::string clear_session_cookie(const Config& config) {
    return config.cookie_name + "=" + attributes(config, 0);
}

}  // namespace medforge::http
