// dedupe: find files with identical content, and replace duplicates with links without
// ever losing a byte, even when killed at any instant.
//
// The pipeline: open the state file (dedupe_journal.cpp) and remove what an interrupted
// run left; walk the roots and narrow the files to groups of equal content
// (dedupe_candidates.cpp); choose each group's kept copy; journal the intents in batches
// and link each duplicate (dedupe_link.cpp). What the pieces share is in
// dedupe_internal.hpp.
#define XXH_INLINE_ALL
#include "opsktl/dedupe.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dedupe_internal.hpp"
#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

namespace opsktl {
namespace dedupe_detail {

void Engine::report_progress(bool force) {
  if (!options_.progress) return;
  std::unique_lock lock(progress_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(100)) return;
  last_progress_ = now;
  DedupeProgress p;
  p.files_scanned = result_.files_scanned;
  p.bytes_hashed = counters_.bytes_hashed.load();
  p.groups = groups_found_.load();
  p.phase = phase_;
  options_.progress(p);
}

void Engine::run() {
  // The roots a state file belongs to, and the file itself (never a candidate).
  std::vector<std::string> roots = dedupe_root_set(options_.roots);
  result_.state_path =
      options_.state_path.empty() ? default_dedupe_state_path(options_.roots) : options_.state_path;
  std::filesystem::path parent = std::filesystem::path(result_.state_path).parent_path();
  if (!parent.empty()) create_state_directory(parent.string());
  journal_ = std::make_unique<DedupeJournal>(result_.state_path, roots);
  result_.warnings = journal_->warnings();
  if (options_.apply) remove_leftover_temps(*journal_, result_);

  WalkOptions walk = options_.walk;
  walk.threads = std::max(1, walk.threads);
  // A root that is a symlink to a directory is followed, as du -D follows its arguments; one
  // to a file is named and left out (the file's own path says which file is meant).
  walk.follow_root_symlinks = true;
  std::vector<std::string> walk_roots;
  for (const std::string& root : options_.roots) {
    struct stat lst {};
    struct stat st {};
    if (::lstat(root.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && ::stat(root.c_str(), &st) == 0 &&
        !S_ISDIR(st.st_mode)) {
      result_.problems.push_back({root, "a symlink to a file: not followed (give the file itself)"});
      continue;
    }
    walk_roots.push_back(root);
  }
  if (options_.progress) {
    walk.progress = [this](const WalkProgress&) {
      DedupeProgress p;
      // The walker counts every entry (directories, links, small files); the line
      // counts the files that can take part, as files_scanned does at the end.
      p.files_scanned = files_collected_.load(std::memory_order_relaxed);
      p.phase = "scanning";
      options_.progress(p);
    };
  }
  Walker walker(walk);  // its directory nodes are used until the last link
  collect(walker, walk_roots);
  report_progress(true);

  std::vector<std::vector<size_t>> groups = find_groups();
  groups_found_ = groups.size();
  inspect(groups);
  journal_->sync();
  report_progress(true);

  phase_ = "linking";
  link_buf_.resize(kBufferSize);
  // The kept inode: first path; or oldest/newest mtime, ties to the first path.
  std::vector<size_t> keeps;
  std::vector<std::vector<size_t>> dup_lists;
  for (std::vector<size_t>& members : groups) {
    size_t keep = members[0];
    for (size_t i : members) {
      int64_t m = inodes_[i].stamp.mtime_ns;
      int64_t km = inodes_[keep].stamp.mtime_ns;
      if ((options_.keep == DedupeKeep::kOldest && m < km) ||
          (options_.keep == DedupeKeep::kNewest && m > km))
        keep = i;
    }
    keeps.push_back(keep);
    dup_lists.emplace_back();
    for (size_t i : members) {
      if (i != keep) dup_lists.back().push_back(i);
    }
  }
  // One sync covers the intents of a batch of names (a sync each costs ~5 ms on ext4).
  constexpr size_t kIntentBatch = 256;
  size_t prepared_until = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (options_.apply && options_.link != DedupeLink::kReflink && g >= prepared_until) {
      size_t count = 0;
      for (prepared_until = g; prepared_until < groups.size() && count < kIntentBatch; ++prepared_until) {
        for (size_t d : dup_lists[prepared_until]) count += inodes_[d].names.size();
      }
      std::vector<PendingTemp> temps;
      std::vector<size_t> names;
      for (size_t k = g; k < prepared_until; ++k) prepare_intents(keeps[k], dup_lists[k], temps, names);
      commit_intents(temps, names);
    }
    DedupeGroup group;
    group.size = inodes_[keeps[g]].stamp.size;
    link_group(keeps[g], dup_lists[g], group);
    result_.groups.push_back(std::move(group));
    // Intents not used (a skipped name) are closed: their temporary names never existed.
    for (size_t d : dup_lists[g]) {
      for (size_t n : inodes_[d].names) {
        auto it = prepared_.find(n);
        if (it != prepared_.end()) {
          journal_->record_done(it->second.first);
          prepared_.erase(it);
        }
      }
    }
    report_progress(false);
  }
  result_.bytes_hashed = counters_.bytes_hashed.load();
  journal_->sync();
  // Only a run that got here knows every hash worth keeping (see DedupeJournal::compact).
  // A file that cannot be compacted (a full disk) is still whole: the run's answer stands.
  try {
    (void)journal_->compact();
  } catch (const Error& e) {
    result_.warnings.push_back({result_.state_path, std::string("not compacted: ") + e.what()});
  }
}

}  // namespace dedupe_detail

std::vector<std::string> dedupe_root_set(std::span<const std::string> roots) {
  std::vector<std::string> out;
  for (const std::string& r : roots) out.push_back(dedupe_detail::absolute_root(r));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string default_dedupe_state_path(std::span<const std::string> roots) {
  std::string joined;
  for (const std::string& r : dedupe_root_set(roots)) {
    joined += r;
    joined += '\0';
  }
  XXH128_hash_t h = XXH3_128bits(joined.data(), joined.size());
  char name[64];
  std::snprintf(name, sizeof name, "dedupe-%016" PRIx64 "%016" PRIx64 ".state", h.high64, h.low64);
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/opsktl/" + name;
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.local/state/opsktl/" + name;
  throw Error("--state: neither XDG_STATE_HOME nor HOME is set; give --state FILE");
}

DedupeResult run_dedupe(const DedupeOptions& options) {
  DedupeResult result;
  dedupe_detail::Engine engine(options, result);
  engine.run();
  return result;
}

}  // namespace opsktl
