// opsktl merge: merge time-sorted logs into one time-sorted stream.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include "common_options.hpp"
#include "diagnostics.hpp"
#include "line_writer.hpp"
#include "opsktl/error.hpp"
#include "opsktl/merge.hpp"
#include "progress_line.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct MergeArgs {
  CommonOptions common;
  LogInputOptions log;
  std::vector<std::string> files;
  std::string output;
  bool label = false;
  std::string orphans = "attach";
  bool check = false;
  std::string reorder;
};

// Plain lines: the timestamp starts the line (--field ts=N moves it).
constexpr FieldPositions kDefaultPositions = {1, 0, 0, 0, 0, 0, 0, 0};

MergeOptions build_options(const MergeArgs& args) {
  MergeOptions options;
  options.inputs = args.files.empty() ? std::vector<std::string>{"-"} : args.files;
  for (const std::string& spec : args.log.fields) {
    if (spec.rfind("ts=", 0) != 0 || spec == "ts=0") {
      throw UsageError("--field: merge reads only the timestamp; expected ts=N with N from 1, got '" + spec +
                       "'");
    }
  }
  // A position (ts=4) under auto means whitespace fields; a key (ts=time) keeps auto.
  LogInputOptions log = args.log;
  bool positions =
      !log.fields.empty() && std::all_of(log.fields.begin(), log.fields.end(), [](const std::string& f) {
        return f.find_first_not_of("0123456789", 3) == std::string::npos;
      });
  if (log.log_format == "auto" && positions) log.log_format = "fields";
  if (!args.log.service.empty()) {
    throw UsageError(
        "--service: merge reads only the timestamp of each line; it has no service to name, got '" +
        args.log.service + "'");
  }
  options.log_format = build_log_format(log, kDefaultPositions);
  if (options.log_format.format != LogFormat::kAuto) {
    std::string missing;
    try {
      missing =
          missing_field_message(options.log_format, options.log_format.format, {{FieldId::kTs, "merge"}});
    } catch (const Error& e) {
      throw UsageError(e.what());  // --regex that does not compile
    }
    if (!missing.empty()) throw UsageError(missing);
  }
  options.time_context = build_time_context(args.log);
  options.since = build_time_bound(args.log.since, "--since", options.time_context);
  options.until = build_time_bound(args.log.until, "--until", options.time_context);
  options.orphans = args.orphans == "skip" ? OrphanMode::kSkip : OrphanMode::kAttach;
  options.mode = args.check ? MergeMode::kCheck : MergeMode::kMerge;
  options.label = args.label;
  options.strict = args.log.strict;
  if (!args.reorder.empty()) {
    auto tolerance = parse_duration(args.reorder, kMicrosPerSecond);
    if (!tolerance) {
      throw UsageError("--reorder: expected a duration like 30, 30s, 2m or 500ms, got '" + args.reorder +
                       "'");
    }
    options.reorder_us = *tolerance;
  }
  if (args.check && !args.output.empty()) {
    throw UsageError("--check: writes nothing, so it cannot be combined with -o");
  }
  const char* tmpdir = std::getenv("TMPDIR");
  options.temp_dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  options.max_open_inputs = raise_open_file_limit();
  return options;
}

class WriterSink final : public MergeSink {
 public:
  explicit WriterSink(LineWriter& writer) : writer_(writer) {}
  void begin_record(Micros) override {}
  void write(std::string_view prefix, std::string_view text, bool newline) override {
    writer_.write(prefix, text, newline);
  }

 private:
  LineWriter& writer_;
};

class Reporter final : public MergeListener {
 public:
  explicit Reporter(bool check) : check_(check) {}
  void input_failed(const std::string& message) override { report_error("{}", message); }
  void input_format(const std::string& input, const FormatGuess& guess) override {
    report_debug("{}: read as {} ({})", input, log_format_name(guess.format), guess.reason);
  }
  void input_without_timestamps(const std::string& input, bool whole, uint64_t lines,
                                const std::string& first_line) override {
    if (whole) {
      report_error("{}: no timestamp found in its {} line{}; the first reads \"{}\"", input, lines,
                   lines == 1 ? "" : "s", first_line);
    } else {
      report_error("{}: no timestamp found in its first {} lines; the first reads \"{}\"", input, lines,
                   first_line);
    }
  }
  void input_unsorted(const std::string& input, uint64_t line, uint64_t newest_line) override {
    report_warning("{}:{}: not sorted: earlier than line {}{}", input, line, newest_line,
                   check_ ? "" : "; merged as it comes");
  }

 private:
  bool check_;
};

Outcome run(const MergeArgs& args) {
  init_diagnostics("merge", args.common.quiet, args.common.verbose);
  MergeOptions options = build_options(args);
  Reporter reporter(args.check);

  std::optional<AtomicFile> file;
  if (!args.output.empty()) file.emplace(args.output);
  int fd = file ? file->fd() : STDOUT_FILENO;
  LineWriter writer(fd, file ? args.output : "standard output");
  WriterSink sink(writer);

  // Merged lines on the terminal would run into the progress line: none then.
  bool output_on_terminal = !args.check && fd == STDOUT_FILENO && isatty(STDOUT_FILENO) != 0;
  ProgressLine progress(args.common.quiet || output_on_terminal);
  poll_log_progress(progress, options.inputs);
  MergeResult result = merge_logs(options, sink, reporter);
  progress.finish();
  writer.flush();
  if (file) file->commit();

  report_debug("{} lines, {} records from {} inputs; {} outside --since/--until; {} temporary runs",
               result.lines, result.records, options.inputs.size(), result.filtered_out,
               result.temporary_runs);
  report_all_filtered_out(args.log, result.filtered_out, result.records - result.filtered_out, "record");
  if (result.orphans_skipped > 0) {
    report_debug("{} lines without a timestamp dropped (first at {})", result.orphans_skipped,
                 result.first_orphan_skipped);
  }
  if (args.check) {
    if (result.failed_inputs > 0) return Outcome::kError;
    // An input without timestamps is not known to be sorted.
    return result.unsorted_inputs + result.inputs_without_timestamps > 0 ? Outcome::kNothingFound
                                                                         : Outcome::kFound;
  }
  return result.failed_inputs + result.inputs_without_timestamps > 0 ? Outcome::kSomeFailed : Outcome::kFound;
}

}  // namespace

Runner setup_merge(CLI::App& app) {
  auto args = std::make_shared<MergeArgs>();
  app.add_option("FILE", args->files, "Time-sorted logs (none or - : standard input; .gz is decompressed)");
  app.add_option("-o,--output", args->output,
                 "Write to OUT (via a temporary file renamed into place) instead of standard output")
      ->type_name("OUT");
  app.add_flag("--label", args->label, "Prefix each line with its input's name and a tab");
  app.add_option("--orphans", args->orphans,
                 "Lines without a timestamp: attach (travel with the record above) or skip")
      ->check(CLI::IsMember({"attach", "skip"}))
      ->default_str("attach");
  app.add_flag("--check", args->check, "Only check that every input is sorted (exit 0 sorted, 1 not)");
  app.add_option("--reorder", args->reorder,
                 "Put records up to DUR late in place (e.g. 30s: web servers log at request end)")
      ->type_name("DUR");
  add_log_input_options(app, args->log);
  add_common_options(app, args->common, static_cast<unsigned>(CommonFeature::kNone));
  app.footer(
      "Each input must be sorted by time. The timestamp starts the line, in any form\n"
      "(1703000000, 2025-12-19T10:01:02Z, Dec 19 10:01:02, 19/Dec/2025:10:01:02 +0000, ...),\n"
      "or is where a combined, json or logfmt input keeps it (--log-format auto sniffs each\n"
      "input). Lines without one (stack traces) travel with the line above.\n\n"
      "Examples:\n"
      "  opsktl merge --label web1/app.log web2/app.log.gz | less\n"
      "  opsktl merge --field ts=4 --reorder 60s access.log access.log.1 -o timeline.log\n\n"
      "Exit status: 0 merged, 1 some inputs could not be read or had no timestamp (--check: not\n"
      "sorted), 2 error.\n");
  return [args] { return run(*args); };
}

}  // namespace opsktl::cli
