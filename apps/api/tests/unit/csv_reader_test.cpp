#include "competitions/csv_reader.hpp"

#include "../support/chunked_source.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace medforge::competitions {
namespace {

using namespace std::string_literals;

using medforge::testing::ChunkedSource;

// Produces a head and then `count` copies of `line` without holding them, to stream far more
// than the reader may keep.
class RepeatSource final : public ByteSource {
  public:
    RepeatSource(std::string head, std::string line, std::size_t count)
        : line_(std::move(line)), current_(std::move(head)), left_(count) {}
    std::size_t read(char* buffer, std::size_t capacity) override {
        std::size_t n = 0;
        while (n < capacity) {
            if (offset_ == current_.size()) {
                if (left_ == 0) break;
                current_ = line_;
                --left_;
                offset_ = 0;
            }
            const std::size_t k = std::min(capacity - n, current_.size() - offset_);
            std::copy_n(current_.data() + offset_, k, buffer + n);
            n += k;
            offset_ += k;
        }
        return n;
    }

  private:
    std::string line_;
    std::string current_;
    std::size_t left_;
    std::size_t offset_ = 0;
};

struct Parsed {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::size_t> lines;
};

Parsed read_all(ByteSource& source, CsvReaderOptions options = {}) {
    CsvReader reader(source, options);
    Parsed out;
    for (std::size_t i = 0; i < reader.header().size(); ++i) {
        out.header.emplace_back(reader.header().name(i));
    }
    Record rec;
    while (reader.next(rec)) {
        EXPECT_EQ(rec.size(), out.header.size());
        std::vector<std::string> row;
        for (std::size_t i = 0; i < rec.size(); ++i) row.emplace_back(rec[i]);
        out.rows.push_back(std::move(row));
        out.lines.push_back(rec.physical_line());
    }
    EXPECT_EQ(reader.records_read(), out.rows.size());
    return out;
}

Parsed parse(std::string_view text) {
    MemorySource source(text);
    return read_all(source);
}

// The CsvError a text raises (fails the test when it parses).
CsvError parse_error(std::string_view text) {
    try {
        parse(text);
    } catch (const CsvError& e) {
        return e;
    }
    ADD_FAILURE() << "no CsvError for " << ::testing::PrintToString(std::string(text));
    return CsvError(0, {}, "none");
}

using Rows = std::vector<std::vector<std::string>>;

TEST(CsvReader, ReadsHeaderRecordsAndLines) {
    const Parsed p = parse("PassengerId,Survived\n892,0\n893,1\n");
    EXPECT_EQ(p.header, (std::vector<std::string>{"PassengerId", "Survived"}));
    EXPECT_EQ(p.rows, (Rows{{"892", "0"}, {"893", "1"}}));
    EXPECT_EQ(p.lines, (std::vector<std::size_t>{2, 3}));
}

TEST(CsvReader, LastRecordNeedsNoLineEnd) {
    EXPECT_EQ(parse("a,b\n1,2").rows, (Rows{{"1", "2"}}));
    EXPECT_EQ(parse("a,b\n1,").rows, (Rows{{"1", ""}}));
    EXPECT_EQ(parse("a,b\n1,\"\"").rows, (Rows{{"1", ""}}));
}

TEST(CsvReader, EmptyFieldsAreKept) {
    EXPECT_EQ(parse("a,b,c\n,,\n\"\",,\"\"\n").rows, (Rows{{"", "", ""}, {"", "", ""}}));
}

TEST(CsvReader, FieldsAreNeverTrimmed) {
    EXPECT_EQ(parse("a,b\n 1 ,\t2\t\n").rows, (Rows{{" 1 ", "\t2\t"}}));
}

TEST(CsvReader, HeaderOnlyHasNoRecords) {
    const Parsed p = parse("a,b\n");
    EXPECT_EQ(p.header.size(), 2u);
    EXPECT_TRUE(p.rows.empty());
}

TEST(CsvReader, LeadingBomIsDropped) {
    const Parsed p = parse("\xEF\xBB\xBFid,label\n1,2\n");
    EXPECT_EQ(p.header, (std::vector<std::string>{"id", "label"}));
    EXPECT_EQ(p.lines, (std::vector<std::size_t>{2}));
}

TEST(CsvReader, OnlyTheFirstBomIsDropped) {
    // A second BOM, or one later in the file, is an ordinary (valid) U+FEFF character.
    EXPECT_EQ(parse("\xEF\xBB\xBF\xEF\xBB\xBFid\n1\n").header[0], "\xEF\xBB\xBFid");
    EXPECT_EQ(parse("id\n\xEF\xBB\xBF"
                    "1\n")
                  .rows,
              (Rows{{"\xEF\xBB\xBF"
                     "1"}}));
}

TEST(CsvReader, CrlfAndLfMayBeMixed) {
    const Parsed p = parse("a,b\r\n1,2\n3,4\r\n5,\"6\"\r\n7,8");
    EXPECT_EQ(p.rows, (Rows{{"1", "2"}, {"3", "4"}, {"5", "6"}, {"7", "8"}}));
    EXPECT_EQ(p.lines, (std::vector<std::size_t>{2, 3, 4, 5}));
}

TEST(CsvReader, LoneCrOutsideQuotesIsInvalid) {
    for (const char* text : {"a,b\r1,2\n", "a,b\n1,2\r", "a,b\n1,2\r\r\n", "a,b\n1\r,2\n",
                             "a,b\n\r1,2\n", "a,b\n\"1\"\r2\n", "a,b\n\r"}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("carriage return"), std::string::npos) << e.what();
    }
    EXPECT_EQ(parse_error("a,b\n1,2\n3,4\r5,6\n").line(), 3u);
}

TEST(CsvReader, CrInsideQuotesIsData) {
    EXPECT_EQ(parse("a\n\"x\ry\"\n\"\r\"\n").rows, (Rows{{"x\ry"}, {"\r"}}));
}

TEST(CsvReader, NulIsInvalidEverywhere) {
    const std::vector<std::string> cases = {
        "a,b\n1,\0\n"s,  "a,b\n1,x\0y\n"s, "a,b\n1,\"x\0y\"\n"s,   "a,b\n1,\"x\"\0\n"s,
        "a\0,b\n1,2\n"s, "a,b\n1,2\n\0"s,  "a,b\n1,\"x\ny\0\"\n"s, "\0"s,
    };
    for (const auto& text : cases) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    const CsvError e = parse_error("id,label\n1,ok\n2,b\0d\n"s);
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), "label");
    EXPECT_STREQ(e.what(), "line 3, column \"label\": NUL byte");
    // The line of the NUL itself, inside a multi-line quoted field.
    EXPECT_EQ(parse_error("id,label\n1,\"x\ny\nz\0\"\n"s).line(), 4u);
}

TEST(CsvReader, ValidUtf8IsAccepted) {
    const std::vector<std::string> ok = {
        "\xC3\xA9",              // é
        "\xE2\x82\xAC",          // €
        "\xED\x9F\xBF",          // U+D7FF, just below the surrogates
        "\xEE\x80\x80",          // U+E000, just above them
        "\xF0\x9D\x84\x9E",      // U+1D11E
        "\xF4\x8F\xBF\xBF",      // U+10FFFF, the last code point
        "\xEF\xBF\xBD\xC2\x80",  // U+FFFD, U+0080
    };
    for (const auto& v : ok) {
        EXPECT_EQ(parse("a,b\n" + v + ",\"" + v + "\"\n").rows, (Rows{{v, v}}));
    }
}

TEST(CsvReader, InvalidUtf8IsRejected) {
    const std::vector<std::string> bad = {
        "\x80",              // stray continuation byte
        "\xBF",              //
        "x\xC3",             // truncated before a comma
        "\xC0\xAF",          // overlong '/'
        "\xC1\xBF",          // overlong
        "\xE0\x80\xAF",      // overlong 3-byte
        "\xE0\x9F\xBF",      // overlong 3-byte (upper edge)
        "\xF0\x80\x80\xAF",  // overlong 4-byte
        "\xF0\x8F\xBF\xBF",  // overlong 4-byte (upper edge)
        "\xED\xA0\x80",      // U+D800, a surrogate
        "\xED\xBF\xBF",      // U+DFFF
        "\xF4\x90\x80\x80",  // U+110000
        "\xF5\x80\x80\x80",  // lead byte past U+10FFFF
        "\xFE",              //
        "\xFF",              //
        "\xE2\x82",          // truncated 3-byte sequence
        "\xE2\x28\xA1",      // lead then ASCII
        "\xC3\xA9\xA9",      // extra continuation byte
    };
    for (const auto& v : bad) {
        for (const std::string& text :
             {"a,b\nok," + v + ",\n", "a,b\nok,\"" + v + "\"\n", "a,b\nok," + v, v + ",b\n1,2\n"}) {
            const CsvError e = parse_error(text);
            EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos) << e.what();
        }
    }
    const CsvError e = parse_error("id,label\n1,2\n3,\xC3(\n");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), "label");
}

TEST(CsvReader, TruncatedUtf8AtEndOfFileIsRejected) {
    for (const char* text : {"a\n\xE2\x82", "a\n\"\xF0\x9D\x84", "\xEF\xBB"}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos) << e.what();
    }
}

TEST(CsvReader, QuotedFieldsUnescapeAndEmbedSeparators) {
    const Parsed p = parse(
        "id,text\n"
        "1,\"a,b\"\n"
        "2,\"say \"\"hi\"\"\"\n"
        "3,\"two\nlines\"\n"
        "4,\"crlf\r\ninside\"\r\n"
        "5,plain\n");
    EXPECT_EQ(p.rows, (Rows{{"1", "a,b"},
                            {"2", "say \"hi\""},
                            {"3", "two\nlines"},
                            {"4", "crlf\r\ninside"},
                            {"5", "plain"}}));
    EXPECT_EQ(p.lines, (std::vector<std::size_t>{2, 3, 4, 6, 8}));
}

TEST(CsvReader, QuoteStorms) {
    EXPECT_EQ(parse("a\n\"\"\"\"\n").rows, (Rows{{"\""}}));
    EXPECT_EQ(parse("a\n\"\"\"\"\"\"\n").rows, (Rows{{"\"\""}}));
    EXPECT_EQ(parse("a,b\n\"\"\"\",\"\"\"\"\"\"\n").rows, (Rows{{"\"", "\"\""}}));
    // 100k escaped quotes in one field: unescaping is in place and linear.
    const std::string storm = "a\n\"" + std::string(200000, '"') + "\"\n";
    const Parsed p = parse(storm);
    ASSERT_EQ(p.rows.size(), 1u);
    EXPECT_EQ(p.rows[0][0], std::string(100000, '"'));
    // An odd number of quotes inside leaves the field open.
    for (const char* text : {"a\n\"\"\"\n", "a\n\"\"\"\"\"\n", "a\n\""}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("not closed"), std::string::npos) << e.what();
    }
}

TEST(CsvReader, TextAfterClosingQuoteIsInvalid) {
    for (const char* text : {"a\n\"x\"y\n", "a\n\"x\" \n", "a\n\"\"x\n", "a,b\n\"x\"\"\"y,2\n"}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("after the closing quote"), std::string::npos)
            << e.what();
    }
}

TEST(CsvReader, QuoteInsideUnquotedFieldIsInvalid) {
    for (const char* text :
         {"a\nx\"y\n", "a\nx\"\n", "a\nx\"\"y\n", "a,b\n1,2 \"3\"\n", "a\"b\n1\n"}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("quote inside an unquoted field"), std::string::npos)
            << e.what();
    }
    const CsvError e = parse_error("PassengerId,Survived\n892,0\n893,1\"\n");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), "Survived");
    EXPECT_EQ(std::string(e.what()).rfind("line 3, column \"Survived\": a quote", 0), 0u)
        << e.what();
}

TEST(CsvReader, UnterminatedQuoteNamesTheLineItOpensOn) {
    const CsvError e = parse_error("id,label\n1,2\n3,\"abc\n\ndef,\n");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), "label");
    EXPECT_NE(std::string(e.what()).find("not closed before the end of the file"),
              std::string::npos);
}

TEST(CsvReader, BlankLinesAreSkippedAnywhere) {
    const Parsed p = parse("\n\r\n\nid,v\n\n1,a\r\n\r\n\n2,b\n\n\r\n");
    EXPECT_EQ(p.header, (std::vector<std::string>{"id", "v"}));
    EXPECT_EQ(p.rows, (Rows{{"1", "a"}, {"2", "b"}}));
    EXPECT_EQ(p.lines, (std::vector<std::size_t>{6, 9}));
    MemorySource source("\n\nid\n1\n");
    EXPECT_EQ(CsvReader(source).header().physical_line(), 3u);
}

TEST(CsvReader, BlankLineInSingleColumnFileIsSkippedNotAnEmptyField) {
    EXPECT_EQ(parse("id\n1\n\n2\n").rows, (Rows{{"1"}, {"2"}}));
    // A quoted empty field is not a blank line.
    EXPECT_EQ(parse("id\n1\n\"\"\n2\n").rows, (Rows{{"1"}, {""}, {"2"}}));
}

TEST(CsvReader, WhitespaceLineIsNotBlank) {
    const CsvError e = parse_error("a,b\n1,2\n \n");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_NE(std::string(e.what()).find("expected 2 fields"), std::string::npos);
}

TEST(CsvReader, FieldCountMismatchNamesThePhysicalLine) {
    // Line 1 header, 2 blank, 3-4 a quoted newline, 5 blank (CRLF), 6 blank, 7 the bad record.
    const CsvError e = parse_error("a,b\n\n1,\"x\ny\"\n\r\n\n2,3,4\n5,6\n");
    EXPECT_EQ(e.line(), 7u);
    EXPECT_STREQ(e.what(), "line 7: expected 2 fields (as in the header), found 3");
    const CsvError fewer = parse_error("a,b\n1,2\n\"multi\nline\"\n");
    EXPECT_EQ(fewer.line(), 3u);
    EXPECT_STREQ(fewer.what(), "line 3: expected 2 fields (as in the header), found 1");
    EXPECT_EQ(parse_error("a,b\n1,2,").line(), 2u);
}

TEST(CsvReader, MissingHeaderIsAnError) {
    for (const char* text : {"", "\xEF\xBB\xBF", "\n\n", "\r\n"}) {
        const CsvError e = parse_error(text);
        EXPECT_NE(std::string(e.what()).find("header row is required"), std::string::npos)
            << e.what();
    }
}

TEST(CsvReader, DuplicateHeaderNamesAreRejected) {
    const CsvError e = parse_error("id,label,x,label,id\n1,2,3,4,5\n");
    EXPECT_EQ(e.line(), 1u);
    EXPECT_EQ(e.column(), "label");
    EXPECT_STREQ(e.what(), "line 1, column \"label\": duplicate column name (fields 2 and 4)");
    // Quoting does not make a name different.
    EXPECT_EQ(parse_error("\"a\",a\n").column(), "a");
}

TEST(CsvReader, HeaderNamesAreExact) {
    MemorySource source("id,ID, id,id \n1,2,3,4\n");
    CsvReader reader(source);
    const Header& h = reader.header();
    EXPECT_EQ(h.find("id"), 0u);
    EXPECT_EQ(h.find("ID"), 1u);
    EXPECT_EQ(h.find(" id"), 2u);
    EXPECT_EQ(h.find("id "), 3u);
    EXPECT_EQ(h.find("Id"), std::nullopt);
}

TEST(CsvReader, EmptyNamedColumnsAreAllowedAndNeverMatch) {
    MemorySource source(",id,,label\n0,892,,1\n");
    CsvReader reader(source);
    const Header& h = reader.header();
    EXPECT_EQ(h.size(), 4u);
    EXPECT_EQ(h.find(""), std::nullopt);
    EXPECT_EQ(h.require("label"), 3u);
    Record rec;
    ASSERT_TRUE(reader.next(rec));
    EXPECT_EQ(rec[h.require("id")], "892");
    EXPECT_FALSE(reader.next(rec));
}

TEST(CsvReader, RequireNamesTheMissingColumn) {
    MemorySource source("\nPassengerId,survived\n892,0\n");
    CsvReader reader(source);
    try {
        reader.header().require("Survived");
        FAIL() << "no error";
    } catch (const CsvError& e) {
        EXPECT_EQ(e.line(), 2u);
        EXPECT_EQ(e.column(), "Survived");
        EXPECT_STREQ(e.what(),
                     "line 2, column \"Survived\": required column is missing from "
                     "the header");
    }
}

TEST(CsvReader, WideHeader) {
    constexpr std::size_t kColumns = 200000;
    std::string text;
    for (std::size_t i = 0; i < kColumns; ++i) text += (i ? ",c" : "c") + std::to_string(i);
    std::string row;
    for (std::size_t i = 0; i < kColumns; ++i) row += i ? ",1" : "1";
    {
        const std::string file = text + "\n" + row + "\n";
        MemorySource source(file);
        CsvReader reader(source);
        EXPECT_EQ(reader.header().size(), kColumns);
        EXPECT_EQ(reader.header().find("c199999"), 199999u);
        Record rec;
        ASSERT_TRUE(reader.next(rec));
        EXPECT_EQ(rec.size(), kColumns);
    }
    // All names empty (e.g. a file of commas): no duplicates.
    const std::string commas = std::string(kColumns - 1, ',') + "\n";
    MemorySource empties(commas);
    EXPECT_EQ(CsvReader(empties).header().size(), kColumns);
    // A duplicate at the far end is still found.
    const CsvError e = parse_error(text + ",c7\n");
    EXPECT_STREQ(e.what(), "line 1, column \"c7\": duplicate column name (fields 8 and 200001)");
}

TEST(CsvReader, ErrorMessagesCutLongAndHostileNames) {
    const std::string name = std::string(1000, 'n');
    const CsvError e = parse_error(name + "\n1\"\n");
    EXPECT_EQ(e.column(), name);
    EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    const CsvError nasty = parse_error("\"a\"\"\nb\",x\n1,2\"\n");
    EXPECT_EQ(std::string(nasty.what()).find('\n'), std::string::npos) << nasty.what();
    const CsvError x = parse_error("\"a\"\"\nb\",x\n1\",2\n");
    EXPECT_STREQ(x.what(),
                 "line 3, column \"a\\\"\\nb\": a quote inside an unquoted field (quote the whole "
                 "field and double the quotes inside it)");
}

TEST(CsvReader, ErrorInUnnamedColumnNamesTheFieldNumber) {
    EXPECT_STREQ(parse_error(",id\n1\",2\n").what(),
                 "line 2, field 1: a quote inside an unquoted field (quote the whole field and "
                 "double the quotes inside it)");
    EXPECT_STREQ(parse_error("a\n1,2\"\n").what(),
                 "line 2, field 2: a quote inside an unquoted field (quote the whole field and "
                 "double the quotes inside it)");
}

TEST(CsvReader, FieldErrorLocatesAValue) {
    MemorySource source("\"x\ny\",,Survived\n1,2,3\n");
    CsvReader reader(source);
    Record rec;
    ASSERT_TRUE(reader.next(rec));
    EXPECT_EQ(rec.physical_line(), 3u);
    EXPECT_STREQ(field_error(reader.header(), rec, 2, "not an integer").what(),
                 "line 3, column \"Survived\": not an integer");
    EXPECT_STREQ(field_error(reader.header(), rec, 1, "bad").what(), "line 3, field 2: bad");
    EXPECT_EQ(field_error(reader.header(), rec, 0, "bad").column(), "x\ny");
}

TEST(CsvReader, ReaderIsUnusableAfterAnError) {
    MemorySource source("a\n1\n\"\n");
    CsvReader reader(source);
    Record rec;
    ASSERT_TRUE(reader.next(rec));
    EXPECT_THROW(reader.next(rec), CsvError);
    EXPECT_THROW(reader.next(rec), std::logic_error);
}

// Every input, read a byte at a time through a 1-byte block, gives the same records or the
// same error as read whole: no state is lost when a record straddles reads.
TEST(CsvReader, ChunkedReadsMatchWholeReads) {
    const std::vector<std::string> corpus = {
        "\xEF\xBB\xBFid,v\r\n1,\"a\"\"b\"\r\n\r\n2,\"x\ny\"\n",
        "id,v\n1,\xE2\x82\xAC\n2,\"\xF0\x9D\x84\x9E,\"\n",
        "\n\n,a,,b\n,\"\",\"\"\"\",\n",
        "a,b\n1,\"" + std::string(1000, 'x') + "\n" + std::string(1000, '"') + "\"\n",
        "a\n\xE2\x82",
        "a\n\"x\"y\n",
        "a,b\n1,2\r3\n",
        "a,b\n1,\"open\n",
        "a,b\n1,2,3\n",
        "a,b,a\n",
        "\xEF\xBB",
        "a\n1\r",
        "a\nx\xC3",
    };
    auto outcome = [](ByteSource& source, CsvReaderOptions options) {
        std::ostringstream out;
        try {
            const Parsed p = read_all(source, options);
            for (const auto& h : p.header) out << h << '|';
            for (std::size_t r = 0; r < p.rows.size(); ++r) {
                out << '\n' << p.lines[r] << ':';
                for (const auto& f : p.rows[r]) out << f << '|';
            }
        } catch (const CsvError& e) {
            out << "error: " << e.what();
        }
        return out.str();
    };
    for (const auto& text : corpus) {
        MemorySource whole(text);
        const std::string expected = outcome(whole, {});
        for (std::size_t chunk : {1, 2, 3, 7}) {
            for (std::size_t block : {1, 2, 5, 64}) {
                ChunkedSource chunked(text, chunk);
                EXPECT_EQ(outcome(chunked, {.block_size = block}), expected)
                    << "chunk " << chunk << " block " << block;
            }
        }
    }
}

// Whole reads take the 16-bytes-at-a-time path for plain records; one-byte blocks never can (a
// record is never buffered whole). Random texts, mostly valid, must read identically both ways:
// same fields, lines and errors.
TEST(CsvReader, PlainRecordPathMatchesTheGeneralScanner) {
    const std::vector<std::string> pieces = {"a",
                                             "7",
                                             "12345",
                                             "abcdefghijklmnopqrstu",
                                             ",",
                                             ",",
                                             ",",
                                             "\n",
                                             "\n",
                                             "\r\n",
                                             "\n\n",
                                             "\"q\"",
                                             "\"a,b\"",
                                             "\"x\"\"y\"",
                                             "\xC3\xA9",
                                             "\xE2\x82\xAC",
                                             "\r",
                                             "\"",
                                             std::string(1, '\0'),
                                             "\xC3",
                                             " "};
    std::mt19937 rng(11);
    auto outcome = [](ByteSource& source, CsvReaderOptions options) {
        std::ostringstream out;
        try {
            CsvReader reader(source, options);
            for (std::size_t i = 0; i < reader.header().size(); ++i) {
                out << reader.header().name(i) << '|';
            }
            Record rec;
            while (reader.next(rec)) {
                out << '\n' << rec.physical_line() << ':';
                for (std::size_t i = 0; i < rec.size(); ++i) out << rec[i] << '|';
            }
        } catch (const CsvError& e) {
            out << "error: " << e.what();
        }
        return out.str();
    };
    for (int round = 0; round < 3000; ++round) {
        // Mostly plain pieces, so that many texts run long before any error.
        std::string text = "id,v,w\n";
        const std::size_t length = rng() % 60;
        for (std::size_t i = 0; i < length; ++i) {
            const std::size_t k = rng() % 100;
            text += k < 85 ? pieces[k % 8] : pieces[rng() % pieces.size()];
        }
        MemorySource whole(text);
        ChunkedSource bytewise(text, 1);
        ASSERT_EQ(outcome(whole, {}), outcome(bytewise, {.block_size = 1}))
            << ::testing::PrintToString(text);
    }
}

// The buffer holds one record at a time: a stream far longer than max_record_bytes reads fine
// when its records are short.
TEST(CsvReader, MemoryIsBoundedByTheLongestRecord) {
    RepeatSource source("id,label\n", "123456,0.25\n", 200000);  // 2.4 MB
    CsvReader reader(source, {.block_size = 256});
    Record rec;
    std::size_t n = 0;
    while (reader.next(rec)) ++n;
    EXPECT_EQ(n, 200000u);
    EXPECT_LE(reader.buffer_capacity(), 512u);

    // One long record grows the buffer to about its size, no more.
    const std::string text = "a,b\n1,2\n3," + std::string(100000, 'x') + "\n4,5\n";
    ChunkedSource chunked(text, 1000);
    CsvReader big(chunked, {.block_size = 256});
    while (big.next(rec)) {
    }
    EXPECT_GE(big.buffer_capacity(), 100000u);
    EXPECT_LE(big.buffer_capacity(), 2 * 100000u + 256u);
}

TEST(CsvReader, RecordLongerThanTheLimitIsAnError) {
    const std::string text = "a,b\n1,2\n3," + std::string(100, 'x') + "\n";
    MemorySource source(text);
    CsvReader reader(source, {.block_size = 16, .max_record_bytes = 64});
    Record rec;
    ASSERT_TRUE(reader.next(rec));
    try {
        reader.next(rec);
        FAIL() << "no error";
    } catch (const CsvError& e) {
        EXPECT_STREQ(e.what(), "line 3: record is longer than 64 bytes");
    }
    // At the limit exactly, it is fine.
    const std::string at_limit = "a\n" + std::string(64, 'x') + "\n";
    MemorySource fits(at_limit);
    CsvReader ok(fits, {.block_size = 7, .max_record_bytes = 64});
    ASSERT_TRUE(ok.next(rec));
    EXPECT_EQ(rec[0].size(), 64u);
}

TEST(CsvReader, ReadsFromStreamAndFileDescriptor) {
    const std::string text = "a,b\r\n1,\"x\ny\"\n";
    std::istringstream in(text);
    StreamSource stream(in);
    EXPECT_EQ(read_all(stream).rows, (Rows{{"1", "x\ny"}}));

    std::FILE* file = std::tmpfile();
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), file), text.size());
    std::fflush(file);
    std::rewind(file);
    FdSource fd(fileno(file));
    EXPECT_EQ(read_all(fd).rows, (Rows{{"1", "x\ny"}}));
    std::fclose(file);
}

TEST(CsvReader, IoErrorsPassThrough) {
    FdSource bad(-1);
    EXPECT_THROW(CsvReader reader(bad), std::system_error);
}

}  // namespace
}  // namespace medforge::competitions
