// W3C extended log format, as IIS and CloudFront write it:
//
//   #Version: 1.0
//   #Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port ... sc-status time-taken
//   2025-12-19 10:01:02 W3SVC1 10.0.0.5 GET /api/orders id=5 443 ... 500 120
//
// Values are separated by one space (IIS, which writes spaces inside values as '+') or
// one tab (CloudFront); `-` is an empty value. The `#Fields:` directive names the
// columns; IIS writes a new block of directives whenever the server restarts or the
// field set changes, so each directive replaces the mapping from then on.
//
// ts = `date time` (UTC, as both servers write them; a log without a date column takes
// the date of its `#Date:` directive), path = cs-uri-stem, status = sc-status, latency =
// time-taken, method = cs-method, client = c-ip, service = s-sitename, else s-ip, else
// the Host header (cs-host, cs(Host), x-host-header), else the file's base name. IIS's
// time-taken is in ms; CloudFront's (recognised by its x-edge-* columns) in seconds.
#include "w3c_parser.hpp"

#include <utility>

#include "combined_parser.hpp"

namespace opsktl {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equal_ignoring_case(text.substr(0, prefix.size()), prefix);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The default column names of each field (first present wins), by FieldId.
const std::array<std::vector<std::string_view>, kFieldCount>& default_columns() {
  static const std::array<std::vector<std::string_view>, kFieldCount> kColumns = {{
      {"time"},
      {"s-sitename", "s-ip", "cs-host", "cs(host)", "x-host-header"},
      {"cs-uri-stem"},
      {"sc-status"},
      {"time-taken"},
      {},
      {"cs-method"},
      {"c-ip"},
  }};
  return kColumns;
}

}  // namespace

W3cParser::W3cParser(FieldKeys keys, int64_t latency_unit_us)
    : keys_(std::move(keys)), latency_unit_override_(latency_unit_us) {
  column_.fill(-1);
}

void W3cParser::begin_input(std::string_view name) {
  file_service_ = service_from_file_name(name);
  columns_ = 0;
  column_.fill(-1);
  service_columns_.clear();
  date_column_ = -1;
  date_.clear();
}

void W3cParser::comment(std::string_view line) {
  if (starts_with_ignoring_case(line, "#Date:")) {
    std::string_view value = trim(line.substr(6));
    date_ = std::string(value.substr(0, value.find_first_of(" \t")));
    return;
  }
  if (!starts_with_ignoring_case(line, "#Fields:")) return;
  std::vector<std::string_view> names;
  std::string_view rest = line.substr(8);
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && is_space(rest[pos])) ++pos;
    size_t start = pos;
    while (pos < rest.size() && !is_space(rest[pos])) ++pos;
    if (pos > start) names.push_back(rest.substr(start, pos - start));
  }
  column_.fill(-1);
  service_columns_.clear();
  date_column_ = -1;
  bool cloudfront = false;
  auto find = [&](std::string_view wanted) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (equal_ignoring_case(names[i], wanted)) return static_cast<int>(i);
    }
    return -1;
  };
  for (std::string_view name : names) cloudfront |= starts_with_ignoring_case(name, "x-edge-");
  for (size_t f = 0; f < kFieldCount; ++f) {
    std::vector<std::string_view> wanted = default_columns()[f];
    if (!keys_[f].empty()) wanted = {keys_[f]};
    for (std::string_view name : wanted) {
      int column = find(name);
      if (column < 0) continue;
      if (static_cast<FieldId>(f) == FieldId::kService) {
        service_columns_.push_back(column);
      } else if (column_[f] < 0) {
        column_[f] = column;
      }
    }
  }
  if (keys_[static_cast<size_t>(FieldId::kTs)].empty()) date_column_ = find("date");
  columns_ = static_cast<int>(names.size());
  latency_unit_us_ = latency_unit_override_ != 0 ? latency_unit_override_ : cloudfront ? 1'000'000 : 1000;
}

ParseResult W3cParser::parse(std::string_view line, Record& record) {
  record = Record{};
  if (is_comment_line(line)) {
    comment(line);
    return ParseStatus::kBadSyntax;
  }
  if (columns_ == 0) return ParseStatus::kNoW3cDirective;
  values_.clear();
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  // One separator between values: an empty value is written `-`, so an empty span
  // means a line that does not follow its directive.
  for (size_t pos = 0;;) {
    size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
    if (pos == start) return ParseStatus::kW3cFieldCount;
    values_.push_back(line.substr(start, pos - start));
    if (static_cast<int>(values_.size()) > columns_) return ParseStatus::kW3cFieldCount;
    if (pos == line.size()) break;
    ++pos;
  }
  if (static_cast<int>(values_.size()) != columns_) return ParseStatus::kW3cFieldCount;
  auto value = [&](int column) -> std::string_view {
    if (column < 0) return {};
    std::string_view v = values_[static_cast<size_t>(column)];
    return v == "-" ? std::string_view() : v;
  };
  for (size_t f = 0; f < kFieldCount; ++f) record.fields[f] = value(column_[f]);
  for (int column : service_columns_) {
    if (std::string_view v = value(column); !v.empty()) {
      record[FieldId::kService] = v;
      break;
    }
  }
  if (record[FieldId::kService].empty()) record[FieldId::kService] = file_service_;
  std::string_view time = record[FieldId::kTs];
  std::string_view date = date_column_ >= 0 ? value(date_column_) : std::string_view(date_);
  if (!time.empty() && !date.empty()) {
    const char* after_date = date.data() + date.size();
    if (after_date + 1 == time.data() && *after_date == ' ') {
      record[FieldId::kTs] = std::string_view(date.data(), date.size() + 1 + time.size());
    } else {
      ts_.assign(date).append(1, ' ').append(time);
      record[FieldId::kTs] = ts_;
    }
  }
  if (!record[FieldId::kLatency].empty()) record.latency_unit_us = latency_unit_us_;
  return ParseStatus::kOk;
}

}  // namespace opsktl
