// W3C extended log records (IIS, CloudFront; SPEC §2); see w3c_parser.cpp.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "opsktl/record.hpp"

namespace opsktl {

// Columns come from the `#Fields:` directive (comment()), which a later directive
// replaces. A data line before any directive, or with another number of values than
// the directive names, is malformed.
class W3cParser final : public RecordParser {
 public:
  // `keys`: --field NAME=COLUMN overrides; `latency_unit_us`: --latency-unit (0: not
  // given, then time-taken is ms, or s in CloudFront's logs).
  W3cParser(FieldKeys keys, int64_t latency_unit_us);
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return id != FieldId::kEvent; }
  void begin_input(std::string_view name) override;
  void comment(std::string_view line) override;

 private:
  FieldKeys keys_;
  int64_t latency_unit_override_;
  // Column index (0-based) of each field per the current directive; -1 when absent.
  std::array<int, kFieldCount> column_{};
  std::vector<int> service_columns_;  // service candidates, first non-empty wins
  int date_column_ = -1;              // `date`, joined to the `time` column (kTs)
  int columns_ = 0;                   // 0: no directive yet
  int64_t latency_unit_us_ = 1000;
  std::string date_;  // from a `#Date:` directive, for logs without a date column
  std::string file_service_ = "-";
  std::string ts_;  // "date time" when they are not one span of the line
  std::vector<std::string_view> values_;
};

}  // namespace opsktl
