#include "auth/passwords.hpp"

#include <sodium.h>

#include <stdexcept>

#include "core/ids.hpp"

namespace medforge::auth {

Argon2idHasher::Argon2idHasher()
    : opslimit_(crypto_pwhash_OPSLIMIT_INTERACTIVE), memlimit_(crypto_pwhash_MEMLIMIT_INTERACTIVE) {
    ensure_crypto_initialised();
}

std::string Argon2idHasher::hash(std::string_view password) const {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing ran out of memory");
    }
    return out;
}

bool Argon2idHasher::verify(std::string_view stored_hash, std::string_view password) const {
    // crypto_pwhash_str_verify needs a NUL-terminated string.
    std::string stored(stored_hash);
    return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

}  // namespace medforge::auth
