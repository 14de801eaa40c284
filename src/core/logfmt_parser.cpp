// logfmt: `key=value` pairs separated by spaces, values optionally in double quotes with
// backslash escapes (`msg="GET \"/a\" failed"`), as Go's logfmt and Heroku write it. A
// bare word is a key without a value. Values are views into the line; only a quoted
// value with escapes that a field actually uses is unescaped, into the parser's storage.
#include "logfmt_parser.hpp"

#include <cstring>

namespace opsktl {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The closing quote of a quoted string whose content starts at `p`: the first '"' not
// escaped by an odd number of backslashes. nullptr when there is none.
const char* closing_quote(const char* p, const char* end) {
  const char* q = p;
  for (;;) {
    q = static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end - q)));
    if (q == nullptr) return nullptr;
    const char* b = q;
    while (b > p && b[-1] == '\\') --b;
    if (((q - b) & 1) == 0) return q;
    ++q;
  }
}

}  // namespace

std::string_view unescape_quoted(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out.push_back(c);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      default: out.push_back(e); break;  // \" \\ and anything else: the character itself
    }
  }
  return out;
}

LogfmtParser::LogfmtParser(const FieldKeys& keys) : lookup_(record_keys(keys)) {
  for (const RecordKey& key : lookup_.keys()) provided_[static_cast<size_t>(key.field)] = true;
}

ParseResult LogfmtParser::parse(std::string_view line, Record& record) {
  record = Record{};
  std::array<uint8_t, kFieldCount> rank{};
  rank.fill(UINT8_MAX);
  std::array<bool, kFieldCount> escaped{};
  const char* p = line.data();
  const char* end = p + line.size();
  for (;;) {
    while (p < end && is_space(*p)) ++p;
    if (p == end) break;
    const char* key_start = p;
    while (p < end && *p != '=' && !is_space(*p)) ++p;
    std::string_view key(key_start, static_cast<size_t>(p - key_start));
    if (key.empty()) return ParseStatus::kInvalidLogfmt;  // "=value"
    std::string_view value;
    bool has_escape = false;
    if (p < end && *p == '=') {
      ++p;
      if (p < end && *p == '"') {
        const char* close = closing_quote(p + 1, end);
        if (close == nullptr) return ParseStatus::kInvalidLogfmt;  // unterminated quote
        value = std::string_view(p + 1, static_cast<size_t>(close - p - 1));
        has_escape = std::memchr(value.data(), '\\', value.size()) != nullptr;
        p = close + 1;
      } else {
        const char* value_start = p;
        while (p < end && !is_space(*p)) ++p;
        value = std::string_view(value_start, static_cast<size_t>(p - value_start));
      }
    }
    lookup_.for_each_match(key, [&](const RecordKey& want) {
      auto f = static_cast<size_t>(want.field);
      if (want.rank >= rank[f]) return;
      rank[f] = want.rank;
      record.fields[f] = value;
      escaped[f] = has_escape;
      if (want.field == FieldId::kLatency) record.latency_unit_us = want.latency_unit_us;
    });
  }
  for (size_t f = 0; f < kFieldCount; ++f) {
    if (escaped[f]) record.fields[f] = unescape_quoted(record.fields[f], storage_[f]);
  }
  return ParseStatus::kOk;
}

}  // namespace opsktl
