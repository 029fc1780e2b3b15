#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace medforge {

// Calls sodium_init once; safe to call from any thread, any number of times.
void ensure_crypto_initialised();

std::vector<std::uint8_t> random_bytes(std::size_t n);
std::string uuid_v4();
// A UUIDv4-shaped id from a fast per-thread generator (seeded from the OS): for request ids,
// which must be unique, not secret.
std::string request_uuid();
bool is_uuid(std::string_view s);
std::string to_hex(const std::uint8_t* data, std::size_t n);
std::string base64url_encode(const std::uint8_t* data, std::size_t n);
// Returns false on malformed input.
bool base64url_decode(std::string_view in, std::string& out);
// Constant-time equality for secrets of equal length; false when lengths differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace medforge
