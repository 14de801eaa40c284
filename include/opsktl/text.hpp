// Small byte-string helpers shared by the core and the front ends.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

namespace opsktl {

// XXH3 64-bit hash of the bytes. Inline: it runs once per log line, and the call
// overhead was a tenth of the time spent hashing short keys.
inline uint64_t hash_bytes(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

// Whether the `size` bytes at a and at b are equal. Inline, 8 bytes at a time: a hash
// table probe compares a short key per log line, where a memcmp call cost more than
// the comparison.
inline bool same_bytes(const char* a, const char* b, size_t size) {
  auto load8 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto load4 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  if (size >= 8) {
    for (size_t i = 0; i + 8 < size; i += 8) {
      if (load8(a + i) != load8(b + i)) return false;
    }
    return load8(a + size - 8) == load8(b + size - 8);  // the last 8, overlapping
  }
  if (size >= 4) return load4(a) == load4(b) && load4(a + size - 4) == load4(b + size - 4);
  for (size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// True when `bytes` is well-formed UTF-8.
bool is_valid_utf8(std::string_view bytes);

// `bytes` as valid UTF-8 text: each byte that is not part of a well-formed UTF-8
// sequence becomes the four characters \xHH (upper-case hex).
std::string escape_invalid_utf8(std::string_view bytes);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace opsktl
