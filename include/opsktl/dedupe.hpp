// dedupe: find files with identical content and, on request, replace the duplicates with
// links to one kept copy, crash-safely and resumably (SPEC §7).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opsktl/walker.hpp"

namespace opsktl {

enum class DedupeLink { kHardlink, kSymlink, kReflink };
enum class DedupeKeep { kFirst, kOldest, kNewest };
enum class DedupeVerify { kBytes, kHash };

struct DedupeProgress {
  uint64_t files_scanned = 0;
  uint64_t bytes_hashed = 0;
  uint64_t groups = 0;
  const char* phase = "";  // "scanning", "hashing", "linking"
};

struct DedupeOptions {
  std::vector<std::string> roots;
  WalkOptions walk;  // threads, -x, --exclude (walk.progress is set by the core)
  int64_t min_size = 1;
  bool apply = false;
  DedupeLink link = DedupeLink::kHardlink;
  DedupeKeep keep = DedupeKeep::kFirst;
  DedupeVerify verify = DedupeVerify::kBytes;
  bool ignore_metadata = false;
  std::string state_path;  // empty: default_dedupe_state_path(roots)
  // Called from one thread at a time, at most every 100 ms.
  std::function<void(const DedupeProgress&)> progress;
  // Called with each duplicate name just before it is linked (tests use it to change the
  // tree between detection and linking).
  std::function<void(const std::string& path)> before_link;
  // Called with each duplicate name at later steps of its linking: "verified" (after the
  // re-checks and the byte compare, before the new link is made) and "made" (the new link
  // exists under its temporary name; before the last check and the rename). Tests use it.
  std::function<void(const std::string& path, std::string_view step)> at_step;
};

// kShared: a duplicate whose every extent is already the kept file's (a reflink clone):
// nothing to reclaim, never linked again.
enum class DedupeAction { kKeep, kDup, kLinked, kSkipped, kShared };

struct DedupeEntry {
  std::string path;  // as walked: the root as given, then base names
  DedupeAction action = DedupeAction::kDup;
  std::string reason;  // for kSkipped: metadata, device, changed, error, unsupported
};

// One set of files with identical content; entries[0..] are the kept inode's names
// (action kKeep), then every name of every duplicate inode.
struct DedupeGroup {
  int64_t size = 0;
  std::vector<DedupeEntry> entries;
};

struct DedupeProblem {
  std::string path;
  std::string what;
};

struct DedupeResult {
  std::vector<DedupeGroup> groups;  // ordered by their first path in byte order
  uint64_t files_scanned = 0;       // regular files at least --min-size long (names)
  int64_t bytes_total = 0;          // their sizes, each inode once
  uint64_t bytes_hashed = 0;        // bytes read this run (edges, full hashes, verification)
  uint64_t hashes_reused = 0;       // inodes whose hash came from the state file
  uint64_t duplicates = 0;          // duplicate inodes (not the kept one), skipped included
  int64_t reclaimable_bytes = 0;    // sizes of the duplicate inodes not skipped for metadata/device
  int64_t reclaimed_bytes = 0;      // sizes of the duplicate inodes whose every name was linked
  // Duplicate inodes with hard links outside the roots: linking their names under the roots
  // frees nothing, so they count in neither reclaimable_bytes nor reclaimed_bytes.
  uint64_t held_outside = 0;
  uint64_t already_shared = 0;              // duplicate inodes whose extents are all the kept file's
  uint64_t linked = 0;                      // names replaced by a link
  std::map<std::string, uint64_t> skipped;  // reason -> names
  uint64_t temp_links_removed = 0;          // leftovers of an interrupted run
  std::string state_path;
  // Files that could not be read or acted on (each also a reason for exit 1).
  std::vector<DedupeProblem> problems;
  // Things worth a word that did not fail: damaged state records skipped (their files are
  // rehashed), journal intents ignored, leftovers the next --apply removes. Not a reason
  // for exit 1.
  std::vector<DedupeProblem> warnings;
};

// $XDG_STATE_HOME/opsktl/dedupe-<hash of the absolute roots>.state, else
// ~/.local/state/opsktl/... . Throws Error when neither variable is set.
std::string default_dedupe_state_path(std::span<const std::string> roots);

// The absolute, lexically normal form of each root, sorted and without repeats: what a
// state file belongs to.
std::vector<std::string> dedupe_root_set(std::span<const std::string> roots);

// Runs a dry run or (options.apply) the linking. Throws Error on a fatal problem: a state
// file for other roots, one that cannot be written or is in use by another run.
DedupeResult run_dedupe(const DedupeOptions& options);

}  // namespace opsktl
