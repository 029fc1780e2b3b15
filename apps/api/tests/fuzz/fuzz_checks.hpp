#pragma once

// Checks shared by the fuzz targets: a broken invariant aborts, which libFuzzer reports as a
// crash with the input that caused it.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "competitions/text.hpp"

namespace medforge::competitions::fuzz {

inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

// Error messages end up in JSON responses and log lines: they must be short and valid UTF-8.
inline void check_message(std::string_view message) {
    check(message.size() < 512, "error message is short");
    const auto* p = reinterpret_cast<const unsigned char*>(message.data());
    for (std::size_t i = 0; i < message.size();) {
        if (p[i] < 0x80) {
            check(p[i] >= 0x20 || p[i] == '\t', "error message has no control bytes");
            ++i;
            continue;
        }
        const Utf8Check u = check_utf8_sequence(p + i, message.size() - i);
        check(u.status == Utf8Status::kValid, "error message is valid UTF-8");
        i += u.length;
    }
}

}  // namespace medforge::competitions::fuzz
