// The safety rules of dedupe that need the tree changed between detection and linking,
// and the state file's replay (SPEC §7).
#include "opsktl/dedupe.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;
using test::write_file;

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

DedupeOptions apply_options(const TempDir& dir, const std::string& root) {
  DedupeOptions options;
  options.roots = {root};
  options.apply = true;
  options.state_path = dir.file("state");
  return options;
}

const DedupeEntry* entry_for(const DedupeResult& result, const std::string& path) {
  for (const DedupeGroup& g : result.groups) {
    for (const DedupeEntry& e : g.entries) {
      if (e.path == path) return &e;
    }
  }
  return nullptr;
}

TEST(Dedupe, DirectorySwappedForSymlinkMidRunIsDetectedAndSkipped) {
  TempDir dir;
  std::string root = dir.file("root");
  fs::create_directories(root + "/sub");
  fs::create_directories(dir.file("outside"));
  write_file(root + "/a", "payload");
  write_file(root + "/sub/dup", "payload");
  write_file(dir.file("outside/dup"), "payload");  // what a followed symlink would hit
  uint64_t outside_ino = inode_of(dir.file("outside/dup"));
  uint64_t moved_ino = inode_of(root + "/sub/dup");

  DedupeOptions options = apply_options(dir, root);
  options.before_link = [&](const std::string& path) {
    if (path == root + "/sub/dup") {
      fs::rename(root + "/sub", root + "/sub.moved");
      fs::create_directory_symlink(dir.file("outside"), root + "/sub");
    }
  };
  DedupeResult result = run_dedupe(options);
  const DedupeEntry* e = entry_for(result, root + "/sub/dup");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->action, DedupeAction::kSkipped);
  EXPECT_EQ(e->reason, "changed");
  EXPECT_FALSE(result.problems.empty());
  EXPECT_EQ(inode_of(dir.file("outside/dup")), outside_ino);
  EXPECT_EQ(inode_of(root + "/sub.moved/dup"), moved_ino);
  EXPECT_EQ(read_file(dir.file("outside/dup")), "payload");
}

TEST(Dedupe, DuplicateChangedAfterHashingIsSkippedAndKept) {
  TempDir dir;
  std::string root = dir.file("root");
  fs::create_directories(root);
  write_file(root + "/a", "payload");
  write_file(root + "/b", "payload");
  DedupeOptions options = apply_options(dir, root);
  options.before_link = [&](const std::string& path) {
    if (path == root + "/b") write_file(path, "PAYLOAD");  // same size, new content
  };
  DedupeResult result = run_dedupe(options);
  const DedupeEntry* e = entry_for(result, root + "/b");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->action, DedupeAction::kSkipped);
  EXPECT_EQ(read_file(root + "/b"), "PAYLOAD");
  EXPECT_NE(inode_of(root + "/a"), inode_of(root + "/b"));
  EXPECT_EQ(result.linked, 0u);
}

TEST(Dedupe, SameSizeRewriteWithRestoredMtimeIsNotLinked) {
  // Same size, mtime put back: the ctime still tells (and --verify bytes would).
  TempDir dir;
  std::string root = dir.file("root");
  fs::create_directories(root);
  write_file(root + "/a", "payload");
  write_file(root + "/b", "payload");
  DedupeOptions options = apply_options(dir, root);
  options.before_link = [&](const std::string& path) {
    if (path != root + "/b") return;
    struct stat st {};
    ::stat(path.c_str(), &st);
    write_file(path, "PAYLOAD");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
  };
  DedupeResult result = run_dedupe(options);
  EXPECT_EQ(read_file(root + "/b"), "PAYLOAD");
  EXPECT_EQ(result.linked, 0u);
}

TEST(Dedupe, LeftoverTemporaryLinkOfAKilledRunIsRemoved) {
  TempDir dir;
  std::string root = dir.file("root");
  fs::create_directories(root);
  write_file(root + "/a", "payload");
  write_file(root + "/b", "other");
  // What a run killed between link and rename leaves: a second name of the kept file.
  std::string tmp = root + "/.opsktl-dedupe.1.1.0.tmp";
  ASSERT_EQ(::link((root + "/a").c_str(), tmp.c_str()), 0);
  struct stat st {};
  ::stat(tmp.c_str(), &st);
  std::string abs_root = dedupe_root_set(std::vector<std::string>{root})[0];
  std::ofstream state(dir.file("state"));
  state << R"({"t":"roots","v":1,"roots":[")" << abs_root << "\"]}\n"
        << R"({"t":"i","n":7,"root":")" << abs_root << R"(","dir":"","tmp":".opsktl-dedupe.1.1.0.tmp",)"
        << R"("kind":"hardlink","tdev":)" << st.st_dev << R"(,"tino":)" << st.st_ino << "}\n"
        << R"({"t":"h","dev":1,"ino":2,"si)";  // torn by the kill
  state.close();
  DedupeResult result = run_dedupe(apply_options(dir, root));
  EXPECT_EQ(result.temp_links_removed, 1u);
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(read_file(root + "/a"), "payload");
  // The torn line was cut off: the file is whole JSON lines again.
  std::string content = read_file(dir.file("state"));
  EXPECT_EQ(content.back(), '\n');
  EXPECT_EQ(content.find("\"si\n"), std::string::npos);
}

TEST(Dedupe, StateFileOfOtherRootsIsRefused) {
  TempDir dir;
  fs::create_directories(dir.file("one"));
  fs::create_directories(dir.file("two"));
  DedupeOptions options;
  options.state_path = dir.file("state");
  options.roots = {dir.file("one")};
  run_dedupe(options);
  options.roots = {dir.file("two")};
  EXPECT_THROW(run_dedupe(options), Error);
}

}  // namespace
}  // namespace opsktl
