// The filesystem walker.
//
// Problem: visit every entry below a set of roots, fast, on trees a million entries wide
// or ten thousand levels deep, and give each directory the total of everything beneath it
// (post-order), without following symlinks and without trusting paths that may change
// under us.
//
// Approach: every syscall is relative to an open directory fd: openat(parent_fd, name,
// O_DIRECTORY|O_NOFOLLOW), fstatat(fd, name, AT_SYMLINK_NOFOLLOW), getdents64(fd). A
// directory is one task on a shared LIFO work stack (LIFO keeps the set of half-done
// directories small, like a depth-first walk); each of `threads` workers pops a directory,
// reads all of it, stats each entry, creates a node per subdirectory and pushes them. A
// node counts its unfinished parts (its own read plus one per subdirectory); the worker
// that brings that count to zero finishes the node, adds its total to the parent's and
// walks up the same way, so totals bubble up with no recursion and no per-file memory.
//
// Open fds are bounded: a directory's fd is kept only until each of its subdirectories has
// been opened from it (a reference count), and at most max_open_dirs fds are kept. When
// the budget is spent the fd is closed and its children are reopened later from the
// nearest ancestor still holding one (pinned by the same count), or from the root's path,
// checking each step's device and inode. A plain chain of 10,000 directories holds one fd
// at a time; only a tree both deeper than the budget and branching at every level pays
// for reopening.
//
// Rejected: nftw/fts (recursion or path-based, one thread; fts keeps an fd per level),
// recursion per directory (stack overflow at depth ~10^5), opening subdirectories while
// reading the parent (one fd per queued directory: a million on a wide tree).
#include "opsktl/walker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "opsktl/error.hpp"

namespace opsktl {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
constexpr size_t kDirentBufferBytes = size_t{64} * 1024;
constexpr uint64_t kProgressEveryEntries = 4096;

struct Node : WalkDir {
  std::atomic<int64_t> accum{0};    // own contribution + entries + finished subdirectories
  std::atomic<int64_t> pending{1};  // unfinished parts: the read, then one per subdirectory
  std::atomic<int64_t> fd_refs{0};  // users of `fd`: unopened children + pinned descendants
  int fd = -1;                      // valid while fd_refs > 0, if held
  bool held = false;                // fd kept for the children (set before they are published)
  uint64_t root_dev = 0;            // the device of this node's root (-x)
};

size_t default_max_open_dirs() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  return std::clamp<size_t>(static_cast<size_t>(limit.rlim_cur) / 4, 16, 4096);
}

int64_t steady_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string walk_path(const WalkDir* dir, std::string_view name) {
  std::vector<const WalkDir*> chain;
  size_t size = name.size();
  for (const WalkDir* d = dir; d != nullptr; d = d->parent) {
    chain.push_back(d);
    size += d->name.size() + 1;
  }
  std::string path;
  path.reserve(size);
  for (size_t i = chain.size(); i-- > 0;) {
    path += chain[i]->name;
    if (path.empty() || path.back() != '/') path += '/';
  }
  path += name;
  return path;
}

std::string walk_path(const WalkDir& dir) { return walk_path(dir.parent, dir.name); }

namespace {

// The components of walk_path(dir, name), root first, into `out`.
void path_components(const WalkDir* dir, std::string_view name, std::vector<std::string_view>& out) {
  out.clear();
  out.push_back(name);
  for (const WalkDir* d = dir; d != nullptr; d = d->parent) out.push_back(d->name);
  std::reverse(out.begin(), out.end());
}

// The byte after component i in the joined path, or -1 at the end.
int byte_after(const std::vector<std::string_view>& parts, size_t i) {
  if (i + 1 >= parts.size()) return -1;
  if (!parts[i].empty() && parts[i].back() == '/') {
    return parts[i + 1].empty() ? byte_after(parts, i + 1) : static_cast<unsigned char>(parts[i + 1][0]);
  }
  return '/';
}

}  // namespace

int compare_walk_paths(const WalkDir* a_dir, std::string_view a_name, const WalkDir* b_dir,
                       std::string_view b_name) {
  thread_local std::vector<std::string_view> a;
  thread_local std::vector<std::string_view> b;
  path_components(a_dir, a_name, a);
  path_components(b_dir, b_name, b);
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    size_t m = 0;
    size_t limit = std::min(a[i].size(), b[i].size());
    while (m < limit && a[i][m] == b[i][m]) ++m;
    int ca = m < a[i].size() ? static_cast<unsigned char>(a[i][m]) : byte_after(a, i);
    int cb = m < b[i].size() ? static_cast<unsigned char>(b[i][m]) : byte_after(b, i);
    return ca < cb ? -1 : ca > cb ? 1 : 0;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

struct Walker::State {
  const WalkOptions& options;
  WalkVisitor& visitor;
  size_t max_held;
  std::vector<std::deque<Node>> arenas;  // one per worker: stable node addresses, no locks
  std::atomic<size_t> next_index{0};
  std::vector<const WalkDir*> dirs;
  std::vector<const WalkDir*> roots;

  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::vector<Node*> queue;  // LIFO
  size_t busy = 0;

  std::atomic<int64_t> held_fds{0};

  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> dirs_read{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> next_progress{0};
  std::mutex progress_mutex;

  State(const WalkOptions& o, WalkVisitor& v)
      : options(o),
        visitor(v),
        max_held(o.max_open_dirs ? o.max_open_dirs : default_max_open_dirs()),
        arenas(static_cast<size_t>(std::max(1, o.threads))) {}

  Node& new_node(size_t worker, Node* parent, std::string_view name, const struct stat& st) {
    Node& node = arenas[worker].emplace_back();
    node.parent = parent;
    node.name.assign(name);
    node.dev = st.st_dev;
    node.ino = st.st_ino;
    node.depth = parent ? parent->depth + 1 : 0;
    node.root_dev = parent ? parent->root_dev : st.st_dev;
    node.index = next_index.fetch_add(1, std::memory_order_relaxed);
    return node;
  }

  bool excluded(const char* name) const {
    for (const std::string& glob : options.exclude) {
      if (fnmatch(glob.c_str(), name, 0) == 0) return true;
    }
    return false;
  }

  void problem(size_t worker, std::string path, std::string what) {
    visitor.on_problem(worker, WalkProblem{std::move(path), std::move(what)});
  }

  // Pins `node`'s held fd if it is still open.
  static bool try_acquire(Node* node) {
    if (!node->held) return false;
    int64_t refs = node->fd_refs.load(std::memory_order_acquire);
    while (refs > 0) {
      if (node->fd_refs.compare_exchange_weak(refs, refs + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  void release(Node* node) {
    if (node->fd_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      ::close(node->fd);
      held_fds.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // A root is opened through a symlink only when asked (its device and inode are checked
  // after every open, like every directory's).
  int root_flags() const { return options.follow_root_symlinks ? kDirFlags & ~O_NOFOLLOW : kDirFlags; }

  // Opens `node` relative to its parent's fd, or reopens the path from the nearest pinned
  // ancestor (or the root's path), checking every step. Returns -1 with `err` set on failure.
  int open_dir(Node* node, int& err) {
    auto* parent = static_cast<Node*>(const_cast<WalkDir*>(node->parent));
    if (parent == nullptr) {
      int fd = ::openat(AT_FDCWD, node->name.c_str(), root_flags());
      err = errno;
      return fd;
    }
    if (parent->held) {
      int fd = ::openat(parent->fd, node->name.c_str(), kDirFlags);
      err = errno;
      release(parent);
      return fd;
    }
    std::vector<Node*> chain;  // parent, grandparent, ... below the pinned base
    Node* base = nullptr;
    for (Node* a = parent; a != nullptr; a = static_cast<Node*>(const_cast<WalkDir*>(a->parent))) {
      if (try_acquire(a)) {
        base = a;
        break;
      }
      chain.push_back(a);
    }
    int cur = base ? base->fd : AT_FDCWD;
    bool own = false;
    for (size_t i = chain.size(); i-- > 0;) {
      Node* step = chain[i];
      int next = ::openat(cur, step->name.c_str(), step->parent ? kDirFlags : root_flags());
      err = errno;
      if (next >= 0) {
        struct stat st {};
        if (::fstat(next, &st) != 0 || st.st_dev != step->dev || st.st_ino != step->ino) {
          ::close(next);
          next = -1;
          err = ESTALE;
        }
      }
      if (own) ::close(cur);
      if (next < 0) {
        if (base) release(base);
        return -1;
      }
      cur = next;
      own = true;
    }
    int fd = ::openat(cur, node->name.c_str(), kDirFlags);
    err = errno;
    if (own) ::close(cur);
    if (base) release(base);
    return fd;
  }

  void maybe_report_progress(const Node& node) {
    if (!options.progress) return;
    int64_t now = steady_nanos();
    if (now < next_progress.load(std::memory_order_relaxed)) return;
    std::unique_lock lock(progress_mutex, std::try_to_lock);
    if (!lock.owns_lock() || now < next_progress.load(std::memory_order_relaxed)) return;
    next_progress.store(
        now + std::chrono::duration_cast<std::chrono::nanoseconds>(options.progress_interval).count(),
        std::memory_order_relaxed);
    WalkProgress progress;
    progress.entries = entries.load(std::memory_order_relaxed);
    progress.dirs = dirs_read.load(std::memory_order_relaxed);
    progress.bytes = bytes.load(std::memory_order_relaxed);
    progress.current = walk_path(node);
    options.progress(progress);
  }

  // The part `node` was waiting for is done; finishes it (and its ancestors) when it was the last.
  void complete(Node* node, size_t worker) {
    while (node != nullptr) {
      if (node->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      node->total = node->accum.load(std::memory_order_acquire);
      visitor.on_dir_complete(worker, *node);
      auto* parent = static_cast<Node*>(const_cast<WalkDir*>(node->parent));
      if (parent != nullptr) parent->accum.fetch_add(node->total, std::memory_order_acq_rel);
      node = parent;
    }
  }

  void read_dir(Node* node, size_t worker, std::vector<uint64_t>& buffer, std::vector<Node*>& children) {
    int err = 0;
    int fd = open_dir(node, err);
    if (fd < 0) {
      problem(worker, walk_path(*node), "cannot read directory: " + errno_message(err));
      complete(node, worker);
      return;
    }
    struct stat dir_st {};
    if (::fstat(fd, &dir_st) != 0 || dir_st.st_dev != node->dev || dir_st.st_ino != node->ino) {
      ::close(fd);
      problem(worker, walk_path(*node), "cannot read directory: replaced during the walk");
      complete(node, worker);
      return;
    }
    children.clear();
    int64_t sum = 0;
    uint64_t count = 0;
    char* data = reinterpret_cast<char*>(buffer.data());
    for (;;) {
      ssize_t got = ::getdents64(fd, data, buffer.size() * sizeof(uint64_t));
      if (got == 0) break;
      if (got < 0) {
        if (errno == EINTR) continue;
        problem(worker, walk_path(*node), "cannot read directory: " + errno_message(errno));
        break;
      }
      for (ssize_t offset = 0; offset < got;) {
        const auto* entry = reinterpret_cast<const dirent64*>(data + offset);
        offset += entry->d_reclen;
        const char* name = entry->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        if (!options.exclude.empty() && excluded(name)) continue;
        struct stat st {};
        if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          int e = errno;
          problem(worker, walk_path(node, name),
                  e == ENOENT ? "vanished during the walk" : "cannot access: " + errno_message(e));
          continue;
        }
        if (S_ISDIR(st.st_mode)) {
          if (options.one_file_system && static_cast<uint64_t>(st.st_dev) != node->root_dev) continue;
          int64_t own = visitor.on_entry(worker, node, name, st);
          Node& child = new_node(worker, node, name, st);
          child.accum.store(own, std::memory_order_relaxed);
          children.push_back(&child);
          sum += own;  // for progress only; the child adds its total when it completes
        } else {
          int64_t size = visitor.on_entry(worker, node, name, st);
          node->accum.fetch_add(size, std::memory_order_relaxed);
          sum += size;
        }
        if (++count % kProgressEveryEntries == 0) {
          entries.fetch_add(kProgressEveryEntries, std::memory_order_relaxed);
          maybe_report_progress(*node);
        }
      }
    }
    entries.fetch_add(count % kProgressEveryEntries, std::memory_order_relaxed);
    dirs_read.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(sum, std::memory_order_relaxed);

    if (children.empty()) {
      ::close(fd);
    } else {
      node->pending.fetch_add(static_cast<int64_t>(children.size()), std::memory_order_acq_rel);
      if (held_fds.fetch_add(1, std::memory_order_relaxed) < static_cast<int64_t>(max_held)) {
        node->fd = fd;
        node->held = true;
        node->fd_refs.store(static_cast<int64_t>(children.size()), std::memory_order_release);
      } else {
        held_fds.fetch_sub(1, std::memory_order_relaxed);
        ::close(fd);
      }
      {
        std::lock_guard lock(queue_mutex);
        queue.insert(queue.end(), children.rbegin(), children.rend());
      }
      if (children.size() == 1) {
        queue_cv.notify_one();
      } else {
        queue_cv.notify_all();
      }
    }
    maybe_report_progress(*node);
    complete(node, worker);
  }

  void work(size_t worker) {
    std::vector<uint64_t> buffer(kDirentBufferBytes / sizeof(uint64_t));
    std::vector<Node*> children;
    for (;;) {
      Node* node = nullptr;
      {
        std::unique_lock lock(queue_mutex);
        queue_cv.wait(lock, [&] { return !queue.empty() || busy == 0; });
        if (queue.empty()) return;  // nothing queued and nobody can queue more
        node = queue.back();
        queue.pop_back();
        ++busy;
      }
      read_dir(node, worker, buffer, children);
      {
        std::lock_guard lock(queue_mutex);
        --busy;
        if (busy == 0 && queue.empty()) queue_cv.notify_all();
      }
    }
  }
};

Walker::Walker(WalkOptions options) : options_(std::move(options)) {}
Walker::~Walker() = default;

void Walker::walk(std::span<const std::string> roots, WalkVisitor& visitor) {
  state_.reset();
  state_ = std::make_unique<State>(options_, visitor);
  State& s = *state_;

  for (const std::string& root : roots) {
    struct stat st {};
    if (::fstatat(AT_FDCWD, root.c_str(), &st, options_.follow_root_symlinks ? 0 : AT_SYMLINK_NOFOLLOW) !=
        0) {
      s.problem(0, root, "cannot access: " + errno_message(errno));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      visitor.on_entry(0, nullptr, root, st);
      continue;
    }
    bool seen = std::any_of(s.roots.begin(), s.roots.end(), [&](const WalkDir* r) {
      return r->dev == static_cast<uint64_t>(st.st_dev) && r->ino == static_cast<uint64_t>(st.st_ino);
    });
    if (seen) continue;
    int64_t own = visitor.on_entry(0, nullptr, root, st);
    Node& node = s.new_node(0, nullptr, root, st);
    node.accum.store(own, std::memory_order_relaxed);
    s.roots.push_back(&node);
  }
  for (auto it = s.roots.rbegin(); it != s.roots.rend(); ++it) {
    s.queue.push_back(static_cast<Node*>(const_cast<WalkDir*>(*it)));
  }

  size_t threads = s.arenas.size();
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t w = 1; w < threads; ++w) pool.emplace_back([&s, w] { s.work(w); });
  s.work(0);
  for (std::thread& t : pool) t.join();

  s.dirs.resize(s.next_index.load());
  for (const std::deque<Node>& arena : s.arenas) {
    for (const Node& node : arena) s.dirs[node.index] = &node;
  }
}

const std::vector<const WalkDir*>& Walker::dirs() const {
  static const std::vector<const WalkDir*> kNone;
  return state_ ? state_->dirs : kNone;
}

const std::vector<const WalkDir*>& Walker::root_dirs() const {
  static const std::vector<const WalkDir*> kNone;
  return state_ ? state_->roots : kNone;
}

}  // namespace opsktl
