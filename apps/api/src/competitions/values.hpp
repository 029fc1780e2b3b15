#pragma once

// The exact number grammars of the competitions spec ("Parsing conventions"). Non-throwing: they
// run once per field on the upload and scoring paths.

#include <cstdint>
#include <string_view>

namespace medforge::competitions {

enum class ValueError : std::uint8_t {
    kNone,
    kEmpty,
    kNotInteger,         // breaks [+-]?[0-9]+
    kIntegerOutOfRange,  // outside the signed 64-bit range
    kNotDecimal,         // breaks the decimal float grammar
    kFloatOverflow,      // the magnitude rounds to infinity
};

template <class T>
struct Parsed {
    T value{};
    ValueError error = ValueError::kNone;
    explicit operator bool() const noexcept { return error == ValueError::kNone; }
};

// `[+-]?[0-9]+` (leading zeros allowed) within int64; "1.0", " 1" and "0x1" are not integers.
Parsed<std::int64_t> parse_int64(std::string_view text) noexcept;

// Decimal only: `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`, correctly rounded. No hex,
// inf or nan, no surrounding spaces. Underflow gives 0 or a subnormal; overflow is kFloatOverflow;
// -0 reads as +0, so the value is always finite and never negative zero.
Parsed<double> parse_float(std::string_view text) noexcept;

// A short English phrase for an error ("not an integer"), for messages that name line and column.
std::string_view describe(ValueError error) noexcept;

}  // namespace medforge::competitions
