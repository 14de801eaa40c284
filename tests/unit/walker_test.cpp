#include "opsktl/walker.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "test_helpers.hpp"

namespace opsktl {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

// Sums st_size of every entry; records completion order, entries and problems.
class RecordingVisitor : public WalkVisitor {
 public:
  int64_t on_entry(size_t, const WalkDir* parent, std::string_view name, const struct stat& st) override {
    std::lock_guard lock(mutex_);
    entries.insert(walk_path(parent, name));
    if (on_entry_hook) on_entry_hook(name);
    return static_cast<int64_t>(st.st_size);
  }
  void on_dir_complete(size_t, const WalkDir& dir) override {
    std::lock_guard lock(mutex_);
    std::string path = walk_path(dir);
    completed.push_back(path);
    totals[path] = dir.total;
  }
  void on_problem(size_t, const WalkProblem& problem) override {
    std::lock_guard lock(mutex_);
    problems.push_back(problem.path + ": " + problem.what);
  }

  std::function<void(std::string_view)> on_entry_hook;
  std::set<std::string> entries;
  std::vector<std::string> completed;
  std::map<std::string, int64_t> totals;
  std::vector<std::string> problems;

 private:
  std::mutex mutex_;
};

WalkOptions options(int threads, size_t max_open_dirs = 0, std::vector<std::string> exclude = {}) {
  WalkOptions o;
  o.threads = threads;
  o.max_open_dirs = max_open_dirs;
  o.exclude = std::move(exclude);
  return o;
}

// A tree branching at every level: r/{a,b}/{a,b}/... `levels` deep, a 10-byte file in each.
void make_branchy(const fs::path& root, int levels) {
  fs::create_directories(root);
  write_file((root / "f").string(), "0123456789");
  if (levels == 0) return;
  make_branchy(root / "a", levels - 1);
  make_branchy(root / "b", levels - 1);
}

std::map<std::string, int64_t> walk_totals(const std::string& root, const WalkOptions& walk_options) {
  Walker walker(walk_options);
  RecordingVisitor visitor;
  std::vector<std::string> roots = {root};
  walker.walk(roots, visitor);
  EXPECT_TRUE(visitor.problems.empty());
  return visitor.totals;
}

TEST(Walker, ChildrenCompleteBeforeTheirParent) {
  TempDir dir;
  make_branchy(dir.path() / "r", 4);
  Walker walker(options(4));
  RecordingVisitor visitor;
  std::vector<std::string> roots = {dir.file("r")};
  walker.walk(roots, visitor);
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < visitor.completed.size(); ++i) position[visitor.completed[i]] = i;
  ASSERT_EQ(position.size(), 31u);
  for (const auto& [path, pos] : position) {
    if (path == dir.file("r")) continue;
    EXPECT_LT(pos, position.at(fs::path(path).parent_path().string())) << path;
  }
  EXPECT_EQ(walker.dirs().size(), 31u);
  for (size_t i = 0; i < walker.dirs().size(); ++i) {
    EXPECT_EQ(walker.dirs()[i]->index, i);
    if (walker.dirs()[i]->parent) {
      EXPECT_LT(walker.dirs()[i]->parent->index, i);
    }
  }
}

TEST(Walker, TotalIsOwnSizePlusEverythingBeneath) {
  TempDir dir;
  fs::create_directories(dir.path() / "r/sub");
  write_file(dir.file("r/x"), std::string(100, 'x'));
  write_file(dir.file("r/sub/y"), std::string(7, 'y'));
  auto totals = walk_totals(dir.file("r"), options(1));
  struct stat r {
  }, sub{};
  ASSERT_EQ(lstat(dir.file("r").c_str(), &r), 0);
  ASSERT_EQ(lstat(dir.file("r/sub").c_str(), &sub), 0);
  EXPECT_EQ(totals[dir.file("r/sub")], sub.st_size + 7);
  EXPECT_EQ(totals[dir.file("r")], r.st_size + sub.st_size + 7 + 100);
}

TEST(Walker, OneOpenFdBudgetGivesTheSameTotalsByReopeningFromAncestors) {
  TempDir dir;
  make_branchy(dir.path() / "r", 6);
  auto expected = walk_totals(dir.file("r"), options(1));
  for (int threads : {1, 3}) {
    auto totals = walk_totals(dir.file("r"), options(threads, 1));
    EXPECT_EQ(totals, expected) << threads;
  }
}

TEST(Walker, NeverFollowsSymlinks) {
  TempDir dir;
  fs::create_directories(dir.path() / "r/real");
  write_file(dir.file("r/real/f"), "abc");
  fs::create_directory_symlink("real", dir.path() / "r/link");
  fs::create_directory_symlink("..", dir.path() / "r/up");
  fs::create_symlink("loop2", dir.path() / "r/loop1");
  fs::create_symlink("loop1", dir.path() / "r/loop2");
  Walker walker(options(2));
  RecordingVisitor visitor;
  std::vector<std::string> roots = {dir.file("r")};
  walker.walk(roots, visitor);
  EXPECT_TRUE(visitor.problems.empty());
  EXPECT_EQ(visitor.entries.count(dir.file("r/link/f")), 0u);
  EXPECT_EQ(visitor.entries.count(dir.file("r/link")), 1u);
  EXPECT_EQ(visitor.entries.size(), 7u);  // r, real, real/f, link, up, loop1, loop2
  EXPECT_EQ(walker.dirs().size(), 2u);
}

TEST(Walker, ExcludeMatchesBaseNamesAndLeavesOutSubtrees) {
  TempDir dir;
  fs::create_directories(dir.path() / "r/cache/deep");
  write_file(dir.file("r/cache/deep/f"), "abc");
  write_file(dir.file("r/a.log"), "abc");
  write_file(dir.file("r/keep"), "abc");
  Walker walker(options(1, 0, {"cache", "*.log"}));
  RecordingVisitor visitor;
  std::vector<std::string> roots = {dir.file("r")};
  walker.walk(roots, visitor);
  EXPECT_EQ(visitor.entries, (std::set<std::string>{dir.file("r"), dir.file("r/keep")}));
}

TEST(Walker, DirectoryRemovedDuringTheWalkIsAProblemAndTheWalkGoesOn) {
  TempDir dir;
  fs::create_directories(dir.path() / "r/victim/inner");
  write_file(dir.file("r/victim/inner/f"), "abc");
  fs::create_directories(dir.path() / "r/other");
  write_file(dir.file("r/other/g"), "abc");
  write_file(dir.file("r/h"), "abc");
  Walker walker(options(1));
  RecordingVisitor visitor;
  bool removed = false;
  visitor.on_entry_hook = [&](std::string_view name) {
    if (!removed && name != dir.file("r")) {  // the first entry inside r
      removed = true;
      fs::remove_all(dir.path() / "r/victim");
    }
  };
  std::vector<std::string> roots = {dir.file("r")};
  walker.walk(roots, visitor);
  ASSERT_EQ(visitor.problems.size(), 1u);
  const std::string& problem = visitor.problems[0];
  EXPECT_TRUE(problem == dir.file("r/victim") + ": vanished during the walk" ||
              problem == dir.file("r/victim") + ": cannot read directory: No such file or directory")
      << problem;
  EXPECT_EQ(visitor.entries.count(dir.file("r/other/g")), 1u);
  EXPECT_EQ(visitor.entries.count(dir.file("r/h")), 1u);
  EXPECT_EQ(visitor.totals.count(dir.file("r")), 1u);
}

TEST(Walker, MissingRootIsAProblem) {
  TempDir dir;
  Walker walker(options(1));
  RecordingVisitor visitor;
  std::vector<std::string> roots = {dir.file("nope")};
  walker.walk(roots, visitor);
  EXPECT_EQ(visitor.problems,
            std::vector<std::string>{dir.file("nope") + ": cannot access: No such file or directory"});
  EXPECT_TRUE(walker.dirs().empty());
}

TEST(Walker, SameRootTwiceIsWalkedOnce) {
  TempDir dir;
  fs::create_directories(dir.path() / "r");
  Walker walker(options(1));
  RecordingVisitor visitor;
  std::vector<std::string> roots = {dir.file("r"), dir.file("r") + "/."};
  walker.walk(roots, visitor);
  EXPECT_EQ(walker.root_dirs().size(), 1u);
}

TEST(WalkPath, JoinsNamesWithOneSlash) {
  WalkDir root;
  root.name = "/";
  WalkDir usr;
  usr.parent = &root;
  usr.name = "usr";
  EXPECT_EQ(walk_path(usr), "/usr");
  EXPECT_EQ(walk_path(&usr, "lib"), "/usr/lib");
  WalkDir dot;
  dot.name = ".";
  EXPECT_EQ(walk_path(&dot, "a"), "./a");
  EXPECT_EQ(walk_path(nullptr, "file"), "file");
}

}  // namespace
}  // namespace opsktl
