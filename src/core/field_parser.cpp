#include <algorithm>

#include "opsktl/record.hpp"

namespace opsktl {
namespace {
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "ts", "service", "path", "status", "latency", "event", "method", "client"};
}

std::optional<FieldId> field_from_name(std::string_view name) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == name) return static_cast<FieldId>(i);
  }
  return std::nullopt;
}

std::string_view field_name(FieldId id) { return kFieldNames[static_cast<size_t>(id)]; }

FieldsParser::FieldsParser(const FieldPositions& positions) : positions_(positions) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    int pos = positions_[i];
    if (pos > 0 && pos < static_cast<int>(field_at_.size())) {
      field_at_[static_cast<size_t>(pos)] = static_cast<int8_t>(i + 1);
      last_ = std::max(last_, pos);
    }
  }
}

bool FieldsParser::parse(std::string_view line, Record& record) {
  record = Record{};
  const char* p = line.data();
  const char* end = p + line.size();
  int index = 0;
  while (index < last_) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
    if (p == end) return false;
    const char* start = p;
    while (p < end && *p != ' ' && *p != '\t' && *p != '\r') ++p;
    ++index;
    if (int8_t f = field_at_[static_cast<size_t>(index)]; f != 0) {
      record.fields[static_cast<size_t>(f - 1)] = std::string_view(start, static_cast<size_t>(p - start));
    }
  }
  return true;
}

std::unique_ptr<RecordParser> make_record_parser(const LogFormatConfig& config) {
  return std::make_unique<FieldsParser>(config.positions);
}

}  // namespace opsktl
