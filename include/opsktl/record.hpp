// Log records: the named fields a log subcommand needs, parsed from one line.
//
// Every log format (fields today; combined, logfmt, json and regex plug in beside it)
// implements RecordParser, so the analysers never see how a line was laid out.
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

// The fields of one line, as views into the line. Empty when the format has no such field.
struct Record {
  std::array<std::string_view, kFieldCount> fields{};
  std::string_view operator[](FieldId id) const { return fields[static_cast<size_t>(id)]; }
  std::string_view& operator[](FieldId id) { return fields[static_cast<size_t>(id)]; }
};

enum class LogFormat { kAuto, kFields };

// 1-based positions of whitespace-separated fields; 0 means the line has no such field.
using FieldPositions = std::array<int, kFieldCount>;

struct LogFormatConfig {
  LogFormat format = LogFormat::kAuto;
  FieldPositions positions{};  // for kFields
};

class RecordParser {
 public:
  virtual ~RecordParser() = default;
  // Fills `record` from `line` (without its newline; a trailing '\r' is ignored). False
  // when the line lacks a field the format promises: the caller counts it as malformed.
  virtual bool parse(std::string_view line, Record& record) = 0;
  // Whether records from this parser can carry `id` at all.
  virtual bool provides(FieldId id) const = 0;
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

// The parser for `config` (auto currently means fields).
std::unique_ptr<RecordParser> make_record_parser(const LogFormatConfig& config);

}  // namespace opsktl
