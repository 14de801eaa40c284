// dedupe: find files with identical content, and replace duplicates with links without
// ever losing a byte, even when killed at any instant.
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
#define XXH_INLINE_ALL
#include "opsktl/dedupe.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

namespace opsktl {
namespace {

constexpr size_t kEdge = 4096;
constexpr size_t kBufferSize = 1 << 20;
constexpr int kReadFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

int64_t ns(const struct timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

FileStamp stamp_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct FileName {
  const WalkDir* parent;  // nullptr: the name is a root given on the command line
  std::string name;
  std::string path;
  size_t inode;  // index into inodes
};

struct Inode {
  FileStamp stamp;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;
  std::vector<size_t> names;  // into names, sorted by path
  uint64_t edge = 0;
  Hash128 full;
  bool has_edge = false;
  bool has_full = false;
  bool failed = false;  // could not be read: out of every group
};

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
        problems_(threads),
        min_size_(min_size),
        skip_dev_(skip_dev),
        skip_ino_(skip_ino),
        accepted_(accepted) {}

  int64_t on_entry(size_t worker, const WalkDir* parent, std::string_view name,
                   const struct stat& st) override {
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
  std::vector<std::vector<DedupeProblem>> problems_;

 private:
  int64_t min_size_;
  uint64_t skip_dev_;
  uint64_t skip_ino_;
  std::atomic<uint64_t>& accepted_;
};

struct Counters {
  std::atomic<uint64_t> bytes_hashed{0};
  std::atomic<uint64_t> files_hashed{0};
};

// Reads with a short-read loop; returns bytes read or -1 with errno.
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

// Opens a recorded regular file for reading and checks it is still that file, unchanged.
// Never blocks on a FIFO swapped in (O_NONBLOCK) and never follows a symlink at the end.
int open_recorded(const std::string& path, const FileStamp& stamp, std::string& what) {
  int fd = ::open(path.c_str(), kReadFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), kReadFlags);
  if (fd < 0) {
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

// The hashing rounds: `edge` reads up to 2 x 4 KiB (or the whole of a small file), `full`
// reads everything. Returns false with `what` set when the file cannot be read as recorded.
bool hash_file(const std::string& path, Inode& inode, bool full, std::vector<char>& buf, Counters& counters,
               std::string& what) {
  Fd fd(open_recorded(path, inode.stamp, what));
  if (!fd.ok()) return false;
  auto size = static_cast<size_t>(inode.stamp.size);
  if (!full && size > 2 * kEdge) {
    ssize_t a = read_fully(fd.get(), buf.data(), kEdge, 0);
    ssize_t b = read_fully(fd.get(), buf.data() + kEdge, kEdge, static_cast<off_t>(size - kEdge));
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
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
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

std::string absolute_root(const std::string& root) {
  std::string abs = std::filesystem::absolute(root).lexically_normal().string();
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

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

std::string absolute_path_of(const FileName& name) {
  return std::filesystem::absolute(name.path).lexically_normal().string();
}

struct Problem {
  std::string reason;  // skip reason: changed, error, device, unsupported
  std::string what;
};

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
  Fd fd(::open(root->name.c_str(), kDirFlags));
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

// Removes the temporary names an interrupted run left behind. Each was recorded before it
// was made, and is removed only when it still looks like what that run made.
void remove_leftovers(DedupeJournal& journal, DedupeResult& result) {
  for (const PendingTemp& p : journal.pending()) {
    Fd fd(::open(p.root.c_str(), kDirFlags));
    size_t start = 0;
    while (fd.ok() && start < p.dir.size()) {
      size_t slash = p.dir.find('/', start);
      if (slash == std::string::npos) slash = p.dir.size();
      std::string part = p.dir.substr(start, slash - start);
      fd = Fd(::openat(fd.get(), part.c_str(), kDirFlags));
      start = slash + 1;
    }
    std::string where = p.root + (p.dir.empty() ? "" : "/" + p.dir) + "/" + p.tmp;
    if (!fd.ok()) {
      if (errno != ENOENT)
        result.problems.push_back({where, "cannot remove temporary link: " + errno_message(errno)});
      journal.record_done(p.id);
      continue;
    }
    struct stat st {};
    if (::fstatat(fd.get(), p.tmp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      journal.record_done(p.id);  // renamed into place, or never made
      continue;
    }
    bool ours = false;
    switch (p.kind) {
      case TempKind::kHardlink:
        ours = S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_dev) == p.target_dev &&
               static_cast<uint64_t>(st.st_ino) == p.target_ino;
        break;
      case TempKind::kSymlink: ours = S_ISLNK(st.st_mode); break;
      case TempKind::kReflink: ours = S_ISREG(st.st_mode) && st.st_nlink == 1; break;
    }
    if (!ours) {
      result.problems.push_back({where, "not removed: does not look like a temporary link of opsktl dedupe"});
    } else if (::unlinkat(fd.get(), p.tmp.c_str(), 0) != 0) {
      result.problems.push_back({where, "cannot remove temporary link: " + errno_message(errno)});
      continue;
    } else {
      ++result.temp_links_removed;
    }
    journal.record_done(p.id);
  }
  journal.sync();
}

class Engine {
 public:
  Engine(const DedupeOptions& options, DedupeResult& result) : options_(options), result_(result) {}

  void run();

 private:
  void collect(Walker& walker);
  void hash_round(const std::vector<size_t>& todo, bool full);
  void report_progress(bool force);
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

void Engine::collect(Walker& walker) {
  size_t threads = static_cast<size_t>(std::max(1, options_.walk.threads));
  Collector collector(threads, std::max<int64_t>(options_.min_size, 1), journal_->dev(), journal_->ino(),
                      files_collected_);
  walker.walk(options_.roots, collector);
  for (auto& list : collector.problems_) {
    for (auto& p : list) result_.problems.push_back(std::move(p));
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
  for (size_t k = 0; k < order.size(); ++k) {
    size_t i = order[k];
    const struct stat& st = stats[i];
    if (inodes_.empty() || inodes_.back().stamp.dev != static_cast<uint64_t>(st.st_dev) ||
        inodes_.back().stamp.ino != static_cast<uint64_t>(st.st_ino)) {
      Inode inode;
      inode.stamp = stamp_of(st);
      inode.uid = st.st_uid;
      inode.gid = st.st_gid;
      inode.mode = st.st_mode & 07777;
      inodes_.push_back(std::move(inode));
      result_.bytes_total += st.st_size;
    }
    inodes_.back().names.push_back(i);
    names_[i].inode = inodes_.size() - 1;
  }
}

void Engine::hash_round(const std::vector<size_t>& todo, bool full) {
  if (todo.empty()) return;
  size_t threads = std::min(todo.size(), static_cast<size_t>(std::max(1, options_.walk.threads)));
  std::atomic<size_t> next{0};
  std::vector<std::vector<DedupeProblem>> problems(threads);
  auto work = [&](size_t worker) {
    std::vector<char> buf(kBufferSize);
    for (;;) {
      size_t k = next.fetch_add(1);
      if (k >= todo.size()) break;
      Inode& inode = inodes_[todo[k]];
      std::string what;
      const std::string& path = names_[inode.names.front()].path;
      if (!hash_file(path, inode, full, buf, counters_, what)) {
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

void Engine::run() {
  // The roots a state file belongs to, and the file itself (never a candidate).
  std::vector<std::string> roots = dedupe_root_set(options_.roots);
  result_.state_path =
      options_.state_path.empty() ? default_dedupe_state_path(options_.roots) : options_.state_path;
  std::filesystem::path parent = std::filesystem::path(result_.state_path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw Error(parent.string() + ": cannot create state directory: " + ec.message());
  }
  journal_ = std::make_unique<DedupeJournal>(result_.state_path, roots);
  if (options_.apply) remove_leftovers(*journal_, result_);

  WalkOptions walk = options_.walk;
  walk.threads = std::max(1, walk.threads);
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
  collect(walker);
  report_progress(true);

  // Sizes held by two or more inodes; the others cannot have a duplicate.
  std::vector<size_t> by_size(inodes_.size());
  for (size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
  std::sort(by_size.begin(), by_size.end(),
            [&](size_t a, size_t b) { return inodes_[a].stamp.size < inodes_[b].stamp.size; });
  std::vector<size_t> candidates;
  for (size_t k = 0; k < by_size.size();) {
    size_t e = k;
    while (e < by_size.size() && inodes_[by_size[e]].stamp.size == inodes_[by_size[k]].stamp.size) ++e;
    if (e - k >= 2)
      candidates.insert(candidates.end(), by_size.begin() + static_cast<long>(k),
                        by_size.begin() + static_cast<long>(e));
    k = e;
  }
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
  for (size_t k = 0; k < candidates.size();) {
    size_t e = k;
    while (e < candidates.size() && !by_edge(candidates[k], candidates[e]) &&
           !by_edge(candidates[e], candidates[k]))
      ++e;
    if (e - k >= 2) {
      for (size_t j = k; j < e; ++j) {
        second.push_back(candidates[j]);
        if (!inodes_[candidates[j]].has_full) todo.push_back(candidates[j]);
      }
    }
    k = e;
  }
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
  for (size_t k = 0; k < second.size();) {
    size_t e = k;
    while (e < second.size() && inodes_[second[e]].stamp.size == inodes_[second[k]].stamp.size &&
           inodes_[second[e]].full == inodes_[second[k]].full) {
      ++e;
    }
    if (e - k >= 2)
      groups.emplace_back(second.begin() + static_cast<long>(k), second.begin() + static_cast<long>(e));
    k = e;
  }
  std::sort(groups.begin(), groups.end(),
            [&](const auto& a, const auto& b) { return first_path(a[0]) < first_path(b[0]); });
  groups_found_ = groups.size();
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
}

std::string Engine::skip_reason(const Inode& keep, const Inode& dup) const {
  if (!options_.ignore_metadata && (dup.uid != keep.uid || dup.gid != keep.gid || dup.mode != keep.mode)) {
    return "metadata";
  }
  if (options_.link == DedupeLink::kHardlink && dup.stamp.dev != keep.stamp.dev) return "device";
  return {};
}

void Engine::prepare_intents(size_t keep, const std::vector<size_t>& dups, std::vector<PendingTemp>& temps,
                             std::vector<size_t>& names) {
  for (size_t d : dups) {
    if (!skip_reason(inodes_[keep], inodes_[d]).empty()) continue;
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
    size_t first = group.entries.size();
    for (size_t n : dup.names) {
      group.entries.push_back(
          {names_[n].path, reason.empty() ? DedupeAction::kDup : DedupeAction::kSkipped, reason});
    }
    if (!reason.empty()) {
      result_.skipped[reason] += dup.names.size();
      continue;
    }
    result_.reclaimable_bytes += dup.stamp.size;
    if (!options_.apply) continue;
    std::vector<DedupeEntry*> entries;
    for (size_t j = first; j < group.entries.size(); ++j) entries.push_back(&group.entries[j]);
    link_inode(keep, d, entries);
    bool all = std::all_of(entries.begin(), entries.end(),
                           [](const DedupeEntry* e) { return e->action == DedupeAction::kLinked; });
    if (all) result_.reclaimed_bytes += dup.stamp.size;
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
    // The journal names the temporary link before it exists.
    std::string tmp;
    PendingTemp intent;
    temp_location(dname, intent.root, intent.dir);
    TempKind kind = options_.link == DedupeLink::kSymlink ? TempKind::kSymlink
                    : (reflink && !have_clone)            ? TempKind::kReflink
                                                          : TempKind::kHardlink;
    intent.kind = kind;
    intent.target_dev = have_clone ? clone_stamp.dev : keep.stamp.dev;
    intent.target_ino = have_clone ? clone_stamp.ino : keep.stamp.ino;
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
        made = ::symlinkat(absolute_path_of(kname).c_str(), ddir.get(), tmp.c_str());
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
      std::string reason = (err == EXDEV && kind == TempKind::kHardlink) ? "device"
                           : (kind == TempKind::kReflink &&
                              (err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY))
                               ? "unsupported"
                               : "error";
      const char* verb = kind == TempKind::kReflink ? "cannot clone" : "cannot link";
      skip(j, {reason, std::string(verb) + ": " + errno_message(err)}, dname.path);
      return;
    }
    // Our link changed the kept inode's ctime: record the new one (only that may differ).
    auto refresh_keep = [&] {
      struct stat kst {};
      if (kind == TempKind::kHardlink && !have_clone && ::fstat(kfd.get(), &kst) == 0) {
        FileStamp s = stamp_of(kst);
        if (s.dev == keep.stamp.dev && s.ino == keep.stamp.ino && s.size == keep.stamp.size &&
            s.mtime_ns == keep.stamp.mtime_ns && s.ctime_ns != keep.stamp.ctime_ns) {
          keep.stamp.ctime_ns = s.ctime_ns;
          journal_->record_hash(keep.stamp, keep.edge, keep.full);
        }
      }
    };
    refresh_keep();
    // Last check just before the rename: both files still as recorded.
    bool still = restat(ddir.get(), dbase, dup.stamp, st) && restat(kdir.get(), kbase, keep.stamp, st);
    if (!still) {
      (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
      journal_->record_done(id);
      skip(j, {"changed", "changed just before linking"}, dname.path);
      return;
    }
    if (::renameat(ddir.get(), tmp.c_str(), ddir.get(), dbase.c_str()) != 0) {
      int e = errno;
      (void)::unlinkat(ddir.get(), tmp.c_str(), 0);
      journal_->record_done(id);
      skip(j, {"error", "cannot rename over: " + errno_message(e)}, dname.path);
      return;
    }
    journal_->record_done(id);
    refresh_keep();  // a rename changes the renamed inode's ctime too
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
    // The duplicate lost a name: its ctime changed too.
    struct stat dst {};
    if (::fstat(dfd.get(), &dst) == 0 && dst.st_nlink > 0) {
      FileStamp s = stamp_of(dst);
      if (s.size == dup.stamp.size && s.mtime_ns == dup.stamp.mtime_ns) {
        dup.stamp.ctime_ns = s.ctime_ns;
        journal_->record_hash(dup.stamp, dup.edge, dup.full);
      }
    }
  }
}

}  // namespace

std::vector<std::string> dedupe_root_set(std::span<const std::string> roots) {
  std::vector<std::string> out;
  for (const std::string& r : roots) out.push_back(absolute_root(r));
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
  Engine engine(options, result);
  engine.run();
  return result;
}

}  // namespace opsktl
