// Timestamp forms are recognised by their first characters: a run of digits and the
// byte after it (`2025-` ISO, `2016/` nginx, `19/Dec` CLF, `17/06` yy/MM/dd, `03-17`
// logcat, `20171223-` compact, `081109 203615` HDFS, digits then whitespace or the end:
// an epoch), a letter (a month: syslog; a weekday: ctime) or '[' (any form in brackets).
// Each branch parses fixed-width fields by hand, which is several times faster than
// strptime and independent of the locale, and every branch validates the calendar.
//
// Rejected: guessing with a list of strptime patterns tried in turn (slow, and a pattern
// that matches a prefix reads `2016/10/25` as the number 2016); reading any digit run
// as epoch seconds (logcat's `03-17` became 1970-01-01T00:00:03).
#include "opsktl/timestamp.hpp"

#include <chrono>
#include <cstring>
#include <limits>

namespace opsktl {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

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

// Optional fraction after '.' (or ',' when comma_ok) at text[pos]; advances pos. Keeps
// microseconds. A ',' not followed by a digit is not a fraction: it ends the stamp
// (Windows CBS writes `2016-09-28 04:30:30, Info`).
bool fraction(std::string_view text, size_t& pos, int64_t& micros, bool comma_ok) {
  micros = 0;
  if (pos >= text.size() || !(text[pos] == '.' || (comma_ok && text[pos] == ','))) return true;
  if (text[pos] == ',' && (pos + 1 >= text.size() || !is_digit(text[pos + 1]))) return true;
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

// A timestamp ends at the end of the text, at whitespace or at punctuation that closes
// or separates ("...:02]", "...:02, Info", `"ts": 1703000000,`), never in the middle of
// a token: digits followed by '/', '-', ':', '.' or a letter are not a timestamp.
bool ends_cleanly(std::string_view text, size_t pos) {
  if (pos == text.size()) return true;
  switch (text[pos]) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case ',':
    case ';':
    case ']':
    case ')':
    case '}':
    case '"':
    case '\'':
    case '|': return true;
    default: return false;
  }
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

// " HH:MM:SS" then an optional fraction after '.' (or ','), from text[pos]; the
// position after it, or 0.
size_t space_clock(std::string_view text, size_t pos, Civil& c, bool comma_ok) {
  if (pos >= text.size() || text[pos] != ' ' || !clock(text, pos + 1, c)) return 0;
  pos += 9;
  return fraction(text, pos, c.micros, comma_ok) ? pos : 0;
}

// A two-digit year as POSIX strptime %y reads it: 69-99 are 1969-1999, 00-68 2000-2068.
int century_year(int yy) { return yy < 69 ? 2000 + yy : 1900 + yy; }

size_t finish(const Civil& c, int64_t offset, size_t pos, std::string_view text, Micros& out) {
  if (pos == 0 || !valid(c) || !ends_cleanly(text, pos)) return 0;
  out = to_micros(c, offset);
  return pos;
}

// yyyy-MM-dd, then optionally 'T', ' ' or a tab and HH:mm:ss[.fff|,fff], then optionally a zone
// (also after one space: "2025-12-19 10:01:02 +0000").
size_t parse_iso(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  if (!digits(text, 0, 4, c.year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, c.month) ||
      text[7] != '-' || !digits(text, 8, 2, c.day)) {
    return 0;
  }
  size_t pos = 10;
  int64_t offset = context.utc_offset_seconds;
  // A tab too: "2025-12-19<TAB>10:01:02", as CloudFront and tab-separated exports write it.
  if (pos + 9 <= text.size() &&
      (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ' || text[pos] == '\t') &&
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
  return finish(c, offset, pos, text, out);
}

// 19/Dec/2025:10:01:02 +0000 (the zone is optional).
size_t parse_clf(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  if (!digits(text, 0, 2, c.day) || text.size() < 11 || text[2] != '/') return 0;
  c.month = static_cast<int>(month_from_name(text, 3));
  if (c.month == 0 || text[6] != '/' || !digits(text, 7, 4, c.year)) return 0;
  size_t pos = 11;
  if (pos >= text.size() || text[pos] != ':' || !clock(text, pos + 1, c)) return 0;
  pos += 9;
  if (!fraction(text, pos, c.micros, false)) return 0;
  int64_t offset = context.utc_offset_seconds;
  if (pos + 1 < text.size() && text[pos] == ' ' && (text[pos + 1] == '+' || text[pos + 1] == '-')) {
    size_t zpos = pos + 1;
    if (!zone(text, zpos, offset)) return 0;
    pos = zpos;
  }
  return finish(c, offset, pos, text, out);
}

// Date parts separated by `sep` ("2016/10/25", "17/06/09", "03-17"), then " HH:mm:ss"
// and an optional fraction. year_digits is 4, 2 (yy) or 0 (no year: the context's).
size_t parse_date_clock(std::string_view text, const TimeContext& context, int year_digits, char sep,
                        Micros& out) {
  Civil c;
  size_t pos = 0;
  if (year_digits > 0) {
    if (!digits(text, 0, static_cast<size_t>(year_digits), c.year)) return 0;
    if (year_digits == 2) c.year = century_year(c.year);
    pos = static_cast<size_t>(year_digits);
    if (pos >= text.size() || text[pos] != sep) return 0;
    ++pos;
  } else {
    c.year = context.year;
  }
  if (!digits(text, pos, 2, c.month) || pos + 2 >= text.size() || text[pos + 2] != sep ||
      !digits(text, pos + 3, 2, c.day)) {
    return 0;
  }
  return finish(c, context.utc_offset_seconds, space_clock(text, pos + 5, c, false), text, out);
}

// yyyyMMdd-HH:mm:ss with an optional ":SSS" or ".fff" (20171223-22:15:29:606).
size_t parse_compact_dash(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  if (!digits(text, 0, 4, c.year) || !digits(text, 4, 2, c.month) || !digits(text, 6, 2, c.day) ||
      text.size() < 17 || text[8] != '-' || !clock(text, 9, c)) {
    return 0;
  }
  size_t pos = 17;
  int ms = 0;
  if (pos + 4 <= text.size() && text[pos] == ':' && digits(text, pos + 1, 3, ms)) {
    c.micros = int64_t{ms} * 1000;
    pos += 4;
  } else if (!fraction(text, pos, c.micros, false)) {
    return 0;
  }
  return finish(c, context.utc_offset_seconds, pos, text, out);
}

// Hadoop HDFS: yyMMdd HHmmss (081109 203615). Called when both tokens are six digits.
size_t parse_hdfs(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  if (!digits(text, 0, 2, c.year) || !digits(text, 2, 2, c.month) || !digits(text, 4, 2, c.day) ||
      !digits(text, 7, 2, c.hour) || !digits(text, 9, 2, c.minute) || !digits(text, 11, 2, c.second)) {
    return 0;
  }
  c.year = century_year(c.year);
  return finish(c, context.utc_offset_seconds, 13, text, out);
}

// The day of the month after a month name: "19", " 9" (RFC 3164 and ctime pad with a
// space) or "9", at text[pos]; the position after it, or 0.
size_t month_day(std::string_view text, size_t pos, Civil& c) {
  if (pos + 2 > text.size()) return 0;
  if (text[pos] == ' ') return digits(text, pos + 1, 1, c.day) ? pos + 2 : 0;
  if (digits(text, pos, 2, c.day)) return pos + 2;
  if (digits(text, pos, 1, c.day) && text[pos + 1] == ' ') return pos + 1;
  return 0;
}

// Syslog: "Dec 19 10:01:02", "Dec  9 10:01:02" or "Dec 9 10:01:02", the year from the
// context.
size_t parse_syslog(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  c.month = static_cast<int>(month_from_name(text, 0));
  if (c.month == 0 || text.size() < 14 || text[3] != ' ') return 0;
  size_t pos = month_day(text, 4, c);
  if (pos == 0) return 0;
  c.year = context.year;
  return finish(c, context.utc_offset_seconds, space_clock(text, pos, c, false), text, out);
}

// Weekday abbreviation (case-insensitive English) at text[pos], 0 (Sunday) to 6, or -1.
int weekday_from_name(std::string_view text, size_t pos) {
  static constexpr const char* kNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  if (pos + 3 > text.size()) return -1;
  char lower[3];
  for (int i = 0; i < 3; ++i) lower[i] = static_cast<char>(text[pos + i] | 0x20);
  for (int d = 0; d < 7; ++d) {
    if (std::memcmp(lower, kNames[d], 3) == 0) return d;
  }
  return -1;
}

// ctime, as Apache's error log writes it: "Sun Dec 04 04:47:44 2005", "Sun Dec  4 ...",
// Apache 2.4 "Wed Oct 11 14:32:52.123456 2017". The weekday must be that of the date.
size_t parse_ctime(std::string_view text, const TimeContext& context, Micros& out) {
  Civil c;
  int weekday = weekday_from_name(text, 0);
  if (weekday < 0 || text.size() < 23 || text[3] != ' ') return 0;
  c.month = static_cast<int>(month_from_name(text, 4));
  if (c.month == 0 || text[7] != ' ') return 0;
  size_t pos = space_clock(text, month_day(text, 8, c), c, false);
  if (pos == 0 || pos + 5 > text.size() || text[pos] != ' ' || !digits(text, pos + 1, 4, c.year)) return 0;
  pos += 5;
  if (!valid(c)) return 0;
  // 1970-01-01 was a Thursday (4).
  int64_t days = days_from_civil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day));
  if (((days % 7 + 7 + 4) % 7) != weekday) return 0;
  return finish(c, context.utc_offset_seconds, pos, text, out);
}

// Epoch numbers: seconds (1 to 11 digits, optional fraction), milliseconds (13 digits,
// optional fraction of a millisecond) or microseconds (16 digits), as a whole token.
size_t parse_epoch(std::string_view text, size_t n, Micros& out) {
  int64_t whole = 0;
  for (size_t i = 0; i < n && i < 17; ++i) whole = whole * 10 + (text[i] - '0');
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

// Every form except the bracketed one.
size_t parse_bare(std::string_view text, const TimeContext& context, Micros& out) {
  if (text.empty()) return 0;
  const char c = text[0];
  if (is_digit(c)) {
    size_t n = 1;
    while (n < text.size() && n < 20 && is_digit(text[n])) ++n;
    const char next = n < text.size() ? text[n] : '\0';
    switch (n) {
      case 2:
        if (next == '/') {
          if (n + 1 < text.size() && is_alpha(text[n + 1])) return parse_clf(text, context, out);
          return parse_date_clock(text, context, 2, '/', out);
        }
        if (next == '-') return parse_date_clock(text, context, 0, '-', out);
        break;
      case 4:
        if (next == '-') return parse_iso(text, context, out);
        if (next == '/') return parse_date_clock(text, context, 4, '/', out);
        break;
      case 6:
        // "081109 203615": two six-digit tokens are an HDFS stamp or nothing.
        if (next == ' ' && text.size() >= 13 && is_digit(text[7]) && is_digit(text[8]) && is_digit(text[9]) &&
            is_digit(text[10]) && is_digit(text[11]) && is_digit(text[12]) &&
            (text.size() == 13 || !is_digit(text[13]))) {
          return parse_hdfs(text, context, out);
        }
        break;
      case 8:
        if (next == '-') return parse_compact_dash(text, context, out);
        break;
      default: break;
    }
    return parse_epoch(text, n, out);
  }
  if (is_alpha(c)) {
    if (text.size() > 4 && text[3] == ' ' && is_alpha(text[4])) return parse_ctime(text, context, out);
    return parse_syslog(text, context, out);
  }
  return 0;
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
  if (!text.empty() && text[0] == '[') {
    // Any form in brackets: "[19/Dec/2025:10:01:02 +0000]", "[2016-12-19 20:39:48,918]",
    // "[Sun Dec 04 04:47:44 2005]".
    size_t n = parse_bare(text.substr(1), context, out);
    if (n == 0 || n + 1 >= text.size() || text[n + 1] != ']') return 0;
    return n + 2;
  }
  return parse_bare(text, context, out);
}

std::optional<Micros> parse_timestamp(std::string_view text, const TimeContext& context) {
  Micros out = 0;
  size_t n = parse_timestamp_prefix(text, context, out);
  if (n == 0 || n != text.size()) return std::nullopt;
  return out;
}

FieldTimestamp read_field_timestamp_slowly(std::string_view text, const TimeContext& context) {
  FieldTimestamp ts;
  size_t n = parse_timestamp_prefix(text, context, ts.instant);
  auto space = [&](size_t i) { return text[i] == ' ' || text[i] == '\t' || text[i] == '\r'; };
  // It ends its field, or all of it but a closing mark ("04:30:30," before " Info").
  if (n == 0 || (n < text.size() && !space(n) && n + 1 < text.size() && !space(n + 1))) return ts;
  ts.bytes = n;
  ts.fields = 1;
  for (size_t i = 1; i < n; ++i) ts.fields += space(i) && !space(i - 1);
  return ts;
}

size_t timestamp_extent(std::string_view text) {
  // 2000 is a leap year: "Feb 29 ..." has its extent whatever --year says (the reader
  // then judges it with the real year).
  return read_field_timestamp(text, TimeContext{2000, 0}).bytes;
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
  int64_t rounded = (frac * scale + 500000) / 1000000;  // below 2^57: frac < 10^6, scale <= a day
  if (__builtin_mul_overflow(whole, scale, &product) || __builtin_add_overflow(product, rounded, &product))
    return std::nullopt;
  return product;
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
