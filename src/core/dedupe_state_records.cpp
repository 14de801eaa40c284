// The dedupe state file's records: the lines the journal writes, the strict parser that
// reads them back, and the replay that turns them into a hash cache and the open intents.
//
// The file is untrusted input: dedupe runs as root from cron, and the path may name a
// file that is not ours. Each line is parsed strictly by hand (the writer's exact forms,
// overflow-checked integers, lowercase hex), a bad one skipped with a warning; an intent
// is a path the cleanup may delete, so the replay keeps only one that names a
// temp-pattern file inside this run's roots (dedupe_leftovers.cpp checks the file itself
// again before removing it). Paths are percent-escaped, so any name fits in a JSON string.
// Rejected: nlohmann per line (a general parser, several times slower than this one and
// lenient about what it accepts).
#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

namespace opsktl {
namespace {

constexpr int kVersion = 1;
constexpr size_t kMaxWarnings = 10;

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

}  // namespace

// --- Lines -------------------------------------------------------------------------

std::string state_header_line(const std::vector<std::string>& roots) {
  std::string line = R"({"t":"roots","v":)" + std::to_string(kVersion) + R"(,"roots":[)";
  for (size_t i = 0; i < roots.size(); ++i) line += (i ? ",\"" : "\"") + escape_path(roots[i]) + "\"";
  return line + "]}\n";
}

std::string state_hash_line(const CachedHash& h) {
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

std::string state_intent_line(const PendingTemp& t) {
  std::string line = R"({"t":"i","n":)" + std::to_string(t.id) + R"(,"root":")" + escape_path(t.root) +
                     R"(","dir":")" + escape_path(t.dir) + R"(","tmp":")" + escape_path(t.tmp) +
                     R"(","kind":")" + kind_name(t.kind) + R"(","tdev":)" + std::to_string(t.target_dev) +
                     R"(,"tino":)" + std::to_string(t.target_ino);
  if (!t.target.empty()) line += R"(,"target":")" + escape_path(t.target) + "\"";
  return line + "}\n";
}

std::string state_made_line(uint64_t id, uint64_t dev, uint64_t ino) {
  return R"({"t":"c","n":)" + std::to_string(id) + R"(,"dev":)" + std::to_string(dev) + R"(,"ino":)" +
         std::to_string(ino) + "}\n";
}

std::string state_done_line(uint64_t id) { return "{\"t\":\"d\",\"n\":" + std::to_string(id) + "}\n"; }

std::string parent_directory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  return slash == 0 ? "/" : path.substr(0, slash);
}

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
                          [&](const std::string& r) { return parent_directory(r) == p.root; });
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
}  // namespace opsktl
