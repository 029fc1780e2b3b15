#include "competitions/sha256.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <iostream>
#include <random>
#include <string>

#include "competitions/bundle.hpp"

namespace {

using medforge::competitions::digest_hex;
using medforge::competitions::Sha256;

std::string sodium_hex(const std::string& bytes) {
    Sha256::Digest d{};
    crypto_hash_sha256(d.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size());
    return digest_hex(d);
}

std::string hash_with(bool extensions, const std::string& bytes, std::size_t piece) {
    Sha256 sha(extensions);
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
        sha.update(std::string_view(bytes).substr(i, piece));
    }
    return digest_hex(sha.finish());
}

TEST(Sha256, KnownVectors) {
    for (bool ext : {false, true}) {
        EXPECT_EQ(hash_with(ext, "", 1),
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        EXPECT_EQ(hash_with(ext, "abc", 1),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        EXPECT_EQ(hash_with(ext, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 7),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        EXPECT_EQ(hash_with(ext, std::string(1000000, 'a'), 4096),
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}

TEST(Sha256, MatchesLibsodiumAtEveryLengthAndSplit) {
    std::mt19937 rng(7);
    std::string bytes;
    for (std::size_t len = 0; len < 300; ++len) {
        for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{64}, len + 1}) {
            const std::string expected = sodium_hex(bytes);
            ASSERT_EQ(hash_with(false, bytes, piece), expected) << len << " " << piece;
            ASSERT_EQ(hash_with(true, bytes, piece), expected) << len << " " << piece;
        }
        bytes.push_back(static_cast<char>(rng()));
    }
    bytes.resize(std::size_t{3} * 1024 * 1024 + 17);
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(hash_with(true, bytes, 100000), sodium_hex(bytes));
    EXPECT_EQ(hash_with(false, bytes, bytes.size()), sodium_hex(bytes));
    EXPECT_EQ(medforge::competitions::sha256_hex(bytes), sodium_hex(bytes));
}

TEST(Sha256, ReportsWhetherTheCpuExtensionsAreUsed) {
    // Informational: both paths are tested above either way (without the extensions the
    // "extensions" runs use the portable code too).
    std::cout << "SHA extensions: " << (Sha256::cpu_extensions_available() ? "yes" : "no") << "\n";
    SUCCEED();
}

}  // namespace
