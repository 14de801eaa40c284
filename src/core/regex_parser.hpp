// Records from a user's RE2 pattern with named groups (SPEC §2); see regex_parser.cpp.
#pragma once

#include <memory>
#include <string>

#include "opsktl/record.hpp"

namespace opsktl {

class RegexParser final : public RecordParser {
 public:
  // Throws opsktl::Error "--regex: RE2'S MESSAGE" when the pattern does not compile.
  explicit RegexParser(const std::string& pattern);
  ~RegexParser() override;
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsktl
