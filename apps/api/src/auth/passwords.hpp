#pragma once

#include <string>
#include <string_view>

namespace medforge::auth {

// Hashes and checks passwords. An interface so tests can count calls (login must do exactly one
// verification whether or not the email exists).
class PasswordHasher {
  public:
    virtual ~PasswordHasher() = default;
    virtual std::string hash(std::string_view password) const = 0;
    virtual bool verify(std::string_view stored_hash, std::string_view password) const = 0;
};

// Argon2id through libsodium's crypto_pwhash_str_alg, with at least the interactive limits.
class Argon2idHasher final : public PasswordHasher {
  public:
    Argon2idHasher();
    std::string hash(std::string_view password) const override;
    bool verify(std::string_view stored_hash, std::string_view password) const override;

  private:
    unsigned long long opslimit_;
    std::size_t memlimit_;
};

}  // namespace medforge::auth
