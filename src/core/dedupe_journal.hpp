// The dedupe state file: an append-only journal of JSON lines (private to the core).
// dedupe_state_records.cpp holds its lines (writer, strict parser, replay),
// dedupe_journal.cpp the file itself (creation, locking, appends, compaction),
// dedupe_leftovers.cpp the removal of what a killed run left behind.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "opsktl/dedupe.hpp"

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
  bool live = false;             // looked up or written by this run: kept by compaction
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
  std::string target;  // symlink: the text of the link
  bool made = false;   // reflink: the clone exists and is made_dev/made_ino
  uint64_t made_dev = 0;
  uint64_t made_ino = 0;
};

// True for the names dedupe gives its temporary links: .opsktl-dedupe.PID.HEX.N.tmp
bool is_dedupe_temp_name(std::string_view name);
// True for any name of the form .opsktl-dedupe.*.tmp: never a candidate.
bool looks_like_dedupe_temp_name(std::string_view name);

// One line of a state file, parsed strictly: exactly the keys and value forms the writer
// produces (in any key order), integers without overflow, hashes as lowercase hex, paths
// percent-escaped.
struct StateRecord {
  enum class Type { kRoots, kHash, kIntent, kMade, kDone };
  Type type = Type::kDone;
  std::vector<std::string> roots;  // kRoots
  CachedHash hash;                 // kHash
  PendingTemp intent;              // kIntent
  uint64_t id = 0;                 // kMade, kDone
  uint64_t dev = 0;                // kMade
  uint64_t ino = 0;
};

// Parses one line (without its '\n'): "" when it is a valid record, else why not.
std::string parse_state_record(std::string_view line, StateRecord& out);

// The lines of a state file, each with its '\n': the header naming the roots, a file's
// stamp and hashes, an intent, a reflink intent's clone made, an intent done.
std::string state_header_line(const std::vector<std::string>& roots);
std::string state_hash_line(const CachedHash& h);
std::string state_intent_line(const PendingTemp& t);
std::string state_made_line(uint64_t id, uint64_t dev, uint64_t ino);
std::string state_done_line(uint64_t id);

// The directory part of an absolute path ("/" for "/a", "" for a name without '/').
std::string parent_directory(const std::string& path);

// The records after the header applied in order: the last stamp of an inode wins, an
// intent stays pending until its done record. A damaged record and an intent that could
// not be ours (another root, a path with "..", a name outside the temp pattern) are
// skipped with a warning. Used by DedupeJournal and by the fuzz target.
class StateReplay {
 public:
  StateReplay(std::string path, std::vector<std::string> roots);
  // The first line; throws Error when it is not a state file header for these roots.
  void header(std::string_view line);
  // Every later line, `number` counting from 1 for the header.
  void record(std::string_view line, uint64_t number);
  // Adds the note on warnings left out; call once after the last record.
  void finish();

  std::unordered_map<uint64_t, std::vector<CachedHash>> cache;  // by inode
  std::map<uint64_t, PendingTemp> pending;                      // by intent id
  uint64_t next_id = 1;
  uint64_t records = 0;                 // lines after the header, damaged ones included
  std::vector<DedupeProblem> warnings;  // where (path:line), what

  // A warning about line `number`; after the first ten only counted.
  void warn(uint64_t number, const std::string& what);

 private:
  std::string intent_problem(const PendingTemp& p) const;

  std::string path_;
  std::vector<std::string> roots_;
  uint64_t warnings_left_out_ = 0;
};

// Thread-safe appends; hash records are buffered and written with an fdatasync per batch,
// intents are written and synced at once (before the change they announce).
class DedupeJournal {
 public:
  // Opens and locks `path` and replays it; creates it (mode 0600, header written to a
  // temporary file and linked into place) when it does not exist. Throws Error, having
  // changed nothing, when it is not a regular file, not owned by the running user,
  // writable by group or others, not a state file, or a state file of other roots. A torn
  // last line is then cut off and the mode set to 0600.
  DedupeJournal(std::string path, std::vector<std::string> roots);
  ~DedupeJournal();
  DedupeJournal(const DedupeJournal&) = delete;
  DedupeJournal& operator=(const DedupeJournal&) = delete;

  uint64_t dev() const { return dev_; }
  uint64_t ino() const { return ino_; }
  const std::vector<std::string>& roots() const { return roots_; }
  // Damaged records and ignored intents found by the replay, one message each.
  const std::vector<DedupeProblem>& warnings() const { return warnings_; }

  // The cached hashes of a file, when its stamp matches (the entry then stays live).
  const CachedHash* find(const FileStamp& stamp);
  // The intents without a done record at start (replay order), after validation.
  const std::vector<PendingTemp>& pending() const { return pending_; }
  // True when `tmp` is the temporary name of an intent that is still open.
  bool is_open_temp(std::string_view tmp) const;

  void record_hash(const FileStamp& stamp, std::optional<uint64_t> edge, std::optional<Hash128> full);
  // Writes and syncs the intent; returns its id.
  uint64_t record_intent(PendingTemp temp);
  // Several intents with one sync; returns their ids in order.
  std::vector<uint64_t> record_intents(std::vector<PendingTemp> temps);
  // A reflink intent's clone exists as inode (dev, ino): written and synced.
  void record_made(uint64_t id, uint64_t dev, uint64_t ino);
  // The intent's change is complete (or its temporary name removed).
  void record_done(uint64_t id);
  // Writes and syncs everything buffered. Throws Error on a write failure.
  void sync();
  // At the end of a run: when the file holds more dead records (hashes of files this run
  // did not look up, superseded stamps, closed intents, damaged lines) than live ones,
  // rewrites it with only the live ones (temporary file, fsync, rename, directory fsync).
  // Returns true when it did. Throws Error when it cannot.
  bool compact();

  uint64_t records() const { return records_; }

 private:
  void open_existing_or_create(const std::string& path);
  bool create_new(const std::string& path);
  void replay();
  void append_locked(const std::string& line, bool sync_now);
  void flush_locked(bool sync_now);

  std::string path_;
  std::vector<std::string> roots_;
  int fd_ = -1;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
  mutable std::mutex mutex_;
  std::string buffer_;
  size_t buffered_lines_ = 0;
  uint64_t next_id_ = 1;
  uint64_t records_ = 0;  // lines after the header, in the file or buffered
  std::unordered_map<uint64_t, std::vector<CachedHash>> cache_;  // by inode
  std::vector<PendingTemp> pending_;
  std::map<uint64_t, PendingTemp> open_;  // intents without a done record, this run's too
  std::vector<DedupeProblem> warnings_;
};

// Creates the directory that is to hold a state file, and each missing parent, with mode
// 0700 (as the XDG base directory specification asks of its directories; the umask may
// narrow it). Directories that exist are left as they are. Throws Error when one cannot be
// made.
void create_state_directory(const std::string& dir);

// Removes the temporary names an interrupted run left behind (--apply, before the walk).
// A name is removed only when it matches the temp pattern, lies inside one of this run's
// roots (reached from the root one component at a time, never through a symlink), and
// is still what the intent recorded: a hard link (two or more links) to the recorded
// inode, a symlink with the recorded text, or the recorded clone. Every other intent is
// closed with a warning in result.warnings and its name left alone.
void remove_leftover_temps(DedupeJournal& journal, DedupeResult& result);

// Percent-escapes every byte outside printable ASCII (and '%', '"', '\\') so any path
// fits in a JSON string; unescape_path reverses it, returning false on a '%' not followed
// by two hex digits, a byte escape_path would have escaped, or an escaped NUL.
std::string escape_path(std::string_view path);
bool unescape_path(std::string_view text, std::string& out);

}  // namespace opsktl
