// dedupe, linking: replaces the names of a duplicate inode with links to the kept one,
// never losing a byte, even when killed at any instant.
//
// Linking one duplicate name: open the directories from the root one component at a time
// with O_NOFOLLOW|O_DIRECTORY, checking each against the device/inode the walk saw; re-stat
// the kept file and the duplicate against their recorded stamps; (--verify bytes) compare
// the two byte by byte; journal the intent (synced); make the new link under a unique
// temporary name in the duplicate's directory; re-stat once more; rename it over the
// duplicate; journal done. A kill at any point leaves every original name present with its
// original content (rename is atomic), at worst plus a temporary name, which the next run
// removes. The kept copy is chosen by a rule that linking cannot change (its first path
// only gets smaller, its mtime stays), so a resumed run ends where an uninterrupted one does.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "dedupe_internal.hpp"
#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

namespace opsktl::dedupe_detail {
namespace {

// The root of `dir` and the names from it down to `dir`.
const WalkDir* split_dir(const WalkDir* dir, std::vector<const WalkDir*>& chain) {
  chain.clear();
  while (dir->parent) {
    chain.push_back(dir);
    dir = dir->parent;
  }
  std::reverse(chain.begin(), chain.end());
  return dir;
}

std::string relative_dir(const std::vector<const WalkDir*>& chain) {
  std::string rel;
  for (const WalkDir* d : chain) {
    if (!rel.empty()) rel += '/';
    rel += d->name;
  }
  return rel;
}

// Where a name's directory is, for the journal: an absolute root and a relative path.
void temp_location(const FileName& name, std::string& root, std::string& dir) {
  if (!name.parent) {
    std::filesystem::path p(name.name);
    root = absolute_root(p.has_parent_path() ? p.parent_path().string() : ".");
    dir.clear();
    return;
  }
  std::vector<const WalkDir*> chain;
  root = absolute_root(split_dir(name.parent, chain)->name);
  dir = relative_dir(chain);
}

// The path of an open directory as the kernel resolved it (symlinks and ".." gone).
bool fd_path(int dirfd, std::string& out) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  std::string buf(4096, '\0');
  for (;;) {
    ssize_t n = ::readlink(link, buf.data(), buf.size());
    if (n < 0) return false;
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      break;
    }
    buf.resize(buf.size() * 2);
  }
  if (buf.empty() || buf[0] != '/') {  // not a path (a deleted directory still reads as one)
    errno = ENOENT;
    return false;
  }
  out = std::move(buf);
  return true;
}

// Whether an open file is still the regular file recorded, unchanged.
bool unchanged(int fd, const FileStamp& stamp) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && stamp_of(st) == stamp;
}

// Reads a file's stamp through its descriptor right after one of our own operations on it,
// which moves its ctime and nothing else: takes the new ctime. Leaves `stamp` as it was and
// returns false when anything else moved (a change that is not ours).
bool take_own_ctime(int fd, FileStamp& stamp) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  FileStamp now = stamp_of(st);
  if (now.dev != stamp.dev || now.ino != stamp.ino || now.size != stamp.size ||
      now.mtime_ns != stamp.mtime_ns)
    return false;
  stamp.ctime_ns = now.ctime_ns;
  return true;
}

// Opens the directory holding a file name, one component at a time from its root, never
// following a symlink and checking every directory is the one the walk saw.
Fd open_parent(const FileName& name, std::string& base, Problem& problem) {
  if (!name.parent) {
    std::filesystem::path p(name.name);
    std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
    base = p.filename().string();
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) problem = {"error", "cannot open directory: " + errno_message(errno)};
    return Fd(fd);
  }
  base = name.name;
  std::vector<const WalkDir*> chain;
  const WalkDir* root = split_dir(name.parent, chain);
  Fd fd(::open(root->name.c_str(), kRootDirFlags));
  auto check = [&](const WalkDir* expect) {
    struct stat st {};
    if (!fd.ok()) {
      problem = {errno == ELOOP || errno == ENOTDIR || errno == ENOENT ? "changed" : "error",
                 "cannot open directory " + walk_path(*expect) + ": " + errno_message(errno)};
      return false;
    }
    if (::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_dev) != expect->dev ||
        static_cast<uint64_t>(st.st_ino) != expect->ino) {
      problem = {"changed", "directory " + walk_path(*expect) + " was replaced during the run"};
      fd.reset();
      return false;
    }
    return true;
  };
  if (!check(root)) return Fd();
  for (const WalkDir* d : chain) {
    fd = Fd(::openat(fd.get(), d->name.c_str(), kDirFlags));
    if (!check(d)) return Fd();
  }
  return fd;
}

// Compares two open files byte by byte.
bool same_bytes(int a, int b, int64_t size, std::vector<char>& buf, Counters& counters, std::string& what) {
  size_t half = buf.size() / 2;
  int64_t off = 0;
  while (off < size) {
    size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(half), size - off));
    ssize_t na = read_fully(a, buf.data(), want, off);
    ssize_t nb = read_fully(b, buf.data() + half, want, off);
    if (na < 0 || nb < 0) {
      what = "cannot read: " + errno_message(errno);
      return false;
    }
    counters.bytes_hashed += static_cast<uint64_t>(na + nb);
    if (na != nb || static_cast<size_t>(na) != want ||
        std::memcmp(buf.data(), buf.data() + half, want) != 0) {
      what = "content differs from the kept file";
      return false;
    }
    off += na;
  }
  return true;
}

std::string unique_temp_name() {
  static std::atomic<uint64_t> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  char buf[96];
  std::snprintf(buf, sizeof buf, ".opsktl-dedupe.%d.%" PRIx64 ".%" PRIu64 ".tmp",
                static_cast<int>(::getpid()), static_cast<uint64_t>(now), counter.fetch_add(1));
  return buf;
}

// Whether a duplicate is a clone of the kept file already (its extents are the kept file's).
bool already_shared(const Inode& keep, const Inode& dup) {
  return !keep.extents.empty() && same_extents(keep.extents, dup.extents);
}

}  // namespace

std::string absolute_root(const std::string& root) {
  // As the kernel resolves it when the root is opened (symlinks, then ".."): a lexical
  // normal form of "dir/link/.." would name another directory.
  if (char* real = ::realpath(root.c_str(), nullptr)) {
    std::string out(real);
    std::free(real);  // NOLINT(cppcoreguidelines-no-malloc): realpath allocates with malloc
    return out;
  }
  std::string abs = std::filesystem::absolute(root).lexically_normal().string();
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

std::string Engine::skip_reason(const Inode& keep, const Inode& dup) const {
  if (keep.xattrs_unread || dup.xattrs_unread) return "error";
  if (!options_.ignore_metadata &&
      (dup.uid != keep.uid || dup.gid != keep.gid || dup.mode != keep.mode || dup.xattrs != keep.xattrs)) {
    return "metadata";
  }
  if (options_.link == DedupeLink::kHardlink && dup.stamp.dev != keep.stamp.dev) return "device";
  return {};
}

void Engine::prepare_intents(size_t keep, const std::vector<size_t>& dups, std::vector<PendingTemp>& temps,
                             std::vector<size_t>& names) {
  for (size_t d : dups) {
    if (!skip_reason(inodes_[keep], inodes_[d]).empty() || already_shared(inodes_[keep], inodes_[d]))
      continue;
    for (size_t n : inodes_[d].names) {
      PendingTemp t;
      temp_location(names_[n], t.root, t.dir);
      t.tmp = unique_temp_name();
      t.kind = options_.link == DedupeLink::kSymlink ? TempKind::kSymlink : TempKind::kHardlink;
      t.target_dev = inodes_[keep].stamp.dev;
      t.target_ino = inodes_[keep].stamp.ino;
      temps.push_back(std::move(t));
      names.push_back(n);
    }
  }
}

void Engine::commit_intents(std::vector<PendingTemp>& temps, std::vector<size_t>& names) {
  if (temps.empty()) return;
  std::vector<std::string> tmps;
  tmps.reserve(temps.size());
  for (const PendingTemp& t : temps) tmps.push_back(t.tmp);
  std::vector<uint64_t> ids = journal_->record_intents(std::move(temps));
  for (size_t k = 0; k < names.size(); ++k) prepared_[names[k]] = {ids[k], std::move(tmps[k])};
}

void Engine::link_group(size_t keep, const std::vector<size_t>& dups, DedupeGroup& group) {
  const Inode& k = inodes_[keep];
  for (size_t n : k.names) group.entries.push_back({names_[n].path, DedupeAction::kKeep, {}});
  for (size_t d : dups) {
    const Inode& dup = inodes_[d];
    ++result_.duplicates;
    std::string reason = skip_reason(k, dup);
    if (reason.empty() && already_shared(k, dup)) {
      // A clone made by an earlier run (or cp --reflink): already deduplicated.
      ++result_.already_shared;
      for (size_t n : dup.names) group.entries.push_back({names_[n].path, DedupeAction::kShared, {}});
      continue;
    }
    size_t first = group.entries.size();
    for (size_t n : dup.names) {
      group.entries.push_back(
          {names_[n].path, reason.empty() ? DedupeAction::kDup : DedupeAction::kSkipped, reason});
    }
    if (!reason.empty()) {
      result_.skipped[reason] += dup.names.size();
      continue;
    }
    // A name outside the roots keeps the inode's blocks however its names here are linked.
    bool held = dup.nlink > dup.names.size();
    if (held) {
      ++result_.held_outside;
    } else {
      result_.reclaimable_bytes += dup.stamp.size;
    }
    if (!options_.apply) continue;
    std::vector<DedupeEntry*> entries;
    for (size_t j = first; j < group.entries.size(); ++j) entries.push_back(&group.entries[j]);
    link_inode(keep, d, entries);
    bool all = std::all_of(entries.begin(), entries.end(),
                           [](const DedupeEntry* e) { return e->action == DedupeAction::kLinked; });
    if (all && !held) result_.reclaimed_bytes += dup.stamp.size;
  }
}

// Replaces every name of inode `dup` with a link to inode `keep` (see the file comment).
void Engine::link_inode(size_t keep_index, size_t dup_index, std::vector<DedupeEntry*>& entries) {
  Inode& keep = inodes_[keep_index];
  Inode& dup = inodes_[dup_index];
  auto skip = [&](size_t from, const Problem& problem, const std::string& path) {
    for (size_t j = from; j < entries.size(); ++j) {
      entries[j]->action = DedupeAction::kSkipped;
      entries[j]->reason = problem.reason;
      ++result_.skipped[problem.reason];
    }
    result_.problems.push_back({path, problem.what});
  };
  const FileName& kname = names_[keep.names.front()];
  Problem problem;
  std::string kbase;
  Fd kdir = open_parent(kname, kbase, problem);
  if (!kdir.ok()) return skip(0, problem, kname.path);
  auto restat = [&](int dirfd, const std::string& base, const FileStamp& expect, struct stat& st) {
    return ::fstatat(dirfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
           stamp_of(st) == expect;
  };
  struct stat st {};
  if (!restat(kdir.get(), kbase, keep.stamp, st)) {
    return skip(0, {"changed", "kept file " + kname.path + " changed since it was hashed"}, kname.path);
  }
  Fd kfd;
  Fd dfd;
  // A reflink makes one new inode for the first name; the others become hard links to it.
  bool reflink = options_.link == DedupeLink::kReflink;
  Fd clone_dir;
  std::string clone_base;
  FileStamp clone_stamp;
  bool have_clone = false;
  // A symlink names the kept file by the directory actually opened, not by the path given.
  std::string target;
  if (options_.link == DedupeLink::kSymlink) {
    if (!fd_path(kdir.get(), target)) {
      return skip(0, {"error", "cannot tell the path of the kept file's directory: " + errno_message(errno)},
                  kname.path);
    }
    target += target == "/" ? kbase : "/" + kbase;
  }

  for (size_t j = 0; j < entries.size(); ++j) {
    const FileName& dname = names_[dup.names[j]];
    if (options_.before_link) options_.before_link(dname.path);
    std::string dbase;
    Fd ddir = open_parent(dname, dbase, problem);
    if (!ddir.ok()) {
      skip(j, problem, dname.path);
      return;
    }
    if (!restat(ddir.get(), dbase, dup.stamp, st)) {
      skip(j, {"changed", "changed since it was hashed"}, dname.path);
      return;
    }
    if (!dfd.ok()) {
      dfd = Fd(::openat(ddir.get(), dbase.c_str(), kReadFlags));
      kfd = Fd(::openat(kdir.get(), kbase.c_str(), kReadFlags));
      struct stat a {
      }, b{};
      if (!dfd.ok() || !kfd.ok() || ::fstat(dfd.get(), &a) != 0 || ::fstat(kfd.get(), &b) != 0 ||
          !(stamp_of(a) == dup.stamp) || !(stamp_of(b) == keep.stamp)) {
        skip(j, {"changed", "cannot open to verify, or changed: " + errno_message(errno)}, dname.path);
        return;
      }
      if (options_.verify == DedupeVerify::kBytes) {
        std::string what;
        if (!same_bytes(kfd.get(), dfd.get(), keep.stamp.size, link_buf_, counters_, what)) {
          skip(j, {"changed", what}, dname.path);
          return;
        }
      }
    }
    if (options_.at_step) options_.at_step(dname.path, "verified");
    // Nothing but our own operations may have touched either file since they were
    // recorded: their ctimes are the ones read back right after each of those operations.
    if (!unchanged(kfd.get(), keep.stamp)) {
      skip(j, {"changed", "kept file " + kname.path + " changed while linking"}, dname.path);
      return;
    }
    if (!unchanged(dfd.get(), dup.stamp)) {
      skip(j, {"changed", "changed while linking"}, dname.path);
      return;
    }
    // The journal names the temporary link before it exists.
    std::string tmp;
    PendingTemp intent;
    temp_location(dname, intent.root, intent.dir);
    TempKind kind = options_.link == DedupeLink::kSymlink ? TempKind::kSymlink
                    : (reflink && !have_clone)            ? TempKind::kReflink
                                                          : TempKind::kHardlink;
    // Our own link operations on the kept inode (not on a clone) move its ctime.
    bool touches_keep = kind == TempKind::kHardlink && !have_clone;
    intent.kind = kind;
    intent.target_dev = have_clone ? clone_stamp.dev : keep.stamp.dev;
    intent.target_ino = have_clone ? clone_stamp.ino : keep.stamp.ino;
    if (kind == TempKind::kSymlink) intent.target = target;
    int made = -1;
    int err = 0;
    uint64_t id = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto ready = prepared_.find(dup.names[j]);
      if (attempt == 0 && ready != prepared_.end() && intent.kind != TempKind::kReflink &&
          intent.target_ino == keep.stamp.ino) {
        id = ready->second.first;
        tmp = ready->second.second;
        prepared_.erase(ready);
      } else {
        tmp = unique_temp_name();
        intent.tmp = tmp;
        id = journal_->record_intent(intent);
      }
      if (kind == TempKind::kHardlink) {
        int src_dir = have_clone ? clone_dir.get() : kdir.get();
        const std::string& src = have_clone ? clone_base : kbase;
        made = ::linkat(src_dir, src.c_str(), ddir.get(), tmp.c_str(), 0);
      } else if (kind == TempKind::kSymlink) {
        made = ::symlinkat(target.c_str(), ddir.get(), tmp.c_str());
      } else {
        int tfd =
            ::openat(ddir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (tfd >= 0) {
          made = ::ioctl(tfd, FICLONE, kfd.get());
          err = errno;
          if (made == 0) {
            struct timespec times[2] = {st.st_atim, st.st_mtim};
            if (::fchown(tfd, dup.uid, dup.gid) != 0 || ::fchmod(tfd, dup.mode) != 0 ||
                ::futimens(tfd, times) != 0) {
              made = -1;
              err = errno;
            }
            // The duplicate's ACL and user.* attributes (equal to the kept file's unless
            // --ignore-metadata) go with it.
            for (const auto& [name, value] : dup.xattrs) {
              if (made == 0 && ::fsetxattr(tfd, name.c_str(), value.data(), value.size(), 0) != 0) {
                made = -1;
                err = errno;
              }
            }
          }
          // The clone's identity, so that a later run removes this name only if it is the clone.
          struct stat cst {};
          if (made == 0 && ::fstat(tfd, &cst) == 0) {
            journal_->record_made(id, static_cast<uint64_t>(cst.st_dev), static_cast<uint64_t>(cst.st_ino));
          }
          ::close(tfd);
          if (made != 0) {
            (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
            journal_->record_done(id);
            errno = err;
          }
        }
      }
      err = errno;
      if (made == 0 || err != EEXIST) break;
      journal_->record_done(id);
    }
    if (made != 0) {
      journal_->record_done(id);
      if (err == EXDEV && kind == TempKind::kHardlink) {
        // Another mount of the same file system (a bind mount): this name cannot share the
        // kept inode, the other names of the duplicate may.
        entries[j]->action = DedupeAction::kSkipped;
        entries[j]->reason = "device";
        ++result_.skipped["device"];
        continue;
      }
      std::string reason = (kind == TempKind::kReflink &&
                            (err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY))
                               ? "unsupported"
                               : "error";
      const char* verb = kind == TempKind::kReflink ? "cannot clone" : "cannot link";
      skip(j, {reason, std::string(verb) + ": " + errno_message(err)}, dname.path);
      return;
    }
    // Removes the temporary name again; the kept inode's ctime moves with it.
    auto undo = [&] {
      (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
      journal_->record_done(id);
      if (touches_keep) (void)take_own_ctime(kfd.get(), keep.stamp);
    };
    // Our link moved the kept inode's ctime: read back the new one at once. Anything else
    // that moved is not ours.
    bool keep_ok = !touches_keep || take_own_ctime(kfd.get(), keep.stamp);
    if (!keep_ok) {
      (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
      journal_->record_done(id);
      skip(j, {"changed", "kept file " + kname.path + " changed while linking"}, dname.path);
      return;
    }
    if (touches_keep) journal_->record_hash(keep.stamp, keep.edge, keep.full);
    // The new name must lead to the kept inode (a symlink resolved as a reader would).
    struct stat tst {};
    bool leads =
        kind == TempKind::kReflink
            ? ::fstatat(ddir.get(), tmp.c_str(), &tst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(tst.st_mode)
            : ::fstatat(ddir.get(), tmp.c_str(), &tst,
                        kind == TempKind::kSymlink ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
                  static_cast<uint64_t>(tst.st_dev) == intent.target_dev &&
                  static_cast<uint64_t>(tst.st_ino) == intent.target_ino;
    if (!leads) {
      undo();
      skip(j, {"changed", "the new link does not lead to the kept file " + kname.path}, dname.path);
      return;
    }
    if (options_.at_step) options_.at_step(dname.path, "made");
    // Last check just before the rename: both files still as recorded.
    bool dup_still = restat(ddir.get(), dbase, dup.stamp, st);
    bool keep_still = restat(kdir.get(), kbase, keep.stamp, st);
    if (!dup_still || !keep_still) {
      if (keep_still) {
        undo();
      } else {
        // A change not ours: the kept file's recorded stamp stays, so nothing more is linked to it.
        (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
        journal_->record_done(id);
      }
      skip(j,
           {"changed", keep_still ? "changed just before linking"
                                  : "kept file " + kname.path + " changed just before linking"},
           dname.path);
      return;
    }
    if (::renameat(ddir.get(), tmp.c_str(), ddir.get(), dbase.c_str()) != 0) {
      int e = errno;
      undo();
      skip(j, {"error", "cannot rename over: " + errno_message(e)}, dname.path);
      return;
    }
    journal_->record_done(id);
    // A rename moves the renamed inode's ctime too.
    if (touches_keep && take_own_ctime(kfd.get(), keep.stamp))
      journal_->record_hash(keep.stamp, keep.edge, keep.full);
    entries[j]->action = DedupeAction::kLinked;
    ++result_.linked;
    if (kind == TempKind::kReflink) {
      struct stat cst {};
      if (::fstatat(ddir.get(), dbase.c_str(), &cst, AT_SYMLINK_NOFOLLOW) == 0) {
        clone_stamp = stamp_of(cst);
        clone_dir = std::move(ddir);
        clone_base = dbase;
        have_clone = true;
        journal_->record_hash(clone_stamp, keep.edge, keep.full);
      }
    }
    // The duplicate lost a name: its ctime moved too (when names of it remain).
    struct stat dst {};
    if (::fstat(dfd.get(), &dst) == 0 && dst.st_nlink > 0 && take_own_ctime(dfd.get(), dup.stamp)) {
      journal_->record_hash(dup.stamp, dup.edge, dup.full);
    }
  }
}

}  // namespace opsktl::dedupe_detail
