// opsktl dedupe: files with identical content; with --apply, duplicates replaced by links
// to one kept copy, safely and resumably.
#include <memory>

#include "common_options.hpp"
#include "diagnostics.hpp"
#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"
#include "opsktl/text.hpp"
#include "output_writer.hpp"
#include "progress_line.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct DedupeArgs {
  CommonOptions common;
  std::vector<std::string> roots;
  bool apply = false;
  std::string link = "hardlink";
  std::string keep = "first";
  std::string verify = "bytes";
  bool ignore_metadata = false;
  int64_t min_size = 1;
  bool one_file_system = false;
  std::vector<std::string> exclude;
  std::string state;
};

std::string progress_text(const DedupeProgress& p) {
  return fmt::format("{}: {} files, {} hashed, {} groups", p.phase, p.files_scanned,
                     human_bytes(static_cast<int64_t>(p.bytes_hashed)), p.groups);
}

DedupeOptions build_options(const DedupeArgs& args) {
  DedupeOptions options;
  options.roots = args.roots.empty() ? std::vector<std::string>{"."} : args.roots;
  options.apply = args.apply;
  if (args.link == "hardlink") {
    options.link = DedupeLink::kHardlink;
  } else if (args.link == "symlink") {
    options.link = DedupeLink::kSymlink;
  } else if (args.link == "reflink") {
    options.link = DedupeLink::kReflink;
  } else {
    throw UsageError(fmt::format("--link: expected hardlink, symlink or reflink, got '{}'", args.link));
  }
  if (args.keep == "first") {
    options.keep = DedupeKeep::kFirst;
  } else if (args.keep == "oldest") {
    options.keep = DedupeKeep::kOldest;
  } else if (args.keep == "newest") {
    options.keep = DedupeKeep::kNewest;
  } else {
    throw UsageError(fmt::format("--keep: expected first, oldest or newest, got '{}'", args.keep));
  }
  if (args.verify == "bytes") {
    options.verify = DedupeVerify::kBytes;
  } else if (args.verify == "hash") {
    options.verify = DedupeVerify::kHash;
  } else {
    throw UsageError(fmt::format("--verify: expected bytes or hash, got '{}'", args.verify));
  }
  if (args.min_size < 1)
    throw UsageError(fmt::format("--min-size: expected 1 or more bytes, got {}", args.min_size));
  options.min_size = args.min_size;
  options.ignore_metadata = args.ignore_metadata;
  options.walk.threads = build_thread_count(args.common);
  options.walk.one_file_system = args.one_file_system;
  options.walk.exclude = args.exclude;
  options.state_path = args.state;
  return options;
}

std::string_view action_name(DedupeAction action) {
  switch (action) {
    case DedupeAction::kKeep: return "keep";
    case DedupeAction::kDup: return "dup";
    case DedupeAction::kLinked: return "linked";
    case DedupeAction::kSkipped: return "skipped";
    case DedupeAction::kShared: return "shared";
  }
  return "dup";
}

void write_results(const DedupeResult& result, OutputFormat format, bool null_terminated) {
  OutputWriter out(format, null_terminated);
  out.begin_records("groups", {{"group", ColumnKind::kCount},
                               {"bytes", ColumnKind::kBytes},
                               {"action", ColumnKind::kText},
                               {"path", ColumnKind::kPath}});
  std::vector<Cell> cells;
  int64_t number = 0;
  for (const DedupeGroup& group : result.groups) {
    ++number;
    for (const DedupeEntry& entry : group.entries) {
      cells = {Cell(number), Cell(group.size), Cell(action_name(entry.action)),
               Cell(std::string_view(entry.path))};
      out.add_record(cells);
    }
  }
  out.end_records();
  nlohmann::ordered_json skipped = nlohmann::ordered_json::object();
  uint64_t skipped_total = 0;
  for (const auto& [reason, count] : result.skipped) {
    skipped[reason] = count;
    skipped_total += count;
  }
  nlohmann::ordered_json summary = {{"files_scanned", result.files_scanned},
                                    {"bytes_total", result.bytes_total},
                                    {"bytes_hashed", result.bytes_hashed},
                                    {"hashes_reused", result.hashes_reused},
                                    {"groups", result.groups.size()},
                                    {"duplicates", result.duplicates},
                                    {"reclaimable_bytes", result.reclaimable_bytes},
                                    {"reclaimed_bytes", result.reclaimed_bytes},
                                    {"held_outside", result.held_outside},
                                    {"already_shared", result.already_shared},
                                    {"linked", result.linked},
                                    {"skipped", skipped_total},
                                    {"skipped_reasons", skipped},
                                    {"temp_links_removed", result.temp_links_removed},
                                    {"problems", result.problems.size()}};
  out.finish(summary);
}

Outcome run(const DedupeArgs& args) {
  init_diagnostics("dedupe", args.common.quiet, args.common.verbose);
  DedupeOptions options = build_options(args);
  OutputFormat format = build_output_format(args.common);

  ProgressLine progress(args.common.quiet);
  if (progress.enabled()) {
    options.progress = [&progress](const DedupeProgress& p) {
      progress.update([&p] { return progress_text(p); });
    };
  }
  DedupeResult result = run_dedupe(options);
  progress.finish();
  for (const DedupeProblem& warning : result.warnings) {
    report_warning("{}: {}", printable(warning.path), warning.what);
  }
  for (const DedupeProblem& problem : result.problems) {
    report_warning("{}: {}", printable(problem.path), problem.what);
  }
  if (result.temp_links_removed > 0) {
    report_warning("removed {} temporary links left by an interrupted run", result.temp_links_removed);
  }
  uint64_t skipped = 0;
  for (const auto& [reason, count] : result.skipped) skipped += count;
  // A summary for people; the JSON summary carries the same numbers.
  if (!args.common.quiet && format != OutputFormat::kJson) {
    spdlog::info("{}{} groups, {} duplicate files, {} reclaimable{}{}{}, {} skipped", diagnostics_prefix(),
                 result.groups.size(), result.duplicates,
                 human_bytes(static_cast<int64_t>(result.reclaimable_bytes)),
                 result.held_outside > 0
                     ? fmt::format(" ({} duplicate files not counted: held by hard links outside the roots)",
                                   result.held_outside)
                     : std::string(),
                 result.already_shared > 0
                     ? fmt::format(", {} already sharing the kept file's extents", result.already_shared)
                     : std::string(),
                 args.apply ? fmt::format(", {} linked, {} reclaimed", result.linked,
                                          human_bytes(static_cast<int64_t>(result.reclaimed_bytes)))
                            : std::string(" (dry run: nothing changed)"),
                 skipped);
  }
  report_debug("{} files, {} bytes, {} bytes hashed, {} hashes from {}", result.files_scanned,
               result.bytes_total, result.bytes_hashed, result.hashes_reused, result.state_path);
  write_results(result, format, args.common.null_terminated);
  return result.problems.empty() ? Outcome::kFound : Outcome::kSomeFailed;
}

}  // namespace

Runner setup_dedupe(CLI::App& app) {
  auto args = std::make_shared<DedupeArgs>();
  app.add_option("ROOT", args->roots, "Directories (or files) to search (default: .)");
  app.add_flag("--apply", args->apply,
               "Replace duplicates with links (default: a dry run that changes nothing)");
  app.add_option("--link", args->link, "How to replace a duplicate: hardlink, symlink or reflink")
      ->default_str("hardlink");
  app.add_option("--keep", args->keep, "Which copy to keep: first (path in byte order), oldest or newest")
      ->default_str("first");
  app.add_option("--verify", args->verify,
                 "Before linking: compare bytes with the kept file, or trust the 128-bit hash")
      ->default_str("bytes");
  app.add_flag("--ignore-metadata", args->ignore_metadata,
               "Link even when owner, group, mode, ACL or user.* xattrs differ from the kept file's");
  app.add_option("--min-size", args->min_size,
                 "Ignore files shorter than SIZE: bytes, or with a 1024-based suffix K, M, G")
      ->type_name("SIZE")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("1");
  app.add_flag("-x,--one-file-system", args->one_file_system, "Skip directories on other file systems");
  app.add_option("--exclude", args->exclude, "Leave out files and directories whose name matches GLOB")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  app.add_option("--state", args->state,
                 "Journal and hash cache (default: $XDG_STATE_HOME/opsktl/dedupe-HASH.state)")
      ->type_name("FILE");
  add_common_options(
      app, args->common,
      (CommonFeature::kFormat | CommonFeature::kThreads) | static_cast<unsigned>(CommonFeature::kNull));
  app.footer(
      "A dry run by default. tsv columns: group bytes action path; the kept file comes first (keep),\n"
      "then every name of each duplicate (dup; with --apply linked or skipped). Rerunning after a\n"
      "kill resumes from the state file.\n\n"
      "Examples:\n"
      "  opsktl dedupe --min-size 1M /srv/backups\n"
      "  opsktl dedupe --apply -x /srv/backups/2023 /srv/backups/2024\n\n"
      "Exit status: 0 ok, 1 some files could not be read or linked (named on stderr), 2 error.\n");
  return [args] { return run(*args); };
}

}  // namespace opsktl::cli
