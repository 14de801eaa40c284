// Fuzzes the timestamp, duration, time-bound and --tz parsers: no crash, no UB, a parsed
// timestamp re-parses to the same instant, and the inline fast paths and the fields
// reader agree with parse_timestamp_prefix.
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
  opsktl::Micros fast = 0;
  if (opsktl::read_epoch_seconds10(text, fast) && (n != 10 || fast != out)) std::abort();
  if (opsktl::read_timestamp_prefix(text, context, fast) != n || (n > 0 && fast != out)) std::abort();
  opsktl::FieldTimestamp field = opsktl::read_field_timestamp(text, context);
  if (field.bytes != 0 && (field.bytes != n || field.instant != out || field.fields < 1)) std::abort();
  if (field.bytes == 0 && n > 0 && (n == size || text[n] == ' ')) std::abort();
  (void)opsktl::parse_timestamp(text, context);
  (void)opsktl::parse_duration(text, 1000);
  (void)opsktl::parse_time_bound(text, context, 1766138462000000);
  (void)opsktl::parse_utc_offset(text);
  return 0;
}
