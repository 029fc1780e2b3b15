#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "competitions/bundle.hpp"

namespace {

using medforge::competitions::IdIndex;

TEST(IdIndex, InsertFindAndPositionsInInsertionOrder) {
    IdIndex idx;
    EXPECT_FALSE(idx.find("a").has_value());
    EXPECT_EQ(idx.insert("a"), std::make_pair(0u, true));
    EXPECT_EQ(idx.insert("b"), std::make_pair(1u, true));
    EXPECT_EQ(idx.insert("a"), std::make_pair(0u, false));
    EXPECT_EQ(idx.size(), 2u);
    EXPECT_EQ(idx.find("b"), 1u);
    EXPECT_EQ(idx.id(1), "b");
    EXPECT_FALSE(idx.find("").has_value());
    EXPECT_EQ(idx.insert(""), std::make_pair(2u, true)) << "the empty string is an id like any";
}

TEST(IdIndex, GrowsPastManyIdsWithAndWithoutReserve) {
    for (bool reserve : {false, true}) {
        IdIndex idx;
        if (reserve) idx.reserve(50000);
        for (int i = 0; i < 50000; ++i) {
            ASSERT_TRUE(idx.insert(std::to_string(i * 7919)).second);
        }
        ASSERT_EQ(idx.size(), 50000u);
        for (int i = 0; i < 50000; ++i) {
            ASSERT_EQ(idx.find(std::to_string(i * 7919)), static_cast<std::uint32_t>(i));
            ASSERT_EQ(idx.id(static_cast<std::size_t>(i)), std::to_string(i * 7919));
        }
        EXPECT_FALSE(idx.find("1").has_value());
        EXPECT_FALSE(idx.find("892.0").has_value());
    }
}

TEST(IdIndex, ComparesRawBytes) {
    IdIndex idx;
    idx.insert("895");
    EXPECT_FALSE(idx.find("895 ").has_value());
    EXPECT_FALSE(idx.find(" 895").has_value());
    EXPECT_FALSE(idx.find("0895").has_value());
    EXPECT_TRUE(idx.find("895").has_value());
}

}  // namespace

namespace {

TEST(IdIndex, DenseIntegerIdsUseTheDirectTableAndKeepRawStringSemantics) {
    IdIndex idx;
    for (int i = 100; i < 1100; ++i) idx.insert(std::to_string(i));
    idx.finalize();
    EXPECT_EQ(idx.find("100"), 0u);
    EXPECT_EQ(idx.find("1099"), 999u);
    for (const char* miss : {"99", "1100", "0100", "+100", "100.0", "", "1e2", "100 "}) {
        EXPECT_FALSE(idx.find(miss).has_value()) << miss;
    }
    EXPECT_THROW(idx.insert("5000"), std::logic_error);
}

TEST(IdIndex, SparseOrNonCanonicalIdsStayHashed) {
    IdIndex sparse;
    sparse.insert("1");
    sparse.insert("1000000000");
    sparse.finalize();
    EXPECT_EQ(sparse.find("1000000000"), 1u);
    EXPECT_FALSE(sparse.find("2").has_value());
    IdIndex padded;
    padded.insert("007");
    padded.insert("8");
    padded.finalize();
    EXPECT_EQ(padded.find("007"), 0u);
    EXPECT_FALSE(padded.find("7").has_value());
}

TEST(IdIndex, CopiesAndMovesAreIndependent) {
    IdIndex a;
    for (int i = 0; i < 1000; ++i) a.insert("id" + std::to_string(i));
    IdIndex b = a;
    IdIndex c = std::move(a);
    EXPECT_EQ(a.size(), 0u);
    EXPECT_FALSE(a.find("id1").has_value());
    a.insert("x");  // a moved-from index is usable
    EXPECT_EQ(a.find("x"), 0u);
    b.insert("only-in-b");
    EXPECT_EQ(b.find("id999"), 999u);
    EXPECT_EQ(c.find("id999"), 999u);
    EXPECT_FALSE(c.find("only-in-b").has_value());
    c = b;
    EXPECT_EQ(c.find("only-in-b"), 1000u);
    IdIndex short_ids;  // ids short enough for the string's inline buffer survive moves
    short_ids.insert("a");
    IdIndex moved(std::move(short_ids));
    EXPECT_EQ(moved.id(0), "a");
    EXPECT_EQ(moved.find("a"), 0u);
}

TEST(IdIndex, DenseKeysNumberIdsFromTheLowest) {
    IdIndex idx;
    for (int id : {105, 100, 103}) idx.insert(std::to_string(id));
    idx.finalize();
    ASSERT_TRUE(idx.dense());
    EXPECT_EQ(idx.dense_range(), 6u);
    EXPECT_EQ(idx.dense_key("100"), 0u);
    EXPECT_EQ(idx.dense_key("105"), 5u);
    EXPECT_FALSE(idx.dense_key("101").has_value()) << "in range but not an id";
    EXPECT_FALSE(idx.dense_key("0103").has_value());
    EXPECT_FALSE(idx.dense_key("106").has_value());
    EXPECT_FALSE(idx.dense_key("").has_value());
    EXPECT_EQ(idx.dense_key_of(0), 5u);
    EXPECT_EQ(idx.dense_key_of(1), 0u);
    EXPECT_EQ(idx.dense_key_of(2), 3u);
}

// reserve(n) lets integer ids go into a direct window around the first one until finalize; ids
// outside it (or not canonical) move everything to hash slots. Lookups and positions are the same
// whichever way an index went.
TEST(IdIndex, ReservedIntegerIdsBehaveTheSameInAndOutOfTheWindow) {
    const std::vector<std::vector<std::string>> cases = {
        {"500", "0", "999", "250", "1"},                          // stays in the window
        {"7", "8", "1000000000000", "9", "x", "10"},              // leaves it, then not integers
        {"abc", "1", "2"},                                        // hashed from the start
        {"0", "2", "4", "6", "8", "10", "12", "14", "16", "19"},  // in the window, too sparse
        {"5", "05", "+5", "5 ", "6"},                             // raw-string semantics
    };
    for (const auto& ids : cases) {
        for (bool finalize : {false, true}) {
            IdIndex idx;
            IdIndex plain;  // never reserved: hash slots only
            idx.reserve(ids.size());
            for (const auto& id : ids) {
                ASSERT_EQ(idx.insert(id), plain.insert(id)) << id;
                ASSERT_EQ(idx.insert(id), plain.insert(id)) << id << " again";
            }
            if (finalize) {
                idx.finalize();
                plain.finalize();
            }
            ASSERT_EQ(idx.size(), plain.size());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                EXPECT_EQ(idx.find(ids[i]), plain.find(ids[i])) << ids[i];
                EXPECT_EQ(idx.id(i), plain.id(i));
            }
            for (const char* other : {"3", "998", "1000", "00", "", "4000"}) {
                EXPECT_EQ(idx.find(other), plain.find(other)) << other;
            }
            EXPECT_EQ(idx.dense(), plain.dense());
            if (!finalize) {
                idx.reserve(100);  // a later reserve keeps everything findable
                EXPECT_EQ(idx.insert("123456789"), plain.insert("123456789"));
                for (const auto& id : ids) EXPECT_EQ(idx.find(id), plain.find(id)) << id;
            }
        }
    }
}

TEST(IdIndex, ManyShuffledIdsGoThroughTheWindow) {
    std::vector<std::uint32_t> values(200000);
    for (std::uint32_t i = 0; i < values.size(); ++i) values[i] = 1000 + i;
    std::mt19937 rng(3);
    std::shuffle(values.begin(), values.end(), rng);
    IdIndex idx;
    idx.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        ASSERT_EQ(idx.insert(std::to_string(values[i])),
                  std::make_pair(static_cast<std::uint32_t>(i), true));
    }
    EXPECT_EQ(idx.insert(std::to_string(values[77])), std::make_pair(77u, false));
    idx.finalize();
    ASSERT_TRUE(idx.dense());
    for (std::size_t i = 0; i < values.size(); i += 997) {
        EXPECT_EQ(idx.find(std::to_string(values[i])), static_cast<std::uint32_t>(i));
    }
    EXPECT_FALSE(idx.find("999").has_value());
}

}  // namespace
