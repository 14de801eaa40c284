// One timestamp parser for every log subcommand, and the duration parser.
//
// Instants are microseconds since the Unix epoch, UTC. Parsing is hand-written (no
// locale, no strptime) and validates the calendar: month 13 or Feb 30 do not parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace opsktl {

using Micros = int64_t;

inline constexpr Micros kMicrosPerSecond = 1'000'000;

struct TimeContext {
  int year = 1970;                 // for syslog stamps, which carry none
  int64_t utc_offset_seconds = 0;  // for zone-less stamps (--tz)
};

// The year of `now` in UTC (the syslog default for TimeContext::year).
int current_utc_year();
Micros now_micros();

// Parses a timestamp at the start of `text`: epoch seconds (integer or fractional,
// up to 11 digits), epoch milliseconds (13 digits), microseconds (16 digits), RFC 3339 /
// ISO 8601 (`T` or space, optional fraction after `.` or `,`, `Z` or offset), CLF
// `19/Dec/2025:10:01:02 +0000` (optionally in brackets) and syslog `Dec 19 10:01:02`.
// Returns the number of bytes consumed (0 when no timestamp starts there) and sets `out`.
// A timestamp must end at the end of text or before a character that cannot continue it.
size_t parse_timestamp_prefix(std::string_view text, const TimeContext& context, Micros& out);

// The whole of `text` as one timestamp.
std::optional<Micros> parse_timestamp(std::string_view text, const TimeContext& context);

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
