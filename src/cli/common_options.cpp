#include "common_options.hpp"

#include <unistd.h>

#include <charconv>
#include <thread>

#include "diagnostics.hpp"

namespace opsktl::cli {

void add_common_options(CLI::App& app, CommonOptions& options, unsigned features) {
  if (features & static_cast<unsigned>(CommonFeature::kFormat)) {
    app.add_option("--format", options.format,
                   "Output: auto (table on a terminal, else tsv), table, tsv or json")
        ->check(CLI::IsMember({"auto", "table", "tsv", "json"}))
        ->default_str("auto");
  }
  app.add_flag("-q,--quiet", options.quiet, "Report errors only on stderr");
  app.add_flag("-v,--verbose", options.verbose, "Report debug detail on stderr");
  if (features & static_cast<unsigned>(CommonFeature::kThreads)) {
    app.add_option("--threads", options.threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(1, 1024));
  }
  if (features & static_cast<unsigned>(CommonFeature::kNull)) {
    app.add_flag("-0,--null", options.null_terminated, "End records with NUL instead of newline");
  }
}

void add_log_input_options(CLI::App& app, LogInputOptions& options) {
  app.add_option("--log-format", options.log_format, "Input format: auto or fields")
      ->check(CLI::IsMember({"auto", "fields"}))
      ->default_str("auto");
  app.add_option("--field", options.fields,
                 "Field position, NAME=INDEX (1-based; 0 = absent), e.g. --field status=9")
      ->type_name("NAME=INDEX")
      ->allow_extra_args(false);
  app.add_option("--since", options.since,
                 "Only lines at or after TIME (timestamp, or relative: -15m, -2h)")
      ->type_name("TIME");
  app.add_option("--until", options.until, "Only lines at or before TIME")->type_name("TIME");
  app.add_option("--year", options.year, "Year of syslog timestamps (default: current)")
      ->check(CLI::Range(1, 9999));
  app.add_option("--tz", options.tz, "Zone of timestamps without one: UTC or an offset like +01:00")
      ->default_str("UTC");
  app.add_flag("--strict", options.strict, "Make the first malformed line a fatal error");
}

OutputFormat build_output_format(const CommonOptions& options) {
  auto format = resolve_output_format(options.format, isatty(STDOUT_FILENO) != 0);
  if (!format) throw UsageError("--format: expected auto, table, tsv or json, got '" + options.format + "'");
  return *format;
}

int build_thread_count(const CommonOptions& options) {
  if (options.threads > 0) return options.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

LogFormatConfig build_log_format(const LogInputOptions& options, const FieldPositions& defaults) {
  LogFormatConfig config;
  config.format = options.log_format == "fields" ? LogFormat::kFields : LogFormat::kAuto;
  config.positions = defaults;
  for (const std::string& spec : options.fields) {
    auto bad = [&] {
      return UsageError("--field: expected NAME=INDEX with NAME one of ts, service, path, status, "
                        "latency, event, method, client and INDEX a number from 0, got '" + spec + "'");
    };
    size_t eq = spec.find('=');
    if (eq == std::string::npos) throw bad();
    auto id = field_from_name(std::string_view(spec).substr(0, eq));
    int index = -1;
    const char* first = spec.data() + eq + 1;
    const char* last = spec.data() + spec.size();
    auto [ptr, ec] = std::from_chars(first, last, index);
    if (!id || ec != std::errc() || ptr != last || first == last || index < 0 || index > 63) throw bad();
    config.positions[static_cast<size_t>(*id)] = index;
  }
  return config;
}

TimeContext build_time_context(const LogInputOptions& options) {
  TimeContext context;
  context.year = options.year > 0 ? options.year : current_utc_year();
  auto offset = parse_utc_offset(options.tz);
  if (!offset) throw UsageError("--tz: expected UTC or an offset like +01:00, got '" + options.tz + "'");
  context.utc_offset_seconds = *offset;
  return context;
}

std::optional<Micros> build_time_bound(const std::string& value, const char* option,
                                       const TimeContext& context) {
  if (value.empty()) return std::nullopt;
  auto bound = parse_time_bound(value, context, now_micros());
  if (!bound) {
    throw UsageError(std::string(option) +
                     ": expected a timestamp (2025-12-19T10:00:00Z, 1703000000, "
                     "19/Dec/2025:10:00:00 +0000) or a relative time (-15m, -2h), got '" + value + "'");
  }
  return bound;
}

}  // namespace opsktl::cli
