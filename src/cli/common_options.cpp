#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "common_options.hpp"
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
  app.add_option(
         "--log-format", options.log_format,
         "Input format: auto (sniffed per input), fields, combined, syslog, logfmt, json, regex or w3c")
      ->check(CLI::IsMember({"auto", "fields", "combined", "syslog", "logfmt", "json", "regex", "w3c"}))
      ->default_str("auto");
  app.add_option("--field", options.fields,
                 "Where a field is: NAME=INDEX for fields (1-based; 0 = absent), NAME=KEY for "
                 "logfmt/json (a.b = key b inside a), NAME=COLUMN for w3c, e.g. --field status=9, "
                 "--field path=req.uri")
      ->type_name("NAME=INDEX|KEY")
      ->allow_extra_args(false);
  app.add_option("--service", options.service,
                 "Service name of every line (combined: else vhost, host=, file base name)")
      ->type_name("NAME");
  app.add_option("--regex", options.regex,
                 "RE2 pattern with named groups ts, service, path, status, latency, event, "
                 "method, client (implies --log-format regex)")
      ->type_name("PATTERN");
  app.add_option("--since", options.since, "Only lines at or after TIME (timestamp, or relative: -15m, -2h)")
      ->type_name("TIME");
  app.add_option("--until", options.until, "Only lines at or before TIME")->type_name("TIME");
  app.add_option("--year", options.year,
                 "Year of timestamps that carry none: syslog, logcat (default: current)")
      ->check(CLI::Range(1, 9999));
  app.add_option("--tz", options.tz, "Zone of timestamps without one: UTC or an offset like +01:00")
      ->default_str("UTC");
  app.add_flag("--strict", options.strict, "Make the first malformed line a fatal error");
}

void add_latency_unit_option(CLI::App& app, LatencyUnitOption& unit) {
  // Checked by build_latency_unit, for the one-line message SPEC §1 asks for.
  app.add_option("--latency-unit", unit.value,
                 "Unit of a bare latency number whose key gives none: s, ms, us or ns (default: the "
                 "format's, ms for fields)")
      ->type_name("UNIT")
      ->each([&unit](const std::string&) { unit.given = true; });
}

int64_t build_latency_unit(const LatencyUnitOption& option) {
  if (!option.given) return 0;
  const std::string& unit = option.value;
  if (unit == "s") return kMicrosPerSecond;
  if (unit == "ms") return 1000;
  if (unit == "us") return 1;
  if (unit == "ns") return kLatencyUnitNanos;
  throw UsageError("--latency-unit: expected s, ms, us or ns, got '" + unit + "'");
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
  auto format = log_format_from_name(options.log_format);
  if (!format) {
    throw UsageError(
        "--log-format: expected auto, fields, combined, syslog, logfmt, json, regex or w3c, got '" +
        options.log_format + "'");
  }
  config.format = *format;
  if (!options.regex.empty()) {
    if (config.format == LogFormat::kAuto) config.format = LogFormat::kRegex;
    if (config.format != LogFormat::kRegex) {
      throw UsageError("--regex: only with --log-format regex, got --log-format " + options.log_format);
    }
  }
  if (config.format == LogFormat::kRegex && options.regex.empty()) {
    throw UsageError("--log-format: regex needs the pattern in --regex 'PATTERN'");
  }
  config.regex = options.regex;
  config.service = options.service;
  config.positions = defaults;
  const bool keyed = config.format == LogFormat::kLogfmt || config.format == LogFormat::kJson ||
                     config.format == LogFormat::kW3c;
  for (const std::string& spec : options.fields) {
    if (config.format == LogFormat::kCombined || config.format == LogFormat::kRegex ||
        config.format == LogFormat::kSyslog) {
      throw UsageError("--field: --log-format " + std::string(log_format_name(config.format)) +
                       " has fixed fields (regex: name the groups), got '" + spec + "'");
    }
    auto bad = [&] {
      const char* form = keyed ? "NAME=KEY with NAME one of ts, service, path, status, latency, "
                                 "event, method, client and KEY a key name (a.b for nested)"
                               : "NAME=INDEX with NAME one of ts, service, path, status, latency, "
                                 "event, method, client and INDEX a number from 0";
      return UsageError(std::string("--field: expected ") + form + ", got '" + spec + "'");
    };
    size_t eq = spec.find('=');
    if (eq == std::string::npos) throw bad();
    auto id = field_from_name(std::string_view(spec).substr(0, eq));
    std::string value = spec.substr(eq + 1);
    if (!id || value.empty()) throw bad();
    int index = -1;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), index);
    bool numeric = ec == std::errc() && ptr == value.data() + value.size();
    if (keyed || (config.format == LogFormat::kAuto && !numeric)) {
      config.keys[static_cast<size_t>(*id)] = value;  // auto: used if logfmt, json or w3c is sniffed
    } else {
      if (!numeric || index < 0 || index > 63) throw bad();
      config.positions[static_cast<size_t>(*id)] = index;
    }
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
                     "19/Dec/2025:10:00:00 +0000) or a relative time (-15m, -2h), got '" +
                     value + "'");
  }
  return bound;
}

void report_all_filtered_out(const LogInputOptions& options, uint64_t filtered_out, uint64_t kept,
                             const char* what) {
  if (filtered_out == 0 || kept > 0) return;
  std::string bounds;
  if (!options.since.empty()) bounds = "--since " + options.since;
  if (!options.until.empty()) bounds += (bounds.empty() ? "--until " : " --until ") + options.until;
  report_warning("{}: all {} {}{} outside the time range", bounds, filtered_out, what,
                 filtered_out == 1 ? " is" : "s are");
}

void add_malformed_summary(nlohmann::ordered_json& summary, ParseStatus first_reason,
                           const MalformedCounts& counts) {
  if (first_reason != ParseStatus::kOk) summary["first_malformed_reason"] = parse_status_name(first_reason);
  nlohmann::ordered_json reasons = nlohmann::ordered_json::object();
  for (size_t i = 1; i < kParseStatusCount; ++i) {
    if (counts.by_reason[i] > 0)
      reasons[std::string(parse_status_name(static_cast<ParseStatus>(i)))] = counts.by_reason[i];
  }
  summary["malformed_reasons"] = std::move(reasons);
}

void report_malformed(uint64_t count, const std::string& first, ParseStatus first_reason,
                      const MalformedCounts& counts) {
  if (count == 0) return;
  report_warning("{} malformed line{} skipped (first at {}: {})", count, count == 1 ? "" : "s", first,
                 parse_status_text(first_reason));
  if (!spdlog::should_log(spdlog::level::debug)) return;
  // Most frequent first; equal counts in the order of the reasons.
  std::vector<size_t> order;
  for (size_t i = 1; i < kParseStatusCount; ++i) {
    if (counts.by_reason[i] > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return counts.by_reason[a] > counts.by_reason[b]; });
  std::string text;
  for (size_t i : order) {
    if (!text.empty()) text += ", ";
    text += std::to_string(counts.by_reason[i]) + " " +
            std::string(parse_status_text(static_cast<ParseStatus>(i)));
  }
  report_debug("malformed lines by reason: {}", text);
}

}  // namespace opsktl::cli
