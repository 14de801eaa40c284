// opsktl space-hogs: where did my disk go? The largest files and directories, as du sizes
// them, or the directories that grew since a saved scan.
#include <memory>

#include "common_options.hpp"
#include "diagnostics.hpp"
#include "opsktl/space_hogs.hpp"
#include "opsktl/text.hpp"
#include "output_writer.hpp"
#include "progress_line.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct SpaceHogsArgs {
  CommonOptions common;
  std::vector<std::string> roots;
  size_t top = 10;
  bool files_only = false;
  bool dirs_only = false;
  bool apparent_size = false;
  bool count_links = false;
  bool one_file_system = false;
  std::vector<std::string> exclude;
  std::string save;
  std::string compare;
  bool shrunk = false;
};

// "scanned N entries in D dirs, SIZE: PATH", the path cut from the left to fit one row.
std::string progress_text(const WalkProgress& progress) {
  std::string head = fmt::format("scanned {} entries in {} dirs, {}: ", progress.entries, progress.dirs,
                                 human_bytes(progress.bytes));
  std::string current = printable(progress.current);
  size_t columns = ProgressLine::columns();
  size_t room = columns > head.size() + 4 ? columns - head.size() - 1 : 3;
  if (current.size() > room) {
    size_t start = current.size() - (room - 3);
    while (start < current.size() && (static_cast<unsigned char>(current[start]) & 0xC0) == 0x80) ++start;
    current = "..." + current.substr(start);
  }
  return head + current;
}

SpaceHogsOptions build_options(const SpaceHogsArgs& args) {
  if (args.shrunk && args.compare.empty()) throw UsageError("--shrunk: only with --compare SCAN");
  SpaceHogsOptions options;
  options.roots = args.roots;
  options.top = args.top;
  options.list_files = !args.dirs_only && args.compare.empty();
  options.list_dirs = !args.files_only;
  options.size_mode = args.apparent_size ? SizeMode::kApparent : SizeMode::kDiskUsage;
  options.link_mode = args.count_links ? LinkMode::kCountEvery : LinkMode::kCountOnce;
  options.walk.threads = build_thread_count(args.common);
  options.walk.one_file_system = args.one_file_system;
  options.walk.exclude = args.exclude;
  options.save_path = args.save;
  options.compare_path = args.compare;
  options.shrunk = args.shrunk;
  return options;
}

void write_results(const SpaceHogsResult& result, const SpaceHogsOptions& options, OutputFormat format,
                   bool null_terminated) {
  bool compare = !options.compare_path.empty();
  OutputWriter out(format, null_terminated);
  std::vector<Cell> cells;
  if (compare) {
    // json always has both arrays (SPEC §1): files stays empty, only directories are compared.
    if (format == OutputFormat::kJson) {
      out.begin_records(
          "files", {{"kind", ColumnKind::kText}, {"bytes", ColumnKind::kBytes}, {"path", ColumnKind::kPath}});
      out.end_records();
    }
    out.begin_records("dirs", {{"kind", ColumnKind::kText},
                               {"delta_bytes", ColumnKind::kBytes},
                               {"bytes", ColumnKind::kBytes},
                               {"path", ColumnKind::kPath}});
    for (const GrownDir& row : result.grown) {
      cells = {Cell(std::string_view("dir")), Cell(row.delta), Cell(row.bytes),
               Cell(std::string_view(row.path))};
      out.add_record(cells);
    }
    out.end_records();
  } else {
    auto list = [&](const char* array, const char* kind, const std::vector<SizedPath>& rows) {
      out.begin_records(
          array, {{"kind", ColumnKind::kText}, {"bytes", ColumnKind::kBytes}, {"path", ColumnKind::kPath}});
      for (const SizedPath& row : rows) {
        cells = {Cell(std::string_view(kind)), Cell(row.bytes), Cell(std::string_view(row.path))};
        out.add_record(cells);
      }
      out.end_records();
    };
    // The table shows only the lists asked for; json always has both arrays (maybe empty).
    bool table = format == OutputFormat::kTable;
    if (options.list_files || !table) list("files", "file", result.files);
    if (options.list_dirs || !table) list("dirs", "dir", result.dirs);
  }
  nlohmann::ordered_json summary = {{"files", result.file_count},
                                    {"dirs", result.dir_count},
                                    {"bytes", result.bytes},
                                    {"unreadable", result.problems.size()}};
  out.finish(summary);
}

Outcome run(const SpaceHogsArgs& args) {
  init_diagnostics("space-hogs", args.common.quiet, args.common.verbose);
  SpaceHogsOptions options = build_options(args);
  OutputFormat format = build_output_format(args.common);

  ProgressLine progress(args.common.quiet);
  if (progress.enabled()) {
    options.walk.progress = [&progress](const WalkProgress& p) {
      progress.update([&p] { return progress_text(p); });
    };
  }
  SpaceHogsResult result = find_space_hogs(options);
  progress.finish();
  for (const WalkProblem& problem : result.problems) {
    report_warning("{}: {}", printable(problem.path), problem.what);
  }
  report_debug("{} files, {} directories, {} bytes", result.file_count, result.dir_count, result.bytes);
  write_results(result, options, format, args.common.null_terminated);
  return result.problems.empty() ? Outcome::kFound : Outcome::kSomeFailed;
}

}  // namespace

Runner setup_space_hogs(CLI::App& app) {
  auto args = std::make_shared<SpaceHogsArgs>();
  app.add_option("ROOT", args->roots, "Directories (or files) to measure (default: .)");
  app.add_option("-k,--top", args->top, "Show the N largest files and directories (0: all)")
      ->default_str("10");
  auto* files_only = app.add_flag("--files-only", args->files_only, "List files only");
  app.add_flag("--dirs-only", args->dirs_only, "List directories only")->excludes(files_only);
  app.add_flag("--apparent-size", args->apparent_size,
               "Size is byte length (like du -b), not allocated blocks");
  app.add_flag("--count-links", args->count_links,
               "Count every hard link (like du -l); default: once, at its first path in byte order");
  app.add_flag("-x,--one-file-system", args->one_file_system, "Skip directories on other file systems");
  app.add_option("--exclude", args->exclude, "Leave out files and directories whose name matches GLOB")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  app.add_option("--save", args->save, "Write every directory's total to SCAN (gzip JSON)")
      ->type_name("SCAN");
  app.add_option("--compare", args->compare, "Rank directories by growth since SCAN (written by --save)")
      ->type_name("SCAN");
  app.add_flag("--shrunk", args->shrunk, "With --compare: directories that shrank or vanished instead");
  add_common_options(
      app, args->common,
      (CommonFeature::kFormat | CommonFeature::kThreads) | static_cast<unsigned>(CommonFeature::kNull));
  app.footer(
      "Sizes are disk usage as du counts it (--apparent-size: byte length, like du -b); a directory's\n"
      "size is everything beneath it. tsv columns: kind bytes path (--compare: kind delta_bytes bytes path).\n\n"
      "Examples:\n"
      "  opsktl space-hogs -x -k 20 /var\n"
      "  opsktl space-hogs --dirs-only --compare /var/tmp/var.scan --save /var/tmp/var.scan /var\n\n"
      "Exit status: 0 ok, 1 some directories could not be read (named on stderr), 2 error.\n");
  return [args] { return run(*args); };
}

}  // namespace opsktl::cli
