// The dedupe state file: a cache of hashes and a log of intended filesystem changes.
//
// Problem: a run may be killed at any instant, and the next run must neither rehash what
// is unchanged nor leave behind the temporary links the dead run had made. Approach: an
// append-only file of JSON lines. The first line names the roots the file belongs to.
// Hash records (a file's stamp: device, inode, size, mtime, ctime; then its edge and full
// hashes) are buffered and written with one fdatasync per batch, so a kill loses at most
// one batch of hashing. Before each temporary link is created, an intent record naming
// its directory and name is written and synced; a done record follows the rename. On
// start the file is replayed: the last stamp of an inode wins, and every intent without
// its done record is a temporary name that may still exist. A torn last line (the kill
// landed inside a write) is cut off so that later appends start on a fresh line.
//
// The file is untrusted input: dedupe runs as root from cron, and the path may name a
// file that is not ours. Nothing is changed before the file has proved to be a state file
// of the running user (owner, no group/other write bit, a valid header for these roots);
// a new file appears whole (header written to a temporary file, linked into place). The
// records themselves are written, parsed and replayed in dedupe_state_records.cpp; the
// temporary names a dead run left are removed by dedupe_leftovers.cpp.
//
// The file is read in 256 KiB chunks, never whole. It stays small: at the end of a run,
// when more of its records are dead (hashes of files the run did not look up, superseded
// stamps, closed intents) than live, it is rewritten with the live ones only.
// Rejected: SQLite (a dependency, and its own locking and journal for what is a log) and
// rewriting a snapshot file per batch (quadratic on big trees); nlohmann per line (a
#include "dedupe_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"
#include "unique_fd.hpp"

namespace opsktl {
namespace {

constexpr size_t kBatchLines = 1024;
constexpr size_t kChunk = size_t{256} * 1024;
constexpr size_t kMaxLine = size_t{16} * 1024 * 1024;  // longer lines are damaged (roots of a header)

void write_all(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": cannot write state file: " + errno_message(errno));
    }
    done += static_cast<size_t>(n);
  }
}

void sync_directory_of(const std::string& path) {
  std::string dir = parent_directory(path.find('/') == std::string::npos ? "./" + path : path);
  Fd fd(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok() || ::fsync(fd.get()) != 0)
    throw Error(dir + ": cannot sync the state file's directory: " + errno_message(errno));
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

// --- The journal ---------------------------------------------------------------------

void create_state_directory(const std::string& dir) {
  // The missing directories, deepest first: each is made 0700 (mkdir -p would make them
  // with the umask's mode, typically 0755, and the file names say which trees were run).
  std::vector<std::string> missing;
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  while (!d.empty()) {
    struct stat st {};
    int err = ::stat(d.c_str(), &st) == 0 ? (S_ISDIR(st.st_mode) ? 0 : ENOTDIR) : errno;
    if (err == 0) break;
    if (err != ENOENT) throw Error(dir + ": cannot create state directory: " + errno_message(err));
    missing.push_back(d);
    size_t slash = d.rfind('/');
    d = slash == std::string::npos ? std::string() : slash == 0 ? std::string("/") : d.substr(0, slash);
    while (d.size() > 1 && d.back() == '/') d.pop_back();
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      int err = errno;
      throw Error(dir + ": cannot create state directory: " + errno_message(err));
    }
  }
}

DedupeJournal::DedupeJournal(std::string path, std::vector<std::string> roots)
    : path_(std::move(path)), roots_(std::move(roots)) {
  open_existing_or_create(path_);
  try {
    replay();
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

// Creates the file whole: the header goes to a temporary file beside it, which is synced
// and then linked to `path` (which fails when the name exists by now). Returns false
// when another process created `path` first.
bool DedupeJournal::create_new(const std::string& path) {
  std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
  if (!fd.ok()) throw Error(tmp + ": cannot create state file: " + errno_message(errno));
  auto fail = [&](const std::string& what) {
    int err = errno;
    (void)::unlink(tmp.c_str());
    throw Error(path + ": " + what + ": " + errno_message(err));
  };
  (void)::fchmod(fd.get(), 0600);  // the umask cannot widen it, but may narrow it
  try {
    write_all(fd.get(), state_header_line(roots_), tmp);
  } catch (const Error&) {
    fail("cannot write state file");
  }
  if (::fsync(fd.get()) != 0) fail("cannot sync state file");
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) fail("cannot lock state file");
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    (void)::unlink(tmp.c_str());
    if (err == EEXIST) return false;
    throw Error(path + ": cannot create state file: " + errno_message(err));
  }
  (void)::unlink(tmp.c_str());
  sync_directory_of(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat state file: " + errno_message(errno));
  fd_ = fd.release();
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return true;
}

void DedupeJournal::open_existing_or_create(const std::string& path) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    struct stat before {};
    if (::lstat(path.c_str(), &before) != 0) {
      if (errno != ENOENT) throw Error(path + ": cannot open state file: " + errno_message(errno));
      if (create_new(path)) return;
      continue;
    }
    // A device, FIFO or symlink is never opened: opening one can have effects of its own.
    if (S_ISLNK(before.st_mode)) throw Error(path + ": state file is a symbolic link; refusing to use it");
    if (!S_ISREG(before.st_mode)) throw Error(path + ": state file is not a regular file; left unchanged");
    Fd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd.ok()) {
      if (errno == ENOENT || errno == ELOOP) continue;  // replaced meanwhile: look again
      throw Error(path + ": cannot open state file: " + errno_message(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat state file: " + errno_message(errno));
    if (st.st_dev != before.st_dev || st.st_ino != before.st_ino) continue;
    if (st.st_uid != ::geteuid()) {
      throw Error(path + ": state file is owned by uid " + std::to_string(st.st_uid) +
                  ", not by the running user (uid " + std::to_string(::geteuid()) + "); refusing to use it");
    }
    if ((st.st_mode & 022) != 0) {
      throw Error(path + ": state file is writable by group or others (mode " + mode_text(st.st_mode) +
                  "); refusing to use it (chmod go-w it if it is yours)");
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) throw Error(path + ": state file is in use by another dedupe run");
      throw Error(path + ": cannot lock state file: " + errno_message(errno));
    }
    // A compaction may have renamed a new file over the name before we locked this one.
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) continue;
    fd_ = fd.release();
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return;
  }
  throw Error(path + ": state file keeps being replaced; is another program writing it?");
}

void DedupeJournal::replay() {
  StateReplay replay(path_, roots_);
  std::vector<char> chunk(kChunk);
  std::string carry;  // a line split across chunks
  bool overlong = false;
  uint64_t number = 0;
  off_t offset = 0;
  off_t complete = 0;  // just past the last '\n'
  auto take = [&](std::string_view line) {
    ++number;
    if (number == 1) {
      replay.header(line);
    } else {
      replay.record(line, number);
    }
  };
  for (;;) {
    ssize_t n = ::pread(fd_, chunk.data(), chunk.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path_ + ": cannot read state file: " + errno_message(errno));
    }
    if (n == 0) break;
    const char* p = chunk.data();
    const char* end = p + n;
    while (p < end) {
      const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) {
        if (!overlong) carry.append(p, end);
        if (carry.size() > kMaxLine) {
          overlong = true;
          carry.clear();
        }
        break;
      }
      complete = offset + (nl - chunk.data()) + 1;
      if (overlong) {
        ++number;
        if (number == 1)
          throw Error(path_ + ": not a dedupe state file (first line too long); left unchanged");
        replay.warn(number, "damaged record skipped (longer than 16 MiB)");
        ++replay.records;
        overlong = false;
      } else if (carry.empty()) {
        take(std::string_view(p, static_cast<size_t>(nl - p)));
      } else {
        carry.append(p, nl);
        if (carry.size() > kMaxLine) {
          if (++number == 1)
            throw Error(path_ + ": not a dedupe state file (first line too long); left unchanged");
          replay.warn(number, "damaged record skipped (longer than 16 MiB)");
          ++replay.records;
        } else {
          take(carry);
        }
        carry.clear();
      }
      p = nl + 1;
    }
    offset += n;
  }
  if (number == 0) {
    throw Error(path_ +
                (offset == 0 ? ": empty file, not a dedupe state file"
                             : ": not a dedupe state file (no complete line)") +
                "; left unchanged (a new state file is made only where no file exists)");
  }
  replay.finish();
  // Proven a state file of ours: now it may be repaired.
  if (complete != offset && ::ftruncate(fd_, complete) != 0)
    throw Error(path_ + ": cannot repair state file: " + errno_message(errno));
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && (st.st_mode & 07777) != 0600) (void)::fchmod(fd_, 0600);

  cache_ = std::move(replay.cache);
  open_ = replay.pending;
  for (auto& [id, p] : replay.pending) pending_.push_back(std::move(p));
  next_id_ = replay.next_id;
  records_ = replay.records;
  warnings_ = std::move(replay.warnings);
}

DedupeJournal::~DedupeJournal() {
  if (fd_ >= 0) {
    try {
      sync();
    } catch (const Error&) {
      // A failed final write loses cached hashes only; the tree is not affected.
    }
    ::close(fd_);
  }
}

const CachedHash* DedupeJournal::find(const FileStamp& stamp) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(stamp.ino);
  if (it == cache_.end()) return nullptr;
  for (CachedHash& h : it->second) {
    if (h.stamp == stamp) {
      h.live = true;
      return &h;
    }
  }
  return nullptr;
}

bool DedupeJournal::is_open_temp(std::string_view tmp) const {
  std::lock_guard lock(mutex_);
  return std::any_of(open_.begin(), open_.end(), [&](const auto& entry) { return entry.second.tmp == tmp; });
}

void DedupeJournal::record_hash(const FileStamp& stamp, std::optional<uint64_t> edge,
                                std::optional<Hash128> full) {
  CachedHash h{stamp, edge, full, true};
  std::string line = state_hash_line(h);
  std::lock_guard lock(mutex_);
  std::vector<CachedHash>& list = cache_[stamp.ino];
  auto it =
      std::find_if(list.begin(), list.end(), [&](const CachedHash& c) { return c.stamp.dev == stamp.dev; });
  if (it == list.end()) {
    list.push_back(h);
  } else if (it->stamp == stamp) {
    if (edge) it->edge = edge;
    if (full) it->full = full;
    it->live = true;
  } else {
    *it = h;
  }
  append_locked(line, false);
}

uint64_t DedupeJournal::record_intent(PendingTemp temp) { return record_intents({std::move(temp)}).front(); }

std::vector<uint64_t> DedupeJournal::record_intents(std::vector<PendingTemp> temps) {
  std::lock_guard lock(mutex_);
  std::vector<uint64_t> ids;
  for (PendingTemp& temp : temps) {
    temp.id = next_id_++;
    ids.push_back(temp.id);
    buffer_ += state_intent_line(temp);
    ++records_;
    open_[temp.id] = std::move(temp);
  }
  flush_locked(true);
  return ids;
}

void DedupeJournal::record_made(uint64_t id, uint64_t dev, uint64_t ino) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(id);
  if (it != open_.end()) {
    it->second.made = true;
    it->second.made_dev = dev;
    it->second.made_ino = ino;
  }
  append_locked(state_made_line(id, dev, ino), true);
}

void DedupeJournal::record_done(uint64_t id) {
  std::lock_guard lock(mutex_);
  open_.erase(id);
  append_locked(state_done_line(id), false);
}

void DedupeJournal::sync() {
  std::lock_guard lock(mutex_);
  flush_locked(true);
}

void DedupeJournal::append_locked(const std::string& line, bool sync_now) {
  buffer_ += line;
  ++buffered_lines_;
  ++records_;
  if (sync_now || buffered_lines_ >= kBatchLines) flush_locked(true);
}

void DedupeJournal::flush_locked(bool sync_now) {
  if (!buffer_.empty()) {
    // O_APPEND is not used so the torn-line repair above stays simple; the file offset is
    // kept at the end by always seeking there first.
    if (::lseek(fd_, 0, SEEK_END) < 0)
      throw Error(path_ + ": cannot write state file: " + errno_message(errno));
    write_all(fd_, buffer_, path_);
    buffer_.clear();
    buffered_lines_ = 0;
  }
  if (sync_now && ::fdatasync(fd_) != 0) {
    throw Error(path_ + ": cannot sync state file: " + errno_message(errno));
  }
}

bool DedupeJournal::compact() {
  std::lock_guard lock(mutex_);
  flush_locked(true);
  uint64_t live = 0;
  for (const auto& [ino, list] : cache_) {
    for (const CachedHash& h : list) live += h.live ? 1 : 0;
  }
  for (const auto& [id, p] : open_) live += p.made ? 2 : 1;
  if (records_ <= 2 * live) return false;

  // The new file is locked before it takes the name, so that no other run can start on
  // it in between; a kill at any point leaves the old file or the new one, both whole.
  std::string tmp = path_ + "." + std::to_string(::getpid()) + ".tmp";
  Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
  if (!fd.ok()) throw Error(tmp + ": cannot create the compacted state file: " + errno_message(errno));
  try {
    if (::fchmod(fd.get(), 0600) != 0 || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
      throw Error(tmp + ": cannot prepare the compacted state file: " + errno_message(errno));
    std::string out = state_header_line(roots_);
    uint64_t written = 0;
    auto put = [&](const std::string& line) {
      out += line;
      ++written;
      if (out.size() >= kChunk) {
        write_all(fd.get(), out, tmp);
        out.clear();
      }
    };
    for (const auto& [ino, list] : cache_) {
      for (const CachedHash& h : list) {
        if (h.live) put(state_hash_line(h));
      }
    }
    for (const auto& [id, p] : open_) {
      put(state_intent_line(p));
      if (p.made) put(state_made_line(id, p.made_dev, p.made_ino));
    }
    write_all(fd.get(), out, tmp);
    if (::fsync(fd.get()) != 0)
      throw Error(tmp + ": cannot sync the compacted state file: " + errno_message(errno));
    if (::rename(tmp.c_str(), path_.c_str()) != 0)
      throw Error(path_ + ": cannot replace the state file by its compacted form: " + errno_message(errno));
    records_ = written;
  } catch (...) {
    (void)::unlink(tmp.c_str());
    throw;
  }
  struct stat st {};
  (void)::fstat(fd.get(), &st);
  ::close(fd_);
  fd_ = fd.release();
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  sync_directory_of(path_);
  return true;
}

}  // namespace opsktl
