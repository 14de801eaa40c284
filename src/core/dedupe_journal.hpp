// The dedupe state file: an append-only journal of JSON lines (private to the core).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace opsktl {

// What a file looked like when it was hashed; a hash is reused only when all five match.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct Hash128 {
  uint64_t high = 0;
  uint64_t low = 0;
  bool operator==(const Hash128&) const = default;
  // clang-tidy 14 takes the 0 it compares with inside a defaulted <=> for a null pointer.
  auto operator<=>(const Hash128&) const = default;  // NOLINT(modernize-use-nullptr)
};

struct CachedHash {
  FileStamp stamp;
  std::optional<uint64_t> edge;  // first and last 4 KiB
  std::optional<Hash128> full;   // the whole content
};

enum class TempKind { kHardlink, kSymlink, kReflink };

// A temporary link that an earlier run meant to rename over a duplicate. When the run
// died before the rename, it is still there and must go.
struct PendingTemp {
  uint64_t id = 0;
  std::string root;  // absolute root
  std::string dir;   // directory relative to root ("" for the root itself)
  std::string tmp;   // base name of the temporary link
  TempKind kind = TempKind::kHardlink;
  uint64_t target_dev = 0;  // hardlink: the kept inode the temporary name points at
  uint64_t target_ino = 0;
};

// Thread-safe appends; hash records are buffered and written with an fdatasync per batch,
// intents are written and synced at once (before the change they announce).
class DedupeJournal {
 public:
  // Opens (creating with mode 0600) and locks `path`, replays it and checks that it
  // belongs to `roots`. Throws Error otherwise. A torn last line is cut off.
  DedupeJournal(const std::string& path, const std::vector<std::string>& roots);
  ~DedupeJournal();
  DedupeJournal(const DedupeJournal&) = delete;
  DedupeJournal& operator=(const DedupeJournal&) = delete;

  uint64_t dev() const { return dev_; }
  uint64_t ino() const { return ino_; }

  // The cached hashes of a file, when its stamp matches.
  const CachedHash* find(const FileStamp& stamp) const;
  const std::vector<PendingTemp>& pending() const { return pending_; }

  void record_hash(const FileStamp& stamp, std::optional<uint64_t> edge, std::optional<Hash128> full);
  // Writes and syncs the intent; returns its id.
  uint64_t record_intent(PendingTemp temp);
  // Several intents with one sync; returns their ids in order.
  std::vector<uint64_t> record_intents(std::vector<PendingTemp> temps);
  // The intent's change is complete (or its temporary name removed).
  void record_done(uint64_t id);
  // Writes and syncs everything buffered. Throws Error on a write failure.
  void sync();

 private:
  void append_locked(const std::string& line, bool sync_now);
  void flush_locked(bool sync_now);
  void replay(const std::string& content, const std::vector<std::string>& roots);

  std::string path_;
  int fd_ = -1;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
  std::mutex mutex_;
  std::string buffer_;
  size_t buffered_lines_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::vector<CachedHash>> cache_;  // by inode
  std::vector<PendingTemp> pending_;
};

// Percent-escapes every byte outside printable ASCII (and '%', '"', '\\') so any path
// fits in a JSON string; unescape_path reverses it.
std::string escape_path(std::string_view path);
std::string unescape_path(std::string_view text);

}  // namespace opsktl
