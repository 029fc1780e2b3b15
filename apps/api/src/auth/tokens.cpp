#include "auth/tokens.hpp"

#include <sodium.h>

#include "core/ids.hpp"

namespace medforge::auth {

std::string new_session_token() {
    auto b = random_bytes(32);
    return base64url_encode(b.data(), b.size());
}

std::string new_access_token() { return std::string(kAccessTokenPrefix) + new_session_token(); }

std::string token_hash(std::string_view secret, std::string_view token) {
    ensure_crypto_initialised();
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                                secret.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(token.data()),
                                  token.size());
    crypto_auth_hmacsha256_final(&st, mac);
    return to_hex(mac, sizeof mac);
}

bool plausible_token(std::string_view token) {
    if (token.size() < 20 || token.size() > 128) return false;
    for (char c : token) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace medforge::auth
