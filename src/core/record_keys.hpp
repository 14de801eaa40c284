// Key names that logfmt and json records are read from: SPEC §2's defaults, or the one
// key --field NAME=KEY gives. Shared by logfmt_parser.cpp and json_parser.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "opsktl/record.hpp"

namespace opsktl {

struct RecordKey {
  std::string name;  // full key; `a.b` is key b inside object a (json)
  FieldId field;
  uint8_t rank;  // when several keys of one field are present, the lowest rank wins
  int64_t latency_unit_us;
};

// Every key to look for. A field with a --field key has only that key.
std::vector<RecordKey> record_keys(const FieldKeys& keys);

// Unit of a bare latency number under `key`: s for request_time and keys ending in
// _s/_sec/_seconds, ms for _ms/_msec/_millis, µs for _us/_usec/_micros, ns
// (kLatencyUnitNanos) for _ns/_nsec/_nanos; 0 when the key says nothing (then
// --latency-unit, else ms).
int64_t latency_unit_for_key(std::string_view key);

// Which field (and rank) wants the key; the tiny table makes a linear scan cheapest.
class KeyLookup {
 public:
  explicit KeyLookup(std::vector<RecordKey> keys) : keys_(std::move(keys)) {}
  // Calls `fn(const RecordKey&)` for every field that wants `name` (usually none or one).
  template <typename Fn>
  void for_each_match(std::string_view name, Fn&& fn) const {
    for (const RecordKey& key : keys_) {
      if (key.name.size() == name.size() && std::string_view(key.name) == name) fn(key);
    }
  }
  const std::vector<RecordKey>& keys() const { return keys_; }

 private:
  std::vector<RecordKey> keys_;
};

}  // namespace opsktl
