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
// Rejected: SQLite (a dependency, and its own locking and journal for what is a log) and
// rewriting a snapshot file per batch (quadratic on big trees). The file only grows; each
// run adds only what it computed or changed, so growth per run is small.
#include "dedupe_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "opsktl/error.hpp"

namespace opsktl {
namespace {

constexpr size_t kBatchLines = 1024;
constexpr int kVersion = 1;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

uint64_t parse_hex64(const std::string& s) { return std::stoull(s, nullptr, 16); }

const char* kind_name(TempKind kind) {
  switch (kind) {
    case TempKind::kHardlink: return "hardlink";
    case TempKind::kSymlink: return "symlink";
    case TempKind::kReflink: return "reflink";
  }
  return "hardlink";
}

TempKind parse_kind(const std::string& name) {
  if (name == "symlink") return TempKind::kSymlink;
  if (name == "reflink") return TempKind::kReflink;
  return TempKind::kHardlink;
}

void write_all(int fd, const std::string& data, const std::string& path) {
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

}  // namespace

std::string escape_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '%' || c == '"' || c == '\\') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_path(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

DedupeJournal::DedupeJournal(const std::string& path, const std::vector<std::string>& roots) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) throw Error(path + ": cannot open state file: " + errno_message(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(path + ": state file is not a regular file");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd_);
    if (err == EWOULDBLOCK) throw Error(path + ": state file is in use by another dedupe run");
    throw Error(path + ": cannot lock state file: " + errno_message(err));
  }
  if ((st.st_mode & 07777) != 0600) (void)::fchmod(fd_, 0600);
  dev_ = st.st_dev;
  ino_ = st.st_ino;

  std::string content;
  content.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < content.size()) {
    ssize_t n = ::pread(fd_, content.data() + got, content.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  content.resize(got);
  try {
    replay(content, roots);
  } catch (...) {
    ::close(fd_);
    throw;
  }
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

void DedupeJournal::replay(const std::string& content, const std::vector<std::string>& roots) {
  nlohmann::json header_roots = roots;
  size_t complete = content.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  if (complete != content.size()) {
    // A torn last line: cut it off before appending.
    if (::ftruncate(fd_, static_cast<off_t>(complete)) != 0) {
      throw Error(path_ + ": cannot repair state file: " + errno_message(errno));
    }
  }
  if (complete == 0) {
    nlohmann::json escaped = nlohmann::json::array();
    for (const std::string& root : roots) escaped.push_back(escape_path(root));
    nlohmann::json header = {{"t", "roots"}, {"v", kVersion}, {"roots", escaped}};
    std::lock_guard lock(mutex_);
    append_locked(header.dump() + "\n", true);
    return;
  }
  std::map<uint64_t, PendingTemp> pending;
  size_t pos = 0;
  bool first = true;
  while (pos < complete) {
    size_t end = content.find('\n', pos);
    std::string_view line(content.data() + pos, end - pos);
    pos = end + 1;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("t")) {
      if (first) throw Error(path_ + ": not a dedupe state file");
      continue;  // one damaged record: skip it
    }
    try {
      const std::string& type = j["t"].get_ref<const std::string&>();
      if (first) {
        if (type != "roots") throw Error(path_ + ": not a dedupe state file");
        std::vector<std::string> theirs;
        for (const auto& r : j["roots"]) theirs.push_back(unescape_path(r.get<std::string>()));
        if (theirs != roots) {
          std::string list;
          for (const std::string& r : theirs) list += (list.empty() ? "" : " ") + r;
          throw Error(path_ + ": state file belongs to other roots (" + list + "); use another --state FILE");
        }
        first = false;
        continue;
      }
      if (type == "h") {
        CachedHash h;
        h.stamp = {j["dev"].get<uint64_t>(), j["ino"].get<uint64_t>(), j["size"].get<int64_t>(),
                   j["mtime"].get<int64_t>(), j["ctime"].get<int64_t>()};
        if (j.contains("edge")) h.edge = parse_hex64(j["edge"].get<std::string>());
        if (j.contains("full")) {
          const std::string& f = j["full"].get_ref<const std::string&>();
          if (f.size() == 32) h.full = Hash128{parse_hex64(f.substr(0, 16)), parse_hex64(f.substr(16))};
        }
        std::vector<CachedHash>& list = cache_[h.stamp.ino];
        auto it = std::find_if(list.begin(), list.end(),
                               [&](const CachedHash& c) { return c.stamp.dev == h.stamp.dev; });
        if (it == list.end()) {
          list.push_back(h);
        } else if (it->stamp == h.stamp) {
          if (h.edge) it->edge = h.edge;
          if (h.full) it->full = h.full;
        } else {
          *it = h;
        }
      } else if (type == "i") {
        PendingTemp p;
        p.id = j["n"].get<uint64_t>();
        p.root = unescape_path(j["root"].get<std::string>());
        p.dir = unescape_path(j["dir"].get<std::string>());
        p.tmp = unescape_path(j["tmp"].get<std::string>());
        p.kind = parse_kind(j["kind"].get<std::string>());
        p.target_dev = j.value("tdev", uint64_t{0});
        p.target_ino = j.value("tino", uint64_t{0});
        next_id_ = std::max(next_id_, p.id + 1);
        pending[p.id] = std::move(p);
      } else if (type == "d") {
        pending.erase(j["n"].get<uint64_t>());
      }
    } catch (const nlohmann::json::exception&) {
      if (first) throw Error(path_ + ": not a dedupe state file");
    }
  }
  if (first) throw Error(path_ + ": not a dedupe state file");
  for (auto& [id, p] : pending) pending_.push_back(std::move(p));
}

const CachedHash* DedupeJournal::find(const FileStamp& stamp) const {
  auto it = cache_.find(stamp.ino);
  if (it == cache_.end()) return nullptr;
  for (const CachedHash& h : it->second) {
    if (h.stamp == stamp) return &h;
  }
  return nullptr;
}

void DedupeJournal::record_hash(const FileStamp& stamp, std::optional<uint64_t> edge,
                                std::optional<Hash128> full) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"t\":\"h\",\"dev\":%" PRIu64 ",\"ino\":%" PRIu64 ",\"size\":%" PRId64
                        ",\"mtime\":%" PRId64 ",\"ctime\":%" PRId64,
                        stamp.dev, stamp.ino, stamp.size, stamp.mtime_ns, stamp.ctime_ns);
  std::string line(buf, static_cast<size_t>(n));
  if (edge) line += ",\"edge\":\"" + hex64(*edge) + "\"";
  if (full) line += ",\"full\":\"" + hex64(full->high) + hex64(full->low) + "\"";
  line += "}\n";
  std::lock_guard lock(mutex_);
  append_locked(line, false);
}

uint64_t DedupeJournal::record_intent(PendingTemp temp) { return record_intents({std::move(temp)}).front(); }

std::vector<uint64_t> DedupeJournal::record_intents(std::vector<PendingTemp> temps) {
  std::lock_guard lock(mutex_);
  std::vector<uint64_t> ids;
  for (PendingTemp& temp : temps) {
    temp.id = next_id_++;
    ids.push_back(temp.id);
    nlohmann::json j = {{"t", "i"},
                        {"n", temp.id},
                        {"root", escape_path(temp.root)},
                        {"dir", escape_path(temp.dir)},
                        {"tmp", escape_path(temp.tmp)},
                        {"kind", kind_name(temp.kind)},
                        {"tdev", temp.target_dev},
                        {"tino", temp.target_ino}};
    buffer_ += j.dump() + "\n";
  }
  flush_locked(true);
  return ids;
}

void DedupeJournal::record_done(uint64_t id) {
  std::lock_guard lock(mutex_);
  append_locked("{\"t\":\"d\",\"n\":" + std::to_string(id) + "}\n", false);
}

void DedupeJournal::sync() {
  std::lock_guard lock(mutex_);
  flush_locked(true);
}

void DedupeJournal::append_locked(const std::string& line, bool sync_now) {
  buffer_ += line;
  ++buffered_lines_;
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

}  // namespace opsktl
