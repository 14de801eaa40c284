// Log records: the named fields a log subcommand needs, parsed from one line.
//
// Every log format (fields, combined, syslog, logfmt, json, regex, w3c) implements RecordParser, so
// the analysers never see how a line was laid out. `auto` is resolved per input by
// sniff_log_format on the input's first lines (SPEC §2).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opsktl {

enum class FieldId : uint8_t { kTs, kService, kPath, kStatus, kLatency, kEvent, kMethod, kClient };
inline constexpr size_t kFieldCount = 8;

// "ts", "service", ... as used by --field and --by; nullopt for an unknown name.
std::optional<FieldId> field_from_name(std::string_view name);
std::string_view field_name(FieldId id);

// The fields of one line, as views into the line (or into the parser's own storage for
// values it had to unescape), valid until the parser's next parse call. Empty when the
// line has no such field.
struct Record {
  std::array<std::string_view, kFieldCount> fields{};
  // Unit of a bare latency number as this line's format defines it (ms for a json
  // `latency_ms`, s for combined `rt=`, µs for a trailing `%D`); 0 when the format does
  // not say, and the caller's default applies.
  int64_t latency_unit_us = 0;
  std::string_view operator[](FieldId id) const { return fields[static_cast<size_t>(id)]; }
  std::string_view& operator[](FieldId id) { return fields[static_cast<size_t>(id)]; }
};

enum class LogFormat { kAuto, kFields, kCombined, kLogfmt, kJson, kRegex, kSyslog, kW3c };
inline constexpr size_t kLogFormatCount = 8;

// "auto", "fields", ... as used by --log-format; nullopt for an unknown name.
std::optional<LogFormat> log_format_from_name(std::string_view name);
std::string_view log_format_name(LogFormat format);

// 1-based positions of whitespace-separated fields; 0 means the line has no such field.
using FieldPositions = std::array<int, kFieldCount>;

// Key names for logfmt and json (`a.b` addresses key b inside object a); an empty
// entry means the default names of that field (SPEC §2).
using FieldKeys = std::array<std::string, kFieldCount>;

// How the fields format reads the ts field. kWhole: the timestamp starting there, over
// as many fields as its form needs (`2015-07-29 19:03:35,413` is fields 1 and 2; a line
// that also names one of its later fields for something else is malformed). kFirst:
// the one field at its position, for a caller that reads no timestamp (errors-by-
// endpoint without --since/--until), so that it judges lines as its fields scan does.
enum class TsFields { kWhole, kFirst };

struct LogFormatConfig {
  LogFormat format = LogFormat::kAuto;
  FieldPositions positions{};  // for kFields (and kAuto when it picks fields)
  TsFields ts_fields = TsFields::kWhole;
  FieldKeys keys{};     // for kLogfmt and kJson
  std::string service;  // --service: the service of every line, when not empty
  std::string regex;    // for kRegex: RE2 pattern with named groups ts, service, ...
  // --latency-unit: the unit of a bare latency number whose key or format gives none;
  // 0 when not given (each format's default applies, docs/log-formats.md).
  int64_t latency_unit_us = 0;
};

// Why a line is malformed (kOk: it is not). Parsers give the reasons of their format;
// the analysers add those of the values they read (kBadStatus, kBadTimestamp and a
// kNo... for a field a line lacks). Reported per reason (SPEC §1), so each has a name
// for JSON and a text for messages.
enum class ParseStatus : uint8_t {
  kOk,
  kLineTooLong,       // longer than the reader's line limit
  kTooFewFields,      // fields: fewer than the highest --field position
  kNoLatencyColumn,   // fields: one field short, and that field is the latency (the last)
  kBadTimestamp,      // the ts field is not a timestamp opsktl reads
  kBadStatus,         // the status field is not 3 digits
  kInvalidJson,       // json: not exactly one valid JSON object
  kInvalidLogfmt,     // logfmt: an unterminated quote or a value without a key
  kNotCombined,       // combined: not an NCSA access log line
  kNotSyslog,         // syslog: no stamp, or no `app:` / `app[pid]:` tag after the host
  kNoW3cDirective,    // w3c: a data line before any #Fields: directive
  kW3cFieldCount,     // w3c: not as many values as the #Fields: directive names
  kNoRegexMatch,      // regex: the pattern does not match the line
  kBadSyntax,         // another format's own layout does not match the line
  kFieldInTimestamp,  // fields: a --field position falls inside a timestamp of several fields
  // A field the analyser needs is absent (logfmt and json keys, regex groups that did
  // not take part): kNoTs + FieldId, in FieldId order.
  kNoTs,
  kNoService,
  kNoPath,
  kNoStatus,
  kNoLatency,
  kNoEvent,
  kNoMethod,
  kNoClient,
};
inline constexpr size_t kParseStatusCount = static_cast<size_t>(ParseStatus::kNoClient) + 1;

// The kNo... reason of a field.
constexpr ParseStatus missing_field(FieldId id) {
  return static_cast<ParseStatus>(static_cast<uint8_t>(ParseStatus::kNoTs) + static_cast<uint8_t>(id));
}
// "too_few_fields", "no_status", ... (stable: JSON output); "ok" for kOk.
std::string_view parse_status_name(ParseStatus status);
// "fewer fields than --field asks", "no status field", ... for messages.
std::string_view parse_status_text(ParseStatus status);

// What RecordParser::parse returns: a ParseStatus that tests true when the line parsed,
// so `if (!parser.parse(line, record))` reads as before and `.status` says why not.
struct ParseResult {
  ParseStatus status = ParseStatus::kOk;
  constexpr ParseResult(ParseStatus s) : status(s) {}  // NOLINT(google-explicit-constructor)
  constexpr explicit operator bool() const { return status == ParseStatus::kOk; }
};

// Malformed lines by reason, for a result's summary.
struct MalformedCounts {
  std::array<uint64_t, kParseStatusCount> by_reason{};  // [kOk] stays 0
  void add(ParseStatus status, uint64_t n = 1) { by_reason[static_cast<size_t>(status)] += n; }
  void add(const MalformedCounts& other) {
    for (size_t i = 0; i < kParseStatusCount; ++i) by_reason[i] += other.by_reason[i];
  }
  uint64_t total() const {
    uint64_t sum = 0;
    for (uint64_t n : by_reason) sum += n;
    return sum;
  }
};

class RecordParser {
 public:
  virtual ~RecordParser() = default;
  // Fills `record` from `line` (without its newline; a trailing '\r' is ignored). Not
  // kOk when the line does not have the format's layout: the caller counts it as
  // malformed, for that reason. A field the format may lack is left empty, not an error.
  virtual ParseResult parse(std::string_view line, Record& record) = 0;
  // Whether records from this parser can carry `id` at all.
  virtual bool provides(FieldId id) const = 0;
  // Called before the lines of each input, with its name as given ("-" is standard
  // input): combined falls back on the file's base name for the service.
  virtual void begin_input(std::string_view name) { (void)name; }
  // Called with each comment line (`#` first, SPEC §1) instead of parse: such lines are
  // counted apart and never malformed. w3c reads its `#Fields:` directive here.
  virtual void comment(std::string_view line) { (void)line; }
};

// A comment or header line: `#` as its first byte (W3C, Zeek, CSV-like headers).
inline bool is_comment_line(std::string_view line) { return !line.empty() && line.front() == '#'; }

// Whitespace-separated positional fields, numbered as awk numbers them. A line with
// fewer fields than the highest configured position is malformed. With TsFields::kWhole
// the ts field holds the whole timestamp that starts at its position, however many
// fields it spans, and a line where another configured position falls inside that
// timestamp is malformed (kFieldInTimestamp). A line short of fields is kNoLatencyColumn
// when only the last is missing and it is the latency, else kTooFewFields
// (fields_shortage gives the same verdict).
class FieldsParser final : public RecordParser {
 public:
  explicit FieldsParser(const FieldPositions& positions, TsFields ts_fields = TsFields::kWhole);
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return positions_[static_cast<size_t>(id)] > 0; }

 private:
  ParseResult split(std::string_view line, Record& record);
  ParseResult extend_timestamp(std::string_view line, Record& record) const;

  FieldPositions positions_;
  std::array<int8_t, 64> field_at_{};  // position (1..63) -> FieldId + 1, 0 when unused
  int last_ = 0;
  int ts_position_ = 0;           // 0 when the ts field is not read whole
  uint64_t other_positions_ = 0;  // bit p: position p names a field other than ts
};

// Why a fields-format line of `fields` fields is malformed, when `last` (the highest
// position) is more than it has and `last_is_latency` says whether that position is the
// latency's.
constexpr ParseStatus fields_shortage(int fields, int last, bool last_is_latency) {
  return last_is_latency && fields == last - 1 ? ParseStatus::kNoLatencyColumn : ParseStatus::kTooFewFields;
}

// For the fields format: when the timestamp of the first line of `head` that has one at
// the ts position spans into a position `positions` gives another field (the defaults
// ts=1 service=2 on `2015-07-29 19:03:35,413 nginx restarted`), a message saying so and
// how to number the fields; empty otherwise. `head` is an input's first bytes.
std::string timestamp_position_problem(std::string_view head, const FieldPositions& positions);

// The parser for `config` (kAuto gives the fields parser: resolve auto per input with
// sniff_log_format first). Throws opsktl::Error "--regex: REASON" when the regex does
// not compile.
std::unique_ptr<RecordParser> make_record_parser(const LogFormatConfig& config);

// What `auto` chose for one input and why, in words for a -v message. `certain` is false
// when the sampled lines were mixed or matched no format: the caller should warn, since
// many lines will then count as malformed.
struct FormatGuess {
  LogFormat format = LogFormat::kFields;
  bool certain = true;
  std::string reason;
};

// How many bytes at the start of an input sniff_log_format wants to see.
inline constexpr size_t kSniffBytes = size_t{64} << 10;

// Picks fields, combined, syslog, logfmt, json or w3c from the first non-blank lines of
// `head` (at most 16 lines besides comment lines; a last line cut off by the end of
// `head` is ignored unless it is the only one): each line votes for a format it parses
// in completely. Mixed input gets the majority format; unrecognised input gets fields.
FormatGuess sniff_log_format(std::string_view head);

// A field a subcommand needs and who needs it: an option ("--by", "--since") or the
// subcommand itself ("errors-by-endpoint").
struct FieldNeed {
  FieldId id;
  std::string_view by;
};

// The one check, and the one wording, for a log format that cannot give a needed field.
// Empty when records of `format` read with `config` (its --field, --regex, --service)
// carry every field of `needs`; else a message on the first one missing:
//   --regex: the pattern has no named group (?P<ts>...), which merge needs
//   the fields format has no status field, which errors-by-endpoint needs; give its position with --field
//   status=N the combined format has no event field, which flapping needs; choose the format with
//   --log-format
// With `guess` (what --log-format auto chose, and why), the message says so and points
// to --log-format. Throws opsktl::Error "--regex: REASON" for a regex that does not
// compile.
std::string missing_field_message(const LogFormatConfig& config, LogFormat format,
                                  std::initializer_list<FieldNeed> needs, const FormatGuess* guess = nullptr);
std::string missing_field_message(const LogFormatConfig& config, LogFormat format,
                                  const std::vector<FieldNeed>& needs, const FormatGuess* guess = nullptr);
// The same for `parser` (of `format`) as it stands, e.g. after begin_input.
std::string missing_field_message(const RecordParser& parser, LogFormat format,
                                  const std::vector<FieldNeed>& needs, const FormatGuess* guess = nullptr);

class Input;
// The format to read `input` with: config.format when it is not kAuto (reason
// "--log-format"), else sniff_log_format on the input's head. Throws opsktl::Error when
// the head cannot be read.
FormatGuess resolve_log_format(const LogFormatConfig& config, Input& input);

}  // namespace opsktl
