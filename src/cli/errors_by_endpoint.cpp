// opsktl errors-by-endpoint: which service/path returns the most errors.
#include <charconv>
#include <memory>

#include "common_options.hpp"
#include "diagnostics.hpp"
#include "opsktl/error.hpp"
#include "opsktl/errors_by_endpoint.hpp"
#include "output_writer.hpp"
#include "progress_line.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct ErrorsByEndpointArgs {
  CommonOptions common;
  LogInputOptions log;
  std::vector<std::string> files;
  std::string top = "5";
  std::string status = "5xx";
  std::string by = "service,path";
  bool normalize = false;
  LatencyUnitOption latency_unit;
};

// `2025-12-19T10:01:02Z serviceA /api/v1/orders 500 120`
constexpr FieldPositions kDefaultPositions = {1, 2, 3, 4, 5, 0, 0, 0};

std::vector<FieldId> parse_by(const std::string& spec) {
  std::vector<FieldId> by;
  auto bad = [&] {
    return UsageError("--by: expected a comma list of service, path, status, method, client, got '" + spec +
                      "'");
  };
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    std::string name = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto id = field_from_name(name);
    if (!id || *id == FieldId::kTs || *id == FieldId::kLatency || *id == FieldId::kEvent) throw bad();
    if (std::find(by.begin(), by.end(), *id) != by.end()) throw bad();
    by.push_back(*id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return by;
}

ErrorsByEndpointOptions build_options(const ErrorsByEndpointArgs& args) {
  ErrorsByEndpointOptions options;
  options.inputs = args.files.empty() ? std::vector<std::string>{"-"} : args.files;
  options.log_format = build_log_format(args.log, kDefaultPositions);
  options.log_format.latency_unit_us = build_latency_unit(args.latency_unit);
  if (options.log_format.latency_unit_us != 0) options.latency_unit_us = options.log_format.latency_unit_us;
  auto statuses = parse_status_spec(args.status);
  if (!statuses) {
    throw UsageError("--status: expected 5xx, 4xx,5xx, 500-504 or 502, got '" + args.status + "'");
  }
  options.error_statuses = *statuses;
  options.by = parse_by(args.by);
  options.normalize = args.normalize;
  // Read here, not by CLI11: it takes "-1" for a size_t and wraps it around.
  size_t top = 0;
  auto [end, ec] = std::from_chars(args.top.data(), args.top.data() + args.top.size(), top);
  if (args.top.empty() || ec != std::errc() || end != args.top.data() + args.top.size()) {
    throw UsageError("-k/--top: expected a number of endpoints from 0 (0: all), got '" + args.top + "'");
  }
  options.top = top;
  options.strict = args.log.strict;
  options.threads = build_thread_count(args.common);
  options.time_context = build_time_context(args.log);
  options.since = build_time_bound(args.log.since, "--since", options.time_context);
  options.until = build_time_bound(args.log.until, "--until", options.time_context);

  // With --log-format auto the fields are checked per input once its format is sniffed.
  if (options.log_format.format == LogFormat::kAuto) return options;
  std::string missing;
  try {
    missing = missing_field_message(options.log_format, options.log_format.format,
                                    errors_by_endpoint_needs(options));
  } catch (const Error& e) {
    throw UsageError(e.what());  // --regex that does not compile
  }
  if (!missing.empty()) throw UsageError(missing);
  return options;
}

Outcome run(const ErrorsByEndpointArgs& args) {
  init_diagnostics("errors-by-endpoint", args.common.quiet, args.common.verbose);
  ErrorsByEndpointOptions options = build_options(args);
  OutputFormat format = build_output_format(args.common);

  ProgressLine progress(args.common.quiet);
  poll_log_progress(progress, options.inputs);
  ErrorsByEndpointResult result = count_errors(options);
  progress.finish();
  for (const InputFormat& chosen : result.formats) {
    if (chosen.guess.certain) {
      report_debug("{}: reading as {} ({})", chosen.input, log_format_name(chosen.guess.format),
                   chosen.guess.reason);
    } else {
      report_warning("{}: {}", chosen.input, chosen.guess.reason);
    }
  }
  for (const InputProblem& problem : result.problems) report_error("{}", problem.message);

  std::vector<Column> columns = {{"errors", ColumnKind::kCount},
                                 {"requests", ColumnKind::kCount},
                                 {"error_pct", ColumnKind::kPercent},
                                 {"p50_ms", ColumnKind::kMillis},
                                 {"p99_ms", ColumnKind::kMillis}};
  for (FieldId id : options.by) columns.push_back({std::string(field_name(id)), ColumnKind::kText});

  OutputWriter out(format, false);
  out.begin_records("endpoints", columns);
  std::vector<Cell> cells;
  for (const EndpointRow& row : result.rows) {
    cells.clear();
    cells.emplace_back(static_cast<int64_t>(row.errors));
    cells.emplace_back(static_cast<int64_t>(row.requests));
    cells.emplace_back(100.0 * static_cast<double>(row.errors) / static_cast<double>(row.requests));
    cells.push_back(row.p50_ms ? Cell(*row.p50_ms) : Cell());
    cells.push_back(row.p99_ms ? Cell(*row.p99_ms) : Cell());
    for (const std::string& key : row.keys) cells.emplace_back(std::string_view(key));
    out.add_record(cells);
  }
  out.end_records();
  nlohmann::ordered_json summary = {{"lines", result.lines},
                                    {"malformed", result.malformed},
                                    {"comments", result.comments},
                                    {"filtered_out", result.filtered_out},
                                    {"error_lines", result.error_lines},
                                    {"endpoints", result.endpoints}};
  if (!result.first_malformed.empty()) summary["first_malformed"] = result.first_malformed;
  add_malformed_summary(summary, result.first_malformed_reason, result.malformed_reasons);
  out.finish(summary);

  report_malformed(result.malformed, result.first_malformed, result.first_malformed_reason,
                   result.malformed_reasons);
  if (result.comments > 0) {
    report_debug("{} comment line{} skipped (# first)", result.comments, result.comments == 1 ? "" : "s");
  }
  report_all_filtered_out(args.log, result.filtered_out, result.endpoints, "line");
  if (!result.problems.empty()) return Outcome::kError;
  return result.rows.empty() ? Outcome::kNothingFound : Outcome::kFound;
}

}  // namespace

Runner setup_errors_by_endpoint(CLI::App& app) {
  auto args = std::make_shared<ErrorsByEndpointArgs>();
  app.add_option("FILE", args->files, "Log files (none or - : standard input; .gz is decompressed)");
  app.add_option("-k,--top", args->top, "Show the N endpoints with most errors (0: all with an error)")
      ->type_name("N")
      ->default_str("5");
  app.add_option("--status", args->status, "Statuses that count as errors: 5xx, 4xx,5xx, 500-504, 502")
      ->default_str("5xx");
  app.add_option("--by", args->by, "Key fields, comma list of service, path, status, method, client")
      ->default_str("service,path");
  app.add_flag("--normalize", args->normalize,
               "Collapse ids in paths (/orders/123 -> /orders/{id}) and drop query strings");
  add_log_input_options(app, args->log);
  add_latency_unit_option(app, args->latency_unit);
  add_common_options(app, args->common, CommonFeature::kFormat | CommonFeature::kThreads);
  app.footer(
      "Input lines: --log-format auto (default) reads fields, combined, logfmt or json lines;\n"
      "fields are TS SERVICE PATH STATUS LATENCY_MS, e.g.\n"
      "  2025-12-19T10:01:02Z serviceA /api/v1/orders 500 120\n\n"
      "Examples:\n"
      "  opsktl errors-by-endpoint access.log access.log.1.gz\n"
      "  opsktl errors-by-endpoint --status 4xx,5xx --by service,status -k 10 --since -15m app.log\n"
      "  opsktl errors-by-endpoint --log-format combined --by method,path /var/log/nginx/access.log\n\n"
      "Exit status: 0 endpoints with errors found, 1 none found, 2 error.\n");
  return [args] { return run(*args); };
}

}  // namespace opsktl::cli
