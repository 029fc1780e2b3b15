// libFuzzer target for the RLE decoder. Besides "never crash", it checks that decoded runs are
// sorted, disjoint, non-empty and inside the image, that re-encoding them decodes to the same
// runs, and that error messages stay short and valid UTF-8.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -fno-sanitize=function \
//     -Iapps/api/src apps/api/tests/fuzz/rle_fuzz.cpp apps/api/src/competitions/*.cpp \
//     -o /tmp/rle_fuzz && /tmp/rle_fuzz -dict=apps/api/tests/fuzz/rle.dict -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "competitions/rle.hpp"
#include "fuzz_checks.hpp"

namespace {

using namespace medforge::competitions;
using fuzz::check;

// Image sides from one byte each; 0xFF stands for 2^64 - 1 so the overflow paths are reached.
std::uint64_t side(std::uint8_t b) {
    return b == 0xFF ? std::numeric_limits<std::uint64_t>::max() : b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint64_t width = side(data[0]);
    const std::uint64_t height = side(data[1]);
    std::uint64_t pixels = 0;
    if (__builtin_mul_overflow(width, height, &pixels)) {
        pixels = std::numeric_limits<std::uint64_t>::max();
    }
    const std::string_view mask(reinterpret_cast<const char*>(data) + 2, size - 2);

    std::vector<PixelRun> runs;
    try {
        runs = decode_rle(mask, width, height);
    } catch (const RleError& e) {
        fuzz::check_message(e.what());
        check(e.token() >= 1, "errors name a token");
        return 0;
    }
    std::string encoded;
    std::uint64_t previous_end = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const PixelRun& r = runs[i];
        check(r.begin < r.end, "runs are non-empty");
        check(r.end <= pixels, "runs end inside the image");
        check(i == 0 || r.begin >= previous_end, "runs are sorted and disjoint");
        previous_end = r.end;
        encoded += std::to_string(r.begin + 1) + ' ' + std::to_string(r.end - r.begin) + ' ';
    }
    check(decode_rle(encoded, width, height) == runs, "re-encoded runs decode to the same runs");
    return 0;
}
