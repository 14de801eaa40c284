// NCSA common/combined/vcombined access log records (SPEC §2); see combined_parser.cpp.
#pragma once

#include <string>

#include "opsktl/record.hpp"

namespace opsktl {

class CombinedParser final : public RecordParser {
 public:
  // `service` (from --service) replaces every line's service when not empty;
  // `latency_unit_us` (--latency-unit, 0 when not given) is the unit of a trailing number.
  explicit CombinedParser(std::string service, int64_t latency_unit_us = 0);
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return id != FieldId::kEvent; }
  void begin_input(std::string_view name) override;

 private:
  std::string fixed_service_;
  int64_t latency_unit_us_;
  std::string file_service_ = "-";
};

// The service a file name stands for: its base name without `.gz`, a rotation number
// (`.1`) and `.log`, e.g. /var/log/nginx/shop.log.2.gz -> shop. "-" stays "-".
std::string service_from_file_name(std::string_view name);

}  // namespace opsktl
