// libFuzzer target for the CSV reader and the number grammars. Besides "never crash", it checks
// that reading through tiny reads and blocks gives exactly what one big read gives, that records
// match the header's width on increasing lines, that error messages stay short and valid UTF-8,
// and that parse_float agrees with std::from_chars on every field it accepts.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -fno-sanitize=function \
//     -Iapps/api/src apps/api/tests/fuzz/csv_fuzz.cpp apps/api/src/competitions/*.cpp \
//     -o /tmp/csv_fuzz && /tmp/csv_fuzz -dict=apps/api/tests/fuzz/csv.dict -max_total_time=60

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "../support/chunked_source.hpp"
#include "competitions/csv_reader.hpp"
#include "competitions/values.hpp"
#include "fuzz_checks.hpp"

namespace {

using namespace medforge::competitions;
using fuzz::check;

using medforge::testing::ChunkedSource;

// Differential checks against std::from_chars (which rejects a leading '+').
void check_values(std::string_view field) {
    const char* last = field.data() + field.size();
    const auto i = parse_int64(field);
    if (i || i.error == ValueError::kIntegerOutOfRange) {
        std::int64_t expected = 0;
        const auto [ptr, ec] = std::from_chars(field.data() + (field[0] == '+'), last, expected);
        check(ptr == last, "from_chars reads the whole accepted integer");
        check(i ? ec == std::errc() && expected == i.value : ec == std::errc::result_out_of_range,
              "parse_int64 agrees with from_chars");
    }
    const auto f = parse_float(field);
    if (!f) return;
    check(std::isfinite(f.value) && !(f.value == 0 && std::signbit(f.value)),
          "float is finite and never -0");
    double expected = 0;
    const auto [ptr, ec] = std::from_chars(field.data() + (field[0] == '+'), last, expected);
    check(ptr == last, "from_chars reads the whole accepted float");
    if (ec == std::errc::result_out_of_range) {
        check(f.value == 0, "out of range for from_chars means an underflow to 0");
    } else {
        check(ec == std::errc() && f.value == (expected == 0 ? 0.0 : expected),
              "parse_float agrees with from_chars");
    }
}

// Everything the reader produced, as one string, so two readings can be compared.
std::string outcome(ByteSource& source, CsvReaderOptions options, bool deep) {
    std::string out;
    try {
        CsvReader reader(source, options);
        const Header& header = reader.header();
        check(header.size() >= 1, "a header has at least one column");
        for (std::size_t i = 0; i < header.size(); ++i) {
            out.append(header.name(i)).push_back('\x1F');
        }
        Record rec;
        std::size_t last_line = header.physical_line();
        while (reader.next(rec)) {
            check(rec.size() == header.size(), "record width matches the header");
            check(rec.physical_line() > last_line, "records start on increasing lines");
            last_line = rec.physical_line();
            out += '\n' + std::to_string(last_line) + ':';
            for (std::size_t i = 0; i < rec.size(); ++i) {
                if (deep) check_values(rec[i]);
                out.append(rec[i]).push_back('\x1F');
            }
        }
    } catch (const CsvError& e) {
        fuzz::check_message(e.what());
        check(e.line() >= 1, "errors name a line");
        out += "\nerror: ";
        out += e.what();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte picks the read and block sizes of the streamed reading.
    const std::size_t chunk = 1 + (data[0] & 0x0F);
    const std::size_t block = 1 + (data[0] >> 4);
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

    MemorySource whole(text);
    const std::string expected = outcome(whole, {}, true);
    ChunkedSource chunked(text, chunk);
    check(outcome(chunked, {.block_size = block}, false) == expected,
          "streamed reading gives what one big read gives");
    return 0;
}
