// Small byte-string helpers shared by the core and the front ends.
#pragma once

#include <cstdint>
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

// True when `bytes` is well-formed UTF-8.
bool is_valid_utf8(std::string_view bytes);

// `bytes` as valid UTF-8 text: each byte that is not part of a well-formed UTF-8
// sequence becomes the four characters \xHH (upper-case hex).
std::string escape_invalid_utf8(std::string_view bytes);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace opsktl
