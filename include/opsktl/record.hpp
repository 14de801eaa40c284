// Log records: the named fields a log subcommand needs, parsed from one line.
//
// Every log format (fields, combined, logfmt, json, regex) implements RecordParser, so
// the analysers never see how a line was laid out. `auto` is resolved per input by
// sniff_log_format on the input's first lines (SPEC §2).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

enum class LogFormat { kAuto, kFields, kCombined, kLogfmt, kJson, kRegex };

// "auto", "fields", ... as used by --log-format; nullopt for an unknown name.
std::optional<LogFormat> log_format_from_name(std::string_view name);
std::string_view log_format_name(LogFormat format);

// 1-based positions of whitespace-separated fields; 0 means the line has no such field.
using FieldPositions = std::array<int, kFieldCount>;

// Key names for logfmt and json (`a.b` addresses key b inside object a); an empty
// entry means the default names of that field (SPEC §2).
using FieldKeys = std::array<std::string, kFieldCount>;

struct LogFormatConfig {
  LogFormat format = LogFormat::kAuto;
  FieldPositions positions{};  // for kFields (and kAuto when it picks fields)
  FieldKeys keys{};            // for kLogfmt and kJson
  std::string service;         // --service: the service of every line, when not empty
  std::string regex;           // for kRegex: RE2 pattern with named groups ts, service, ...
};

class RecordParser {
 public:
  virtual ~RecordParser() = default;
  // Fills `record` from `line` (without its newline; a trailing '\r' is ignored). False
  // when the line lacks a field the format promises: the caller counts it as malformed.
  virtual bool parse(std::string_view line, Record& record) = 0;
  // Whether records from this parser can carry `id` at all.
  virtual bool provides(FieldId id) const = 0;
  // Called before the lines of each input, with its name as given ("-" is standard
  // input): combined falls back on the file's base name for the service.
  virtual void begin_input(std::string_view name) { (void)name; }
};

// Whitespace-separated positional fields. A line with fewer fields than the highest
// configured position is malformed.
class FieldsParser final : public RecordParser {
 public:
  explicit FieldsParser(const FieldPositions& positions);
  bool parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return positions_[static_cast<size_t>(id)] > 0; }

 private:
  FieldPositions positions_;
  std::array<int8_t, 64> field_at_{};  // position (1..63) -> FieldId + 1, 0 when unused
  int last_ = 0;
};

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

// Picks fields, combined, logfmt or json from the first non-blank lines of `head`
// (at most 16 lines; a last line cut off by the end of `head` is ignored unless it is
// the only one). Mixed input gets the majority format; unrecognised input gets fields.
FormatGuess sniff_log_format(std::string_view head);

class Input;
// The format to read `input` with: config.format when it is not kAuto (reason
// "--log-format"), else sniff_log_format on the input's head. Throws opsktl::Error when
// the head cannot be read.
FormatGuess resolve_log_format(const LogFormatConfig& config, Input& input);

}  // namespace opsktl
