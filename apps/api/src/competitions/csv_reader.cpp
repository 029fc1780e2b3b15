#include "competitions/csv_reader.hpp"

#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <istream>
#include <limits>
#include <numeric>
#include <system_error>

#include "competitions/text.hpp"

namespace medforge::competitions {

namespace {

constexpr std::size_t kNoField = std::numeric_limits<std::size_t>::max();
// Offsets inside a record are 32-bit; these caps keep the buffer below 4 GiB.
constexpr std::size_t kMaxBlockSize = std::size_t{1} << 30;
constexpr std::size_t kMaxRecordBytes = std::size_t{2} << 30;

// Bytes that stop a scanning loop: every byte >= 0x80 (a UTF-8 sequence to validate) and the
// listed ones. Plain ASCII runs through the loop without further checks.
constexpr std::array<bool, 256> stop_table(std::string_view stops) {
    std::array<bool, 256> table{};
    for (std::size_t c = 0x80; c < 256; ++c) table[c] = true;
    for (char c : stops) table[static_cast<unsigned char>(c)] = true;
    return table;
}
constexpr auto kUnquotedStops = stop_table(std::string_view(",\n\r\"\0", 5));
constexpr auto kQuotedStops = stop_table(std::string_view("\"\n\0", 3));

// Where the scanner stands; every state can resume after a refill, so a record may straddle
// any number of reads.
enum class Scan : std::uint8_t {
    kFieldStart,
    kUnquoted,
    kQuoted,
    kQuoteInQuoted,  // just read a quote inside a quoted field: an escape or the closing quote
    kCr,             // just read a CR outside quotes: LF must follow
};

std::string format_location(std::size_t line, const std::string& column, std::size_t field) {
    std::string out = "line " + std::to_string(line);
    if (!column.empty()) {
        out += ", column " + quote_excerpt(column);
    } else if (field != 0) {
        out += ", field " + std::to_string(field);
    }
    return out;
}

}  // namespace

CsvError::CsvError(std::size_t line, std::string column, std::string reason, std::size_t field)
    : std::runtime_error(format_location(line, column, field) + ": " + reason),
      line_(line),
      column_(std::move(column)),
      reason_(std::move(reason)) {}

std::size_t MemorySource::read(char* buffer, std::size_t capacity) {
    const std::size_t n = std::min(capacity, data_.size());
    std::memcpy(buffer, data_.data(), n);
    data_.remove_prefix(n);
    return n;
}

std::size_t FdSource::read(char* buffer, std::size_t capacity) {
    for (;;) {
        const ssize_t n = ::read(fd_, buffer, capacity);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "read");
    }
}

std::size_t StreamSource::read(char* buffer, std::size_t capacity) {
    in_.read(buffer, static_cast<std::streamsize>(capacity));
    if (in_.bad()) throw std::system_error(std::make_error_code(std::io_errc::stream), "read");
    return static_cast<std::size_t>(in_.gcount());
}

std::optional<std::size_t> Header::find(std::string_view name) const noexcept {
    if (name.empty()) return std::nullopt;
    for (std::size_t i = 0; i < size(); ++i) {
        if (this->name(i) == name) return i;
    }
    return std::nullopt;
}

std::size_t Header::require(std::string_view name) const {
    if (auto i = find(name)) return *i;
    throw CsvError(line_, std::string(name), "required column is missing from the header");
}

namespace {

// Names the column when the header gives it a name, else its 1-based field number (kNoField:
// neither).
CsvError located_error(const Header& header, std::size_t line, std::size_t column,
                       std::string reason) {
    if (column < header.size() && !header.name(column).empty()) {
        return CsvError(line, std::string(header.name(column)), std::move(reason));
    }
    return CsvError(line, {}, std::move(reason), column == kNoField ? 0 : column + 1);
}

}  // namespace

CsvError field_error(const Header& header, const Record& record, std::size_t column,
                     std::string reason) {
    return located_error(header, record.physical_line(), column, std::move(reason));
}

CsvReader::CsvReader(ByteSource& source, CsvReaderOptions options)
    : source_(source), options_(options) {
    options_.block_size = std::clamp<std::size_t>(options_.block_size, 1, kMaxBlockSize);
    options_.max_record_bytes = std::min(options_.max_record_bytes, kMaxRecordBytes);

    while (end_ < 3 && fill(1)) {
    }
    if (end_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;

    Record rec;
    const std::size_t fields = read_record(rec, kNoField);
    if (fields == 0) fail_at(line_, kNoField, "the file is empty: a header row is required");

    header_.line_ = rec.physical_line();
    header_.ends_.reserve(fields);
    for (std::size_t i = 0; i < fields; ++i) {
        header_.names_.append(rec[i]);
        header_.ends_.push_back(static_cast<std::uint32_t>(header_.names_.size()));
    }

    // Sorting (not hashing) keeps the check O(n log n) even for names crafted to collide.
    std::vector<std::uint32_t> order(fields);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [this](std::uint32_t a, std::uint32_t b) {
        const int c = header_.name(a).compare(header_.name(b));
        return c != 0 ? c < 0 : a < b;
    });
    // Report the duplicate that comes first in the file, whatever the sort order.
    std::size_t first = kNoField;
    std::size_t earlier = 0;
    for (std::size_t k = 1; k < fields; ++k) {
        const std::string_view name = header_.name(order[k]);
        if (name.empty() || name != header_.name(order[k - 1])) continue;
        if (order[k] < first) {
            first = order[k];
            // The earliest column with this name heads its run of equal names.
            std::size_t head = k - 1;
            while (head > 0 && header_.name(order[head - 1]) == name) --head;
            earlier = order[head];
        }
    }
    if (first != kNoField) {
        throw CsvError(header_.line_, std::string(header_.name(first)),
                       "duplicate column name (fields " + std::to_string(earlier + 1) + " and " +
                           std::to_string(first + 1) + ")");
    }
}

CsvReader::~CsvReader() = default;

bool CsvReader::next(Record& record) {
    if (failed_) throw std::logic_error("CsvReader::next called after an error");
    failed_ = true;  // stays set if anything below throws
    const std::size_t fields = read_record(record, header_.size());
    if (fields != 0 && fields != header_.size()) {
        throw CsvError(record.physical_line(), {},
                       "expected " + std::to_string(header_.size()) +
                           " fields (as in the header), found " + std::to_string(fields));
    }
    failed_ = false;
    if (fields == 0) return false;
    ++records_;
    return true;
}

void CsvReader::fail_at(std::size_t line, std::size_t field_index, std::string reason) {
    failed_ = true;
    throw located_error(header_, line, field_index, std::move(reason));
}

std::size_t CsvReader::compact() {
    const std::size_t shift = rec_begin_;
    if (shift == 0) return 0;
    std::memmove(buf_.get(), buf_.get() + shift, end_ - shift);
    end_ -= shift;
    rec_begin_ = 0;
    return shift;
}

bool CsvReader::fill(std::size_t record_line) {
    if (eof_) return false;
    const std::size_t held = end_ - rec_begin_;
    if (held > options_.max_record_bytes) {
        fail_at(record_line, kNoField,
                "record is longer than " + std::to_string(options_.max_record_bytes) + " bytes");
    }
    // Never hold more than max_record_bytes + 1 bytes of one record, so the check above is exact
    // and offsets stay 32-bit.
    const std::size_t room = options_.max_record_bytes + 1 - held;
    const std::size_t want = std::min(options_.block_size, room);
    if (capacity_ - end_ < want) {
        const std::size_t capacity = std::max(capacity_ * 2, end_ + want);
        // Not value-initialised: zeroing a 256 KiB block per reader would cost more than small
        // files.
        auto grown = std::make_unique_for_overwrite<char[]>(capacity);
        if (end_ != 0) std::memcpy(grown.get(), buf_.get(), end_);
        buf_ = std::move(grown);
        capacity_ = capacity;
    }
    const std::size_t n = source_.read(buf_.get() + end_, std::min(capacity_ - end_, room));
    if (n == 0) {
        eof_ = true;
        return false;
    }
    end_ += n;
    return true;
}

// The common case, 16 bytes at a time: a record that is already buffered whole, of unquoted
// ASCII fields, ending in LF or CRLF. Anything else (a blank line, a quote, a lone CR, NUL,
// a byte >= 0x80, a record running past the buffered bytes) returns kNoField without consuming
// anything, and read_record's general scanner takes the record from its start, so both paths
// give the same fields, lines and errors.
std::size_t CsvReader::read_plain_record(Record& record, std::size_t max_fields) {
#if defined(__SSE2__)
    const char* const b = buf_.get();
    const std::size_t start = pos_;
    if (start >= end_ || b[start] == '\n' || b[start] == '\r') return kNoField;
    auto& spans = record.spans_;
    spans.clear();
    std::size_t extra = 0;
    auto push = [&](std::size_t begin, std::size_t end) {
        if (spans.size() < max_fields) {
            spans.push_back({static_cast<std::uint32_t>(begin - start),
                             static_cast<std::uint32_t>(end - start)});
        } else {
            ++extra;
        }
    };
    auto finish = [&](std::size_t next) {
        rec_begin_ = start;
        pos_ = next;
        record.base_ = buf_.get() + start;
        record.line_ = line_;
        ++line_;
        return spans.size() + extra;
    };
    const __m128i comma = _mm_set1_epi8(',');
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i nul = _mm_setzero_si128();
    std::size_t field_begin = start;
    for (std::size_t in = start; in + 16 <= end_; in += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + in));
        const __m128i stops =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
                         _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, quote)),
                                      _mm_cmpeq_epi8(v, nul)));
        // Bytes >= 0x80 have their top bit set: movemask of v itself flags them.
        auto mask = static_cast<unsigned>(_mm_movemask_epi8(stops) | _mm_movemask_epi8(v));
        while (mask != 0) {
            const std::size_t at = in + static_cast<std::size_t>(__builtin_ctz(mask));
            mask &= mask - 1;
            const char c = b[at];
            if (c == ',') {
                push(field_begin, at);
                field_begin = at + 1;
            } else if (c == '\n') {
                push(field_begin, at);
                return finish(at + 1);
            } else if (c == '\r' && at + 1 < end_ && b[at + 1] == '\n') {
                push(field_begin, at);
                return finish(at + 2);
            } else {
                return kNoField;
            }
        }
    }
#else
    (void)record;
    (void)max_fields;
#endif
    return kNoField;
}

// Scans one record starting at pos_ (skipping blank lines). Returns its field count (fields past
// max_fields are counted but not stored), or 0 at end of input. Quoted fields are unescaped in
// place: the text only shrinks, so the write cursor `out` never passes the read cursor `in`.
std::size_t CsvReader::read_record(Record& record, std::size_t max_fields) {
    if (const std::size_t fields = read_plain_record(record, max_fields); fields != kNoField) {
        return fields;
    }
    auto& spans = record.spans_;
    spans.clear();
    std::size_t extra = 0;
    Scan state = Scan::kFieldStart;
    bool blank_line = false;  // the pending CR ends an empty line
    bool starved = false;     // a UTF-8 sequence runs past the bytes read so far
    bool complete = false;
    std::size_t in = pos_;
    std::size_t field_begin = 0;
    std::size_t out = 0;
    std::size_t quote_line = 0;
    rec_begin_ = pos_;
    std::size_t record_line = line_;

    auto count = [&] { return spans.size() + extra; };
    // Inlined by force: gcc leaves this hot, many-call-site lambda out of line otherwise.
    auto push = [&](std::size_t begin, std::size_t end) __attribute__((always_inline)) {
        if (spans.size() < max_fields) {
            spans.push_back({static_cast<std::uint32_t>(begin - rec_begin_),
                             static_cast<std::uint32_t>(end - rec_begin_)});
        } else {
            ++extra;
        }
    };
    auto skip_blank_line = [&] {
        rec_begin_ = in;
        record_line = line_;
    };
    // Validates the UTF-8 sequence at `in`; false when more input is needed to finish it.
    auto take_utf8 = [&](const unsigned char* b, std::size_t& length) {
        const Utf8Check u = check_utf8_sequence(b + in, end_ - in);
        if (u.status == Utf8Status::kInvalid) fail_at(line_, count(), "invalid UTF-8");
        length = u.length;
        return u.status == Utf8Status::kValid;
    };

    for (;;) {
        if (in == end_ || starved) {
            const std::size_t shift = compact();
            in -= shift;
            field_begin -= shift;
            out -= shift;
            if (!fill(record_line)) break;
            starved = false;
        }
        auto* b = reinterpret_cast<unsigned char*>(buf_.get());
        switch (state) {
            case Scan::kFieldStart: {
                const unsigned char c = b[in];
                if (c == '"') {
                    state = Scan::kQuoted;
                    field_begin = out = in + 1;
                    quote_line = line_;
                    ++in;
                } else if (c == ',') {
                    push(in, in);
                    ++in;
                } else if (c == '\n') {
                    if (count() != 0) push(in, in);
                    ++in;
                    ++line_;
                    complete = count() != 0;
                    if (!complete) skip_blank_line();
                } else if (c == '\r') {
                    blank_line = count() == 0;
                    if (!blank_line) push(in, in);
                    ++in;
                    state = Scan::kCr;
                } else {
                    field_begin = in;
                    state = Scan::kUnquoted;
                }
                break;
            }
            case Scan::kUnquoted: {
                const unsigned char* p = b + in;
                const unsigned char* const e = b + end_;
                while (p != e && !kUnquotedStops[*p]) ++p;
                in = static_cast<std::size_t>(p - b);
                if (p == e) break;
                const unsigned char c = *p;
                if (c == ',') {
                    push(field_begin, in);
                    ++in;
                    state = Scan::kFieldStart;
                } else if (c == '\n') {
                    push(field_begin, in);
                    ++in;
                    ++line_;
                    complete = true;
                } else if (c == '\r') {
                    push(field_begin, in);
                    ++in;
                    blank_line = false;
                    state = Scan::kCr;
                } else if (c == '"') {
                    fail_at(line_, count(),
                            "a quote inside an unquoted field (quote the whole field and double "
                            "the quotes inside it)");
                } else if (c == 0) {
                    fail_at(line_, count(), "NUL byte");
                } else {
                    std::size_t length = 0;
                    if (take_utf8(b, length)) {
                        in += length;
                    } else {
                        starved = true;
                    }
                }
                break;
            }
            case Scan::kQuoted: {
                const unsigned char* p = b + in;
                const unsigned char* const e = b + end_;
                while (p != e && !kQuotedStops[*p]) ++p;
                const auto run = static_cast<std::size_t>(p - (b + in));
                if (out != in && run != 0) std::memmove(b + out, b + in, run);
                out += run;
                in += run;
                if (p == e) break;
                const unsigned char c = *p;
                if (c == '"') {
                    ++in;
                    state = Scan::kQuoteInQuoted;
                } else if (c == '\n') {
                    b[out++] = '\n';
                    ++in;
                    ++line_;
                } else if (c == 0) {
                    fail_at(line_, count(), "NUL byte");
                } else {
                    std::size_t length = 0;
                    if (take_utf8(b, length)) {
                        if (out != in) std::memmove(b + out, b + in, length);
                        out += length;
                        in += length;
                    } else {
                        starved = true;
                    }
                }
                break;
            }
            case Scan::kQuoteInQuoted: {
                const unsigned char c = b[in];
                if (c == '"') {
                    b[out++] = '"';
                    ++in;
                    state = Scan::kQuoted;
                } else if (c == ',') {
                    push(field_begin, out);
                    ++in;
                    state = Scan::kFieldStart;
                } else if (c == '\n') {
                    push(field_begin, out);
                    ++in;
                    ++line_;
                    complete = true;
                } else if (c == '\r') {
                    push(field_begin, out);
                    ++in;
                    blank_line = false;
                    state = Scan::kCr;
                } else if (c == 0) {
                    fail_at(line_, count(), "NUL byte");
                } else {
                    fail_at(line_, count(),
                            "unexpected character after the closing quote of a quoted field");
                }
                break;
            }
            case Scan::kCr: {
                if (b[in] != '\n') {
                    fail_at(line_, kNoField, "carriage return (CR) not followed by a line feed");
                }
                ++in;
                ++line_;
                complete = !blank_line;
                if (!complete) skip_blank_line();
                state = Scan::kFieldStart;
                break;
            }
        }
        if (complete) break;
    }

    if (!complete) {  // end of input
        if (starved) fail_at(line_, count(), "invalid UTF-8 (truncated at end of file)");
        switch (state) {
            case Scan::kFieldStart:
                if (count() == 0) {
                    pos_ = in;
                    return 0;
                }
                push(in, in);
                break;
            case Scan::kUnquoted:
                push(field_begin, in);
                break;
            case Scan::kQuoted:
                fail_at(quote_line, count(),
                        "quoted field is not closed before the end of the file");
            case Scan::kQuoteInQuoted:
                push(field_begin, out);
                break;
            case Scan::kCr:
                fail_at(line_, kNoField, "carriage return (CR) not followed by a line feed");
        }
    }
    pos_ = in;
    record.base_ = buf_.get() + rec_begin_;
    record.line_ = record_line;
    return count();
}

}  // namespace medforge::competitions
