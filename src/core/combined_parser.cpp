// The NCSA common and combined log formats, as nginx and Apache write them:
//
//   [vhost:port] client ident user [19/Dec/2025:10:01:02 +0000] "GET /p?q HTTP/1.1" 500 123
//       ["referer" "user agent"] [key=value ...] [%D]
//
// The line is scanned once, left to right, with memchr for the brackets and quotes; no
// field is copied. Quoted strings end at the first '"' not escaped by an odd number of
// backslashes, which covers Apache's \" and nginx's \x22 alike. A request that is not
// "METHOD TARGET [HTTP/x]" (a bare "-" or "", the TLS bytes scanners send to a plain
// port, "PATCHp /x HTTP/1.1") is still a request the server answered, usually with 400:
// its method and path are "-", so that --status 4xx counts it without inventing an
// endpoint for it.
//
// The client may be an X-Forwarded-For list ("10.0.0.2, 10.0.0.1, 127.0.0.1", as
// $proxy_add_x_forwarded_for logs it): the client is its first address, the one the
// request came from as the proxies report it.
//
// service: --service, else the vcombined vhost (port stripped), else a trailing host=,
// else the file's base name. latency: rt= or request_time= in seconds, else a trailing
// bare number: an integer is Apache's %D (µs), a decimal is nginx's $request_time (s),
// unless --latency-unit says otherwise (Apache's %T is whole seconds).
#include "combined_parser.hpp"

#include <cstring>

namespace opsktl {
namespace {

constexpr int64_t kSeconds = 1'000'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

const char* skip_spaces(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  return p;
}

const char* token_end(const char* p, const char* end) {
  while (p < end && *p != ' ' && *p != '\t' && *p != '\r') ++p;
  return p;
}

// See the file comment: the closing quote of a string whose content starts at `p`.
const char* closing_quote(const char* p, const char* end) {
  const char* q = p;
  for (;;) {
    q = static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end - q)));
    if (q == nullptr) return nullptr;
    const char* b = q;
    while (b > p && b[-1] == '\\') --b;
    if (((q - b) & 1) == 0) return q;
    ++q;
  }
}

std::string_view view(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

// "METHOD TARGET" or "METHOD TARGET HTTP/x.y"; sets method and path (target without
// query string; the path of an absolute-form target). False for anything else.
bool parse_request(std::string_view request, std::string_view& method, std::string_view& path) {
  size_t sp = request.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp > 20) return false;
  method = request.substr(0, sp);
  for (char c : method) {
    if (!((c >= 'A' && c <= 'Z') || c == '_' || c == '-')) return false;
  }
  std::string_view rest = request.substr(sp + 1);
  size_t sp2 = rest.find(' ');
  std::string_view target = rest.substr(0, sp2);
  if (sp2 != std::string_view::npos) {
    std::string_view proto = rest.substr(sp2 + 1);
    if (proto.size() < 6 || proto.substr(0, 5) != "HTTP/" || proto.find(' ') != std::string_view::npos) {
      return false;
    }
  }
  if (target.empty()) return false;
  if (target[0] == '/') {
    // origin form
    // Asterisk and authority forms keep the target alike, but CONNECT must be tested
    // after the scheme, so the two branches stay apart.
    // NOLINTNEXTLINE(bugprone-branch-clone)
  } else if (target == "*") {
    path = target;
    return true;
  } else if (size_t scheme = target.find("://"); scheme != std::string_view::npos && scheme > 0) {
    size_t slash = target.find('/', scheme + 3);
    if (slash == std::string_view::npos) {
      path = "/";
      return true;
    }
    target = target.substr(slash);
  } else if (method == "CONNECT") {
    path = target;  // authority form: host:port
    return true;
  } else {
    return false;
  }
  path = target.substr(0, target.find('?'));
  return true;
}

bool is_number(std::string_view text, bool& fractional) {
  fractional = false;
  if (text.empty() || !is_digit(text[0])) return false;
  for (char c : text) {
    if (c == '.' && !fractional) {
      fractional = true;
    } else if (!is_digit(c)) {
      return false;
    }
  }
  return is_digit(text.back());
}

}  // namespace

std::string service_from_file_name(std::string_view name) {
  if (name == "-") return "-";
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  auto drop = [&](std::string_view suffix) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      name.remove_suffix(suffix.size());
    }
  };
  drop(".gz");
  size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < name.size() && dot > 0) {
    bool digits = true;
    for (char c : name.substr(dot + 1)) digits = digits && is_digit(c);
    if (digits) name = name.substr(0, dot);
  }
  drop(".log");
  return std::string(name);
}

CombinedParser::CombinedParser(std::string service, int64_t latency_unit_us)
    : fixed_service_(std::move(service)), latency_unit_us_(latency_unit_us) {}

void CombinedParser::begin_input(std::string_view name) { file_service_ = service_from_file_name(name); }

ParseResult CombinedParser::parse(std::string_view line, Record& record) {
  record = Record{};
  const char* p = line.data();
  const char* end = p + line.size();

  // Up to the '[': client ident user, or vhost client ident user; a token ending in ','
  // continues with the next (an X-Forwarded-For list).
  std::string_view tokens[4];
  int count = 0;
  bool list = false;  // the last token ended in ','
  for (;;) {
    p = skip_spaces(p, end);
    if (p == end) return ParseStatus::kNotCombined;
    if (*p == '[') break;
    const char* t = token_end(p, end);
    if (list) {
      std::string_view& last = tokens[count - 1];
      last = view(last.data(), t);
    } else {
      if (count == 4) return ParseStatus::kNotCombined;
      tokens[count++] = view(p, t);
    }
    list = t[-1] == ',';
    p = t;
  }
  if (count < 3 || list) return ParseStatus::kNotCombined;
  std::string_view vhost;
  if (count == 4) vhost = tokens[0];
  std::string_view client = tokens[count - 3];
  record[FieldId::kClient] = client.substr(0, client.find(','));

  const char* close = static_cast<const char*>(std::memchr(p, ']', static_cast<size_t>(end - p)));
  if (close == nullptr) return ParseStatus::kNotCombined;
  record[FieldId::kTs] = view(p + 1, close);
  p = skip_spaces(close + 1, end);

  if (p == end || *p != '"') return ParseStatus::kNotCombined;
  const char* request_end = closing_quote(p + 1, end);
  if (request_end == nullptr) return ParseStatus::kNotCombined;
  if (!parse_request(view(p + 1, request_end), record[FieldId::kMethod], record[FieldId::kPath])) {
    record[FieldId::kMethod] = "-";
    record[FieldId::kPath] = "-";
  }
  p = skip_spaces(request_end + 1, end);

  const char* t = token_end(p, end);
  if (t == p) return ParseStatus::kNotCombined;
  record[FieldId::kStatus] = view(p, t);
  p = skip_spaces(t, end);
  const char* bytes_end = token_end(p, end);  // bytes sent: a number or "-", always written
  if (bytes_end == p) return ParseStatus::kNotCombined;
  p = skip_spaces(bytes_end, end);

  // Referer, user agent and whatever the format appends.
  std::string_view host, rt, trailing;
  bool trailing_is_last = false;
  while (p < end) {
    if (*p == '"') {
      const char* q = closing_quote(p + 1, end);
      if (q == nullptr) return ParseStatus::kNotCombined;
      p = skip_spaces(q + 1, end);
      trailing_is_last = false;
      continue;
    }
    const char* start = p;
    const char* eq = nullptr;
    while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '=') ++p;
    if (p < end && *p == '=') {
      eq = p++;
      const char* value_start = p;
      if (p < end && *p == '"') {
        const char* q = closing_quote(p + 1, end);
        if (q == nullptr) return ParseStatus::kNotCombined;
        value_start = p + 1;
        p = q;
      } else {
        p = token_end(p, end);
      }
      std::string_view key = view(start, eq);
      std::string_view value = view(value_start, p);
      if (p < end && *p == '"') ++p;
      if (key == "host") {
        host = value;
      } else if (key == "rt" || key == "request_time") {
        rt = value;
      }
      trailing_is_last = false;
    } else {
      p = token_end(p, end);
      trailing = view(start, p);
      trailing_is_last = true;
    }
    p = skip_spaces(p, end);
  }

  if (!rt.empty()) {
    record[FieldId::kLatency] = rt;
    record.latency_unit_us = kSeconds;
  } else if (bool fractional = false; trailing_is_last && is_number(trailing, fractional)) {
    record[FieldId::kLatency] = trailing;
    record.latency_unit_us = latency_unit_us_ != 0 ? latency_unit_us_ : fractional ? kSeconds : 1;
  }

  if (!fixed_service_.empty()) {
    record[FieldId::kService] = fixed_service_;
  } else if (!vhost.empty()) {
    // Strip ":port" (an IPv6 vhost keeps its brackets: "[::1]:80" -> "[::1]").
    size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && colon + 1 < vhost.size() && vhost.back() != ']') {
      bool digits = true;
      for (char c : vhost.substr(colon + 1)) digits = digits && is_digit(c);
      if (digits && (vhost.find(':') == colon || vhost[colon - 1] == ']')) vhost = vhost.substr(0, colon);
    }
    record[FieldId::kService] = vhost;
  } else if (!host.empty()) {
    record[FieldId::kService] = host;
  } else {
    record[FieldId::kService] = file_service_;
  }
  return ParseStatus::kOk;
}

}  // namespace opsktl
