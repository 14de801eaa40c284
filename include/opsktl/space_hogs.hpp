// space-hogs: the largest files and directories under a set of roots, sized as GNU du
// sizes them, and directory growth since a saved scan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "opsktl/walker.hpp"

namespace opsktl {

enum class SizeMode { kDiskUsage, kApparent };    // st_blocks * 512, or st_size
enum class LinkMode { kCountOnce, kCountEvery };  // hard links: first path in byte order, or each

struct SpaceHogsOptions {
  std::vector<std::string> roots;  // as given; "." when empty
  size_t top = 10;                 // 0: all
  bool list_files = true;
  bool list_dirs = true;
  SizeMode size_mode = SizeMode::kDiskUsage;
  LinkMode link_mode = LinkMode::kCountOnce;
  WalkOptions walk;          // threads, -x, --exclude, progress
  std::string save_path;     // --save: write every directory's total here
  std::string compare_path;  // --compare: rank directories by growth since this scan
  bool shrunk = false;       // with compare: directories that shrank or vanished instead
};

struct SizedPath {
  int64_t bytes = 0;
  std::string path;
};

struct GrownDir {
  int64_t delta = 0;  // bytes now minus bytes then (0 then for a new directory)
  int64_t bytes = 0;  // bytes now (0 for a vanished directory)
  std::string path;
};

struct SpaceHogsResult {
  std::vector<SizedPath> files;  // descending by bytes, then path ascending
  std::vector<SizedPath> dirs;
  std::vector<GrownDir> grown;        // compare only: by delta descending (ascending under shrunk), then path
  uint64_t file_count = 0;            // regular files, every name
  uint64_t dir_count = 0;             // directories, roots included
  int64_t bytes = 0;                  // total of the roots, as `du -s ROOT...` adds them
  std::vector<WalkProblem> problems;  // sorted by path
};

// Walks the roots and ranks. Directory problems are returned, not thrown; throws
// opsktl::Error when the --save file cannot be written or the --compare file read.
SpaceHogsResult find_space_hogs(const SpaceHogsOptions& options);

// A saved scan: every directory's total, as a tree of base names.
struct SavedDir {
  int64_t parent = -1;  // index of an earlier entry; -1 for a root (then name is the root as given)
  std::string name;
  int64_t bytes = 0;
};

struct SavedScan {
  SizeMode size_mode = SizeMode::kDiskUsage;
  LinkMode link_mode = LinkMode::kCountOnce;
  std::vector<SavedDir> dirs;
};

// The full path of every entry of `scan`, built as walk_path() builds them.
std::vector<std::string> saved_scan_paths(const SavedScan& scan);

// Writes `scan` as versioned, gzip-compressed JSON through a temporary file in the same
// directory, renamed into place. Throws opsktl::Error naming the path.
void save_scan(const std::string& path, const SavedScan& scan);
// Reads a file written by save_scan. Throws opsktl::Error naming the path.
SavedScan load_scan(const std::string& path);

}  // namespace opsktl
