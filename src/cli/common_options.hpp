// Options every subcommand shares (SPEC §1) and those of the log subcommands (SPEC §2),
// in two steps: raw values bound to CLI11, then derived, validated configuration.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "opsktl/latency_histogram.hpp"
#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"
#include "output_writer.hpp"

namespace opsktl::cli {

struct CommonOptions {
  std::string format = "auto";
  bool quiet = false;
  bool verbose = false;
  int threads = 0;  // 0: all cores
  bool null_terminated = false;
};

enum class CommonFeature : unsigned { kNone = 0, kFormat = 1, kThreads = 2, kNull = 4 };
inline unsigned operator|(CommonFeature a, CommonFeature b) {
  return static_cast<unsigned>(a) | static_cast<unsigned>(b);
}

void add_common_options(CLI::App& app, CommonOptions& options, unsigned features);

struct LogInputOptions {
  std::string log_format = "auto";
  std::vector<std::string> fields;  // NAME=INDEX (fields) or NAME=KEY (logfmt, json)
  std::string service;              // --service NAME
  std::string regex;                // --regex PATTERN
  std::string since;
  std::string until;
  int year = 0;  // 0: the current year
  std::string tz = "UTC";
  bool strict = false;
};

void add_log_input_options(CLI::App& app, LogInputOptions& options);
// --latency-unit (errors-by-endpoint: the only subcommand that reads latencies).
struct LatencyUnitOption {
  std::string value;
  bool given = false;  // --latency-unit '' is an error, not the default
};
void add_latency_unit_option(CLI::App& app, LatencyUnitOption& unit);

// Derived configuration; each throws UsageError naming the option.
OutputFormat build_output_format(const CommonOptions& options);
int build_thread_count(const CommonOptions& options);
LogFormatConfig build_log_format(const LogInputOptions& options, const FieldPositions& defaults);
TimeContext build_time_context(const LogInputOptions& options);
// When --since/--until left nothing (every one of `filtered_out` WHATs outside them, and
// at least one), says so on stderr: "--since -15m: all 5 lines are outside the time
// range", so that an empty result is not taken for a quiet log.
void report_all_filtered_out(const LogInputOptions& options, uint64_t filtered_out, uint64_t kept,
                             const char* what);

// Malformed lines of a log subcommand: the JSON summary's "first_malformed_reason" and
// "malformed_reasons" (name -> count, every reason with a line), and the warning at the
// end, "N malformed lines skipped (first at FILE:LINE: REASON)", with -v a count per
// reason.
void add_malformed_summary(nlohmann::ordered_json& summary, ParseStatus first_reason,
                           const MalformedCounts& counts);
void report_malformed(uint64_t count, const std::string& first, ParseStatus first_reason,
                      const MalformedCounts& counts);

// The --latency-unit value as LogFormatConfig::latency_unit_us (0 when not given).
int64_t build_latency_unit(const LatencyUnitOption& option);
std::optional<Micros> build_time_bound(const std::string& value, const char* option,
                                       const TimeContext& context);

}  // namespace opsktl::cli
