// What the pieces of dedupe share (private to the core): the file and inode tables, the
// engine that runs the pipeline, and small helpers. dedupe.cpp holds the pipeline,
// dedupe_candidates.cpp the walk and the hashing rounds, dedupe_link.cpp the linking.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dedupe_journal.hpp"
#include "opsktl/dedupe.hpp"
#include "opsktl/walker.hpp"
#include "unique_fd.hpp"

namespace opsktl::dedupe_detail {

inline constexpr size_t kEdge = 4096;
inline constexpr size_t kBufferSize = 1 << 20;
inline constexpr int kReadFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
inline constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
// A root is opened as given, through a symlink too (as du -H does with its arguments); what
// was opened is always checked against the device and inode the walk saw.
inline constexpr int kRootDirFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY;

inline int64_t ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

inline FileStamp stamp_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

using opsktl::Fd;

struct FileName {
  const WalkDir* parent;  // nullptr: the name is a root given on the command line
  std::string name;
  std::string path;
  size_t inode;  // index into inodes
};

// One extent of a file as FIEMAP reports it.
struct Extent {
  uint64_t logical = 0;
  uint64_t physical = 0;
  uint64_t length = 0;
  uint32_t flags = 0;
  bool operator==(const Extent&) const = default;
};

// Whether two files' extent lists show every byte of one stored once for both: the same
// extents at the same offsets, each with a known physical place (not delayed, not inline).
bool same_extents(const std::vector<Extent>& a, const std::vector<Extent>& b);

struct Inode {
  FileStamp stamp;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;
  uint64_t nlink = 0;         // as the walk saw it: more than names.size() when names lie outside the roots
  std::vector<size_t> names;  // into names, sorted by path
  uint64_t edge = 0;
  Hash128 full;
  bool has_edge = false;
  bool has_full = false;
  bool failed = false;  // could not be read: out of every group
  // Read for the members of groups only (Engine::inspect):
  std::vector<std::pair<std::string, std::string>> xattrs;  // ACL and user.* attributes, sorted
  bool xattrs_read = false;                                 // read while hashing (the last round's read wins)
  bool xattrs_unread = false;                               // could not be read: never linked
  std::vector<Extent> extents;                              // on file systems that share extents
};

struct Counters {
  std::atomic<uint64_t> bytes_hashed{0};
  std::atomic<uint64_t> files_hashed{0};
};

struct Problem {
  std::string reason;  // skip reason: changed, error, device, unsupported
  std::string what;
};

// Calls fn(first, last) for each run [first, last) of neighbours in [begin, end) that
// `same(*first, *x)` puts together; on a range sorted by the same key, each run is one key.
template <typename It, typename Same, typename Fn>
void for_each_run(It begin, It end, Same same, Fn fn) {
  while (begin != end) {
    It last = std::next(begin);
    while (last != end && same(*begin, *last)) ++last;
    fn(begin, last);
    begin = last;
  }
}

// The directories of the last file one worker opened, root first: files are opened
// relative to their directory's descriptor, never by full path (no length limit, no
// symlink followed below the root), and files in the same or a nearby directory reuse the
// descriptors. Every directory opened is checked against what the walk saw.
class DirChain {
 public:
  // The descriptor of `dir`, or -1 with `what` set.
  int open(const WalkDir* dir, std::string& what);
  // Opens the file `name` with `flags` (which should hold O_NOFOLLOW); -1 with errno, and
  // `what` set when a directory on its way was the problem.
  int open_file(const FileName& name, int flags, std::string& what);

 private:
  bool have_openat2_ = true;
  std::string rel_;
  std::vector<const WalkDir*> dirs_;
  std::vector<Fd> fds_;
  std::vector<const WalkDir*> want_;
};

// Reads with a short-read loop; returns bytes read or -1 with errno.
ssize_t read_fully(int fd, char* buf, size_t len, off_t offset);

// The absolute, lexically normal form of a root, without a trailing slash.
std::string absolute_root(const std::string& root);

class Engine {
 public:
  Engine(const DedupeOptions& options, DedupeResult& result) : options_(options), result_(result) {}

  void run();

 private:
  // dedupe_candidates.cpp
  void collect(Walker& walker, const std::vector<std::string>& roots);
  void hash_round(const std::vector<size_t>& todo, bool full);
  // The groups of inodes with equal content (same size and full hash), each ordered by
  // first path, the groups too.
  std::vector<std::vector<size_t>> find_groups();
  // Reads what the members of the groups need beyond their stamps: the ACL and user.*
  // extended attributes (unless --ignore-metadata) and, on a file system that can share
  // extents, the extent list.
  void inspect(const std::vector<std::vector<size_t>>& groups);
  // dedupe.cpp
  void report_progress(bool force);
  // dedupe_link.cpp
  void link_group(size_t keep, const std::vector<size_t>& dups, DedupeGroup& group);
  std::string skip_reason(const Inode& keep, const Inode& dup) const;
  void prepare_intents(size_t keep, const std::vector<size_t>& dups, std::vector<PendingTemp>& temps,
                       std::vector<size_t>& names);
  void commit_intents(std::vector<PendingTemp>& temps, std::vector<size_t>& names);
  void link_inode(size_t keep, size_t dup, std::vector<DedupeEntry*>& entries);

  const DedupeOptions& options_;
  DedupeResult& result_;
  std::unique_ptr<DedupeJournal> journal_;
  std::vector<FileName> names_;
  std::vector<Inode> inodes_;
  Counters counters_;
  std::atomic<uint64_t> groups_found_{0};
  std::atomic<uint64_t> files_collected_{0};  // while walking: regular files kept so far
  std::mutex progress_mutex_;
  std::chrono::steady_clock::time_point last_progress_{};
  const char* phase_ = "scanning";
  std::vector<char> link_buf_;
  // Intents journaled ahead, many per sync: name index -> (intent id, temporary name).
  std::unordered_map<size_t, std::pair<uint64_t, std::string>> prepared_;
};

}  // namespace opsktl::dedupe_detail
