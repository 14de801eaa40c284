// Choosing a log format: by name (--log-format), and for `auto` by sniffing an input's
// first lines. Each of up to 16 non-blank, non-comment lines votes for the first format,
// in a fixed order, in which it parses completely (json, w3c once a `#Fields:` directive
// was seen, combined, syslog, logfmt), else for fields when it is plain text of two or
// more fields. A shape test alone (`[time] "` for combined) was rejected: a line could
// win a format it then failed to parse in, so every line of the input counted as
// malformed. The majority wins; any disagreement is reported as uncertain so the user
// hears about it.
#include <array>
#include <cstring>

#include "combined_parser.hpp"
#include "json_parser.hpp"
#include "logfmt_parser.hpp"
#include "opsktl/input.hpp"
#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"
#include "regex_parser.hpp"
#include "syslog_parser.hpp"
#include "w3c_parser.hpp"

namespace opsktl {
namespace {

// By LogFormat.
constexpr std::array<std::string_view, 8> kFormatNames = {"auto", "fields", "combined", "logfmt",
                                                          "json", "regex",  "syslog",   "w3c"};

// --service for the formats that read the service from the line.
class ServiceOverride final : public RecordParser {
 public:
  ServiceOverride(std::unique_ptr<RecordParser> inner, std::string service)
      : inner_(std::move(inner)), service_(std::move(service)) {}
  ParseResult parse(std::string_view line, Record& record) override {
    ParseResult result = inner_->parse(line, record);
    if (result) record[FieldId::kService] = service_;
    return result;
  }
  bool provides(FieldId id) const override { return id == FieldId::kService || inner_->provides(id); }
  void begin_input(std::string_view name) override { inner_->begin_input(name); }

 private:
  std::unique_ptr<RecordParser> inner_;
  std::string service_;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool looks_like_json(std::string_view line) { return line.front() == '{' && line.back() == '}'; }

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || c == '@' || c == '/';
}

// The first token is key=value and at least half of the pairs are (quoted values may
// hold spaces).
bool looks_like_logfmt(std::string_view line) {
  size_t pos = 0, pairs = 0, words = 0;
  bool first = true;
  while (pos < line.size()) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos == line.size()) break;
    size_t key = pos;
    while (pos < line.size() && is_key_char(line[pos])) ++pos;
    bool pair = pos > key && pos < line.size() && line[pos] == '=';
    if (first && !pair) return false;
    first = false;
    ++words;
    if (pair) {
      ++pairs;
      ++pos;
      if (pos < line.size() && line[pos] == '"') {
        ++pos;
        while (pos < line.size() && line[pos] != '"') pos += line[pos] == '\\' ? 2 : 1;
        ++pos;
      }
    }
    while (pos < line.size() && !is_space(line[pos])) ++pos;
  }
  return pairs * 2 >= words;
}

// Plain text of at least two whitespace-separated fields (the positional format, which
// needs no timestamp: --field can point anywhere). Control bytes mean binary data.
bool looks_like_fields(std::string_view line) {
  size_t fields = 0;
  bool in_field = false;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 && c != '\t' && c != '\r') return false;
    if (c == 0x7f) return false;
    bool space = c == ' ' || c == '\t' || c == '\r';
    if (!space && !in_field) ++fields;
    in_field = !space;
  }
  return fields >= 2;
}

constexpr size_t kSniffLines = 16;

}  // namespace

std::optional<LogFormat> log_format_from_name(std::string_view name) {
  for (size_t i = 0; i < kFormatNames.size(); ++i) {
    if (kFormatNames[i] == name) return static_cast<LogFormat>(i);
  }
  return std::nullopt;
}

std::string_view log_format_name(LogFormat format) { return kFormatNames[static_cast<size_t>(format)]; }

std::unique_ptr<RecordParser> make_record_parser(const LogFormatConfig& config) {
  std::unique_ptr<RecordParser> parser;
  switch (config.format) {
    case LogFormat::kCombined:
      return std::make_unique<CombinedParser>(config.service, config.latency_unit_us);
    case LogFormat::kLogfmt: parser = std::make_unique<LogfmtParser>(config.keys); break;
    case LogFormat::kJson: parser = std::make_unique<JsonParser>(config.keys); break;
    case LogFormat::kRegex: parser = std::make_unique<RegexParser>(config.regex); break;
    case LogFormat::kSyslog: parser = std::make_unique<SyslogParser>(); break;
    case LogFormat::kW3c: parser = std::make_unique<W3cParser>(config.keys, config.latency_unit_us); break;
    case LogFormat::kAuto:
    case LogFormat::kFields:
      parser = std::make_unique<FieldsParser>(config.positions, config.ts_fields);
      break;
  }
  if (!config.service.empty()) parser = std::make_unique<ServiceOverride>(std::move(parser), config.service);
  return parser;
}

FormatGuess sniff_log_format(std::string_view head) {
  // Only whole lines, unless the head holds nothing else.
  size_t last_newline = head.rfind('\n');
  std::string_view sample = last_newline == std::string_view::npos ? head : head.substr(0, last_newline);

  // Votes, in the order a line tries the formats (fields last: any plain text).
  enum { kJsonVote, kW3cVote, kCombinedVote, kSyslogVote, kLogfmtVote, kFieldsVote, kUnknownVote, kVotes };
  constexpr std::array<LogFormat, kUnknownVote> kFormats = {LogFormat::kJson,     LogFormat::kW3c,
                                                            LogFormat::kCombined, LogFormat::kSyslog,
                                                            LogFormat::kLogfmt,   LogFormat::kFields};
  constexpr std::array<const char*, kUnknownVote> kShapes = {
      "are JSON objects",
      "are W3C extended log lines under a #Fields: directive",
      "are NCSA access log lines ([time] \"request\" status)",
      "are syslog lines (time host app[pid]: message)",
      "are logfmt key=value pairs",
      "are whitespace-separated fields"};
  FieldKeys no_keys{};
  JsonParser json(no_keys);
  W3cParser w3c(no_keys, 0);
  CombinedParser combined("");
  SyslogParser syslog;
  LogfmtParser logfmt(no_keys);
  Record record;
  bool directive = false;
  std::array<size_t, kVotes> votes{};
  size_t lines = 0;
  size_t pos = 0;
  while (pos <= sample.size() && lines < kSniffLines) {
    size_t nl = sample.find('\n', pos);
    if (nl == std::string_view::npos) nl = sample.size();
    std::string_view line = trim(sample.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) continue;
    if (is_comment_line(line)) {
      if (line.substr(0, 8) == "#Fields:") directive = true;
      w3c.comment(line);
      continue;
    }
    ++lines;
    if (looks_like_json(line) && json.parse(line, record))
      ++votes[kJsonVote];
    else if (directive && w3c.parse(line, record))
      ++votes[kW3cVote];
    else if (combined.parse(line, record))
      ++votes[kCombinedVote];
    else if (syslog.parse(line, record))
      ++votes[kSyslogVote];
    else if (looks_like_logfmt(line) && logfmt.parse(line, record))
      ++votes[kLogfmtVote];
    else if (looks_like_fields(line))
      ++votes[kFieldsVote];
    else
      ++votes[kUnknownVote];
  }

  FormatGuess guess;
  if (lines == 0) {
    if (directive) {
      guess.format = LogFormat::kW3c;
      guess.reason = "a #Fields: directive and no data line yet";
      return guess;
    }
    guess.reason = "no non-blank line to sniff; reading it as fields";
    return guess;
  }
  size_t best = kFieldsVote;
  for (size_t v = 0; v < kUnknownVote; ++v) {
    if (votes[v] > votes[best]) best = v;
  }
  if (votes[best] == 0) {
    guess.certain = false;
    guess.reason = "no log format recognised in the first " + std::to_string(lines) +
                   " non-blank lines (expected fields, combined, syslog, logfmt, json or w3c); reading it as "
                   "fields: choose one with --log-format";
    return guess;
  }
  guess.format = kFormats[best];
  std::string name(log_format_name(guess.format));
  if (votes[best] == lines) {
    guess.reason = std::to_string(lines) + " of the first " + std::to_string(lines) + " non-blank lines " +
                   kShapes[best];
    return guess;
  }
  guess.certain = false;
  guess.reason = "mixed formats in the first " + std::to_string(lines) + " non-blank lines (";
  const char* sep = "";
  for (size_t v = 0; v < kVotes; ++v) {
    if (votes[v] == 0) continue;
    guess.reason += sep;
    guess.reason +=
        v == kUnknownVote ? std::string("unrecognised") : std::string(log_format_name(kFormats[v]));
    guess.reason += ' ';
    guess.reason += std::to_string(votes[v]);
    sep = ", ";
  }
  guess.reason += "); reading it as " + name + ": lines in other formats count as malformed";
  return guess;
}

std::string missing_field_message(const LogFormatConfig& config, LogFormat format,
                                  std::initializer_list<FieldNeed> needs, const FormatGuess* guess) {
  return missing_field_message(config, format, std::vector<FieldNeed>(needs), guess);
}

std::string missing_field_message(const LogFormatConfig& config, LogFormat format,
                                  const std::vector<FieldNeed>& needs, const FormatGuess* guess) {
  LogFormatConfig chosen = config;
  chosen.format = format;
  return missing_field_message(*make_record_parser(chosen), format, needs, guess);
}

std::string missing_field_message(const RecordParser& parser, LogFormat format,
                                  const std::vector<FieldNeed>& needs, const FormatGuess* guess) {
  for (const FieldNeed& need : needs) {
    if (parser.provides(need.id)) continue;
    std::string_view name = field_name(need.id);
    std::string_view format_name = log_format_name(format == LogFormat::kAuto ? LogFormat::kFields : format);
    std::string message;
    if (format == LogFormat::kRegex) {
      message.append("--regex: the pattern has no named group (?P<").append(name).append(">...), which ");
      message.append(need.by).append(" needs");
      return message;
    }
    message.append("the ").append(format_name).append(" format has no ").append(name);
    message.append(" field, which ").append(need.by).append(" needs");
    if (guess != nullptr) {
      message.append(" (--log-format auto read it as ").append(format_name).append(": ");
      message.append(guess->reason).append("); choose the format with --log-format");
      if (format == LogFormat::kFields)
        message.append(", or give its position with --field ").append(name).append("=N");
    } else if (format == LogFormat::kFields || format == LogFormat::kAuto) {
      message.append("; give its position with --field ").append(name).append("=N");
    } else if (format == LogFormat::kLogfmt || format == LogFormat::kJson) {
      message.append("; give its key with --field ").append(name).append("=KEY");
    } else {
      message.append("; choose the format with --log-format");
    }
    return message;
  }
  return {};
}

FormatGuess resolve_log_format(const LogFormatConfig& config, Input& input) {
  if (config.format != LogFormat::kAuto) return FormatGuess{config.format, true, "--log-format"};
  return sniff_log_format(input.head(kSniffBytes));
}

}  // namespace opsktl
