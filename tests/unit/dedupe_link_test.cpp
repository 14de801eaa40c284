// dedupe's linking under changes made while it links (SPEC §7): the tree is changed at
// named steps of linking one name (DedupeOptions::at_step).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "opsktl/dedupe.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;
using test::write_file;

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Overwrites the start of a file in place (no truncation, same inode) and puts its mtime
// back, as `dd conv=notrunc` then `touch -d` would.
void rewrite_in_place_keeping_mtime(const std::string& path, const std::string& bytes) {
  struct stat st = lstat_of(path);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

const DedupeEntry* entry_for(const DedupeResult& result, const std::string& path) {
  for (const DedupeGroup& g : result.groups) {
    for (const DedupeEntry& e : g.entries) {
      if (e.path == path) return &e;
    }
  }
  return nullptr;
}

class DedupeLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.file("root");
    fs::create_directories(root_);
    options_.roots = {root_};
    options_.apply = true;
    options_.state_path = dir_.file("state");
  }
  std::string path(const std::string& name) const { return root_ + "/" + name; }

  TempDir dir_;
  std::string root_;
  DedupeOptions options_;
};

TEST_F(DedupeLinkTest, KeptFileRewrittenInPlaceWithRestoredMtimeWhileLinkingIsNotLinked) {
  write_file(path("a"), "payload");
  write_file(path("b"), "payload");
  options_.at_step = [&](const std::string& p, std::string_view step) {
    if (p == path("b") && step == "verified") rewrite_in_place_keeping_mtime(path("a"), "PAYLOAD");
  };
  DedupeResult result = run_dedupe(options_);
  const DedupeEntry* e = entry_for(result, path("b"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->action, DedupeAction::kSkipped);
  EXPECT_EQ(e->reason, "changed");
  EXPECT_FALSE(result.problems.empty());  // a warning, exit 1
  EXPECT_EQ(read_file(path("b")), "payload");
  EXPECT_NE(lstat_of(path("a")).st_ino, lstat_of(path("b")).st_ino);
  EXPECT_EQ(result.linked, 0u);
}

TEST_F(DedupeLinkTest, ChmodOfKeptFileWhileLinkingIsAChange) {
  write_file(path("a"), "payload");
  write_file(path("b"), "payload");
  ::chmod(path("a").c_str(), 0644);
  ::chmod(path("b").c_str(), 0644);
  options_.at_step = [&](const std::string& p, std::string_view step) {
    if (p == path("b") && step == "verified") ::chmod(path("a").c_str(), 0644);  // only the ctime moves
  };
  DedupeResult result = run_dedupe(options_);
  const DedupeEntry* e = entry_for(result, path("b"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->action, DedupeAction::kSkipped);
  EXPECT_EQ(e->reason, "changed");
  EXPECT_EQ(result.linked, 0u);
}

TEST_F(DedupeLinkTest, OneChangedDuplicateLeavesTheOtherDuplicatesOfItsGroupLinked) {
  write_file(path("a"), "payload");
  write_file(path("b"), "payload");
  write_file(path("c"), "payload");
  options_.at_step = [&](const std::string& p, std::string_view step) {
    if (p == path("b") && step == "made") rewrite_in_place_keeping_mtime(path("b"), "PAYLOAD");
  };
  DedupeResult result = run_dedupe(options_);
  const DedupeEntry* b = entry_for(result, path("b"));
  const DedupeEntry* c = entry_for(result, path("c"));
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(b->action, DedupeAction::kSkipped);
  EXPECT_EQ(b->reason, "changed");
  EXPECT_EQ(read_file(path("b")), "PAYLOAD");
  EXPECT_EQ(c->action, DedupeAction::kLinked);
  EXPECT_EQ(lstat_of(path("c")).st_ino, lstat_of(path("a")).st_ino);
  EXPECT_EQ(result.linked, 1u);
}

}  // namespace
}  // namespace opsktl
