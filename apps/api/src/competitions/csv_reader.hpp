#pragma once

// Streaming RFC 4180 reader with the exact conventions of the competitions spec ("Parsing
// conventions"): memory is bounded by the longest record, not by the file.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::competitions {

// A CSV that breaks the conventions. what() reads `line 7, column "Survived": <reason>` (or
// `line 7, field 4: ...` for a column without a usable name, or `line 7: ...`); it never contains
// a file path, and names are cut to about 40 bytes.
class CsvError : public std::runtime_error {
  public:
    // `field` (1-based) is named only when `column` is empty; 0 means "no particular field".
    CsvError(std::size_t line, std::string column, std::string reason, std::size_t field = 0);

    // 1-based physical line (the header is line 1 when the file does not start with blank lines).
    std::size_t line() const noexcept { return line_; }
    // The column's name as given (empty when the error is not tied to a named column).
    const std::string& column() const noexcept { return column_; }
    const std::string& reason() const noexcept { return reason_; }

  private:
    std::size_t line_;
    std::string column_;
    std::string reason_;
};

// Where the reader pulls bytes from.
class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Copies up to `capacity` (> 0) bytes into `buffer`; returns 0 only at end of input. Throws
    // (e.g. std::system_error) on an I/O failure, which the reader lets through.
    virtual std::size_t read(char* buffer, std::size_t capacity) = 0;
};

// A source over bytes held by the caller, which must outlive the source.
class MemorySource final : public ByteSource {
  public:
    explicit MemorySource(std::string_view data) : data_(data) {}
    explicit MemorySource(const char* text) : data_(text) {}
    // A temporary string would dangle before the first read.
    explicit MemorySource(std::string&&) = delete;
    std::size_t read(char* buffer, std::size_t capacity) override;

  private:
    std::string_view data_;
};

// A source over an open file descriptor, which stays owned by the caller.
class FdSource final : public ByteSource {
  public:
    explicit FdSource(int fd) : fd_(fd) {}
    std::size_t read(char* buffer, std::size_t capacity) override;

  private:
    int fd_;
};

// A source over a std::istream (binary mode for files, so that CRLF reaches the reader).
class StreamSource final : public ByteSource {
  public:
    explicit StreamSource(std::istream& in) : in_(in) {}
    std::size_t read(char* buffer, std::size_t capacity) override;

  private:
    std::istream& in_;
};

// The header row. Names are exact (case-sensitive, untrimmed); empty names are allowed and
// never match a lookup; non-empty names are distinct.
class Header {
  public:
    std::size_t size() const noexcept { return ends_.size(); }
    std::string_view name(std::size_t i) const noexcept {
        const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(names_).substr(begin, ends_[i] - begin);
    }
    // The index of the column called exactly `name`; nullopt for a missing or empty name.
    std::optional<std::size_t> find(std::string_view name) const noexcept;
    // Like find, but a missing column throws CsvError naming the header line and the column.
    std::size_t require(std::string_view name) const;
    std::size_t physical_line() const noexcept { return line_; }

  private:
    friend class CsvReader;
    std::string names_;                // all names, back to back
    std::vector<std::uint32_t> ends_;  // end offset of each name in names_
    std::size_t line_ = 0;
};

// One data record. Fields are views into the reader's buffer: valid until the next call to
// CsvReader::next (or the reader's destruction). Quoted fields come unquoted and unescaped.
class Record {
  public:
    std::size_t size() const noexcept { return spans_.size(); }
    std::string_view operator[](std::size_t i) const noexcept {
        return {base_ + spans_[i].begin, spans_[i].end - spans_[i].begin};
    }
    // The 1-based physical line on which the record starts (blank lines skipped before it and
    // newlines inside earlier quoted fields count).
    std::size_t physical_line() const noexcept { return line_; }

  private:
    friend class CsvReader;
    struct Span {
        std::uint32_t begin;  // offsets from base_
        std::uint32_t end;
    };
    const char* base_ = nullptr;
    std::vector<Span> spans_;
    std::size_t line_ = 0;
};

struct CsvReaderOptions {
    // Bytes asked of the source per read.
    std::size_t block_size = std::size_t{256} * 1024;
    // A longer record (header included) is a CsvError; caps memory on hostile input. Clamped to
    // 2 GiB (field offsets are 32-bit).
    std::size_t max_record_bytes = std::size_t{256} * 1024 * 1024;
};

// Reads the header on construction (CsvError when there is none, or on duplicate non-empty
// names), then one data record per next(). Every record must have exactly as many fields as the
// header. After a CsvError (or an I/O exception) the reader is unusable: next() throws
// std::logic_error.
//
//   MemorySource src(bytes);
//   CsvReader reader(src);
//   const std::size_t label = reader.header().require("Survived");
//   Record rec;
//   while (reader.next(rec)) use(rec[label], rec.physical_line());
class CsvReader {
  public:
    explicit CsvReader(ByteSource& source, CsvReaderOptions options = {});
    ~CsvReader();
    CsvReader(const CsvReader&) = delete;
    CsvReader& operator=(const CsvReader&) = delete;

    const Header& header() const noexcept { return header_; }
    // Reads the next data record into `record`; false at end of input.
    bool next(Record& record);
    // Data records returned so far (header and skipped blank lines excluded).
    std::uint64_t records_read() const noexcept { return records_; }
    // Bytes of buffer held: at most about twice max(block size, longest record), whatever the
    // file size.
    std::size_t buffer_capacity() const noexcept { return capacity_; }

  private:
    std::size_t read_record(Record& record, std::size_t max_fields);
    std::size_t read_plain_record(Record& record, std::size_t max_fields);
    std::size_t compact();
    bool fill(std::size_t record_line);
    [[noreturn]] void fail_at(std::size_t line, std::size_t field_index, std::string reason);

    ByteSource& source_;
    CsvReaderOptions options_;
    std::unique_ptr<char[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t rec_begin_ = 0;  // start of the record being read (kept on compaction)
    std::size_t pos_ = 0;        // next unread byte
    std::size_t end_ = 0;        // end of valid bytes
    std::size_t line_ = 1;       // physical line of buf_[pos_] while scanning
    bool eof_ = false;
    bool failed_ = false;
    std::uint64_t records_ = 0;
    Header header_;
};

// An error about one value of a record: located on the record's first line and named by the
// header's column (or its 1-based field number when the column has no name).
CsvError field_error(const Header& header, const Record& record, std::size_t column,
                     std::string reason);

}  // namespace medforge::competitions
