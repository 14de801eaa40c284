// A parallel, post-order filesystem walker that never follows symlinks (space-hogs, dedupe).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opsktl {

// A directory met by the walk. Nodes live (at stable addresses) until the Walker that
// made them is destroyed or walks again; the fields never change once a visitor sees them,
// except `total`, which is set when the directory completes.
struct WalkDir {
  const WalkDir* parent = nullptr;  // nullptr for a root
  std::string name;                 // base name; for a root, the path as given
  uint64_t dev = 0;
  uint64_t ino = 0;
  size_t index = 0;    // dense, 0..dir_count()-1; a parent's index is below its children's
  uint32_t depth = 0;  // 0 for a root
  int64_t total = 0;   // the directory's own contribution plus everything beneath it
};

// The full path of entry `name` inside `dir` (just `name` when dir is nullptr): the root as
// given, then base names joined with '/'. Bytes as on disk.
std::string walk_path(const WalkDir* dir, std::string_view name);
// The full path of `dir` itself.
std::string walk_path(const WalkDir& dir);
// Compares walk_path(a_dir, a_name) with walk_path(b_dir, b_name) as byte strings (<0, 0,
// >0) without building them: O(depth).
int compare_walk_paths(const WalkDir* a_dir, std::string_view a_name, const WalkDir* b_dir,
                       std::string_view b_name);

// One problem with one path; the walk goes on without it.
struct WalkProblem {
  std::string path;
  std::string what;  // e.g. "cannot read directory: Permission denied"
};

struct WalkProgress {
  uint64_t entries = 0;  // entries stat'ed so far
  uint64_t dirs = 0;     // directories read so far
  int64_t bytes = 0;     // sum of what on_entry returned so far
  std::string current;   // a directory being read
};

struct WalkOptions {
  int threads = 1;
  bool one_file_system = false;       // -x: leave out directories on another device than their root
  std::vector<std::string> exclude;   // fnmatch(3) globs on base names, never on roots
  bool follow_root_symlinks = false;  // a root that is a symlink is followed (du -D); never below
  size_t max_open_dirs = 0;           // directory fds held for later openat; 0: from RLIMIT_NOFILE
  // Called from one worker thread at a time, at most once per progress_interval.
  std::function<void(const WalkProgress&)> progress;
  std::chrono::milliseconds progress_interval{100};
};

// Receives the walk. Methods are called concurrently from `threads` workers; `worker` is
// in [0, threads) and lets a visitor keep per-thread state without locks (the roots are
// visited as worker 0 before the workers start).
class WalkVisitor {
 public:
  virtual ~WalkVisitor() = default;
  // Every entry left in by the options, the roots included (parent nullptr), before a
  // directory is read. Returns what the entry adds to its directory's total (for a
  // directory: its own size; what lies beneath is added by the walker).
  virtual int64_t on_entry(size_t worker, const WalkDir* parent, std::string_view name,
                           const struct stat& st) = 0;
  // A directory and everything beneath it are done: dir.total is final (post-order).
  virtual void on_dir_complete(size_t /*worker*/, const WalkDir& /*dir*/) {}
  // A directory that could not be read, an entry that vanished, ...
  virtual void on_problem(size_t worker, const WalkProblem& problem) = 0;
};

// Walks directory trees with openat/fstatat/getdents64 relative to directory fds, so path
// length and depth are unlimited and a directory swapped for a symlink mid-walk is never
// followed. Iterative, with a bounded number of open fds; the work queue spreads
// directories over `threads` workers. Memory is O(directories).
class Walker {
 public:
  explicit Walker(WalkOptions options);
  ~Walker();
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  // Walks the roots (a root that is not a directory is one entry). A root directory that
  // is the same inode as an earlier root is walked once. Returns when every directory is
  // complete; problems go to the visitor.
  void walk(std::span<const std::string> roots, WalkVisitor& visitor);

  // Every directory of the last walk, in index order.
  const std::vector<const WalkDir*>& dirs() const;
  // The root directories of the last walk, in command-line order.
  const std::vector<const WalkDir*>& root_dirs() const;

 private:
  struct State;
  WalkOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace opsktl
