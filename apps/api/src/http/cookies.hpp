#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace medforge::http {

// Every value of cookie `name` across all Cookie header fields (two means a planted cookie),
// as views into those headers.
std::vector<std::string_view> cookie_values(const std::vector<std::string_view>& cookie_headers,
                                            std::string_view name);

// Set-Cookie for a new login: HttpOnly, Path=/, Domain, SameSite, Secure, Max-Age.
std::string session_cookie(const Config& config, const std::string& token);
// Set-Cookie that clears the login cookie.
std::string clear_session_cookie(const Config& config);

}  // namespace medforge::http
