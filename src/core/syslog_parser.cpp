// syslog lines, in the three forms found in files and on the wire:
//
//   RFC 3164 (/var/log/syslog, messages, auth.log):
//     [<PRI>]Mar 27 13:06:56 host app[pid]: message
//   rsyslog's RSYSLOG_FileFormat (the same with an RFC 3339 stamp):
//     2025-12-19T10:01:02.123456+00:00 host app[pid]: message
//   RFC 5424:
//     <PRI>1 2025-12-19T10:01:02.5Z host app procid msgid [sd-id k="v"]... message
//
// ts = the stamp (read later by the shared timestamp parser: a 3164 stamp takes the year
// from --year), service = the app name, event = the message. The tag (`app:` or
// `app[pid]:`) is required in the first two forms: without it a line of plain fields
// such as `2025-12-19T10:01:02Z nginx restarted` would pass for syslog. A 3164 line with
// no host (`Mar 27 13:06:56 app: message`, as some devices send) is read too.
//
// systemd's own lines about a unit (app `systemd`, message `foo.service: Scheduled
// restart job, ...`) give the unit as the service, so that crash-looping units are told
// apart; the event stays the whole message.
#include "syslog_parser.hpp"

#include <array>

#include "opsktl/timestamp.hpp"

namespace opsktl {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "<PRI>" of 1 to 3 digits; the bytes it takes, 0 when there is none.
size_t priority_size(std::string_view line) {
  if (line.size() < 3 || line[0] != '<') return 0;
  size_t i = 1;
  while (i < line.size() && i <= 3 && is_digit(line[i])) ++i;
  return i > 1 && i < line.size() && line[i] == '>' ? i + 1 : 0;
}

// The next token ending at a space (or the end) from `pos`, which moves past one space.
std::string_view next_token(std::string_view line, size_t& pos) {
  size_t start = pos;
  while (pos < line.size() && line[pos] != ' ') ++pos;
  std::string_view token = line.substr(start, pos - start);
  if (pos < line.size()) ++pos;
  return token;
}

// "app:" or "app[pid]:" (app without spaces, ':' or '['): sets `app`. False otherwise.
bool parse_tag(std::string_view token, std::string_view& app) {
  if (token.size() < 2 || token.back() != ':') return false;
  token.remove_suffix(1);
  size_t bracket = token.find('[');
  if (bracket != std::string_view::npos) {
    if (token.back() != ']' || bracket == 0) return false;
    app = token.substr(0, bracket);
  } else {
    app = token;
  }
  return !app.empty() && app.find(':') == std::string_view::npos && app.size() <= 64;
}

// RFC 5424 structured data: "-" or one or more [id param="value"...] elements, where a
// value may hold \" \] and \\. The bytes it takes; 0 when malformed.
size_t structured_data_size(std::string_view text) {
  if (!text.empty() && text[0] == '-') return 1;
  size_t pos = 0;
  while (pos < text.size() && text[pos] == '[') {
    ++pos;
    bool quoted = false;
    for (;; ++pos) {
      if (pos >= text.size()) return 0;
      char c = text[pos];
      if (quoted) {
        if (c == '\\') {
          ++pos;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ']') {
        break;
      }
    }
    ++pos;
  }
  return pos;
}

bool parse_5424(std::string_view line, size_t pos, Record& record) {
  std::string_view stamp = next_token(line, pos);
  if (stamp.empty()) return false;
  if (stamp != "-") {
    Micros ts = 0;
    if (parse_timestamp_prefix(stamp, TimeContext{}, ts) != stamp.size()) return false;
    record[FieldId::kTs] = stamp;
  }
  std::string_view host = next_token(line, pos);
  std::string_view app = next_token(line, pos);
  std::string_view procid = next_token(line, pos);
  std::string_view msgid = next_token(line, pos);
  if (host.empty() || app.empty() || procid.empty() || msgid.empty() || pos >= line.size()) return false;
  size_t sd = structured_data_size(line.substr(pos));
  if (sd == 0) return false;
  pos += sd;
  if (pos < line.size()) {
    if (line[pos] != ' ') return false;
    ++pos;
  }
  std::string_view message = line.substr(pos);
  if (message.substr(0, 3) == "\xEF\xBB\xBF") message.remove_prefix(3);  // BOM
  if (app != "-") record[FieldId::kService] = app;
  record[FieldId::kEvent] = message;
  if (app == "systemd") {
    if (std::string_view unit = systemd_unit_of(message); !unit.empty()) record[FieldId::kService] = unit;
  }
  return true;
}

}  // namespace

std::string_view systemd_unit_of(std::string_view message) {
  static constexpr std::array<std::string_view, 11> kSuffixes = {".service",   ".socket", ".timer",  ".mount",
                                                                 ".automount", ".swap",   ".target", ".path",
                                                                 ".slice",     ".scope",  ".device"};
  size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string_view unit = message.substr(0, colon);
  if (unit.find(' ') != std::string_view::npos) return {};
  for (std::string_view suffix : kSuffixes) {
    if (unit.size() > suffix.size() && unit.substr(unit.size() - suffix.size()) == suffix) return unit;
  }
  return {};
}

ParseResult SyslogParser::parse(std::string_view line, Record& record) {
  record = Record{};
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  size_t pos = priority_size(line);
  if (pos > 0 && pos + 1 < line.size() && is_digit(line[pos])) {
    size_t version = pos;
    while (version < line.size() && version - pos < 3 && is_digit(line[version])) ++version;
    if (version < line.size() && line[version] == ' ') {
      return parse_5424(line, version + 1, record) ? ParseStatus::kOk : ParseStatus::kNotSyslog;
    }
  }
  // RFC 3164 `Mmm dd hh:mm:ss`, or an RFC 3339 stamp (rsyslog's file format).
  std::string_view rest = line.substr(pos);
  if (rest.empty()) return ParseStatus::kNotSyslog;
  bool month_name = rest[0] >= 'A' && rest[0] <= 'Z';
  bool iso = rest.size() > 10 && is_digit(rest[0]) && rest[4] == '-' && rest[10] == 'T';
  if (!month_name && !iso) return ParseStatus::kNotSyslog;
  Micros ts = 0;
  size_t stamp = parse_timestamp_prefix(rest, TimeContext{}, ts);
  if (stamp == 0 || stamp >= rest.size() || rest[stamp] != ' ') return ParseStatus::kNotSyslog;
  record[FieldId::kTs] = rest.substr(0, stamp);
  pos = stamp + 1;
  while (pos < rest.size() && rest[pos] == ' ') ++pos;
  std::string_view host = next_token(rest, pos);
  std::string_view app;
  if (!parse_tag(host, app)) {
    if (host.empty() || !parse_tag(next_token(rest, pos), app)) return ParseStatus::kNotSyslog;
  }
  std::string_view message = rest.substr(std::min(pos, rest.size()));
  record[FieldId::kService] = app;
  record[FieldId::kEvent] = message;
  if (app == "systemd") {
    if (std::string_view unit = systemd_unit_of(message); !unit.empty()) record[FieldId::kService] = unit;
  }
  return ParseStatus::kOk;
}

}  // namespace opsktl
