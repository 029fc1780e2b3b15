#include "competitions/rle.hpp"

#include <limits>

#include "competitions/text.hpp"

namespace medforge::competitions {

namespace {

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

RleError::RleError(std::size_t token, std::string reason)
    : std::runtime_error("RLE token " + std::to_string(token) + ": " + reason),
      token_(token),
      reason_(std::move(reason)) {}

std::vector<PixelRun> decode_rle(std::string_view mask, std::uint64_t width, std::uint64_t height) {
    std::vector<PixelRun> runs;
    decode_rle_into(mask, width, height, runs);
    return runs;
}

void decode_rle_into(std::string_view mask, std::uint64_t width, std::uint64_t height,
                     std::vector<PixelRun>& runs) {
    runs.clear();
    // An image too large for 64 bits bounds nothing a token can express.
    std::uint64_t pixels = 0;
    if (__builtin_mul_overflow(width, height, &pixels)) {
        pixels = std::numeric_limits<std::uint64_t>::max();
    }

    std::size_t token = 0;
    std::uint64_t start = 0;  // of the pending pair, once its start token is read
    bool have_start = false;
    std::uint64_t prev_start = 0;  // 1-based start of the previous run (0: none yet)
    std::uint64_t prev_end = 0;    // 0-based exclusive end of the previous run

    std::size_t i = 0;
    const std::size_t n = mask.size();
    for (;;) {
        while (i < n && is_separator(mask[i])) ++i;
        if (i == n) break;
        ++token;
        const std::size_t token_begin = i;
        std::uint64_t value = 0;
        bool digits_only = true;
        bool overflow = false;
        for (; i < n && !is_separator(mask[i]); ++i) {
            const char c = mask[i];
            if (c < '0' || c > '9') {
                digits_only = false;
                continue;
            }
            const auto d = static_cast<std::uint64_t>(c - '0');
            if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) overflow = true;
            value = value * 10 + d;
        }
        const std::string_view text = mask.substr(token_begin, i - token_begin);
        if (!digits_only) {
            throw RleError(token, quote_excerpt(text) +
                                      " is not a non-negative integer (tokens are digits "
                                      "separated by spaces, tabs or newlines)");
        }
        if (overflow) throw RleError(token, quote_excerpt(text) + " does not fit in 64 bits");

        if (!have_start) {
            if (value == 0) throw RleError(token, "start must be at least 1 (starts are 1-based)");
            if (prev_start != 0 && value <= prev_start) {
                throw RleError(token, "start " + std::to_string(value) +
                                          " is not greater than the previous start " +
                                          std::to_string(prev_start));
            }
            if (value - 1 < prev_end) {
                throw RleError(token, "run at start " + std::to_string(value) +
                                          " overlaps the previous run, which ends at pixel " +
                                          std::to_string(prev_end));
            }
            if (value > pixels) {
                throw RleError(token, "start " + std::to_string(value) +
                                          " is past the last pixel of the image (" +
                                          std::to_string(pixels) + ")");
            }
            start = value;
            have_start = true;
            continue;
        }
        if (value == 0) throw RleError(token, "length must be at least 1");
        // start <= pixels here, so neither side can overflow.
        if (value - 1 > pixels - start) {
            throw RleError(token, "run of length " + std::to_string(value) + " at start " +
                                      std::to_string(start) +
                                      " ends past the last pixel of the image (" +
                                      std::to_string(pixels) + ")");
        }
        runs.push_back({start - 1, start - 1 + value});
        prev_start = start;
        prev_end = start - 1 + value;
        have_start = false;
    }
    if (have_start) {
        throw RleError(token, "start has no length (the mask has an odd number of tokens)");
    }
}

}  // namespace medforge::competitions
