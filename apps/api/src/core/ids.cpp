#include "core/ids.hpp"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace medforge {

void ensure_crypto_initialised() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    });
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    ensure_crypto_initialised();
    std::vector<std::uint8_t> out(n);
    if (n > 0) randombytes_buf(out.data(), n);
    return out;
}

std::string to_hex(const std::uint8_t* data, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0xF];
    }
    return out;
}

std::string uuid_v4() {
    auto b = random_bytes(16);
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
    std::string hex = to_hex(b.data(), b.size());
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string request_uuid() {
    // xorshift128+ per thread, seeded once from libsodium.
    thread_local std::uint64_t state[2] = {0, 0};
    if (state[0] == 0 && state[1] == 0) {
        auto seed = random_bytes(16);
        std::memcpy(state, seed.data(), 16);
        state[0] |= 1;
    }
    auto next = [] {
        std::uint64_t s1 = state[0];
        const std::uint64_t s0 = state[1];
        state[0] = s0;
        s1 ^= s1 << 23;
        state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
        return state[1] + s0;
    };
    std::uint8_t b[16];
    const std::uint64_t a = next();
    const std::uint64_t c = next();
    std::memcpy(b, &a, 8);
    std::memcpy(b + 8, &c, 8);
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(36, '-');
    std::size_t pos = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // the dashes
        out[pos++] = kHex[b[i] >> 4];
        out[pos++] = kHex[b[i] & 0x0F];
    }
    return out;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::string base64url_encode(const std::uint8_t* data, std::size_t n) {
    ensure_crypto_initialised();
    const auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_ENCODED_LEN(n, variant), '\0');
    sodium_bin2base64(out.data(), out.size(), data, n, variant);
    out.resize(out.size() - 1);  // drop the terminating NUL
    return out;
}

bool base64url_decode(std::string_view in, std::string& out) {
    ensure_crypto_initialised();
    out.assign(in.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                          in.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return false;
    }
    out.resize(len);
    return true;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace medforge
