// parse_submission reads rows in batches and looks their ids up ahead of checking them: the
// first problem in file order must still be the one reported, with its physical line, wherever
// it falls relative to the batches (64 rows) and whatever problem follows it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "competitions/bundle.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medforge::competitions;

fs::path repo_bundle(const char* slug) {
    for (fs::path dir : {fs::current_path(), fs::path(__FILE__).parent_path()}) {
        dir = fs::absolute(dir);
        while (true) {
            const fs::path candidate = dir / "apps/api/data/competitions" / slug;
            if (fs::is_directory(candidate)) return candidate;
            if (!dir.has_parent_path() || dir.parent_path() == dir) break;
            dir = dir.parent_path();
        }
    }
    return {};
}

const Bundle& titanic() {
    static const Bundle b = load_bundle(repo_bundle("titanic-survival"));
    return b;
}

// The titanic test ids in holdout order (892..1309).
std::vector<std::string> titanic_ids() {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < titanic().holdout.index.size(); ++i) {
        ids.emplace_back(titanic().holdout.index.id(i));
    }
    return ids;
}

std::string error_of(const Bundle& b, const std::string& text) {
    MemorySource src(text);
    try {
        parse_submission(b, src);
    } catch (const SubmissionError& e) {
        return e.what();
    } catch (const CsvError& e) {
        return std::string("csv: ") + e.what();
    }
    return "ok";
}

// A valid submission with `rows` rows (ids in holdout order).
std::vector<std::string> rows_of(std::size_t rows) {
    std::vector<std::string> out;
    const auto ids = titanic_ids();
    for (std::size_t i = 0; i < rows; ++i) out.push_back(ids[i] + ",1\n");
    return out;
}

std::string join(const std::vector<std::string>& rows) {
    std::string text = "PassengerId,Survived\n";
    for (const auto& r : rows) text += r;
    return text;
}

TEST(ParseSubmission, TheFirstProblemWinsAcrossBatchBoundaries) {
    const auto ids = titanic_ids();
    for (std::size_t at : {0, 1, 62, 63, 64, 65, 127, 128, 129, 191, 192, 300, 417}) {
        SCOPED_TRACE(at);
        const std::size_t line = at + 2;
        auto rows = rows_of(418);
        // An unknown id at `at`, then a later CSV error, then a bad label: the id is reported.
        auto broken = rows;
        broken[at] = "99999,1\n";
        if (at + 70 < broken.size()) broken[at + 70] = "1,2,3\n";
        EXPECT_EQ(
            error_of(titanic(), join(broken)),
            "line " + std::to_string(line) + ", column \"PassengerId\": id is not in the test set");
        // A CSV error at `at` after valid rows is reported as such.
        broken = rows;
        broken[at] = ids[at] + ",\"1\n";
        EXPECT_EQ(error_of(titanic(), join(broken)).rfind("csv: line " + std::to_string(line), 0),
                  0u)
            << error_of(titanic(), join(broken));
        broken = rows;
        broken[at] = ids[at] + ",1,0\n";
        EXPECT_EQ(error_of(titanic(), join(broken)),
                  "csv: line " + std::to_string(line) +
                      ": expected 2 fields (as in the header), found 3");
        // A bad label at `at`, then an unknown id.
        broken = rows;
        broken[at] = ids[at] + ",7\n";
        if (at + 1 < broken.size()) broken[at + 1] = "5,1\n";
        EXPECT_EQ(error_of(titanic(), join(broken)),
                  "line " + std::to_string(line) +
                      ", column \"Survived\": is not one of the allowed labels");
    }
}

TEST(ParseSubmission, DuplicateNamesTheFirstPhysicalLine) {
    const auto ids = titanic_ids();
    // Blank lines and a quoted field spanning lines shift physical lines away from row numbers.
    std::string text = "PassengerId,Survived\n\n";  // rows start on line 3
    std::vector<std::size_t> line_of(ids.size());
    std::size_t line = 3;
    for (std::size_t i = 0; i < 200; ++i) {
        line_of[i] = line;
        if (i == 50) {
            text += "\"" + ids[i] + "\",\"1\"\n";
        } else if (i % 17 == 0) {
            text += ids[i] + ",1\n\n\n";
            line += 2;
        } else {
            text += ids[i] + ",0\r\n";
        }
        ++line;
    }
    for (std::size_t dup : {0, 50, 51, 63, 64, 150, 199}) {
        SCOPED_TRACE(dup);
        EXPECT_EQ(error_of(titanic(), text + ids[dup] + ",1\n"),
                  "line " + std::to_string(line) +
                      ", column \"PassengerId\": duplicate id (first on line " +
                      std::to_string(line_of[dup]) + ")");
    }
}

TEST(ParseSubmission, MissingIdsCountAndNameTheFirstInHoldoutOrder) {
    const auto ids = titanic_ids();
    std::string text = "PassengerId,Survived\n";
    for (std::size_t i = ids.size(); i-- > 0;) {
        if (i != 5 && i != 300) text += ids[i] + ",1\n";
    }
    EXPECT_EQ(error_of(titanic(), text), "2 id(s) of the test set are missing, e.g. \"" + ids[5] +
                                             "\" (column \"PassengerId\")");
    EXPECT_EQ(error_of(titanic(), "PassengerId,Survived\n\n"),
              "line 2: the file has a header but no data rows");
}

TEST(ParseSubmission, ValidSubmissionsAlignWithTheHoldout) {
    const auto ids = titanic_ids();
    std::string text = "Survived,PassengerId,extra\n";
    for (std::size_t i = ids.size(); i-- > 0;) {
        text += std::to_string(i % 2) + "," + ids[i] + ",x\n";
    }
    MemorySource src(text);
    const ParsedSubmission sub = parse_submission(titanic(), src);
    EXPECT_EQ(sub.rows, ids.size());
    ASSERT_EQ(sub.labels.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
        EXPECT_EQ(sub.labels[i], static_cast<std::int64_t>(i % 2));
}

TEST(ParseSubmission, MapIouRowsAcrossBatches) {
    const Bundle b = load_bundle(repo_bundle("rsna-pneumonia-detection"));
    const std::size_t n = b.holdout.index.size();
    // Every patient: one box, except patient 3 with a no-detection row; patient 0 gets 150 boxes
    // spread over the file.
    std::string text = "patientId,confidence,x,y,width,height\n";
    std::size_t extra = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string id(b.holdout.index.id(i));
        if (i == 3) {
            text += id + ",,,,,\n";
        } else {
            text += id + ",0.5,1,2,30,40\n";
        }
        if (i % 2 == 0 && extra < 149) {
            text += std::string(b.holdout.index.id(0)) + ",0.25,5,5,10,10\n";
            ++extra;
        }
    }
    MemorySource src(text);
    const ParsedSubmission sub = parse_submission(b, src);
    EXPECT_EQ(sub.boxes.at(0).size(), 150u);
    EXPECT_EQ(sub.boxes.at(0)[0].confidence, 0.5);
    EXPECT_EQ(sub.boxes.at(0)[1].confidence, 0.25);
    EXPECT_TRUE(sub.boxes.at(3).empty());
    EXPECT_EQ(sub.boxes.at(4).size(), 1u);
    // A second row for the no-detection patient, far from its first.
    const std::string late = std::string(b.holdout.index.id(3)) + ",0.5,1,2,3,4\n";
    const std::size_t line = 2 + n + extra;
    EXPECT_EQ(error_of(b, text + late),
              "line " + std::to_string(line) +
                  ", column \"patientId\": a no-detection row must be the patient's only row");
}

}  // namespace
