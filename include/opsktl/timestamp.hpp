// One timestamp reader for every log subcommand and format, and the duration parser.
//
// Instants are microseconds since the Unix epoch, UTC. Parsing is hand-written (no
// locale, no strptime) and validates the calendar: month 13, Feb 30 or hour 24 do not
// parse. The forms, and the rule that an epoch number is a whole token, are listed in
// docs/log-formats.md ("Timestamps"). The two forms that fill most logs have inline fast
// paths here (ten-digit epoch seconds, and RFC 3339 first in the out-of-line dispatch);
// everything else goes through parse_timestamp_prefix.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace opsktl {

using Micros = int64_t;

inline constexpr Micros kMicrosPerSecond = 1'000'000;

struct TimeContext {
  int year = 1970;                 // for stamps that carry none (syslog, logcat): --year
  int64_t utc_offset_seconds = 0;  // for zone-less stamps (--tz)
};

// The year of `now` in UTC (the syslog default for TimeContext::year).
int current_utc_year();
Micros now_micros();

// Parses a timestamp at the start of `text`, reading a form that spans several
// whitespace-separated tokens whole (`2016/10/25 14:49:34`, `Dec 19 10:01:02`,
// `Sun Dec 04 04:47:44 2005`, `081109 203615`). Forms: docs/log-formats.md. Returns the
// number of bytes consumed (0 when no timestamp starts there) and sets `out`. A
// timestamp must end at the end of text, at whitespace or at a closing punctuation mark
// (`,` `;` `]` `)` `}` `"` `'` `|`); digits followed by `/`, `-`, `:`, `.` or a letter
// are never epoch seconds.
size_t parse_timestamp_prefix(std::string_view text, const TimeContext& context, Micros& out);

// The whole of `text` as one timestamp.
std::optional<Micros> parse_timestamp(std::string_view text, const TimeContext& context);

// Fast path: exactly ten digits (every second from 2001-09-09 to 2286) at the start of
// `text`, followed by its end, a space, a tab or a '\r'. Gives the instant
// parse_timestamp_prefix gives, eight digits converted at once.
__attribute__((always_inline)) inline bool read_epoch_seconds10(std::string_view text, Micros& out) {
  if (text.size() < 10 || (text.size() > 10 && text[10] != ' ' && text[10] != '\t' && text[10] != '\r')) {
    return false;
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // Every byte of `digits` below 10 when no byte of `eight` is under '0' (borrow sets
  // the top bit) or over '9' (adding 0x46 sets it).
  uint64_t eight = 0;
  std::memcpy(&eight, text.data(), 8);
  uint64_t digits = eight - 0x3030303030303030u;
  auto ninth = static_cast<unsigned char>(text[8] - '0');
  auto tenth = static_cast<unsigned char>(text[9] - '0');
  if (((digits | (eight + 0x4646464646464646u)) & 0x8080808080808080u) != 0 || ninth > 9 || tenth > 9) {
    return false;
  }
  digits = (digits * 10 + (digits >> 8)) & 0x00FF00FF00FF00FFu;
  digits = (digits * 100 + (digits >> 16)) & 0x0000FFFF0000FFFFu;
  digits = (digits * 10000 + (digits >> 32)) & 0xFFFFFFFFu;
  out = static_cast<Micros>(digits * 100 + uint64_t{ninth} * 10 + tenth) * kMicrosPerSecond;
  return true;
#else
  int64_t value = 0;
  for (size_t i = 0; i < 10; ++i) {
    auto digit = static_cast<unsigned char>(text[i] - '0');
    if (digit > 9) return false;
    value = value * 10 + digit;
  }
  out = value * kMicrosPerSecond;
  return true;
#endif
}

// parse_timestamp_prefix with the epoch fast path inline.
inline size_t read_timestamp_prefix(std::string_view text, const TimeContext& context, Micros& out) {
  if (read_epoch_seconds10(text, out)) return 10;
  return parse_timestamp_prefix(text, context, out);
}

// parse_timestamp with the epoch fast path inline.
inline std::optional<Micros> read_timestamp(std::string_view text, const TimeContext& context) {
  Micros out = 0;
  if (text.size() == 10 && read_epoch_seconds10(text, out)) return out;
  return parse_timestamp(text, context);
}

// A timestamp in whitespace-separated fields: `text` runs from the first byte of the
// field where the timestamp starts to the end of its line. The timestamp takes as many
// fields as its form needs and must end at whitespace or at the end of the line.
struct FieldTimestamp {
  Micros instant = 0;
  size_t bytes = 0;  // 0: no timestamp starts there
  int fields = 0;    // how many whitespace-separated fields it covers
};
FieldTimestamp read_field_timestamp_slowly(std::string_view text, const TimeContext& context);
__attribute__((always_inline)) inline FieldTimestamp read_field_timestamp(std::string_view text,
                                                                          const TimeContext& context) {
  FieldTimestamp ts;
  if (read_epoch_seconds10(text, ts.instant)) {
    ts.bytes = 10;
    ts.fields = 1;
    return ts;
  }
  return read_field_timestamp_slowly(text, context);
}

// Whether a field that holds `token` may be only the first of several fields of one
// timestamp: false for an RFC 3339 stamp with its zone, the form that fills most logs,
// so that checking costs it a comparison or two.
inline bool may_span_fields(std::string_view token) {
  if (token.size() < 20 || token[0] == '[' || token[2] == '/') return true;
  const char last = token.back();
  if (last == 'Z' || last == 'z') return false;
  return token.find_first_of("+-", 19) == std::string_view::npos;
}

// How many bytes of `text` (a field and the rest of its line) the timestamp there
// covers, whatever the year of the context: 0 when none starts there.
size_t timestamp_extent(std::string_view text);

// Duration in microseconds: a non-negative number with an optional unit us|µs|ms|s|m|h|d
// (`default_unit_us` applies to a bare number), e.g. "600", "90s", "10m", "1.5h", "250ms".
std::optional<int64_t> parse_duration(std::string_view text, int64_t default_unit_us);

// A --since/--until bound: an absolute timestamp, or "-15m" meaning 15 minutes before `now`.
std::optional<Micros> parse_time_bound(std::string_view text, const TimeContext& context, Micros now);

// A --tz value: "UTC", "Z", or a fixed offset "+01:00", "-0530".
std::optional<int64_t> parse_utc_offset(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date (valid dates only).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

}  // namespace opsktl
