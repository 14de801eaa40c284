// Timestamp forms are recognised by their first characters: a digit run followed by
// '-' is an ISO date, by '/' a CLF date, otherwise an epoch number; a letter starts a
// syslog stamp and '[' a bracketed CLF stamp. Each branch parses fixed-width fields by
// hand, which is several times faster than strptime and independent of the locale.
#include "opsktl/timestamp.hpp"

#include <chrono>
#include <cstring>
#include <limits>

namespace opsktl {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

// Reads exactly `width` digits at text[pos].
bool digits(std::string_view text, size_t pos, size_t width, int& value) {
  if (pos + width > text.size()) return false;
  int v = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  value = v;
  return true;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Month abbreviation (case-insensitive English) at text[pos], 1-12 or 0.
unsigned month_from_name(std::string_view text, size_t pos) {
  static constexpr const char* kNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  if (pos + 3 > text.size()) return 0;
  char lower[3];
  for (int i = 0; i < 3; ++i) lower[i] = static_cast<char>(text[pos + i] | 0x20);
  for (unsigned m = 0; m < 12; ++m) {
    if (std::memcmp(lower, kNames[m], 3) == 0) return m + 1;
  }
  return 0;
}

struct Civil {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
};

bool valid(const Civil& c) {
  return c.month >= 1 && c.month <= 12 && c.day >= 1 &&
         static_cast<unsigned>(c.day) <= days_in_month(c.year, static_cast<unsigned>(c.month)) &&
         c.hour <= 23 && c.minute <= 59 && c.second <= 60;
}

Micros to_micros(const Civil& c, int64_t offset_seconds) {
  int64_t days = days_from_civil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day));
  int64_t seconds =
      days * kSecondsPerDay + int64_t{c.hour} * 3600 + int64_t{c.minute} * 60 + c.second - offset_seconds;
  return seconds * kMicrosPerSecond + c.micros;
}

// Optional fraction after '.' or ',' at text[pos]; advances pos. Keeps microseconds.
bool fraction(std::string_view text, size_t& pos, int64_t& micros, bool comma_ok) {
  micros = 0;
  if (pos >= text.size() || !(text[pos] == '.' || (comma_ok && text[pos] == ','))) return true;
  size_t p = pos + 1;
  size_t n = 0;
  int64_t scale = 100000;
  while (p < text.size() && is_digit(text[p])) {
    if (n < 6) micros += (text[p] - '0') * scale;
    scale /= 10;
    ++n;
    ++p;
  }
  if (n == 0 || n > 9) return false;
  pos = p;
  return true;
}

// "Z", "+HH:MM", "+HHMM" or "+HH" at text[pos]; advances pos.
bool zone(std::string_view text, size_t& pos, int64_t& offset) {
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    offset = 0;
    ++pos;
    return true;
  }
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
  int sign = text[pos] == '-' ? -1 : 1;
  int hh = 0, mm = 0;
  size_t p = pos + 1;
  if (!digits(text, p, 2, hh)) return false;
  p += 2;
  if (p < text.size() && text[p] == ':') {
    if (!digits(text, p + 1, 2, mm)) return false;
    p += 3;
  } else if (digits(text, p, 2, mm)) {
    p += 2;
  }
  if (hh > 23 || mm > 59) return false;
  offset = sign * (int64_t{hh} * 3600 + int64_t{mm} * 60);
  pos = p;
  return true;
}

// A timestamp must not run straight into more word characters ("17030001x3").
bool ends_cleanly(std::string_view text, size_t pos) {
  return pos == text.size() || !(is_alnum(text[pos]) || text[pos] == '.' || text[pos] == ':');
}

// HH:MM:SS at text[pos]. Leaves `c` untouched unless all of it is there (a date followed
// by "20 other words" must stay midnight; found by fuzz_timestamp).
bool clock(std::string_view text, size_t pos, Civil& c) {
  Civil t = c;
  if (!(digits(text, pos, 2, t.hour) && pos + 2 < text.size() && text[pos + 2] == ':' &&
        digits(text, pos + 3, 2, t.minute) && pos + 5 < text.size() && text[pos + 5] == ':' &&
        digits(text, pos + 6, 2, t.second))) {
    return false;
  }
  c = t;
  return true;
}

size_t parse_iso(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  if (!digits(text, 0, 4, c.year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, c.month) ||
      text[7] != '-' || !digits(text, 8, 2, c.day)) {
    return 0;
  }
  size_t pos = 10;
  int64_t offset = context.utc_offset_seconds;
  if (pos + 9 <= text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ') &&
      clock(text, pos + 1, c)) {
    pos += 9;
    if (!fraction(text, pos, c.micros, true)) return 0;
    size_t zpos = pos;
    if (zpos < text.size() && text[zpos] == ' ' && zpos + 1 < text.size() &&
        (text[zpos + 1] == '+' || text[zpos + 1] == '-')) {
      ++zpos;  // "2025-12-19 10:01:02 +0000"
    }
    int64_t zone_offset = 0;
    if (zone(text, zpos, zone_offset)) {
      offset = zone_offset;
      pos = zpos;
    }
  }
  if (!valid(c) || !ends_cleanly(text, pos)) return 0;
  out = to_micros(c, offset);
  return pos;
}

size_t parse_clf(std::string_view text, size_t start, const TimeContext& context, Micros& out) {
  // 19/Dec/2025:10:01:02 +0000
  Civil c;
  size_t pos = start;
  if (!digits(text, pos, 2, c.day) || pos + 11 > text.size() || text[pos + 2] != '/') return 0;
  c.month = static_cast<int>(month_from_name(text, pos + 3));
  if (c.month == 0 || text[pos + 6] != '/' || !digits(text, pos + 7, 4, c.year)) return 0;
  pos += 11;
  if (pos >= text.size() || text[pos] != ':' || !clock(text, pos + 1, c)) return 0;
  pos += 9;
  if (!fraction(text, pos, c.micros, false)) return 0;
  int64_t offset = context.utc_offset_seconds;
  if (pos + 1 < text.size() && text[pos] == ' ' && (text[pos + 1] == '+' || text[pos + 1] == '-')) {
    size_t zpos = pos + 1;
    if (!zone(text, zpos, offset)) return 0;
    pos = zpos;
  }
  if (!valid(c)) return 0;
  out = to_micros(c, offset);
  return pos;
}

size_t parse_syslog(std::string_view text, const TimeContext& context, Micros& out) {
  // "Dec 19 10:01:02", "Dec  9 10:01:02" (RFC 3164 pads with a space) or "Dec 9 10:01:02"
  Civil c;
  c.month = static_cast<int>(month_from_name(text, 0));
  if (c.month == 0 || text.size() < 14 || text[3] != ' ') return 0;
  size_t clock_at = 7;
  if (text[4] == ' ') {
    if (!digits(text, 5, 1, c.day)) return 0;
  } else if (digits(text, 4, 2, c.day)) {
  } else if (digits(text, 4, 1, c.day) && text[5] == ' ') {
    clock_at = 6;
  } else {
    return 0;
  }
  if (text[clock_at - 1] != ' ' || !clock(text, clock_at, c)) return 0;
  size_t pos = clock_at + 8;
  if (!fraction(text, pos, c.micros, false)) return 0;
  c.year = context.year;
  if (!valid(c) || !ends_cleanly(text, pos)) return 0;
  out = to_micros(c, context.utc_offset_seconds);
  return pos;
}

size_t parse_epoch(std::string_view text, Micros& out) {
  size_t n = 0;
  int64_t whole = 0;
  while (n < text.size() && is_digit(text[n])) {
    if (n < 17) whole = whole * 10 + (text[n] - '0');  // longer runs are rejected below
    ++n;
  }
  size_t pos = n;
  int64_t frac = 0;
  bool has_fraction = pos < text.size() && text[pos] == '.';
  if (has_fraction && !fraction(text, pos, frac, false)) return 0;
  if (!ends_cleanly(text, pos)) return 0;
  if (n >= 1 && n <= 11) {
    out = whole * kMicrosPerSecond + frac;
  } else if (n == 13) {
    out = whole * 1000 + frac / 1000;  // the fraction is of a millisecond
  } else if (n == 16 && !has_fraction) {
    out = whole;
  } else {
    return 0;
  }
  return pos;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm, exact for the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Micros now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

int current_utc_year() {
  int64_t days = now_micros() / kMicrosPerSecond / kSecondsPerDay;
  int year = 1970;
  while (days_from_civil(year + 1, 1, 1) <= days) ++year;
  return year;
}

size_t parse_timestamp_prefix(std::string_view text, const TimeContext& context, Micros& out) {
  if (text.empty()) return 0;
  char c = text[0];
  if (c == '[') {
    size_t n = parse_clf(text, 1, context, out);
    if (n == 0 || n >= text.size() || text[n] != ']') return 0;
    return n + 1;
  }
  if (is_digit(c)) {
    if (text.size() >= 5 && is_digit(text[1]) && is_digit(text[2]) && is_digit(text[3]) && text[4] == '-') {
      return parse_iso(text, context, out);
    }
    if (text.size() >= 3 && is_digit(text[1]) && text[2] == '/') {
      size_t n = parse_clf(text, 0, context, out);
      return n != 0 && ends_cleanly(text, n) ? n : 0;
    }
    return parse_epoch(text, out);
  }
  if (is_alpha(c)) return parse_syslog(text, context, out);
  return 0;
}

std::optional<Micros> parse_timestamp(std::string_view text, const TimeContext& context) {
  Micros out = 0;
  size_t n = parse_timestamp_prefix(text, context, out);
  if (n == 0 || n != text.size()) return std::nullopt;
  return out;
}

std::optional<int64_t> parse_duration(std::string_view text, int64_t default_unit_us) {
  size_t pos = 0;
  int64_t whole = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (whole > (int64_t{1} << 40)) return std::nullopt;
    whole = whole * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  int64_t frac = 0;  // millionths
  if (!fraction(text, pos, frac, false)) return std::nullopt;
  std::string_view unit = text.substr(pos);
  int64_t scale = 0;
  if (unit.empty())
    scale = default_unit_us;
  else if (unit == "us" || unit == "\xC2\xB5s")
    scale = 1;
  else if (unit == "ms")
    scale = 1000;
  else if (unit == "s")
    scale = kMicrosPerSecond;
  else if (unit == "m")
    scale = 60 * kMicrosPerSecond;
  else if (unit == "h")
    scale = 3600 * kMicrosPerSecond;
  else if (unit == "d")
    scale = 86400 * kMicrosPerSecond;
  else
    return std::nullopt;
  // Round the fraction to the nearest microsecond; refuse what does not fit in 64 bits
  // (a signed overflow would be undefined behaviour).
  int64_t product = 0;
  if (__builtin_mul_overflow(whole, scale, &product)) return std::nullopt;
  return product + (frac * scale + 500000) / 1000000;
}

std::optional<Micros> parse_time_bound(std::string_view text, const TimeContext& context, Micros now) {
  if (!text.empty() && text[0] == '-') {
    auto ago = parse_duration(text.substr(1), kMicrosPerSecond);
    if (!ago || now < std::numeric_limits<Micros>::min() + *ago) return std::nullopt;
    return now - *ago;
  }
  if (text == "now") return now;
  return parse_timestamp(text, context);
}

std::optional<int64_t> parse_utc_offset(std::string_view text) {
  if (text == "UTC" || text == "utc" || text == "Z" || text == "GMT") return 0;
  size_t pos = 0;
  int64_t offset = 0;
  if (!zone(text, pos, offset) || pos != text.size()) return std::nullopt;
  return offset;
}

}  // namespace opsktl
