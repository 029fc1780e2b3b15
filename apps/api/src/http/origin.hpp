#pragma once

#include <string_view>

#include "core/config.hpp"

namespace medforge::http {

// Whether `origin` (an Origin header value) is the web host or the API host of this install, or,
// for a local domain, localhost/127.0.0.1 on any port. Session hosts (s-*) never are: they serve
// user-controlled content.
bool origin_allowed(const Config& config, std::string_view origin);

}  // namespace medforge::http
