#pragma once

#include <string>
#include <string_view>

namespace medforge::auth {

constexpr std::string_view kAccessTokenPrefix = "mfp_";

// 32 random bytes, URL-safe base64 without padding (43 characters).
std::string new_session_token();
// "mfp_" + 32 random bytes in URL-safe base64: a personal access token for scripts.
std::string new_access_token();
// HMAC-SHA256(secret, token) as 64 lower-case hex characters: the only form the DB stores.
std::string token_hash(std::string_view secret, std::string_view token);
// A presented token must look like one we issue; anything else is refused before any lookup.
bool plausible_token(std::string_view token);

}  // namespace medforge::auth
