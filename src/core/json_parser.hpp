// JSON-lines records (SPEC §2); see json_parser.cpp.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "opsktl/record.hpp"

namespace opsktl {

// A line is malformed when it is not one valid JSON object (RFC 8259: trailing bytes, bad
// escapes, lone surrogates, bytes that are not UTF-8 and nesting deeper than 1024 included),
// whichever keys are wanted; missing keys leave their fields empty, and of duplicate keys
// the first wins.
class JsonParser final : public RecordParser {
 public:
  explicit JsonParser(const FieldKeys& keys);
  ~JsonParser() override;
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override { return provided_[static_cast<size_t>(id)]; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::array<bool, kFieldCount> provided_{};
};

}  // namespace opsktl
