// space-hogs: top-K files and directories, sized exactly as GNU du sizes them.
//
// Problem: rank the largest files and directories of a tree with millions of entries, in
// memory O(directories + K), with totals equal to du's, the same for any thread count.
//
// Approach: the walker gives post-order directory totals; this visitor returns each
// entry's size (st_blocks * 512, or st_size), so a directory's total is its own size plus
// everything beneath it, as du adds them. Files go through a bounded heap per worker
// (best K by bytes descending, then path ascending; paths are compared through the
// directory nodes and built only for the winners), merged at the end. Every file is seen, none is stored.
//
// Hard links: du counts a multi-link inode at the first name its traversal meets, which
// depends on readdir order and, in parallel, on timing. We instead hold back every
// non-directory with st_nlink > 1 (only those, usually few), and after the walk credit
// each inode once, to its first path in byte order: to that file's directory and all its
// ancestors. So totals never depend on scheduling, and any directory that holds all or
// none of an inode's names has du's total whatever du's order was. --count-links returns
// every name's size immediately, like du -l.
//
// Growth: --save writes every directory's total; --compare matches directories by path
// (built incrementally in index order: a parent's index is below its children's).
#include "opsktl/space_hogs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "opsktl/error.hpp"

namespace opsktl {
namespace {

bool better(const SizedPath& a, const SizedPath& b) {
  return a.bytes != b.bytes ? a.bytes > b.bytes : a.path < b.path;
}

// A ranked entry: its path is walk_path(dir, name), built only for the winners.
struct Candidate {
  int64_t bytes = 0;
  const WalkDir* dir = nullptr;
  std::string name;
};

bool better_candidate(const Candidate& a, const Candidate& b) {
  if (a.bytes != b.bytes) return a.bytes > b.bytes;
  return compare_walk_paths(a.dir, a.name, b.dir, b.name) < 0;
}

// The best `k` (0: all) entries by (bytes descending, path ascending). The heap's front is
// the worst kept entry. Ties compare paths through the directory nodes, so a tree of
// equal sizes (empty files, tmpfs directories) costs O(depth) per entry, not a string.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}

  void offer(int64_t bytes, const WalkDir* dir, std::string_view name) {
    if (k_ == 0) {
      entries_.push_back({bytes, dir, std::string(name)});
      return;
    }
    if (entries_.size() < k_) {
      entries_.push_back({bytes, dir, std::string(name)});
      std::push_heap(entries_.begin(), entries_.end(), better_candidate);
      return;
    }
    const Candidate& worst = entries_.front();
    if (bytes < worst.bytes) return;
    if (bytes == worst.bytes && compare_walk_paths(dir, name, worst.dir, worst.name) >= 0) return;
    std::pop_heap(entries_.begin(), entries_.end(), better_candidate);
    entries_.back() = {bytes, dir, std::string(name)};
    std::push_heap(entries_.begin(), entries_.end(), better_candidate);
  }

  std::vector<Candidate>& entries() { return entries_; }

 private:
  size_t k_;
  std::vector<Candidate> entries_;
};

std::vector<SizedPath> merge_sorted(const std::vector<std::vector<Candidate>*>& parts, size_t k) {
  std::vector<SizedPath> all;
  for (auto* part : parts) {
    for (const Candidate& c : *part) all.push_back({c.bytes, walk_path(c.dir, c.name)});
  }
  std::sort(all.begin(), all.end(), better);
  if (k != 0 && all.size() > k) all.resize(k);
  return all;
}

struct LinkedName {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  bool regular = false;
  const WalkDir* dir = nullptr;  // nullptr: the name is a root
  std::string name;
};

struct WorkerState {
  explicit WorkerState(size_t k) : files(k) {}
  TopK files;
  std::vector<LinkedName> links;
  std::vector<WalkProblem> problems;
  uint64_t file_count = 0;
  uint64_t dir_count = 0;
  int64_t root_file_bytes = 0;
};

class SpaceHogsVisitor : public WalkVisitor {
 public:
  SpaceHogsVisitor(const SpaceHogsOptions& options, size_t workers) : options_(options) {
    for (size_t i = 0; i < workers; ++i) workers_.emplace_back(options.top);
  }

  int64_t on_entry(size_t worker, const WalkDir* parent, std::string_view name,
                   const struct stat& st) override {
    WorkerState& w = workers_[worker];
    int64_t size = options_.size_mode == SizeMode::kApparent ? static_cast<int64_t>(st.st_size)
                                                             : static_cast<int64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      ++w.dir_count;
      return size;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular) ++w.file_count;
    if (st.st_nlink > 1 && options_.link_mode == LinkMode::kCountOnce) {
      w.links.push_back({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), size, regular,
                         parent, std::string(name)});
      return 0;
    }
    if (parent == nullptr) w.root_file_bytes += size;
    if (regular && options_.list_files) w.files.offer(size, parent, name);
    return size;
  }

  void on_problem(size_t worker, const WalkProblem& problem) override {
    workers_[worker].problems.push_back(problem);
  }

  std::vector<WorkerState>& workers() { return workers_; }

 private:
  const SpaceHogsOptions& options_;
  std::vector<WorkerState> workers_;
};

// Credits each multi-link inode once, to its first path in byte order.
void credit_links(std::vector<LinkedName>& links, std::vector<int64_t>& totals, WorkerState& sink,
                  bool list_files) {
  std::sort(links.begin(), links.end(), [](const LinkedName& a, const LinkedName& b) {
    return a.dev != b.dev ? a.dev < b.dev : a.ino < b.ino;
  });
  for (size_t i = 0; i < links.size();) {
    size_t end = i;
    while (end < links.size() && links[end].dev == links[i].dev && links[end].ino == links[i].ino) ++end;
    size_t first = i;
    for (size_t j = i + 1; j < end; ++j) {
      if (compare_walk_paths(links[j].dir, links[j].name, links[first].dir, links[first].name) < 0) first = j;
    }
    const LinkedName& winner = links[first];
    if (winner.dir == nullptr) sink.root_file_bytes += winner.size;
    for (const WalkDir* d = winner.dir; d != nullptr; d = d->parent) totals[d->index] += winner.size;
    if (winner.regular && list_files) sink.files.offer(winner.size, winner.dir, winner.name);
    i = end;
  }
}

// Paths of the walked directories, by index.
std::vector<std::string> dir_paths(const std::vector<const WalkDir*>& dirs) {
  std::vector<std::string> paths(dirs.size());
  for (const WalkDir* d : dirs) {
    if (d->parent == nullptr) {
      paths[d->index] = d->name;
    } else {
      const std::string& parent = paths[d->parent->index];
      std::string& path = paths[d->index];
      path.reserve(parent.size() + 1 + d->name.size());
      path = parent;
      if (path.empty() || path.back() != '/') path += '/';
      path += d->name;
    }
  }
  return paths;
}

bool under_a_root(const std::string& path, const std::vector<std::string>& roots) {
  for (const std::string& root : roots) {
    if (path == root) return true;
    if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
        (root.back() == '/' || path[root.size()] == '/')) {
      return true;
    }
  }
  return false;
}

std::vector<GrownDir> rank_growth(const SavedScan& before, const std::vector<const WalkDir*>& dirs,
                                  const std::vector<int64_t>& totals, const std::vector<std::string>& roots,
                                  const SpaceHogsOptions& options) {
  std::vector<std::string> old_paths = saved_scan_paths(before);
  std::unordered_map<std::string_view, size_t> old_index;
  old_index.reserve(old_paths.size());
  for (size_t i = 0; i < old_paths.size(); ++i) old_index.emplace(old_paths[i], i);
  std::vector<bool> still_there(old_paths.size());

  std::vector<GrownDir> rows;
  std::vector<std::string> paths = dir_paths(dirs);
  for (const WalkDir* d : dirs) {
    int64_t now = totals[d->index];
    int64_t then = 0;
    auto it = old_index.find(paths[d->index]);
    if (it != old_index.end()) {
      then = before.dirs[it->second].bytes;
      still_there[it->second] = true;
    }
    int64_t delta = now - then;
    if (options.shrunk ? delta < 0 : delta > 0) rows.push_back({delta, now, std::move(paths[d->index])});
  }
  if (options.shrunk) {
    for (size_t i = 0; i < old_paths.size(); ++i) {
      if (still_there[i] || !under_a_root(old_paths[i], roots)) continue;
      rows.push_back({-before.dirs[i].bytes, 0, std::move(old_paths[i])});
    }
  }
  auto order = [&](const GrownDir& a, const GrownDir& b) {
    if (a.delta != b.delta) return options.shrunk ? a.delta < b.delta : a.delta > b.delta;
    return a.path < b.path;
  };
  if (options.top != 0 && rows.size() > options.top) {
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(options.top), rows.end(),
                      order);
    rows.resize(options.top);
  } else {
    std::sort(rows.begin(), rows.end(), order);
  }
  return rows;
}

const char* size_mode_option(SizeMode mode) {
  return mode == SizeMode::kApparent ? "--apparent-size" : "disk usage (no --apparent-size)";
}

}  // namespace

SpaceHogsResult find_space_hogs(const SpaceHogsOptions& options) {
  std::vector<std::string> roots = options.roots.empty() ? std::vector<std::string>{"."} : options.roots;
  std::optional<SavedScan> before;
  if (!options.compare_path.empty()) {
    before = load_scan(options.compare_path);
    if (before->size_mode != options.size_mode) {
      throw Error(options.compare_path + ": the scan was saved with " + size_mode_option(before->size_mode) +
                  "; compare with the same size option");
    }
  }

  WalkOptions walk_options = options.walk;
  walk_options.threads = std::max(1, walk_options.threads);
  Walker walker(walk_options);
  SpaceHogsVisitor visitor(options, static_cast<size_t>(walk_options.threads));
  walker.walk(roots, visitor);

  const std::vector<const WalkDir*>& dirs = walker.dirs();
  std::vector<int64_t> totals(dirs.size());
  for (const WalkDir* d : dirs) totals[d->index] = d->total;

  SpaceHogsResult result;
  std::vector<WorkerState>& workers = visitor.workers();
  std::vector<LinkedName> links;
  for (WorkerState& w : workers) {
    std::move(w.links.begin(), w.links.end(), std::back_inserter(links));
    w.links.clear();
  }
  credit_links(links, totals, workers[0], options.list_files);

  std::vector<std::vector<Candidate>*> file_parts;
  for (WorkerState& w : workers) {
    result.file_count += w.file_count;
    result.dir_count += w.dir_count;
    result.bytes += w.root_file_bytes;
    std::move(w.problems.begin(), w.problems.end(), std::back_inserter(result.problems));
    file_parts.push_back(&w.files.entries());
  }
  for (const WalkDir* root : walker.root_dirs()) result.bytes += totals[root->index];
  std::sort(result.problems.begin(), result.problems.end(),
            [](const WalkProblem& a, const WalkProblem& b) { return a.path < b.path; });

  if (before) {
    result.grown = rank_growth(*before, dirs, totals, roots, options);
  } else {
    if (options.list_files) result.files = merge_sorted(file_parts, options.top);
    if (options.list_dirs) {
      TopK top_dirs(options.top);
      for (const WalkDir* d : dirs) top_dirs.offer(totals[d->index], d->parent, d->name);
      result.dirs = merge_sorted({&top_dirs.entries()}, options.top);
    }
  }

  if (!options.save_path.empty()) {
    SavedScan scan;
    scan.size_mode = options.size_mode;
    scan.link_mode = options.link_mode;
    scan.dirs.reserve(dirs.size());
    for (const WalkDir* d : dirs) {
      scan.dirs.push_back(
          {d->parent ? static_cast<int64_t>(d->parent->index) : -1, d->name, totals[d->index]});
    }
    save_scan(options.save_path, scan);
  }
  return result;
}

}  // namespace opsktl
