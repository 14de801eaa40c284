// The only code that writes to stdout: records as tsv, an aligned table or one JSON
// document, for every subcommand.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace opsktl::cli {

enum class OutputFormat { kTable, kTsv, kJson };

// A size for people: "512 B", "1.5 KiB", "3.2 GiB" (1024-based).
std::string human_bytes(int64_t bytes);
// Bytes for a terminal or a one-line message: invalid UTF-8 and control characters as \xHH.
std::string printable(std::string_view bytes);

// "auto" is table when stdout is a terminal, else tsv. nullopt for an unknown name.
std::optional<OutputFormat> resolve_output_format(std::string_view name, bool stdout_is_tty);

enum class ColumnKind {
  kCount,    // integer
  kPercent,  // two decimals
  kMillis,   // milliseconds, up to three decimals; table: human duration
  kBytes,    // integer bytes; table: KiB/MiB/GiB
  kText,     // bytes of a log field
  kPath,     // bytes of a path (terminated by NUL under -0)
};

struct Column {
  std::string name;
  ColumnKind kind;
};

// A cell: absent ("-" in tsv and table, null in json), an integer, a decimal or bytes.
using Cell = std::variant<std::monostate, int64_t, double, std::string_view>;

// Thrown when stdout is a closed pipe (`| head`): the run ends quietly with exit 0.
struct BrokenPipe {};

class OutputWriter {
 public:
  OutputWriter(OutputFormat format, bool null_terminated, int fd = 1);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;

  // Starts a list of records (its name is the JSON array's).
  void begin_records(const std::string& array_name, std::vector<Column> columns);
  void add_record(std::span<const Cell> cells);
  void end_records();
  // Ends the output; json adds `summary`. Flushes everything.
  void finish(const nlohmann::ordered_json& summary);
  // Writes and flushes every record as soon as it is added (--follow). A table then
  // prints its header once, before its first row, and pads each row on its own instead
  // of aligning all rows. Call before begin_records.
  void set_streaming(bool streaming) { streaming_ = streaming; }

 private:
  void write_tsv(std::span<const Cell> cells);
  void write_json(std::span<const Cell> cells);
  void flush_table();
  void flush_if_needed();
  void flush();

  OutputFormat format_;
  bool null_terminated_;
  bool line_buffered_;
  int fd_;
  std::string buffer_;
  std::vector<Column> columns_;
  size_t arrays_ = 0;
  size_t records_in_array_ = 0;
  std::vector<std::vector<std::string>> table_rows_;  // rendered cells, table format only
  bool streaming_ = false;
  bool header_written_ = false;  // streaming table
};

}  // namespace opsktl::cli
