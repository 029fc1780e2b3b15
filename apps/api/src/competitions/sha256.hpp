#pragma once

// Streaming SHA-256 (FIPS 180-4). Uses the x86 SHA extensions when the CPU has them (about three
// times libsodium's portable code, which matters when a bundle's ~25 MB are hashed at every
// load), else portable code. Both give the same digests; the tests compare them with libsodium.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace medforge::competitions {

class Sha256 {
  public:
    using Digest = std::array<unsigned char, 32>;

    // use_cpu_extensions = false forces the portable code (for tests).
    explicit Sha256(bool use_cpu_extensions = true);
    void update(std::string_view bytes);
    // The digest of everything passed to update; the object must not be used afterwards.
    Digest finish();

    // Whether this CPU has the SHA extensions (and the SSE4.1 the code needs with them).
    static bool cpu_extensions_available();

  private:
    using BlockFunction = void (*)(std::uint32_t* state, const unsigned char* blocks,
                                   std::size_t count);
    BlockFunction blocks_;
    std::array<std::uint32_t, 8> state_;
    std::array<unsigned char, 64> pending_{};
    std::size_t pending_size_ = 0;
    std::uint64_t total_ = 0;
};

// Lower-case hex of a digest.
std::string digest_hex(const Sha256::Digest& digest);

}  // namespace medforge::competitions
