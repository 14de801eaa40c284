// JSON lines, read by hand: one pass over the line checks that it is exactly one JSON
// object (RFC 8259) and picks out the values of the wanted keys on the way; nothing is
// allocated or built per line. simdjson did this before; Debian ships it only as a shared
// library, and opsktl ships as one binary that needs nothing but glibc (docs/decisions.md).
// On the json benchmark's lines (bench/log_formats.sh data, first 100,000 lines, callgrind)
// parsing takes 2,010 instructions a line here against 3,520 with simdjson's On-Demand API.
//
// Wanted keys form a small tree: `a.b` is a child b of a node a, so a nested object is
// entered only when some wanted key lies inside it. A key can be both a leaf and a prefix
// ("http" and "http.status"): an object value is entered, anything else is the leaf's
// value. Each node finds its children (34 at the root with the default keys) through a
// small open-addressing table keyed on the key's first 8 bytes and its length.
//
// Objects that hold wanted keys are read by recursion, as deep as the longest wanted key;
// every other value is skipped by a loop that keeps one bit per open container (object
// or array), so no input can exhaust the stack. Nesting deeper than kMaxDepth (simdjson's
// default) makes the line malformed.
//
// Strings are scanned 16 bytes at a time with SSE2: one signed compare finds control
// characters and non-ASCII bytes together, two more find '"' and '\'. The loads stay
// inside the line (its last 16 bytes are loaded again for a string's tail), so the line
// is read in place, not copied into a padded buffer. Escapes are checked as they are met
// (\uXXXX must be 4 hex digits, a surrogate must be a high-low pair) and non-ASCII bytes
// must be UTF-8, in every string, wanted or not, so whether a line is malformed never
// depends on the keys asked for. Escapes are decoded only for the values that end up in a
// field, after the whole line has checked out. Keys are compared after decoding (only keys
// holding a backslash are decoded). Numbers, true and false keep their text; null gives an
// empty field; arrays, and objects not entered, leave the field unset (a lower-ranked key
// may then fill it).
//
// Duplicate keys: the first occurrence wins, as for the ranked default keys (the same
// rank never replaces a value); this also holds for a nested object given twice.
//
// Not done: a simdjson-like first pass marking every quote and bracket of the line. It
// pays on long documents; a log line's strings mostly fit one 16-byte load anyway.
#include "json_parser.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "record_keys.hpp"

namespace opsktl {
namespace {

// Open containers (objects and arrays, the line's own object included) a line may nest.
constexpr int kMaxDepth = 1024;

struct Leaf {
  FieldId field;
  uint8_t rank;
  int64_t latency_unit_us;
};

struct Slot {
  uint64_t head = 0;  // the first 8 bytes of the key, zero-padded
  uint64_t tail = 0;  // for keys of 9 to 16 bytes, their last 8 bytes
  uint32_t size = 0;
  int32_t node = -1;  // -1: empty slot
};

uint64_t load64(const char* p) {
  uint64_t value;
  std::memcpy(&value, p, 8);
  return value;
}

struct KeyNode {
  std::string name;
  std::vector<Leaf> leaves;      // fields wanting exactly this key
  std::vector<size_t> children;  // node indexes
  std::vector<Slot> table;       // children by (head, size); empty when no children
  unsigned shift = 0;            // 64 - log2(table size)
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

const char* skip_space(const char* p, const char* end) {
  // Log lines are compact JSON: the first byte is almost never a space.
  if (p<end&& static_cast<unsigned char>(*p)> ' ') [[likely]]
    return p;
  while (p < end && is_space(*p)) ++p;
  return p;
}

// The line being read: SSE2 loads stay inside it.
struct Text {
  const char* begin;
  const char* end;
};

// The first 8 bytes of the `size`-byte key at `p`, zero-padded; reads at most up to
// `limit` (the end of the line): one unaligned load when 8 bytes are there.
uint64_t head_of(const char* p, size_t size, const char* limit) {
  uint64_t head = 0;
  if (limit - p >= 8) {
    std::memcpy(&head, p, 8);
    if (size < 8) {
      static_assert(std::endian::native == std::endian::little, "the mask keeps the low bytes");
      head &= size == 0 ? 0 : ~uint64_t{0} >> (64 - 8 * size);
    }
  } else {
    std::memcpy(&head, p, std::min<size_t>(size, 8));
  }
  return head;
}

size_t slot_of(uint64_t head, size_t size, unsigned shift) {
  return static_cast<size_t>(((head ^ (size * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL) >> shift);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 4 hex digits at `p` as a number; -1 when they are not 4 hex digits before `end`.
int32_t hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    int d = hex_digit(p[i]);
    if (d < 0) return -1;
    value = value << 4 | d;
  }
  return value;
}

// The escape at `p` (a backslash) checked; the byte after it, or nullptr when invalid.
const char* check_escape(const char* p, const char* end) {
  if (end - p < 2) return nullptr;
  switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': return p + 2;
    case 'u': {
      int32_t cp = hex4(p + 2, end);
      if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return nullptr;  // a lone low surrogate
      if (cp < 0xD800 || cp > 0xDBFF) return p + 6;
      if (end - p < 12 || p[6] != '\\' || p[7] != 'u') return nullptr;  // a lone high surrogate
      int32_t low = hex4(p + 8, end);
      if (low < 0xDC00 || low > 0xDFFF) return nullptr;
      return p + 12;
    }
    default: return nullptr;
  }
}

// The UTF-8 sequence starting with the non-ASCII byte at `p` checked (no overlong forms,
// no surrogates, nothing above U+10FFFF); the byte after it, or nullptr when invalid.
const char* check_utf8(const char* p, const char* end) {
  auto byte = [p](int i) { return static_cast<unsigned char>(p[i]); };
  unsigned char c = byte(0);
  int length;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return nullptr;
  }
  if (end - p < length || byte(1) < low || byte(1) > high) return nullptr;
  for (int i = 2; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return nullptr;
  }
  return p + length;
}

// Whether a string byte needs a closer look: '"', '\', a control character or non-ASCII.
bool is_special(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '"' || c == '\\' || u < 0x20 || u >= 0x80;
}

#if defined(__SSE2__)
// Bit i set when byte i of the 16 at `p` is special.
unsigned special_mask(const char* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed: bytes 0x80-0xff are negative, so one compare catches them and 0x00-0x1f.
  __m128i special = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
      _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
  return static_cast<unsigned>(_mm_movemask_epi8(special));
}
#endif

// The first special byte in [p, text.end), or text.end.
const char* find_special(const char* p, Text text) {
#if defined(__SSE2__)
  while (text.end - p >= 16) {
    if (unsigned mask = special_mask(p)) return p + __builtin_ctz(mask);
    p += 16;
  }
  // The last bytes: the line's last 16 bytes, those before p masked off.
  if (p < text.end && text.end - text.begin >= 16) {
    unsigned mask = special_mask(text.end - 16) >> (16 - (text.end - p));
    return mask != 0 ? p + __builtin_ctz(mask) : text.end;
  }
#endif
  while (p < text.end && !is_special(*p)) ++p;
  return p;
}

// Checks the string whose content starts at `p`; the closing quote, or nullptr when the
// string is unterminated or holds a control character, a bad escape or bad UTF-8.
// `escaped` is set when it holds a backslash.
const char* scan_string(const char* p, Text text, bool& escaped) {
  for (;;) {
    p = find_special(p, text);
    if (p == text.end) return nullptr;
    auto c = static_cast<unsigned char>(*p);
    if (c == '"') [[likely]]
      return p;
    if (c == '\\') {
      escaped = true;
      p = check_escape(p, text.end);
    } else if (c < 0x20) {
      return nullptr;
    } else {
      p = check_utf8(p, text.end);
    }
    if (p == nullptr) return nullptr;
  }
}

// The number at `p` (p < end) in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// The byte after it, or nullptr. What follows is the caller's to check (`01` fails there).
const char* scan_number(const char* p, const char* end) {
  if (*p == '-' && ++p == end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (is_digit(*p)) {
    while (++p < end && is_digit(*p)) {
    }
  } else {
    return nullptr;
  }
  if (p < end && *p == '.') {
    if (++p == end || !is_digit(*p)) return nullptr;
    while (++p < end && is_digit(*p)) {
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !is_digit(*p)) return nullptr;
    while (++p < end && is_digit(*p)) {
    }
  }
  return p;
}

const char* scan_word(const char* p, const char* end, std::string_view word) {
  if (static_cast<size_t>(end - p) < word.size() || std::memcmp(p, word.data(), word.size()) != 0) {
    return nullptr;
  }
  return p + word.size();
}

// A string, number, true, false or null at `p` (p < end); the byte after it, or nullptr.
const char* skip_scalar(const char* p, Text text) {
  switch (*p) {
    case '"': {
      bool escaped = false;
      p = scan_string(p + 1, text, escaped);
      return p == nullptr ? nullptr : p + 1;
    }
    case 't': return scan_word(p, text.end, "true");
    case 'f': return scan_word(p, text.end, "false");
    case 'n': return scan_word(p, text.end, "null");
    default: return scan_number(p, text.end);
  }
}

// Skips the object or array opening at `p`, inside `depth` open containers, without
// recursion: one bit per open container says object (1) or array (0). The byte after
// it, or nullptr when it is not valid JSON or nests deeper than kMaxDepth.
const char* skip_container(const char* p, Text text, int depth) {
  const char* end = text.end;
  std::array<uint64_t, kMaxDepth / 64> is_object{};
  int open = 0;  // containers opened here and not yet closed
  enum class Next { kValue, kKey, kAfterValue } next = Next::kValue;
  for (;;) {
    switch (next) {
      case Next::kValue:  // p < end, at a value
        if (*p == '{' || *p == '[') {
          if (depth + open >= kMaxDepth) return nullptr;
          bool object = *p == '{';
          uint64_t bit = uint64_t{1} << (open % 64);
          if (object)
            is_object[open / 64] |= bit;
          else
            is_object[open / 64] &= ~bit;
          ++open;
          p = skip_space(p + 1, end);
          if (p == end) return nullptr;
          if (*p == (object ? '}' : ']')) {
            ++p;
            --open;
            next = Next::kAfterValue;
          } else {
            next = object ? Next::kKey : Next::kValue;
          }
        } else {
          p = skip_scalar(p, text);
          if (p == nullptr) return nullptr;
          next = Next::kAfterValue;
        }
        break;
      case Next::kKey: {  // p < end, at a key
        if (*p != '"') return nullptr;
        bool escaped = false;
        p = scan_string(p + 1, text, escaped);
        if (p == nullptr) return nullptr;
        p = skip_space(p + 1, end);
        if (p == end || *p != ':') return nullptr;
        p = skip_space(p + 1, end);
        if (p == end) return nullptr;
        next = Next::kValue;
        break;
      }
      case Next::kAfterValue: {
        if (open == 0) return p;
        p = skip_space(p, end);
        if (p == end) return nullptr;
        bool object = (is_object[(open - 1) / 64] >> ((open - 1) % 64) & 1) != 0;
        if (*p == ',') {
          p = skip_space(p + 1, end);
          if (p == end) return nullptr;
          next = object ? Next::kKey : Next::kValue;
        } else if (*p == (object ? '}' : ']')) {
          ++p;
          --open;
        } else {
          return nullptr;
        }
        break;
      }
    }
  }
}

char* put_utf8(char* out, uint32_t cp) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | cp >> 6);
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | cp >> 12);
    *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | cp >> 18);
    *out++ = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Decodes the escape at `p` (a backslash, checked by scan_string) to `out`; advances both.
void decode_escape(const char*& p, const char* end, char*& out) {
  char e = p[1];
  p += 2;
  switch (e) {
    case 'b': *out++ = '\b'; break;
    case 'f': *out++ = '\f'; break;
    case 'n': *out++ = '\n'; break;
    case 'r': *out++ = '\r'; break;
    case 't': *out++ = '\t'; break;
    case 'u': {
      auto cp = static_cast<uint32_t>(hex4(p, end));
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // scan_string saw the low half follow
        cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(hex4(p + 2, end)) - 0xDC00);
        p += 6;
      }
      out = put_utf8(out, cp);
      break;
    }
    default: *out++ = e; break;  // \" \\ \/
  }
}

// The content of a string that scan_string accepted, escapes decoded, in `out` (which
// only grows: decoding never lengthens a string). Copies 16 bytes at a time up to the
// next backslash (the json benchmark's messages hold two escapes: half the instructions
// of memchr and std::string::append).
std::string_view decode_string(std::string_view raw, std::string& out) {
  if (out.size() < raw.size()) out.resize(raw.size());
  const char* p = raw.data();
  const char* end = p + raw.size();
  char* o = out.data();
#if defined(__SSE2__)
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);  // o + 16 <= out's end: o - out <= p - raw
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    if (mask == 0) {
      p += 16;
      o += 16;
      continue;
    }
    auto n = static_cast<unsigned>(__builtin_ctz(mask));
    p += n;
    o += n;
    decode_escape(p, end, o);
  }
#endif
  while (p < end) {
    if (*p == '\\') {
      decode_escape(p, end, o);
    } else {
      *o++ = *p++;
    }
  }
  return std::string_view(out.data(), static_cast<size_t>(o - out.data()));
}

}  // namespace

struct JsonParser::Impl {
  std::vector<RecordKey> keys;
  std::vector<KeyNode> nodes;  // nodes[0] is the root
  // Per line:
  Text text{};
  const char* end = nullptr;  // text.end
  Record* record = nullptr;
  std::array<uint8_t, kFieldCount> rank{};
  std::array<bool, kFieldCount> escaped{};
  std::array<std::string, kFieldCount> storage;  // decoded values
  std::string key_buffer;                        // a decoded key

  explicit Impl(const FieldKeys& field_keys) : keys(record_keys(field_keys)) {
    nodes.emplace_back();
    for (const RecordKey& key : keys) {
      size_t node = 0;
      std::string_view rest = key.name;
      for (;;) {
        size_t dot = rest.find('.');
        std::string_view part = rest.substr(0, dot);
        size_t child = SIZE_MAX;
        for (size_t c : nodes[node].children) {
          if (nodes[c].name == part) child = c;
        }
        if (child == SIZE_MAX) {
          child = nodes.size();
          nodes.emplace_back();
          nodes.back().name = std::string(part);
          nodes[node].children.push_back(child);
        }
        node = child;
        if (dot == std::string_view::npos) break;
        rest = rest.substr(dot + 1);
      }
      nodes[node].leaves.push_back(Leaf{key.field, key.rank, key.latency_unit_us});
    }
    for (KeyNode& node : nodes) {
      if (node.children.empty()) continue;
      unsigned bits = 2;
      while ((size_t{1} << bits) < 2 * node.children.size()) ++bits;
      node.table.resize(size_t{1} << bits);
      node.shift = 64 - bits;
      for (size_t c : node.children) {
        const std::string& name = nodes[c].name;
        Slot slot{head_of(name.data(), name.size(), name.data() + name.size()),
                  name.size() > 8 ? load64(name.data() + name.size() - 8) : 0,
                  static_cast<uint32_t>(name.size()), static_cast<int32_t>(c)};
        size_t i = slot_of(slot.head, slot.size, node.shift);
        while (node.table[i].node >= 0) i = (i + 1) & (node.table.size() - 1);
        node.table[i] = slot;
      }
    }
  }

  // The child of `node` named by the key [key, key_end) as written (escapes not decoded
  // when `escaped` is false), or nullptr.
  const KeyNode* find_child(const KeyNode& node, const char* key, const char* key_end, bool key_escaped) {
    if (node.table.empty()) return nullptr;
    const char* limit = end;
    if (key_escaped) {
      std::string_view decoded =
          decode_string(std::string_view(key, static_cast<size_t>(key_end - key)), key_buffer);
      key = decoded.data();
      key_end = key + decoded.size();
      limit = key_buffer.data() + key_buffer.size();
    }
    auto size = static_cast<size_t>(key_end - key);
    uint64_t head = head_of(key, size, limit);
    size_t mask = node.table.size() - 1;
    for (size_t i = slot_of(head, size, node.shift);; i = (i + 1) & mask) {
      const Slot& slot = node.table[i];
      if (slot.node < 0) return nullptr;
      if (slot.head == head && slot.size == size) {
        const KeyNode& child = nodes[static_cast<size_t>(slot.node)];
        if (size <= 8) return &child;
        if (size <= 16) {
          if (slot.tail == load64(key + size - 8)) return &child;
        } else if (std::memcmp(child.name.data() + 8, key + 8, size - 8) == 0) {
          return &child;
        }
      }
    }
  }

  void assign(const KeyNode& node, std::string_view value, bool value_escaped) {
    for (const Leaf& leaf : node.leaves) {
      auto f = static_cast<size_t>(leaf.field);
      if (leaf.rank >= rank[f]) continue;
      rank[f] = leaf.rank;
      record->fields[f] = value;
      escaped[f] = value_escaped;
      if (leaf.field == FieldId::kLatency) record->latency_unit_us = leaf.latency_unit_us;
    }
  }

  // Reads the object whose content starts at `p` (after its '{'), inside `depth` open
  // containers, its own included, looking its keys up among node's children. The byte
  // after its '}', or nullptr when it is not valid JSON.
  const char* read_object(const char* p, const KeyNode& node, int depth) {
    p = skip_space(p, end);
    if (p == end) return nullptr;
    if (*p == '}') return p + 1;
    for (;;) {
      if (*p != '"') return nullptr;
      const char* key = p + 1;
      bool key_escaped = false;
      const char* key_end = scan_string(key, text, key_escaped);
      if (key_end == nullptr) return nullptr;
      const KeyNode* child = find_child(node, key, key_end, key_escaped);
      p = key_end + 1;
      if (p < end && *p == ':') [[likely]] {
        ++p;
      } else {
        p = skip_space(p, end);
        if (p == end || *p != ':') return nullptr;
        ++p;
      }
      p = skip_space(p, end);
      if (p == end) return nullptr;
      const char* value = p;
      switch (*p) {
        case '"': {
          bool value_escaped = false;
          p = scan_string(value + 1, text, value_escaped);
          if (p == nullptr) return nullptr;
          if (child != nullptr) {
            assign(*child, std::string_view(value + 1, static_cast<size_t>(p - value - 1)), value_escaped);
          }
          ++p;
          break;
        }
        case '{':
          if (child != nullptr && !child->children.empty()) {
            if (depth >= kMaxDepth) return nullptr;
            p = read_object(p + 1, *child, depth + 1);
          } else {
            p = skip_container(p, text, depth);
          }
          break;
        case '[': p = skip_container(p, text, depth); break;
        default:  // number, true, false: their text; null: empty
          p = skip_scalar(p, text);
          if (p != nullptr && child != nullptr) {
            std::string_view raw(value, static_cast<size_t>(p - value));
            assign(*child, *value == 'n' ? std::string_view() : raw, false);
          }
          break;
      }
      if (p == nullptr) return nullptr;
      p = skip_space(p, end);
      if (p == end) return nullptr;
      if (*p == ',') [[likely]] {
        p = skip_space(p + 1, end);
        if (p == end) return nullptr;
      } else {
        return *p == '}' ? p + 1 : nullptr;
      }
    }
  }
};

JsonParser::JsonParser(const FieldKeys& keys) : impl_(std::make_unique<Impl>(keys)) {
  for (const RecordKey& key : impl_->keys) provided_[static_cast<size_t>(key.field)] = true;
}

JsonParser::~JsonParser() = default;

ParseResult JsonParser::parse(std::string_view line, Record& record) {
  record = Record{};
  size_t begin = 0;
  while (begin < line.size() && (line[begin] == ' ' || line[begin] == '\t')) ++begin;
  line.remove_prefix(begin);
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  if (line.empty() || line.front() != '{') return ParseStatus::kInvalidJson;

  Impl& impl = *impl_;
  impl.text = Text{line.data(), line.data() + line.size()};
  impl.end = impl.text.end;
  impl.record = &record;
  impl.rank.fill(UINT8_MAX);
  impl.escaped.fill(false);
  const char* p = impl.read_object(line.data() + 1, impl.nodes[0], 1);
  if (p != impl.end) return ParseStatus::kInvalidJson;  // invalid, or something after the object
  for (size_t f = 0; f < kFieldCount; ++f) {
    if (impl.escaped[f]) record.fields[f] = decode_string(record.fields[f], impl.storage[f]);
  }
  return ParseStatus::kOk;
}

}  // namespace opsktl
