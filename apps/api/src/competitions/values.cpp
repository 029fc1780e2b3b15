#include "competitions/values.hpp"

#include <charconv>
#include <limits>
#include <system_error>

namespace medforge::competitions {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::size_t skip_digits(std::string_view s, std::size_t i) {
    while (i < s.size() && is_digit(s[i])) ++i;
    return i;
}

constexpr long long kExponentCap = 1'000'000'000;

// Decimal exponent of the leading non-zero digit of a mantissa split at the point (e.g. "0012"
// "5" → 1, "" "0034" → -3); an all-zero mantissa counts as infinitely small.
long long leading_digit_power(std::string_view int_digits, std::string_view frac_digits) {
    const std::size_t i = int_digits.find_first_not_of('0');
    if (i != std::string_view::npos) return static_cast<long long>(int_digits.size() - i) - 1;
    const std::size_t j = frac_digits.find_first_not_of('0');
    if (j == std::string_view::npos) return -4 * kExponentCap;
    return -static_cast<long long>(j) - 1;
}

// The exponent's value, saturated far beyond any double's range so it cannot overflow.
long long saturated_exponent(std::string_view digits, bool negative) {
    long long v = 0;
    for (char c : digits) {
        v = v * 10 + (c - '0');
        if (v > kExponentCap) {
            v = kExponentCap;
            break;
        }
    }
    return negative ? -v : v;
}

}  // namespace

Parsed<std::int64_t> parse_int64(std::string_view text) noexcept {
    if (text.empty()) return {0, ValueError::kEmpty};
    std::size_t i = 0;
    const bool negative = text[0] == '-';
    if (text[0] == '+' || text[0] == '-') ++i;
    if (i == text.size()) return {0, ValueError::kNotInteger};
    // The magnitude is accumulated unsigned (|INT64_MIN| does not fit in int64). Up to 18 digits
    // cannot overflow, so the common case skips the overflow checks.
    std::uint64_t magnitude = 0;
    bool overflow = false;
    if (text.size() - i <= 18) {
        for (; i < text.size(); ++i) {
            const auto d = static_cast<unsigned char>(text[i] - '0');
            if (d > 9) return {0, ValueError::kNotInteger};
            magnitude = magnitude * 10 + d;
        }
    } else {
        // Overflow is noted, not returned, so trailing garbage still reads as "not an integer".
        for (; i < text.size(); ++i) {
            const auto d = static_cast<unsigned char>(text[i] - '0');
            if (d > 9) return {0, ValueError::kNotInteger};
            overflow |= __builtin_mul_overflow(magnitude, 10u, &magnitude);
            overflow |= __builtin_add_overflow(magnitude, d, &magnitude);
        }
    }
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    if (overflow || magnitude > limit) return {0, ValueError::kIntegerOutOfRange};
    // Two's-complement negation done unsigned, so INT64_MIN needs no signed overflow.
    return {static_cast<std::int64_t>(negative ? ~magnitude + 1 : magnitude), ValueError::kNone};
}

Parsed<double> parse_float(std::string_view text) noexcept {
    if (text.empty()) return {0, ValueError::kEmpty};
    std::size_t i = 0;
    const bool negative = text[0] == '-';
    if (text[0] == '+' || text[0] == '-') ++i;

    // The significant digits (leading zeros dropped) are gathered while they fit in 64 bits.
    std::uint64_t mantissa = 0;
    std::size_t significant = 0;
    auto take_digits = [&](std::size_t from) {
        std::size_t k = from;
        if (mantissa == 0) {
            while (k < text.size() && text[k] == '0') ++k;
        }
        for (; k < text.size(); ++k) {
            const auto d = static_cast<unsigned char>(text[k] - '0');
            if (d > 9) break;
            // 19 digits always fit in 64 bits; later ones are only counted (they send the value
            // to from_chars).
            if (significant < 19) mantissa = mantissa * 10 + d;
            ++significant;
        }
        return text.substr(from, k - from);
    };
    const std::string_view int_digits = take_digits(i);
    i += int_digits.size();
    std::string_view frac_digits;
    if (i < text.size() && text[i] == '.') {
        frac_digits = take_digits(++i);
        i += frac_digits.size();
    }
    if (int_digits.empty() && frac_digits.empty()) return {0, ValueError::kNotDecimal};
    long long exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool exp_negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
        const std::size_t exp_begin = i;
        i = skip_digits(text, i);
        if (i == exp_begin) return {0, ValueError::kNotDecimal};
        exponent = saturated_exponent(text.substr(exp_begin, i - exp_begin), exp_negative);
    }
    if (i != text.size()) return {0, ValueError::kNotDecimal};

    if (mantissa == 0) return {0.0, ValueError::kNone};  // any zero, -0 included, is +0
    // Clinger's fast path: an exact mantissa (< 2^53) times or over an exact power of ten
    // (<= 1e22) is one correctly rounded operation. It covers the usual "0.123456789" values.
    const long long power = exponent - static_cast<long long>(frac_digits.size());
    if (significant <= 15 && power >= -22 && power <= 22) {
        static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        const auto m = static_cast<double>(mantissa);
        const double v = power < 0 ? m / kPow10[-power] : m * kPow10[power];
        return {negative ? -v : v, ValueError::kNone};
    }

    // The grammar is checked, so from_chars (which rejects a leading '+' and would accept inf,
    // nan and hex spellings we refuse) only converts.
    const char* first = text.data() + (text[0] == '+' ? 1 : 0);
    const char* last = text.data() + text.size();
    double value = 0;
    const auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::general);
    if (ec == std::errc::result_out_of_range) {
        // from_chars reports both ends of the range alike; only the large end is an error.
        if (leading_digit_power(int_digits, frac_digits) + exponent >= 0) {
            return {0, ValueError::kFloatOverflow};
        }
        return {0.0, ValueError::kNone};
    }
    if (ec != std::errc() || ptr != last) return {0, ValueError::kNotDecimal};
    if (value == 0) value = 0.0;  // an underflow to -0 reads as +0
    return {value, ValueError::kNone};
}

std::string_view describe(ValueError error) noexcept {
    switch (error) {
        case ValueError::kNone:
            return "valid";
        case ValueError::kEmpty:
            return "empty value";
        case ValueError::kNotInteger:
            return "not an integer";
        case ValueError::kIntegerOutOfRange:
            return "integer out of the signed 64-bit range";
        case ValueError::kNotDecimal:
            return "not a decimal number";
        case ValueError::kFloatOverflow:
            return "number too large (overflows to infinity)";
    }
    return "invalid value";
}

}  // namespace medforge::competitions
