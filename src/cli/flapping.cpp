// opsktl flapping: which services restarted more than N times within a window.
#include <csignal>
#include <memory>

#include "common_options.hpp"
#include "diagnostics.hpp"
#include "opsktl/error.hpp"
#include "opsktl/flapping.hpp"
#include "output_writer.hpp"
#include "progress_line.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct FlappingArgs {
  CommonOptions common;
  LogInputOptions log;
  std::vector<std::string> files;
  int64_t max_restarts = 3;
  std::string window = "10m";
  std::string event;  // empty: restarted, or systemd's restart lines in syslog
  std::string event_regex;
  std::string alerts = "episode";
  std::string reorder;
  bool follow = false;
};

// `1703000000 nginx restarted`
constexpr FieldPositions kDefaultPositions = {1, 2, 0, 0, 0, 3, 0, 0};

// Set by SIGINT/SIGTERM under --follow: the run ends cleanly with its summary.
std::atomic<bool> g_stop{false};
extern "C" void request_stop(int) { g_stop.store(true); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a waiting poll(2) returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

Micros parse_duration_option(const std::string& value, const char* option) {
  auto us = parse_duration(value, kMicrosPerSecond);
  // Ten years is far beyond any log's window and keeps time arithmetic in range.
  if (!us || *us > int64_t{10} * 366 * 86400 * kMicrosPerSecond) {
    throw UsageError(std::string(option) + ": expected a duration like 600, 90s, 10m or 1h, got '" + value +
                     "'");
  }
  return *us;
}

FlappingOptions build_options(const FlappingArgs& args) {
  FlappingOptions options;
  options.inputs = args.files.empty() ? std::vector<std::string>{"-"} : args.files;
  options.log_format = build_log_format(args.log, kDefaultPositions);
  options.max_restarts = static_cast<uint64_t>(args.max_restarts);
  options.window = parse_duration_option(args.window, "--window");
  options.event = args.event;
  options.event_regex = args.event_regex;
  if (!args.event_regex.empty()) {
    std::string problem = check_event_regex(args.event_regex);
    if (!problem.empty()) {
      throw UsageError("--event-regex: not a valid RE2 pattern ('" + args.event_regex + "'): " + problem);
    }
  }
  options.alerts = args.alerts == "every" ? AlertMode::kEvery : AlertMode::kEpisode;
  if (!args.reorder.empty()) options.reorder = parse_duration_option(args.reorder, "--reorder");
  options.strict = args.log.strict;
  options.time_context = build_time_context(args.log);
  options.since = build_time_bound(args.log.since, "--since", options.time_context);
  options.until = build_time_bound(args.log.until, "--until", options.time_context);
  options.threads = build_thread_count(args.common);
  options.follow = args.follow;
  options.stop = &g_stop;

  // With --log-format auto each input's format is checked once it is known.
  if (options.log_format.format != LogFormat::kAuto) {
    std::string missing;
    try {
      missing = missing_field_message(options.log_format, options.log_format.format, flapping_needs());
    } catch (const Error& e) {
      throw UsageError(e.what());  // --regex that does not compile
    }
    if (!missing.empty()) throw UsageError(missing);
  }
  return options;
}

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
std::string iso_utc(Micros ts) {
  int64_t seconds = ts / kMicrosPerSecond;
  if (ts % kMicrosPerSecond < 0) --seconds;
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string fraction = format_epoch_seconds(ts);
  size_t dot = fraction.find('.');
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z", year, month, day, rest / 3600, rest / 60 % 60,
                     rest % 60, dot == std::string::npos ? "" : fraction.substr(dot));
}

// Prints results as the core decides them. Cells are views: the writer copies or
// renders them within add_record, so one storage string per timestamp column suffices.
class WriterSink final : public FlappingSink {
 public:
  WriterSink(OutputWriter& out, OutputFormat format) : out_(out), format_(format) {}

  void alert(const FlappingAlert& alert) override {
    cells_.clear();
    push_ts(alert.ts, ts_);
    cells_.emplace_back(alert.service);
    cells_.emplace_back(static_cast<int64_t>(alert.count));
    out_.add_record(cells_);
  }

  void episode(const FlappingEpisode& episode) override {
    cells_.clear();
    cells_.emplace_back(episode.service);
    push_ts(episode.start, ts_);
    push_ts(episode.end, ts2_);
    cells_.emplace_back(static_cast<int64_t>(episode.restarts));
    cells_.emplace_back(static_cast<int64_t>(episode.peak));
    out_.add_record(cells_);
  }

  void late(const std::string& where) override {
    report_warning("{}: restart earlier than its service's previous restart skipped (late; see --reorder)",
                   where);
  }

  void notice(const std::string& message) override { report_warning("{}", message); }

  void format_chosen(const std::string& input, const FormatGuess& guess) override {
    if (guess.certain) {
      report_debug("{}: reading as {} ({})", input, log_format_name(guess.format), guess.reason);
    } else {
      report_warning("{}: {}", input, guess.reason);
    }
  }

 private:
  // tsv: epoch seconds; table: ISO 8601 UTC; json: a number.
  void push_ts(Micros ts, std::string& storage) {
    if (format_ == OutputFormat::kJson) {
      if (ts % kMicrosPerSecond == 0) {
        cells_.emplace_back(static_cast<int64_t>(ts / kMicrosPerSecond));
      } else {
        cells_.emplace_back(static_cast<double>(ts) / kMicrosPerSecond);
      }
      return;
    }
    storage = format_ == OutputFormat::kTable ? iso_utc(ts) : format_epoch_seconds(ts);
    cells_.emplace_back(std::string_view(storage));
  }

  OutputWriter& out_;
  OutputFormat format_;
  std::vector<Cell> cells_;
  std::string ts_, ts2_;
};

Outcome run(const FlappingArgs& args) {
  init_diagnostics("flapping", args.common.quiet, args.common.verbose);
  FlappingOptions options = build_options(args);
  OutputFormat format = build_output_format(args.common);

  OutputWriter out(format, false);
  if (options.follow) {
    out.set_streaming(true);
    install_stop_handlers();
  }
  bool every = options.alerts == AlertMode::kEvery;
  std::vector<Column> columns;
  if (every) {
    columns = {{"ts", ColumnKind::kText}, {"service", ColumnKind::kText}, {"count", ColumnKind::kCount}};
  } else {
    columns = {{"service", ColumnKind::kText},
               {"start_ts", ColumnKind::kText},
               {"end_ts", ColumnKind::kText},
               {"restarts", ColumnKind::kCount},
               {"peak", ColumnKind::kCount}};
  }
  out.begin_records(every ? "alerts" : "episodes", columns);
  WriterSink sink(out, format);
  // --follow runs until stopped and prints as it goes: no progress line.
  ProgressLine progress(args.common.quiet || options.follow);
  poll_log_progress(progress, options.inputs);
  FlappingResult result = detect_flapping(options, sink);
  progress.finish();
  out.end_records();

  for (const FlappingProblem& problem : result.problems) report_error("{}", problem.message);
  nlohmann::ordered_json summary = {{"lines", result.lines},
                                    {"malformed", result.malformed},
                                    {"comments", result.comments},
                                    {"late", result.late},
                                    {"filtered_out", result.filtered_out},
                                    {"restarts", result.restarts},
                                    {"services", result.services},
                                    {"alerts", result.alerts},
                                    {"episodes", result.episodes}};
  if (!every) summary["episodes"] = result.episodes;
  if (!result.first_malformed.empty()) summary["first_malformed"] = result.first_malformed;
  add_malformed_summary(summary, result.first_malformed_reason, result.malformed_reasons);
  if (!result.first_late.empty()) summary["first_late"] = result.first_late;
  out.finish(summary);

  report_malformed(result.malformed, result.first_malformed, result.first_malformed_reason,
                   result.malformed_reasons);
  report_all_filtered_out(args.log, result.filtered_out, result.restarts, "restart");
  if (result.late > 0) {
    report_warning("{} late restart{} skipped (first at {}); --reorder DUR places restarts up to DUR late",
                   result.late, result.late == 1 ? "" : "s", result.first_late);
  }
  if (result.comments > 0) {
    report_debug("{} comment line{} skipped (# first)", result.comments, result.comments == 1 ? "" : "s");
  }
  auto line = fmt::format("{} lines, {} restarts of {} services, {} alerting restarts, {} episodes",
                          result.lines, result.restarts, result.services, result.alerts, result.episodes);
  if (options.follow) {
    report_warning("{}", line);
  } else {
    report_debug("{}", line);
  }
  if (!result.problems.empty()) return Outcome::kError;
  return result.alerts > 0 ? Outcome::kFound : Outcome::kNothingFound;
}

}  // namespace

Runner setup_flapping(CLI::App& app) {
  auto args = std::make_shared<FlappingArgs>();
  app.add_option("FILE", args->files, "Event logs (none or - : standard input; .gz is decompressed)");
  app.add_option("-n,--max-restarts", args->max_restarts, "Alert when restarts in the window exceed N")
      ->check(CLI::NonNegativeNumber)
      ->default_str("3");
  app.add_option("-w,--window", args->window, "Window length: 600, 600s, 10m, 1h")->default_str("10m");
  app.add_option("--event", args->event,
                 "Event that counts as a restart (whole field, any case; default: restarted, and for "
                 "syslog input systemd's 'UNIT: Scheduled restart job' lines)")
      ->type_name("WORD");
  app.add_option(
         "--event-regex", args->event_regex,
         "RE2 pattern searched in the event (with fields: from the event field to the end of the line)")
      ->type_name("RE");
  app.add_option("--alerts", args->alerts,
                 "every: one row per alerting restart; episode: one row per episode")
      ->check(CLI::IsMember({"every", "episode"}))
      ->default_str("episode");
  app.add_option("--reorder", args->reorder,
                 "Hold restarts back DUR and sort them, so up to DUR late is fine")
      ->type_name("DUR");
  app.add_flag("-f,--follow", args->follow,
               "Keep reading appended data (like tail -F, surviving rotation); Ctrl-C ends with the summary");
  add_log_input_options(app, args->log);
  add_common_options(app, args->common, CommonFeature::kFormat | CommonFeature::kThreads);
  app.footer(
      "Input lines (--log-format auto, the default, reads fields, syslog, logfmt or json lines):\n"
      "fields are TS SERVICE EVENT, e.g.\n"
      "  1703000000 nginx restarted\n"
      "In syslog input (/var/log/syslog, messages) systemd's lines about a unit give the unit as the\n"
      "service, and its 'Scheduled restart job' lines (one per automatic restart) are the default\n"
      "restart event, so crash-looping units show with no option:\n"
      "  opsktl flapping /var/log/syslog\n\n"
      "Examples:\n"
      "  opsktl flapping -n 5 -w 10m events.log events.log.1.gz\n"
      "  journalctl -o json | opsktl flapping --event-regex 'Scheduled restart'\n"
      "  opsktl flapping -f --alerts every /var/log/events.log\n\n"
      "Exit status: 0 alerts found, 1 none found, 2 error.\n");
  return [args] { return run(*args); };
}

}  // namespace opsktl::cli
