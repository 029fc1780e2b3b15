#include "core/confined_path.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_support.hpp"

namespace medforge {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

void write(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

std::string read_all(int fd) {
    std::string out;
    char buf[256];
    for (ssize_t n = ::pread(fd, buf, sizeof buf, 0); n > 0;
         n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

TEST(SplitRelativePath, AcceptsPlainRelativePaths) {
    ASSERT_TRUE(split_relative_path("a..b/x.y.z/c..").has_value());
    EXPECT_THAT(*split_relative_path("a.csv"), ElementsAre("a.csv"));
    EXPECT_THAT(*split_relative_path("images/train/001.png"),
                ElementsAre("images", "train", "001.png"));
    EXPECT_THAT(*split_relative_path("folder/"), ElementsAre("folder"));
    EXPECT_THAT(*split_relative_path("with space/%2e%2e"), ElementsAre("with space", "%2e%2e"))
        << "no decoding here: a literal name";
    EXPECT_THAT(*split_relative_path("a..b/x.y.z/c.."), ElementsAre("a..b", "x.y.z", "c.."));
    EXPECT_EQ(split_relative_path("a/..."), std::nullopt) << "'...' is a hidden name";
    EXPECT_TRUE(split_relative_path("")->empty()) << "the root itself";
}

TEST(SplitRelativePath, RefusesHostileInput) {
    const std::string long_component(256, 'a');
    std::string deep;
    for (int i = 0; i < 65; ++i) deep += "d/";
    for (const std::string& p : {std::string(".."),
                                 std::string("../x"),
                                 std::string("a/../../x"),
                                 std::string("a/.."),
                                 std::string("."),
                                 std::string("./a"),
                                 std::string("a/./b"),
                                 std::string("/etc/passwd"),
                                 std::string("/"),
                                 std::string("a//b"),
                                 std::string("a//"),
                                 std::string("//a"),
                                 std::string("a\0b", 3),
                                 std::string("a\nb"),
                                 std::string("a\x7f"),
                                 std::string(".hidden"),
                                 std::string("dir/.git/config"),
                                 std::string(".env"),
                                 long_component,
                                 std::string(5000, 'a'),
                                 deep}) {
        EXPECT_EQ(split_relative_path(p), std::nullopt) << p;
    }
    EXPECT_TRUE(split_relative_path(std::string(255, 'a')).has_value());
}

class ConfinedTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root = tmp.path() / "root";
        write(root / "a.csv", "id\n1\n");
        write(root / "sub" / "b.txt", "bee");
        write(root / "sub" / "deeper" / "c.bin", "sea");
        write(root / ".secret", "hidden");
        write(tmp.path() / "outside.txt", "outside");
        fs::create_directories(root / "empty");
    }
    mftest::TempDir tmp;
    fs::path root;
};

TEST_F(ConfinedTest, OpensFilesAndFolders) {
    auto f = open_confined(root.string(), "sub/deeper/c.bin");
    ASSERT_TRUE(f.has_value());
    EXPECT_TRUE(S_ISREG(f->st.st_mode));
    EXPECT_EQ(f->st.st_size, 3);
    EXPECT_EQ(read_all(f->fd.get()), "sea");

    auto d = open_confined(root.string(), "sub/");
    ASSERT_TRUE(d.has_value());
    EXPECT_TRUE(S_ISDIR(d->st.st_mode));

    auto r = open_confined(root.string(), "");
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(S_ISDIR(r->st.st_mode));
}

TEST_F(ConfinedTest, RefusesTraversalAndMissingPaths) {
    for (const char* p : {"../outside.txt", "sub/../../outside.txt", "sub/../a.csv", "missing",
                          "a.csv/x", ".secret", "/etc/passwd", "sub//b.txt"}) {
        EXPECT_FALSE(open_confined(root.string(), p).has_value()) << p;
    }
    EXPECT_FALSE(open_confined((root / "missing").string(), "a.csv").has_value());
    EXPECT_FALSE(open_confined("", "a.csv").has_value());
}

TEST_F(ConfinedTest, NeverFollowsSymlinks) {
    fs::create_symlink(tmp.path() / "outside.txt", root / "out-file");
    fs::create_symlink(tmp.path(), root / "out-dir");
    fs::create_symlink(root / "a.csv", root / "in-file");  // stays inside: refused too
    fs::create_symlink("sub", root / "in-dir");            // relative, inside: refused too
    fs::create_symlink("loop", root / "loop");             // a loop
    fs::create_symlink("/", root / "sub" / "to-root");     // deeper
    for (const char* p : {"out-file", "out-dir/outside.txt", "out-dir", "in-file", "in-dir/b.txt",
                          "in-dir", "loop", "loop/x", "sub/to-root/etc/passwd", "sub/to-root"}) {
        EXPECT_FALSE(open_confined(root.string(), p).has_value()) << p;
    }
}

TEST_F(ConfinedTest, TheRootMayBeASymlink) {
    fs::create_symlink(root, tmp.path() / "link-to-root");
    EXPECT_TRUE(open_confined((tmp.path() / "link-to-root").string(), "a.csv").has_value());
}

TEST_F(ConfinedTest, RefusesFifosWithoutBlocking) {
    ASSERT_EQ(::mkfifo((root / "pipe").c_str(), 0600), 0);
    EXPECT_FALSE(open_confined(root.string(), "pipe").has_value());
}

TEST_F(ConfinedTest, ListsVisibleFilesAndFoldersSortedWithPaging) {
    fs::create_symlink(tmp.path() / "outside.txt", root / "zz-link");
    ASSERT_EQ(::mkfifo((root / "pipe").c_str(), 0600), 0);
    auto r = open_confined(root.string(), "");
    ASSERT_TRUE(r.has_value());
    auto page = list_confined_dir(r->fd.get(), "", 100);
    ASSERT_EQ(page.entries.size(), 3U);
    EXPECT_FALSE(page.has_more);
    EXPECT_EQ(page.entries[0].name, "a.csv");
    EXPECT_EQ(page.entries[0].size, 5U);
    EXPECT_FALSE(page.entries[0].is_dir);
    EXPECT_EQ(page.entries[1].name, "empty");
    EXPECT_TRUE(page.entries[1].is_dir);
    EXPECT_EQ(page.entries[1].size, 0U);
    EXPECT_EQ(page.entries[2].name, "sub");

    page = list_confined_dir(r->fd.get(), "", 2);
    ASSERT_EQ(page.entries.size(), 2U);
    EXPECT_TRUE(page.has_more);
    page = list_confined_dir(r->fd.get(), "empty", 2);
    ASSERT_EQ(page.entries.size(), 1U);
    EXPECT_EQ(page.entries[0].name, "sub");
    EXPECT_FALSE(page.has_more);

    // Listing twice from the same descriptor works (the listing does not consume it).
    EXPECT_EQ(list_confined_dir(r->fd.get(), "", 100).entries.size(), 3U);
}

}  // namespace
}  // namespace medforge
