// NCSA common/combined/vcombined access log records (SPEC §2); see combined_parser.cpp.
#pragma once

#include <string>

#include "opsktl/record.hpp"

namespace opsktl {

class CombinedParser final : public RecordParser {
 public:
  // `service` (from --service) replaces every line's service when not empty.
  explicit CombinedParser(std::string service);
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return id != FieldId::kEvent; }
  void begin_input(std::string_view name) override;

 private:
  std::string fixed_service_;
  std::string file_service_ = "-";
};

// The service a file name stands for: its base name without `.gz`, a rotation number
// (`.1`) and `.log`, e.g. /var/log/nginx/shop.log.2.gz -> shop. "-" stays "-".
std::string service_from_file_name(std::string_view name);

}  // namespace opsktl
