// JSON lines with simdjson's On-Demand API: the object is walked once, in place, and
// only the values of wanted keys are touched (strings unescaped into simdjson's buffer,
// numbers, booleans and null as their raw text); everything else is skipped without
// building a DOM. The line is first copied into a buffer with SIMDJSON_PADDING spare
// bytes, which simdjson requires and the line reader's buffer cannot promise; the copy
// costs far less than the parse.
//
// Wanted keys form a small tree: `a.b` is a child b of a node a, so nested objects are
// entered only when some wanted key lies inside them. A key can be both a leaf and a
// prefix ("http" and "http.status"): an object value is entered, anything else is the
// leaf's value.
#include "json_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "record_keys.hpp"

namespace opsktl {

namespace od = simdjson::ondemand;

namespace {

struct KeyNode {
  std::string name;
  uint64_t head = 0;  // the first 8 bytes of name, zero-padded: most keys differ there
  std::vector<const RecordKey*> leaves;  // fields wanting exactly this key
  std::vector<size_t> children;          // node indexes
};

uint64_t head_of(const char* data, size_t size) {
  uint64_t head = 0;
  std::memcpy(&head, data, std::min<size_t>(size, 8));
  return head;
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

struct JsonParser::Impl {
  std::vector<RecordKey> keys;
  std::vector<KeyNode> nodes;  // nodes[0] is the root
  od::parser parser;
  std::string buffer;
  std::array<uint8_t, kFieldCount> rank{};
  Record* record = nullptr;

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
          nodes.push_back(KeyNode{std::string(part), head_of(part.data(), part.size()), {}, {}});
          nodes[node].children.push_back(child);
        }
        node = child;
        if (dot == std::string_view::npos) break;
        rest = rest.substr(dot + 1);
      }
      nodes[node].leaves.push_back(&key);
    }
  }

  // The raw key of `field` (escapes left as written: keys with escapes do not match).
  // simdjson has checked that the key is a terminated string inside the buffer.
  std::string_view raw_key(od::field& field) const {
    const char* start = field.key().raw();
    const char* end = buffer.data() + buffer.size();
    const char* q = start;
    while (q < end && *q != '"') q += *q == '\\' ? 2 : 1;
    return std::string_view(start, static_cast<size_t>(std::min(q, end) - start));
  }

  void assign(const KeyNode& node, std::string_view value) {
    for (const RecordKey* key : node.leaves) {
      auto f = static_cast<size_t>(key->field);
      if (key->rank >= rank[f]) continue;
      rank[f] = key->rank;
      record->fields[f] = value;
      if (key->field == FieldId::kLatency) record->latency_unit_us = key->latency_unit_us;
    }
  }

  bool walk(od::object object, const KeyNode& at) {
    for (auto result : object) {
      od::field field;
      if (std::move(result).get(field) != simdjson::SUCCESS) return false;
      std::string_view name = raw_key(field);
      const KeyNode* node = nullptr;
      const uint64_t head = head_of(name.data(), name.size());
      for (size_t c : at.children) {
        const KeyNode& n = nodes[c];
        if (n.head == head && n.name.size() == name.size() &&
            (name.size() <= 8 || std::memcmp(n.name.data() + 8, name.data() + 8, name.size() - 8) == 0)) {
          node = &nodes[c];
          break;
        }
      }
      if (node == nullptr) continue;  // unread values are skipped by the iteration
      auto&& value = field.value();
      od::json_type type;
      if (value.type().get(type) != simdjson::SUCCESS) return false;
      switch (type) {
        case od::json_type::object: {
          if (node->children.empty()) break;
          od::object inner;
          if (value.get_object().get(inner) != simdjson::SUCCESS || !walk(inner, *node)) return false;
          break;
        }
        case od::json_type::string: {
          if (node->leaves.empty()) break;
          std::string_view text;
          if (value.get_string().get(text) != simdjson::SUCCESS) return false;
          assign(*node, text);
          break;
        }
        case od::json_type::array:
          break;
        default:  // number, true, false, null: their text
          if (node->leaves.empty()) break;
          std::string_view raw = trim_right(value.raw_json_token());
          if (raw == "null") raw = std::string_view();
          assign(*node, raw);
          break;
      }
    }
    return true;
  }
};

JsonParser::JsonParser(const FieldKeys& keys) : impl_(std::make_unique<Impl>(keys)) {
  for (const RecordKey& key : impl_->keys) provided_[static_cast<size_t>(key.field)] = true;
}

JsonParser::~JsonParser() = default;

bool JsonParser::parse(std::string_view line, Record& record) {
  record = Record{};
  size_t begin = 0;
  while (begin < line.size() && (line[begin] == ' ' || line[begin] == '\t')) ++begin;
  line = trim_right(line.substr(begin));
  if (line.empty() || line.front() != '{') return false;

  Impl& impl = *impl_;
  if (impl.buffer.size() < line.size() + simdjson::SIMDJSON_PADDING) {
    impl.buffer.resize(line.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(impl.buffer.data(), line.data(), line.size());
  std::memset(impl.buffer.data() + line.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  if (impl.parser.iterate(impl.buffer.data(), line.size(), impl.buffer.size()).get(doc) !=
      simdjson::SUCCESS) {
    return false;
  }
  od::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
  impl.rank.fill(UINT8_MAX);
  impl.record = &record;
  if (!impl.walk(object, impl.nodes[0])) return false;
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;  // nothing after the object
}

}  // namespace opsktl
