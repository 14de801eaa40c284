// dedupe, finding the candidates: walk, collect, one entry per inode, then narrow by size,
// edge hash and full hash.
//
// Detection narrows the candidates in rounds so that most bytes are never read: the walk
// (the shared Walker, never following symlinks) collects regular files; names sharing an
// inode collapse to one file; only sizes held by two or more inodes go on; then a 64-bit
// XXH3 of the first and last 4 KiB (files up to 8 KiB are read whole and get their full
// hash at once); only edge collisions are read whole for a 128-bit XXH3. Each round reads
// its files in (device, inode) order, which follows allocation order on ext4/xfs and so
// suits spinning disks, spread over --threads workers that each own one 1 MiB buffer
// (memory: threads x 1 MiB). Every hash goes to the state file as it is computed, keyed
// by the file's stamp (device, inode, size, mtime, ctime), so a rerun reuses it.
// Rejected: mmap (a file truncated under us raises SIGBUS) and hashing by path (paths
// change when we link; inodes and stamps do not, except for the ctime we update).
#define XXH_INLINE_ALL
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dedupe_internal.hpp"
#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

namespace opsktl::dedupe_detail {
namespace {

struct RawEntry {
  const WalkDir* parent;
  std::string name;
  struct stat st;
};

class Collector final : public WalkVisitor {
 public:
  // `accepted` counts the files kept so far, for the progress line while the walk runs.
  Collector(size_t threads, int64_t min_size, uint64_t skip_dev, uint64_t skip_ino,
            std::atomic<uint64_t>& accepted)
      : per_worker_(threads),
        leftovers_(threads),
        problems_(threads),
        min_size_(min_size),
        skip_dev_(skip_dev),
        skip_ino_(skip_ino),
        accepted_(accepted) {}

  int64_t on_entry(size_t worker, const WalkDir* parent, std::string_view name,
                   const struct stat& st) override {
    // Our own temporary names are never candidates: hashing, keeping or linking to one
    // would make a leftover of a killed run part of the tree.
    if (!S_ISDIR(st.st_mode)) {
      size_t slash = name.rfind('/');
      if (looks_like_dedupe_temp_name(slash == std::string_view::npos ? name : name.substr(slash + 1))) {
        leftovers_[worker].push_back({parent, std::string(name), st});
        return 0;
      }
    }
    if (!S_ISREG(st.st_mode) || st.st_size < min_size_) return 0;
    if (static_cast<uint64_t>(st.st_dev) == skip_dev_ && static_cast<uint64_t>(st.st_ino) == skip_ino_)
      return 0;
    per_worker_[worker].push_back({parent, std::string(name), st});
    accepted_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  void on_problem(size_t worker, const WalkProblem& problem) override {
    problems_[worker].push_back({problem.path, problem.what});
  }

  std::vector<std::vector<RawEntry>> per_worker_;
  std::vector<std::vector<RawEntry>> leftovers_;  // names of the temp pattern
  std::vector<std::vector<DedupeProblem>> problems_;

 private:
  int64_t min_size_;
  uint64_t skip_dev_;
  uint64_t skip_ino_;
  std::atomic<uint64_t>& accepted_;
};

// Opens a recorded regular file for reading (see DirChain::open_file) and checks it is
// still that file, unchanged. Never blocks on a FIFO swapped in (O_NONBLOCK) and never
// follows a symlink.
int open_recorded(DirChain& dirs, const FileName& name, const FileStamp& stamp, std::string& what) {
  int fd = dirs.open_file(name, kReadFlags | O_NOATIME, what);
  if (fd < 0 && errno == EPERM) fd = dirs.open_file(name, kReadFlags, what);
  if (fd < 0) {
    if (!what.empty()) return -1;
    what = "cannot open: " + errno_message(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(stamp_of(st) == stamp)) {
    ::close(fd);
    what = "changed during the run";
    return -1;
  }
  return fd;
}

bool read_xattrs(int fd, std::vector<std::pair<std::string, std::string>>& out);

// Hashes an open file: `edge` reads up to 2 x 4 KiB (or the whole of a small file), `full`
// reads everything. Returns false with `what` set when the file cannot be read as recorded.
bool hash_open_file(int fd, Inode& inode, bool full, std::vector<char>& buf, Counters& counters,
                    std::string& what) {
  auto size = static_cast<size_t>(inode.stamp.size);
  if (!full && size > 2 * kEdge) {
    ssize_t a = read_fully(fd, buf.data(), kEdge, 0);
    ssize_t b = read_fully(fd, buf.data() + kEdge, kEdge, static_cast<off_t>(size - kEdge));
    if (a < 0 || b < 0) {
      what = "cannot read: " + errno_message(errno);
      return false;
    }
    counters.bytes_hashed += static_cast<uint64_t>(a + b);
    if (static_cast<size_t>(a) != kEdge || static_cast<size_t>(b) != kEdge) {
      what = "changed during the run (shorter than when listed)";
      return false;
    }
    inode.edge = XXH3_64bits(buf.data(), 2 * kEdge);
    inode.has_edge = true;
    return true;
  }
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      what = "cannot read: " + errno_message(errno);
      return false;
    }
    if (n == 0) break;
    XXH3_128bits_update(&state, buf.data(), static_cast<size_t>(n));
    total += static_cast<size_t>(n);
    counters.bytes_hashed += static_cast<uint64_t>(n);
    if (total > size) break;
  }
  if (total != size) {
    what = "changed during the run (size differs from when listed)";
    return false;
  }
  XXH128_hash_t h = XXH3_128bits_digest(&state);
  inode.full = {h.high64, h.low64};
  inode.has_full = true;
  if (size <= 2 * kEdge) {
    inode.edge = h.low64;  // within one size every file takes the same branch
    inode.has_edge = true;
  }
  return true;
}

// One hashing round's work on a file. With `read_metadata`, its ACL and user.* attributes
// are read on the same descriptor, so that the members of groups need not be opened again
// (Engine::inspect): one flistxattr per file instead of an open, fstat and close per member
// (80k members of the benchmark tree's groups: 1.4 s less system time).
bool hash_file(DirChain& dirs, const FileName& name, Inode& inode, bool full, bool read_metadata,
               std::vector<char>& buf, Counters& counters, std::string& what) {
  Fd fd(open_recorded(dirs, name, inode.stamp, what));
  if (!fd.ok() || !hash_open_file(fd.get(), inode, full, buf, counters, what)) return false;
  // Only a file with its full hash can be in a group.
  if (read_metadata && inode.has_full) inode.xattrs_read = read_xattrs(fd.get(), inode.xattrs);
  return true;
}

// The ACL and user.* extended attributes of an open file, sorted by name. Returns false
// with errno when they cannot be read (a file system without attributes has none).
bool read_xattrs(int fd, std::vector<std::pair<std::string, std::string>>& out) {
  out.clear();
  std::string names;
  for (;;) {
    ssize_t n = ::flistxattr(fd, nullptr, 0);
    if (n < 0) return errno == ENOTSUP;
    if (n == 0) return true;
    names.resize(static_cast<size_t>(n));
    n = ::flistxattr(fd, names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno != ERANGE) return false;  // grew in between: ask again
  }
  for (size_t at = 0; at < names.size();) {
    std::string name(names.c_str() + at);
    at += name.size() + 1;
    if (name != "system.posix_acl_access" && name.rfind("user.", 0) != 0) continue;
    std::string value;
    for (;;) {
      ssize_t n = ::fgetxattr(fd, name.c_str(), nullptr, 0);
      if (n < 0) {
        if (errno == ENODATA) break;  // removed in between
        return false;
      }
      value.resize(static_cast<size_t>(n));
      n = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        out.emplace_back(std::move(name), std::move(value));
        break;
      }
      if (errno != ERANGE) return false;
    }
  }
  std::sort(out.begin(), out.end());
  return true;
}

// Whether files on a file system of this type can share extents (reflinks).
bool shares_extents(int64_t fs_type) {
  constexpr int64_t kXfs = 0x58465342;
  constexpr int64_t kOcfs2 = 0x7461636f;
  constexpr int64_t kBcachefs = 0xca451a4e;
  return fs_type == BTRFS_SUPER_MAGIC || fs_type == kXfs || fs_type == kOcfs2 || fs_type == kBcachefs;
}

// The extents of an open file (FIEMAP, without syncing first: data not yet written has no
// known place, and same_extents then says no). Empty when they cannot be read.
std::vector<Extent> read_extents(int fd) {
  constexpr uint32_t kBatch = 128;
  std::vector<Extent> out;
  std::vector<char> buf(sizeof(struct fiemap) + kBatch * sizeof(struct fiemap_extent));
  uint64_t start = 0;
  for (;;) {
    std::fill(buf.begin(), buf.end(), 0);
    auto* map = reinterpret_cast<struct fiemap*>(buf.data());
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_extent_count = kBatch;
    if (::ioctl(fd, FS_IOC_FIEMAP, map) != 0) return {};
    if (map->fm_mapped_extents == 0) break;
    bool last = false;
    for (uint32_t k = 0; k < map->fm_mapped_extents; ++k) {
      const struct fiemap_extent& e = map->fm_extents[k];
      out.push_back({e.fe_logical, e.fe_physical, e.fe_length, e.fe_flags});
      start = e.fe_logical + e.fe_length;
      if (e.fe_flags & FIEMAP_EXTENT_LAST) last = true;
    }
    if (last || map->fm_mapped_extents < kBatch) break;
  }
  return out;
}

}  // namespace

bool same_extents(const std::vector<Extent>& a, const std::vector<Extent>& b) {
  constexpr uint32_t kNoPlace = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_DATA_INLINE |
                                FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN;
  if (a.empty() || a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].logical != b[k].logical || a[k].physical != b[k].physical || a[k].length != b[k].length ||
        ((a[k].flags | b[k].flags) & kNoPlace) != 0)
      return false;
  }
  return true;
}

void Engine::inspect(const std::vector<std::vector<size_t>>& groups) {
  bool want_xattrs = !options_.ignore_metadata;
  std::map<uint64_t, bool> device_shares;  // by device: its file system can share extents
  DirChain dirs;
  for (const std::vector<size_t>& members : groups) {
    for (size_t i : members) {
      Inode& inode = inodes_[i];
      auto known = device_shares.find(inode.stamp.dev);
      bool need_xattrs = want_xattrs && !inode.xattrs_read;  // read while hashing, unless reused
      if (!need_xattrs && known != device_shares.end() && !known->second) continue;  // nothing to read
      const FileName& name = names_[inode.names.front()];
      std::string what;
      Fd fd(open_recorded(dirs, name, inode.stamp, what));
      if (!fd.ok()) {
        inode.xattrs_unread = true;
        result_.problems.push_back({name.path, what});
        continue;
      }
      if (need_xattrs && !read_xattrs(fd.get(), inode.xattrs)) {
        inode.xattrs_unread = true;
        result_.problems.push_back({name.path, "cannot read extended attributes: " + errno_message(errno)});
        continue;
      }
      auto [it, fresh] = device_shares.try_emplace(inode.stamp.dev, false);
      if (fresh) {
        struct statfs fs {};
        it->second = ::fstatfs(fd.get(), &fs) == 0 && shares_extents(static_cast<int64_t>(fs.f_type));
      }
      if (it->second) inode.extents = read_extents(fd.get());
    }
  }
}

int DirChain::open(const WalkDir* dir, std::string& what) {
  want_.clear();
  for (const WalkDir* d = dir; d != nullptr; d = d->parent) want_.push_back(d);
  std::reverse(want_.begin(), want_.end());
  size_t keep = 0;
  while (keep < dirs_.size() && keep < want_.size() && dirs_[keep] == want_[keep]) ++keep;
  dirs_.resize(keep);
  fds_.resize(keep);
  for (size_t k = keep; k < want_.size(); ++k) {
    const WalkDir* d = want_[k];
    Fd fd(k == 0 ? ::open(d->name.c_str(), kRootDirFlags)
                 : ::openat(fds_.back().get(), d->name.c_str(), kDirFlags));
    struct stat st {};
    if (!fd.ok()) {
      what = "cannot open directory " + walk_path(*d) + ": " + errno_message(errno);
      return -1;
    }
    if (::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_dev) != d->dev ||
        static_cast<uint64_t>(st.st_ino) != d->ino) {
      what = "directory " + walk_path(*d) + " was replaced during the run";
      return -1;
    }
    dirs_.push_back(d);
    fds_.push_back(std::move(fd));
  }
  return fds_.back().get();
}

int DirChain::open_file(const FileName& name, int flags, std::string& what) {
  what.clear();
  if (!name.parent) return ::open(name.path.c_str(), flags);  // a root given as a file: as given
  // The path below the root, resolved by the kernel in one call with no symlink followed
  // and never leaving the root (openat2): as cheap as an open by path. Where openat2 is
  // missing, the path is too long, or a rename raced it, one directory at a time.
  if (have_openat2_) {
    rel_.clear();
    for (const WalkDir* d = name.parent; d->parent != nullptr; d = d->parent) {
      rel_.insert(0, "/");
      rel_.insert(0, d->name);
    }
    rel_ += name.name;
    const WalkDir* root = name.parent;
    while (root->parent) root = root->parent;
    if (rel_.size() < PATH_MAX) {
      int rootfd = open(root, what);
      if (rootfd < 0) return -1;
      struct open_how how {};
      how.flags = static_cast<uint64_t>(flags);
      how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
      long fd = ::syscall(SYS_openat2, rootfd, rel_.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == ENOSYS) {
        have_openat2_ = false;
      } else if (errno != EAGAIN) {
        return -1;  // EPERM for O_NOATIME included: the caller retries without it
      }
    }
  }
  int dirfd = open(name.parent, what);
  if (dirfd < 0) return -1;
  return ::openat(dirfd, name.name.c_str(), flags);
}

ssize_t read_fully(int fd, char* buf, size_t len, off_t offset) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, offset + static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

void Engine::collect(Walker& walker, const std::vector<std::string>& roots) {
  size_t threads = static_cast<size_t>(std::max(1, options_.walk.threads));
  Collector collector(threads, std::max<int64_t>(options_.min_size, 1), journal_->dev(), journal_->ino(),
                      files_collected_);
  walker.walk(roots, collector);
  for (auto& list : collector.problems_) {
    for (auto& p : list) result_.problems.push_back(std::move(p));
  }
  // With --apply the journal's leftovers are gone by now: what is left is not accounted for.
  for (auto& list : collector.leftovers_) {
    for (RawEntry& e : list) {
      std::string path = walk_path(e.parent, e.name);
      size_t slash = e.name.rfind('/');
      std::string base = slash == std::string::npos ? e.name : e.name.substr(slash + 1);
      if (!options_.apply && journal_->is_open_temp(base)) {
        result_.warnings.push_back(
            {path, "temporary name left by an interrupted run; the next --apply removes it"});
      } else {
        result_.problems.push_back(
            {path,
             "temporary name of an interrupted dedupe run that the state file does not "
             "account for: not removed; check it and remove it by hand"});
      }
    }
  }
  size_t total = 0;
  for (auto& list : collector.per_worker_) total += list.size();
  names_.reserve(total);
  std::vector<struct stat> stats;
  stats.reserve(total);
  for (auto& list : collector.per_worker_) {
    for (RawEntry& e : list) {
      FileName n{e.parent, std::move(e.name), {}, 0};
      n.path = walk_path(n.parent, n.name);
      names_.push_back(std::move(n));
      stats.push_back(e.st);
    }
    list.clear();
    list.shrink_to_fit();
  }
  result_.files_scanned = names_.size();
  // One Inode per (device, inode); its names in byte order.
  std::vector<size_t> order(names_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (stats[a].st_dev != stats[b].st_dev) return stats[a].st_dev < stats[b].st_dev;
    if (stats[a].st_ino != stats[b].st_ino) return stats[a].st_ino < stats[b].st_ino;
    return names_[a].path < names_[b].path;
  });
  for_each_run(
      order.begin(), order.end(),
      [&](size_t a, size_t b) {
        return stats[a].st_dev == stats[b].st_dev && stats[a].st_ino == stats[b].st_ino;
      },
      [&](auto first, auto last) {
        const struct stat& st = stats[*first];
        Inode inode;
        inode.stamp = stamp_of(st);
        inode.uid = st.st_uid;
        inode.gid = st.st_gid;
        inode.mode = st.st_mode & 07777;
        inode.nlink = st.st_nlink;
        result_.bytes_total += st.st_size;
        for (auto it = first; it != last; ++it) {
          inode.names.push_back(*it);
          names_[*it].inode = inodes_.size();
        }
        inodes_.push_back(std::move(inode));
      });
}

void Engine::hash_round(const std::vector<size_t>& todo, bool full) {
  if (todo.empty()) return;
  size_t threads = std::min(todo.size(), static_cast<size_t>(std::max(1, options_.walk.threads)));
  std::atomic<size_t> next{0};
  std::vector<std::vector<DedupeProblem>> problems(threads);
  auto work = [&](size_t worker) {
    std::vector<char> buf(kBufferSize);
    DirChain dirs;
    for (;;) {
      size_t k = next.fetch_add(1);
      if (k >= todo.size()) break;
      Inode& inode = inodes_[todo[k]];
      std::string what;
      const FileName& name = names_[inode.names.front()];
      const std::string& path = name.path;
      if (!hash_file(dirs, name, inode, full, !options_.ignore_metadata, buf, counters_, what)) {
        inode.failed = true;
        problems[worker].push_back({path, what});
        continue;
      }
      journal_->record_hash(inode.stamp, inode.has_edge ? std::optional<uint64_t>(inode.edge) : std::nullopt,
                            inode.has_full ? std::optional<Hash128>(inode.full) : std::nullopt);
      report_progress(false);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& t : pool) t.join();
  for (auto& list : problems) {
    for (auto& p : list) result_.problems.push_back(std::move(p));
  }
}

std::vector<std::vector<size_t>> Engine::find_groups() {
  // Sizes held by two or more inodes; the others cannot have a duplicate.
  std::vector<size_t> by_size(inodes_.size());
  for (size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
  std::sort(by_size.begin(), by_size.end(),
            [&](size_t a, size_t b) { return inodes_[a].stamp.size < inodes_[b].stamp.size; });
  std::vector<size_t> candidates;
  for_each_run(
      by_size.begin(), by_size.end(),
      [&](size_t a, size_t b) { return inodes_[a].stamp.size == inodes_[b].stamp.size; },
      [&](auto first, auto last) {
        if (last - first >= 2) candidates.insert(candidates.end(), first, last);
      });
  // Reuse what the state file knows; read the rest in (device, inode) order.
  auto by_inode = [&](size_t a, size_t b) {
    const FileStamp& x = inodes_[a].stamp;
    const FileStamp& y = inodes_[b].stamp;
    return x.dev != y.dev ? x.dev < y.dev : x.ino < y.ino;
  };
  std::vector<size_t> todo;
  for (size_t i : candidates) {
    Inode& inode = inodes_[i];
    if (const CachedHash* c = journal_->find(inode.stamp)) {
      if (c->edge) {
        inode.edge = *c->edge;
        inode.has_edge = true;
      }
      if (c->full) {
        inode.full = *c->full;
        inode.has_full = true;
      }
      if (inode.has_edge) {
        ++result_.hashes_reused;
        continue;
      }
    }
    todo.push_back(i);
  }
  std::sort(todo.begin(), todo.end(), by_inode);
  phase_ = "hashing";
  hash_round(todo, false);

  // Edge collisions (same size and edge hash) need the full hash.
  auto by_edge = [&](size_t a, size_t b) {
    const Inode& x = inodes_[a];
    const Inode& y = inodes_[b];
    if (x.stamp.size != y.stamp.size) return x.stamp.size < y.stamp.size;
    return x.edge < y.edge;
  };
  std::erase_if(candidates, [&](size_t i) { return inodes_[i].failed; });
  std::sort(candidates.begin(), candidates.end(), by_edge);
  std::vector<size_t> second;
  todo.clear();
  for_each_run(
      candidates.begin(), candidates.end(),
      [&](size_t a, size_t b) {
        return inodes_[a].stamp.size == inodes_[b].stamp.size && inodes_[a].edge == inodes_[b].edge;
      },
      [&](auto first, auto last) {
        if (last - first < 2) return;
        for (auto it = first; it != last; ++it) {
          second.push_back(*it);
          if (!inodes_[*it].has_full) todo.push_back(*it);
        }
      });
  std::sort(todo.begin(), todo.end(), by_inode);
  hash_round(todo, true);
  std::erase_if(second, [&](size_t i) { return inodes_[i].failed; });

  // Groups: same size and full hash. Members ordered by their first path.
  auto first_path = [&](size_t i) -> const std::string& { return names_[inodes_[i].names.front()].path; };
  std::sort(second.begin(), second.end(), [&](size_t a, size_t b) {
    const Inode& x = inodes_[a];
    const Inode& y = inodes_[b];
    if (x.stamp.size != y.stamp.size) return x.stamp.size < y.stamp.size;
    if (x.full != y.full) return x.full < y.full;
    return first_path(a) < first_path(b);
  });
  std::vector<std::vector<size_t>> groups;
  for_each_run(
      second.begin(), second.end(),
      [&](size_t a, size_t b) {
        return inodes_[a].stamp.size == inodes_[b].stamp.size && inodes_[a].full == inodes_[b].full;
      },
      [&](auto first, auto last) {
        if (last - first >= 2) groups.emplace_back(first, last);
      });
  std::sort(groups.begin(), groups.end(),
            [&](const auto& a, const auto& b) { return first_path(a[0]) < first_path(b[0]); });
  return groups;
}

}  // namespace opsktl::dedupe_detail
