// logfmt records (SPEC §2); see logfmt_parser.cpp.
#pragma once

#include <array>
#include <string>

#include "opsktl/record.hpp"
#include "record_keys.hpp"

namespace opsktl {

// A line is malformed only when it cannot be split into pairs (an unterminated quote, a
// pair without a key); missing keys leave their fields empty.
class LogfmtParser final : public RecordParser {
 public:
  explicit LogfmtParser(const FieldKeys& keys);
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return provided_[static_cast<size_t>(id)]; }

 private:
  KeyLookup lookup_;
  std::array<bool, kFieldCount> provided_{};
  std::array<std::string, kFieldCount> storage_;
};

// The content of a quoted value with \" \\ \n \t \r resolved, in `out`.
std::string_view unescape_quoted(std::string_view raw, std::string& out);

}  // namespace opsktl
