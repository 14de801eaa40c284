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

// Short keys (an endpoint, a service name) are hashed and compared as three 16-byte
// words, with the bytes past the key's end masked to zero: no branch on the length, no
// loop, which on log lines whose key lengths vary from line to line removes the
// mispredicted branches of a length-dispatched hash. This needs kShortKeyBytes readable
// bytes from the key's start; callers that cannot promise that get a zero-padded copy.
inline constexpr size_t kShortKeyBytes = 48;

namespace detail {
using U64x2 = uint64_t __attribute__((vector_size(16)));

// kKeepMask[64 - n + i] is 0xFF for i < n and 0 after, for n <= 64.
struct KeepMask {
  alignas(64) unsigned char bytes[128];
  constexpr KeepMask() : bytes() {
    for (size_t i = 0; i < 64; ++i) bytes[i] = 0xFF;
  }
};
inline constexpr KeepMask kKeepMask{};

inline U64x2 load16(const void* p) {
  U64x2 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
  const __uint128_t product = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}
}  // namespace detail

// A key of at most kShortKeyBytes, zero past its end.
struct ShortKey {
  detail::U64x2 words[3];

  // `size` <= kShortKeyBytes bytes at `p`, where kShortKeyBytes bytes are readable.
  static ShortKey load_padded(const char* p, size_t size) {
    const unsigned char* keep = detail::kKeepMask.bytes + 64 - size;
    return {{detail::load16(p) & detail::load16(keep), detail::load16(p + 16) & detail::load16(keep + 16),
             detail::load16(p + 32) & detail::load16(keep + 32)}};
  }
  // Any `size` <= kShortKeyBytes bytes, through a zero-padded copy.
  static ShortKey copy(const char* p, size_t size) {
    char padded[kShortKeyBytes] = {};
    if (size != 0) std::memcpy(padded, p, size);
    return load_padded(padded, size);
  }
  uint64_t hash(size_t size) const {
    using detail::fold_multiply;
    const uint64_t h =
        fold_multiply(words[0][0] ^ 0xa0761d6478bd642full, words[0][1] ^ 0xe7037ed1a0b428dbull) +
        fold_multiply(words[1][0] ^ 0x8ebc6af09c88c6e3ull, words[1][1] ^ 0x589965cc75374cc3ull) +
        fold_multiply(words[2][0] ^ 0x1d8e4e27c47d124full, words[2][1] ^ size ^ 0x9e3779b97f4a7c15ull);
    return fold_multiply(h ^ 0xd6e8feb86659fd93ull, 0xff51afd7ed558ccdull);
  }
  // Whether the kShortKeyBytes bytes at `p` (zero past the key) equal this key's.
  bool same_as(const char* p) const {
    const detail::U64x2 diff = (words[0] ^ detail::load16(p)) | (words[1] ^ detail::load16(p + 16)) |
                               (words[2] ^ detail::load16(p + 32));
    return (diff[0] | diff[1]) == 0;
  }
};

// The hash of a byte string: ShortKey's for short keys, XXH3 64-bit above.
inline uint64_t hash_bytes(std::string_view bytes) {
  if (bytes.size() <= kShortKeyBytes) return ShortKey::copy(bytes.data(), bytes.size()).hash(bytes.size());
  return XXH3_64bits(bytes.data(), bytes.size());
}

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

// What a line looks like, for a one-line message: at most `max_bytes` bytes of it (cut
// before a UTF-8 sequence, "..." added), with control bytes, DEL and bytes that are not
// well-formed UTF-8 as \xHH and a backslash as \\, so the excerpt is printable
// text that cannot break the message's line.
std::string printable_excerpt(std::string_view bytes, size_t max_bytes = 60);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace opsktl
