// Fuzzes the timestamp, duration, time-bound and --tz parsers: no crash, no UB, and a
// parsed timestamp re-parses to the same instant.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "opsktl/timestamp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  opsktl::TimeContext context{2025, size > 0 ? (data[0] % 5 - 2) * 3600 : 0};
  opsktl::Micros out = 0;
  size_t n = opsktl::parse_timestamp_prefix(text, context, out);
  if (n > size) std::abort();
  if (n > 0) {
    auto again = opsktl::parse_timestamp(text.substr(0, n), context);
    if (!again || *again != out) std::abort();
  }
  (void)opsktl::parse_timestamp(text, context);
  (void)opsktl::parse_duration(text, 1000);
  (void)opsktl::parse_time_bound(text, context, 1766138462000000);
  (void)opsktl::parse_utc_offset(text);
  return 0;
}
