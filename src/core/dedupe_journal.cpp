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
// a new file appears whole (header written to a temporary file, linked into place). Each
// line is parsed strictly by hand (the writer's exact forms, overflow-checked integers,
// lowercase hex), a bad one skipped with a warning; an intent is a path the cleanup may
// delete, so it must name a temp-pattern file inside this run's roots, and the cleanup
// checks the file itself again before removing it.
//
// The file is read in 256 KiB chunks, never whole. It stays small: at the end of a run,
// when more of its records are dead (hashes of files the run did not look up, superseded
// stamps, closed intents) than live, it is rewritten with the live ones only.
// Rejected: SQLite (a dependency, and its own locking and journal for what is a log) and
// rewriting a snapshot file per batch (quadratic on big trees); nlohmann per line (a
// general parser, several times slower than this one and lenient about what it accepts).
#include "dedupe_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"

namespace opsktl {
namespace {

constexpr size_t kBatchLines = 1024;
constexpr int kVersion = 1;
constexpr size_t kChunk = size_t{256} * 1024;
constexpr size_t kMaxLine = size_t{16} * 1024 * 1024;  // longer lines are damaged (roots of a header)
constexpr size_t kMaxWarnings = 10;
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

const char* kind_name(TempKind kind) {
  switch (kind) {
    case TempKind::kHardlink: return "hardlink";
    case TempKind::kSymlink: return "symlink";
    case TempKind::kReflink: return "reflink";
  }
  return "hardlink";
}

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

std::string header_line(const std::vector<std::string>& roots) {
  std::string line = R"({"t":"roots","v":)" + std::to_string(kVersion) + R"(,"roots":[)";
  for (size_t i = 0; i < roots.size(); ++i) line += (i ? ",\"" : "\"") + escape_path(roots[i]) + "\"";
  return line + "]}\n";
}

std::string hash_line(const CachedHash& h) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"t\":\"h\",\"dev\":%" PRIu64 ",\"ino\":%" PRIu64 ",\"size\":%" PRId64
                        ",\"mtime\":%" PRId64 ",\"ctime\":%" PRId64,
                        h.stamp.dev, h.stamp.ino, h.stamp.size, h.stamp.mtime_ns, h.stamp.ctime_ns);
  std::string line(buf, static_cast<size_t>(n));
  if (h.edge) line += ",\"edge\":\"" + hex64(*h.edge) + "\"";
  if (h.full) line += ",\"full\":\"" + hex64(h.full->high) + hex64(h.full->low) + "\"";
  return line + "}\n";
}

std::string intent_line(const PendingTemp& t) {
  std::string line = R"({"t":"i","n":)" + std::to_string(t.id) + R"(,"root":")" + escape_path(t.root) +
                     R"(","dir":")" + escape_path(t.dir) + R"(","tmp":")" + escape_path(t.tmp) +
                     R"(","kind":")" + kind_name(t.kind) + R"(","tdev":)" + std::to_string(t.target_dev) +
                     R"(,"tino":)" + std::to_string(t.target_ino);
  if (!t.target.empty()) line += R"(,"target":")" + escape_path(t.target) + "\"";
  return line + "}\n";
}

std::string made_line(uint64_t id, uint64_t dev, uint64_t ino) {
  return R"({"t":"c","n":)" + std::to_string(id) + R"(,"dev":)" + std::to_string(dev) + R"(,"ino":)" +
         std::to_string(ino) + "}\n";
}

// --- The line parser ---------------------------------------------------------------

enum class ValueForm { kString, kNumber, kArray };

struct Field {
  std::string_view key;
  std::string_view value;  // a string without its quotes, a number, or an array's inside
  ValueForm form = ValueForm::kNumber;
};

// Splits `{"key":value,...}` into at most 12 fields. Strings hold printable ASCII other
// than '"' and '\\' (escape_path's output); numbers are an optional '-' and digits.
std::string split_fields(std::string_view line, Field* fields, size_t& count) {
  count = 0;
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return "not a JSON object";
  size_t i = 1;
  const size_t end = line.size() - 1;
  auto string_at = [&](size_t& pos, std::string_view& out) {
    if (pos >= end || line[pos] != '"') return false;
    size_t start = ++pos;
    while (pos < end && line[pos] != '"') {
      auto c = static_cast<unsigned char>(line[pos]);
      if (c < 0x21 || c > 0x7e || c == '\\') return false;
      ++pos;
    }
    if (pos >= end) return false;
    out = line.substr(start, pos - start);
    ++pos;
    return true;
  };
  if (i == end) return "no fields";
  while (i < end) {
    if (count == 12) return "too many fields";
    Field& f = fields[count];
    if (!string_at(i, f.key) || i >= end || line[i] != ':') return "malformed field name";
    ++i;
    if (i >= end) return "missing value";
    if (line[i] == '"') {
      f.form = ValueForm::kString;
      if (!string_at(i, f.value)) return "malformed string";
    } else if (line[i] == '[') {
      // Strings only, scanned as strings: a path may hold ']' and ','.
      f.form = ValueForm::kArray;
      size_t start = ++i;
      std::string_view item;
      while (i < end && line[i] != ']') {
        if (!string_at(i, item)) return "malformed array";
        if (i < end && line[i] == ',') ++i;
      }
      if (i >= end) return "malformed array";
      f.value = line.substr(start, i - start);
      ++i;
    } else {
      f.form = ValueForm::kNumber;
      size_t start = i;
      if (line[i] == '-') ++i;
      while (i < end && line[i] >= '0' && line[i] <= '9') ++i;
      f.value = line.substr(start, i - start);
    }
    for (size_t k = 0; k < count; ++k) {
      if (fields[k].key == f.key) return "repeated field " + std::string(f.key);
    }
    ++count;
    if (i < end) {
      if (line[i] != ',') return "malformed object";
      ++i;
      if (i == end) return "malformed object";
    }
  }
  return {};
}

class Fields {
 public:
  Fields(const Field* fields, size_t count) : fields_(fields), count_(count) {}

  const Field* get(std::string_view key) const {
    for (size_t k = 0; k < count_; ++k) {
      if (fields_[k].key == key) return &fields_[k];
    }
    return nullptr;
  }
  // Every field is one of `allowed`.
  bool only(std::initializer_list<std::string_view> allowed) const {
    for (size_t k = 0; k < count_; ++k) {
      if (std::find(allowed.begin(), allowed.end(), fields_[k].key) == allowed.end()) return false;
    }
    return true;
  }
  template <typename T>
  bool number(std::string_view key, T& out, std::string& why) const {
    const Field* f = get(key);
    if (!f || f->form != ValueForm::kNumber) {
      why = "missing or non-numeric " + std::string(key);
      return false;
    }
    std::string_view v = f->value;
    // JSON forbids leading zeros, a lone '-' and a '-' before an unsigned number.
    bool negative = !v.empty() && v[0] == '-';
    std::string_view digits = negative ? v.substr(1) : v;
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0') || (negative && !std::is_signed_v<T>)) {
      why = "bad number " + std::string(key);
      return false;
    }
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
      why = "number out of range: " + std::string(key);
      return false;
    }
    return true;
  }
  bool string(std::string_view key, std::string_view& out, std::string& why) const {
    const Field* f = get(key);
    if (!f || f->form != ValueForm::kString) {
      why = "missing or non-string " + std::string(key);
      return false;
    }
    out = f->value;
    return true;
  }
  bool path(std::string_view key, std::string& out, std::string& why) const {
    std::string_view raw;
    if (!string(key, raw, why)) return false;
    if (!unescape_path(raw, out)) {
      why = "bad escape in " + std::string(key);
      return false;
    }
    return true;
  }

 private:
  const Field* fields_;
  size_t count_;
};

bool parse_hex(std::string_view text, uint64_t& out) {
  if (text.size() != 16) return false;
  out = 0;
  for (char c : text) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    out = out << 4 | static_cast<uint64_t>(d);
  }
  return true;
}

std::string parse_roots_array(std::string_view inside, std::vector<std::string>& roots) {
  roots.clear();
  size_t i = 0;
  if (inside.empty()) return {};
  for (;;) {
    if (i >= inside.size() || inside[i] != '"') return "malformed roots";
    size_t close = inside.find('"', i + 1);
    if (close == std::string_view::npos) return "malformed roots";
    std::string root;
    if (!unescape_path(inside.substr(i + 1, close - i - 1), root)) return "bad escape in roots";
    roots.push_back(std::move(root));
    i = close + 1;
    if (i == inside.size()) return {};
    if (inside[i] != ',') return "malformed roots";
    ++i;
  }
}

// The directory part of an absolute path ("/" for "/a").
std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

void sync_directory_of(const std::string& path) {
  std::string dir = parent_of(path.find('/') == std::string::npos ? "./" + path : path);
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

// --- Names and escapes -------------------------------------------------------------

bool looks_like_dedupe_temp_name(std::string_view name) {
  return name.size() > 19 && name.starts_with(".opsktl-dedupe.") && name.ends_with(".tmp");
}

bool is_dedupe_temp_name(std::string_view name) {
  constexpr std::string_view kPrefix = ".opsktl-dedupe.";
  constexpr std::string_view kSuffix = ".tmp";
  if (name.size() <= kPrefix.size() + kSuffix.size() || name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  std::string_view mid = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  // PID.HEX.N: decimal, lowercase hex, decimal, each non-empty.
  auto part = [&](bool hex) {
    size_t n = 0;
    while (n < mid.size() && ((mid[n] >= '0' && mid[n] <= '9') || (hex && mid[n] >= 'a' && mid[n] <= 'f')))
      ++n;
    if (n == 0 || n > 20) return false;
    mid.remove_prefix(n);
    return true;
  };
  if (!part(false) || mid.empty() || mid[0] != '.') return false;
  mid.remove_prefix(1);
  if (!part(true) || mid.empty() || mid[0] != '.') return false;
  mid.remove_prefix(1);
  return part(false) && mid.empty();
}

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

bool unescape_path(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x21 || u > 0x7e || u == '"' || u == '\\') return false;
    if (u != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int high = hex(text[i + 1]);
    int low = hex(text[i + 2]);
    if (high < 0 || low < 0 || (high == 0 && low == 0)) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

// --- Records -------------------------------------------------------------------------

std::string parse_state_record(std::string_view line, StateRecord& out) {
  Field storage[12];
  size_t count = 0;
  std::string why = split_fields(line, storage, count);
  if (!why.empty()) return why;
  Fields f(storage, count);
  std::string_view type;
  if (!f.string("t", type, why)) return why;
  if (type == "h") {
    out.type = StateRecord::Type::kHash;
    if (!f.only({"t", "dev", "ino", "size", "mtime", "ctime", "edge", "full"})) return "unknown field";
    CachedHash& h = out.hash;
    h = CachedHash{};
    if (!f.number("dev", h.stamp.dev, why) || !f.number("ino", h.stamp.ino, why) ||
        !f.number("size", h.stamp.size, why) || !f.number("mtime", h.stamp.mtime_ns, why) ||
        !f.number("ctime", h.stamp.ctime_ns, why))
      return why;
    if (h.stamp.size < 0) return "negative size";
    std::string_view text;
    if (f.get("edge")) {
      uint64_t edge = 0;
      if (!f.string("edge", text, why)) return why;
      if (!parse_hex(text, edge)) return "edge is not 16 lowercase hex digits";
      h.edge = edge;
    }
    if (f.get("full")) {
      Hash128 full;
      if (!f.string("full", text, why)) return why;
      if (text.size() != 32 || !parse_hex(text.substr(0, 16), full.high) ||
          !parse_hex(text.substr(16), full.low))
        return "full is not 32 lowercase hex digits";
      h.full = full;
    }
    return {};
  }
  if (type == "d") {
    out.type = StateRecord::Type::kDone;
    if (!f.only({"t", "n"})) return "unknown field";
    return f.number("n", out.id, why) ? std::string() : why;
  }
  if (type == "c") {
    out.type = StateRecord::Type::kMade;
    if (!f.only({"t", "n", "dev", "ino"})) return "unknown field";
    if (!f.number("n", out.id, why) || !f.number("dev", out.dev, why) || !f.number("ino", out.ino, why))
      return why;
    return {};
  }
  if (type == "i") {
    out.type = StateRecord::Type::kIntent;
    if (!f.only({"t", "n", "root", "dir", "tmp", "kind", "tdev", "tino", "target"})) return "unknown field";
    PendingTemp& p = out.intent;
    p = PendingTemp{};
    if (!f.number("n", p.id, why) || !f.path("root", p.root, why) || !f.path("dir", p.dir, why) ||
        !f.path("tmp", p.tmp, why) || !f.number("tdev", p.target_dev, why) ||
        !f.number("tino", p.target_ino, why))
      return why;
    std::string_view kind;
    if (!f.string("kind", kind, why)) return why;
    if (kind == "hardlink") {
      p.kind = TempKind::kHardlink;
    } else if (kind == "symlink") {
      p.kind = TempKind::kSymlink;
    } else if (kind == "reflink") {
      p.kind = TempKind::kReflink;
    } else {
      return "unknown kind";
    }
    if (f.get("target") && !f.path("target", p.target, why)) return why;
    return {};
  }
  if (type == "roots") {
    out.type = StateRecord::Type::kRoots;
    if (!f.only({"t", "v", "roots"})) return "unknown field";
    int version = 0;
    if (!f.number("v", version, why)) return why;
    if (version != kVersion)
      return "version " + std::to_string(version) + ", not " + std::to_string(kVersion);
    const Field* roots = f.get("roots");
    if (!roots || roots->form != ValueForm::kArray) return "missing roots";
    return parse_roots_array(roots->value, out.roots);
  }
  return "unknown record type";
}

// --- Replay --------------------------------------------------------------------------

StateReplay::StateReplay(std::string path, std::vector<std::string> roots)
    : path_(std::move(path)), roots_(std::move(roots)) {}

void StateReplay::header(std::string_view line) {
  StateRecord r;
  std::string why = parse_state_record(line, r);
  if (why.empty() && r.type != StateRecord::Type::kRoots) why = "no roots record first";
  if (!why.empty())
    throw Error(path_ + ": not a dedupe state file (first line: " + why + "); left unchanged");
  if (r.roots != roots_) {
    std::string list;
    for (const std::string& root : r.roots) list += (list.empty() ? "" : " ") + root;
    throw Error(path_ + ": state file belongs to other roots (" + list + "); use another --state FILE");
  }
}

void StateReplay::warn(uint64_t number, const std::string& what) {
  if (warnings.size() < kMaxWarnings) {
    warnings.push_back({path_ + ":" + std::to_string(number), what});
  } else {
    ++warnings_left_out_;
  }
}

void StateReplay::finish() {
  if (warnings_left_out_ > 0)
    warnings.push_back({path_, std::to_string(warnings_left_out_) + " more records skipped or ignored"});
  warnings_left_out_ = 0;
}

std::string StateReplay::intent_problem(const PendingTemp& p) const {
  if (p.id == 0) return "intent number 0";
  if (!is_dedupe_temp_name(p.tmp)) return "not a temporary name of dedupe";
  bool root_ok = std::find(roots_.begin(), roots_.end(), p.root) != roots_.end();
  // A root given as a file has its temporary names beside it, in its directory.
  if (!root_ok && p.dir.empty()) {
    root_ok = std::any_of(roots_.begin(), roots_.end(),
                          [&](const std::string& r) { return parent_of(r) == p.root; });
  }
  if (!root_ok) return "not inside this run's roots";
  if (!p.dir.empty()) {
    size_t start = 0;
    for (;;) {
      size_t slash = p.dir.find('/', start);
      std::string_view part(p.dir.data() + start,
                            (slash == std::string::npos ? p.dir.size() : slash) - start);
      if (part.empty() || part == "." || part == "..") return "directory is not a plain relative path";
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
  if (p.kind == TempKind::kSymlink && !p.target.empty() && p.target[0] != '/')
    return "symlink target not absolute";
  return {};
}

void StateReplay::record(std::string_view line, uint64_t number) {
  ++records;
  StateRecord r;
  std::string why = parse_state_record(line, r);
  if (!why.empty()) return warn(number, "damaged record skipped (" + why + ")");
  switch (r.type) {
    case StateRecord::Type::kRoots: return warn(number, "damaged record skipped (a second roots record)");
    case StateRecord::Type::kHash: {
      CachedHash& h = r.hash;
      std::vector<CachedHash>& list = cache[h.stamp.ino];
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
      return;
    }
    case StateRecord::Type::kIntent: {
      if (r.intent.id != UINT64_MAX) next_id = std::max(next_id, r.intent.id + 1);
      std::string problem = intent_problem(r.intent);
      if (!problem.empty()) {
        std::string where =
            r.intent.root + (r.intent.dir.empty() ? "" : "/" + r.intent.dir) + "/" + r.intent.tmp;
        return warn(number, "intent ignored, nothing removed: " + escape_path(where) + ": " + problem);
      }
      pending[r.intent.id] = std::move(r.intent);
      return;
    }
    case StateRecord::Type::kMade: {
      auto it = pending.find(r.id);
      if (it != pending.end() && it->second.kind == TempKind::kReflink) {
        it->second.made = true;
        it->second.made_dev = r.dev;
        it->second.made_ino = r.ino;
      }
      return;
    }
    case StateRecord::Type::kDone: pending.erase(r.id); return;
  }
}

// --- The journal ---------------------------------------------------------------------

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
    write_all(fd.get(), header_line(roots_), tmp);
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
  std::string line = hash_line(h);
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
    buffer_ += intent_line(temp);
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
  append_locked(made_line(id, dev, ino), true);
}

void DedupeJournal::record_done(uint64_t id) {
  std::lock_guard lock(mutex_);
  open_.erase(id);
  append_locked("{\"t\":\"d\",\"n\":" + std::to_string(id) + "}\n", false);
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
    std::string out = header_line(roots_);
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
        if (h.live) put(hash_line(h));
      }
    }
    for (const auto& [id, p] : open_) {
      put(intent_line(p));
      if (p.made) put(made_line(id, p.made_dev, p.made_ino));
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

// --- Cleanup of leftovers ------------------------------------------------------------

void remove_leftover_temps(DedupeJournal& journal, DedupeResult& result) {
  const std::vector<std::string>& roots = journal.roots();
  for (const PendingTemp& p : journal.pending()) {
    std::string where = p.root + (p.dir.empty() ? "" : "/" + p.dir) + "/" + p.tmp;
    auto ignore = [&](const std::string& why) {
      result.warnings.push_back({where, "temporary name of an interrupted run not removed: " + why});
      journal.record_done(p.id);
    };
    // The root itself, or the directory of a root that is a file (its names lie beside it).
    bool is_root = std::find(roots.begin(), roots.end(), p.root) != roots.end();
    if (!is_root) {
      bool beside_file =
          p.dir.empty() && std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
            struct stat rst {};
            return parent_of(r) == p.root && ::lstat(r.c_str(), &rst) == 0 && !S_ISDIR(rst.st_mode);
          });
      if (!beside_file) {
        ignore("not inside this run's roots");
        continue;
      }
    }
    Fd fd(::open(p.root.c_str(), kDirFlags));
    size_t start = 0;
    while (fd.ok() && start < p.dir.size()) {
      size_t slash = p.dir.find('/', start);
      if (slash == std::string::npos) slash = p.dir.size();
      std::string part = p.dir.substr(start, slash - start);
      if (part.empty() || part == "." || part == "..") {
        fd.reset();
        errno = EINVAL;
        break;
      }
      fd = Fd(::openat(fd.get(), part.c_str(), kDirFlags));
      start = slash + 1;
    }
    if (!fd.ok()) {
      if (errno == ENOENT) {
        journal.record_done(p.id);  // the directory is gone, and the name with it
      } else {
        ignore("cannot open its directory: " + errno_message(errno));
      }
      continue;
    }
    struct stat st {};
    if (::fstatat(fd.get(), p.tmp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      journal.record_done(p.id);  // renamed into place, or never made
      continue;
    }
    std::string mismatch;
    switch (p.kind) {
      case TempKind::kHardlink:
        if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_dev) != p.target_dev ||
            static_cast<uint64_t>(st.st_ino) != p.target_ino) {
          mismatch = "not the recorded file";
        } else if (st.st_nlink < 2) {
          mismatch = "it is the only name of its file";
        }
        break;
      case TempKind::kSymlink: {
        // A symlink to the recorded kept inode, with the recorded text when there is one
        // (intents journaled ahead in a batch do not know it yet).
        std::string text(4096, '\0');
        ssize_t n =
            S_ISLNK(st.st_mode) ? ::readlinkat(fd.get(), p.tmp.c_str(), text.data(), text.size()) : -1;
        struct stat target {};
        if (n < 0 || static_cast<size_t>(n) >= text.size() ||
            (!p.target.empty() && std::string_view(text.data(), static_cast<size_t>(n)) != p.target) ||
            ::fstatat(fd.get(), p.tmp.c_str(), &target, 0) != 0 ||
            static_cast<uint64_t>(target.st_dev) != p.target_dev ||
            static_cast<uint64_t>(target.st_ino) != p.target_ino)
          mismatch = "not the recorded symlink";
        break;
      }
      case TempKind::kReflink:
        if (!p.made) {
          mismatch = "its clone was never recorded as made";
        } else if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_dev) != p.made_dev ||
                   static_cast<uint64_t>(st.st_ino) != p.made_ino || st.st_nlink != 1) {
          mismatch = "not the recorded clone";
        }
        break;
    }
    if (!mismatch.empty()) {
      ignore(mismatch);
      continue;
    }
    if (::unlinkat(fd.get(), p.tmp.c_str(), 0) != 0) {
      ignore("cannot remove it: " + errno_message(errno));
      continue;
    }
    ++result.temp_links_removed;
    journal.record_done(p.id);
  }
  journal.sync();
}

}  // namespace opsktl
