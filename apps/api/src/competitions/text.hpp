#pragma once

// Byte-level text helpers shared by the competitions parsers (CSV reader, RLE decoder).

#include <cstddef>
#include <string>
#include <string_view>

namespace medforge::competitions {

// What check_utf8_sequence found at a byte >= 0x80.
enum class Utf8Status { kValid, kInvalid, kIncomplete };

struct Utf8Check {
    Utf8Status status;
    std::size_t length;  // bytes in the sequence when kValid
};

// Checks the multi-byte UTF-8 sequence starting at p[0] (which must be >= 0x80) with `avail`
// bytes readable. Rejects stray continuation bytes, overlong forms (C0, C1, E0 80..9F,
// F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF. kIncomplete means the bytes
// seen so far are a valid prefix but the sequence runs past `avail` (a streaming reader asks for
// more input; at end of input it is an error).
inline Utf8Check check_utf8_sequence(const unsigned char* p, std::size_t avail) {
    const unsigned char b0 = p[0];
    std::size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    // Below C2: a continuation byte or an overlong 2-byte lead; F5 and up: beyond U+10FFFF.
    if (b0 < 0xC2 || b0 >= 0xF5) return {Utf8Status::kInvalid, 0};
    if (b0 < 0xE0) {
        need = 2;
    } else if (b0 < 0xF0) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;  // overlong
        if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;  // overlong
        if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
    }
    for (std::size_t i = 1; i < need; ++i) {
        if (i >= avail) return {Utf8Status::kIncomplete, 0};
        const unsigned char b = p[i];
        if (b < lo || b > hi) return {Utf8Status::kInvalid, 0};
        lo = 0x80;
        hi = 0xBF;
    }
    return {Utf8Status::kValid, need};
}

// `text` in double quotes for an error message: cut to about 40 bytes (at a character boundary,
// marked with "..."), with quotes, backslashes, control bytes and invalid UTF-8 escaped, so a
// hostile value can neither flood a message nor break the JSON or log line that carries it.
std::string quote_excerpt(std::string_view text, std::size_t max_bytes = 40);

}  // namespace medforge::competitions
