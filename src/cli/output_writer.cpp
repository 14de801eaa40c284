#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "opsktl/error.hpp"
#include "opsktl/text.hpp"
#include "output_writer.hpp"

namespace opsktl::cli {
namespace {

constexpr size_t kFlushBytes = size_t{64} * 1024;

// A decimal with up to `decimals` places, without trailing zeros ("120", "12.5").
std::string trimmed_decimal(double value, int decimals) {
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string human_millis(double ms) {
  if (ms < 1) return trimmed_decimal(ms * 1000, 0) + " us";
  if (ms < 1000) return trimmed_decimal(ms, ms < 10 ? 2 : 1) + " ms";
  if (ms < 60000) return trimmed_decimal(ms / 1000, 2) + " s";
  return trimmed_decimal(ms / 60000, 1) + " min";
}

// The plain tsv rendering of a cell of `kind`.
std::string plain(const Cell& cell, ColumnKind kind) {
  if (std::holds_alternative<std::monostate>(cell)) return "-";
  if (const auto* i = std::get_if<int64_t>(&cell)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&cell)) {
    return kind == ColumnKind::kPercent ? fmt::format("{:.2f}", *d) : trimmed_decimal(*d, 3);
  }
  return std::string(std::get<std::string_view>(cell));
}

std::string human(const Cell& cell, ColumnKind kind) {
  if (kind == ColumnKind::kBytes) {
    if (const auto* i = std::get_if<int64_t>(&cell)) return human_bytes(*i);
  }
  if (kind == ColumnKind::kMillis) {
    if (const auto* d = std::get_if<double>(&cell)) return human_millis(*d);
  }
  std::string s = plain(cell, kind);
  // A terminal shows control characters and invalid UTF-8 escaped.
  if (kind == ColumnKind::kText || kind == ColumnKind::kPath) return printable(s);
  return s;
}

bool is_numeric(ColumnKind kind) { return kind != ColumnKind::kText && kind != ColumnKind::kPath; }

// Display width: UTF-8 code points (continuation bytes take no column).
size_t width(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (std::fabs(v) >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string printable(std::string_view bytes) {
  std::string out;
  for (char c : escape_invalid_utf8(bytes)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<OutputFormat> resolve_output_format(std::string_view name, bool stdout_is_tty) {
  if (name == "auto") return stdout_is_tty ? OutputFormat::kTable : OutputFormat::kTsv;
  if (name == "table") return OutputFormat::kTable;
  if (name == "tsv") return OutputFormat::kTsv;
  if (name == "json") return OutputFormat::kJson;
  return std::nullopt;
}

OutputWriter::OutputWriter(OutputFormat format, bool null_terminated, int fd)
    : format_(format), null_terminated_(null_terminated), line_buffered_(isatty(fd) != 0), fd_(fd) {
  if (format_ == OutputFormat::kJson) buffer_ += "{";
}

void OutputWriter::begin_records(const std::string& array_name, std::vector<Column> columns) {
  columns_ = std::move(columns);
  records_in_array_ = 0;
  if (format_ == OutputFormat::kJson) {
    if (arrays_ > 0) buffer_ += ",";
    buffer_ += nlohmann::json(array_name).dump();
    buffer_ += ":[";
  }
  ++arrays_;
}

void OutputWriter::add_record(std::span<const Cell> cells) {
  switch (format_) {
    case OutputFormat::kTsv: write_tsv(cells); break;
    case OutputFormat::kJson: write_json(cells); break;
    case OutputFormat::kTable: {
      std::vector<std::string> row;
      for (size_t i = 0; i < cells.size(); ++i) row.push_back(human(cells[i], columns_[i].kind));
      table_rows_.push_back(std::move(row));
      if (streaming_) flush_table();
      break;
    }
  }
  ++records_in_array_;
  flush_if_needed();
}

void OutputWriter::write_tsv(std::span<const Cell> cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) buffer_ += '\t';
    if (const auto* s = std::get_if<std::string_view>(&cells[i])) {
      buffer_.append(*s);
    } else {
      buffer_ += plain(cells[i], columns_[i].kind);
    }
  }
  buffer_ += null_terminated_ ? '\0' : '\n';
}

void OutputWriter::write_json(std::span<const Cell> cells) {
  nlohmann::ordered_json record = nlohmann::ordered_json::object();
  for (size_t i = 0; i < cells.size(); ++i) {
    const Column& column = columns_[i];
    const Cell& cell = cells[i];
    if (std::holds_alternative<std::monostate>(cell)) {
      record[column.name] = nullptr;
    } else if (const auto* n = std::get_if<int64_t>(&cell)) {
      record[column.name] = *n;
    } else if (const auto* d = std::get_if<double>(&cell)) {
      double scale = column.kind == ColumnKind::kPercent ? 100.0 : 1000.0;
      record[column.name] = std::round(*d * scale) / scale;
    } else {
      std::string_view bytes = std::get<std::string_view>(cell);
      if (is_valid_utf8(bytes)) {
        record[column.name] = bytes;
      } else {
        record[column.name] = escape_invalid_utf8(bytes);
        record[column.name + "_b64"] = base64_encode(bytes);
      }
    }
  }
  buffer_ += records_in_array_ == 0 ? "\n" : ",\n";
  buffer_ += record.dump();
}

void OutputWriter::end_records() {
  if (format_ == OutputFormat::kJson) {
    buffer_ += records_in_array_ == 0 ? "]" : "\n]";
  } else if (format_ == OutputFormat::kTable) {
    flush_table();
  }
}

void OutputWriter::flush_table() {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) widths[i] = columns_[i].name.size();
  for (const auto& row : table_rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  }
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      size_t pad = widths[i] - width(row[i]);
      bool last = i + 1 == row.size();
      if (is_numeric(columns_[i].kind)) {
        line.append(pad, ' ');
        line += row[i];
      } else {
        line += row[i];
        if (!last) line.append(pad, ' ');
      }
      if (!last) line += "  ";
    }
    buffer_ += line;
    buffer_ += '\n';
  };
  std::vector<std::string> header;
  for (const auto& column : columns_) {
    std::string name = column.name;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
    header.push_back(name);
  }
  if (!(streaming_ && header_written_)) {
    if (arrays_ > 1) buffer_ += '\n';
    emit(header);
    header_written_ = streaming_;
  }
  for (const auto& row : table_rows_) emit(row);
  table_rows_.clear();
}

void OutputWriter::finish(const nlohmann::ordered_json& summary) {
  if (format_ == OutputFormat::kJson) {
    buffer_ += ",\"summary\":";
    buffer_ += summary.dump();
    buffer_ += "}\n";
  }
  flush();
}

void OutputWriter::flush_if_needed() {
  if (buffer_.size() >= kFlushBytes || (line_buffered_ && format_ == OutputFormat::kTsv) || streaming_)
    flush();
}

void OutputWriter::flush() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw BrokenPipe{};
      throw Error("standard output: " + errno_message(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace opsktl::cli
