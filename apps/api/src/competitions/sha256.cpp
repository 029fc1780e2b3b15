#include "competitions/sha256.hpp"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace medforge::competitions {

namespace {

constexpr std::array<std::uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::array<std::uint32_t, 8> kInitial = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

std::uint32_t load_be32(const unsigned char* p) {
    return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
           (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

void portable_blocks(std::uint32_t* state, const unsigned char* data, std::size_t count) {
    for (; count > 0; --count, data += 64) {
        std::array<std::uint32_t, 64> w{};
        for (std::size_t i = 0; i < 16; ++i) w[i] = load_be32(data + 4 * i);
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = state[0];
        std::uint32_t b = state[1];
        std::uint32_t c = state[2];
        std::uint32_t d = state[3];
        std::uint32_t e = state[4];
        std::uint32_t f = state[5];
        std::uint32_t g = state[6];
        std::uint32_t h = state[7];
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            const std::uint32_t ch = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + s1 + ch + kRound[i] + w[i];
            const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = s0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

#if defined(__x86_64__)

#define MEDFORGE_SHA_NI __attribute__((target("sha,sse4.1")))

// Four rounds with message words W[4g..4g+3] (lambdas would not inherit the target attribute).
MEDFORGE_SHA_NI inline void sha_ni_rounds(__m128i& state0, __m128i& state1, __m128i w,
                                          std::size_t g) {
    __m128i msg =
        _mm_add_epi32(w, _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kRound[4 * g])));
    state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
    msg = _mm_shuffle_epi32(msg, 0x0E);
    state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
}

// The next four message words from the four groups before them: a = W[t-16..t-13], b =
// W[t-12..t-9], c = W[t-8..t-5], d = W[t-4..t-1].
MEDFORGE_SHA_NI inline __m128i sha_ni_extend(__m128i a, __m128i b, __m128i c, __m128i d) {
    __m128i t = _mm_sha256msg1_epu32(a, b);
    t = _mm_add_epi32(t, _mm_alignr_epi8(d, c, 4));
    return _mm_sha256msg2_epu32(t, d);
}

// The SHA-NI formulation of Intel's white paper ("Intel SHA Extensions", 2013): the state is kept
// as ABEF / CDGH, sha256rnds2 does two rounds, sha256msg1/msg2 extend the message schedule.
MEDFORGE_SHA_NI void sha_ni_blocks(std::uint32_t* state, const unsigned char* data,
                                   std::size_t count) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
    __m128i state1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                // CDAB
    state1 = _mm_shuffle_epi32(state1, 0x1B);          // EFGH
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);  // ABEF
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);       // CDGH

    for (; count > 0; --count, data += 64) {
        const __m128i abef = state0;
        const __m128i cdgh = state1;
        __m128i w0 =
            _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data)), byte_swap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16)),
                                      byte_swap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 32)),
                                      byte_swap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 48)),
                                      byte_swap);
        sha_ni_rounds(state0, state1, w0, 0);
        sha_ni_rounds(state0, state1, w1, 1);
        sha_ni_rounds(state0, state1, w2, 2);
        sha_ni_rounds(state0, state1, w3, 3);
        for (std::size_t g = 4; g < 16; g += 4) {
            w0 = sha_ni_extend(w0, w1, w2, w3);
            sha_ni_rounds(state0, state1, w0, g);
            w1 = sha_ni_extend(w1, w2, w3, w0);
            sha_ni_rounds(state0, state1, w1, g + 1);
            w2 = sha_ni_extend(w2, w3, w0, w1);
            sha_ni_rounds(state0, state1, w2, g + 2);
            w3 = sha_ni_extend(w3, w0, w1, w2);
            sha_ni_rounds(state0, state1, w3, g + 3);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
    }

    tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
    state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
    state1 = _mm_alignr_epi8(state1, tmp, 8);     // ABEF
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), state0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), state1);
}

#undef MEDFORGE_SHA_NI

bool detect_sha_ni() {
    unsigned eax = 0;
    unsigned ebx = 0;
    unsigned ecx = 0;
    unsigned edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    const bool ssse3 = (ecx & bit_SSSE3) != 0;
    const bool sse41 = (ecx & bit_SSE4_1) != 0;
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
    const bool sha = (ebx & (1U << 29)) != 0;
    return ssse3 && sse41 && sha;
}

#endif

}  // namespace

bool Sha256::cpu_extensions_available() {
#if defined(__x86_64__)
    static const bool available = detect_sha_ni();
    return available;
#else
    return false;
#endif
}

Sha256::Sha256(bool use_cpu_extensions) : blocks_(&portable_blocks), state_(kInitial) {
#if defined(__x86_64__)
    if (use_cpu_extensions && cpu_extensions_available()) blocks_ = &sha_ni_blocks;
#endif
}

void Sha256::update(std::string_view bytes) {
    total_ += bytes.size();
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    if (pending_size_ > 0) {
        const std::size_t take = std::min(n, pending_.size() - pending_size_);
        std::memcpy(pending_.data() + pending_size_, p, take);
        pending_size_ += take;
        p += take;
        n -= take;
        if (pending_size_ < pending_.size()) return;
        blocks_(state_.data(), pending_.data(), 1);
        pending_size_ = 0;
    }
    if (n >= 64) {
        blocks_(state_.data(), p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    if (n > 0) std::memcpy(pending_.data(), p, n);
    pending_size_ = n;
}

Sha256::Digest Sha256::finish() {
    const std::uint64_t bits = total_ * 8;
    // 0x80, zeros up to 56 mod 64, then the bit length big-endian.
    std::array<unsigned char, 72> tail{};
    tail[0] = 0x80;
    const std::size_t zeros = (pending_size_ < 56 ? 56 : 120) - pending_size_ - 1;
    for (std::size_t i = 0; i < 8; ++i) {
        tail[1 + zeros + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    }
    const std::uint64_t total = total_;
    update(std::string_view(reinterpret_cast<const char*>(tail.data()), 1 + zeros + 8));
    total_ = total;
    Digest out{};
    for (std::size_t i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<unsigned char>(state_[i] >> 24);
        out[4 * i + 1] = static_cast<unsigned char>(state_[i] >> 16);
        out[4 * i + 2] = static_cast<unsigned char>(state_[i] >> 8);
        out[4 * i + 3] = static_cast<unsigned char>(state_[i]);
    }
    return out;
}

std::string digest_hex(const Sha256::Digest& digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * digest.size(), '0');
    for (std::size_t i = 0; i < digest.size(); ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 0xF];
    }
    return out;
}

}  // namespace medforge::competitions
