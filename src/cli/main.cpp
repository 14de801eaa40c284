// opsktl: one executable, one subcommand per question. main() parses the command line,
// runs the chosen subcommand and maps its outcome to the exit code.
#include <csignal>
#include <cstdio>
#include <new>

#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "opsktl/error.hpp"
#include "output_writer.hpp"
#include "subcommands.hpp"

namespace opsktl::cli {
namespace {

struct SubcommandEntry {
  const char* name;
  const char* description;
  Runner (*setup)(CLI::App&);
};

constexpr SubcommandEntry kSubcommands[] = {
    {"errors-by-endpoint", "Which service/path returns the most errors (5xx)", setup_errors_by_endpoint},
    {"space-hogs", "Where did my disk go: the largest files and directories, growth since a scan",
     setup_space_hogs},
    {"flapping", "Which services restarted more than N times within a window", setup_flapping},
    {"merge", "Merge time-sorted logs into one timeline", setup_merge},
    {"dedupe", "Find duplicate files; with --apply, replace them with links, crash-safely", setup_dedupe},
};

int run_main(int argc, char** argv) {
  CLI::App app{"opsktl: answers for operations engineers during an incident", "opsktl"};
  app.set_version_flag("--version", "opsktl " OPSKTL_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'opsktl SUBCOMMAND --help' for a subcommand's options and examples.\n");

  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const SubcommandEntry& entry : kSubcommands) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.description);
    runners.emplace_back(sub, entry.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitError;
  }

  for (auto& [sub, runner] : runners) {
    if (!sub->parsed()) continue;
    try {
      return exit_code(runner());
    } catch (const BrokenPipe&) {
      return kExitOk;
    } catch (const UsageError& e) {
      report_error("{}", e.what());
      std::fprintf(stderr, "Run with --help for more information.\n");
      return kExitError;
    } catch (const Error& e) {
      report_error("{}", e.what());
      return kExitError;
    } catch (const std::bad_alloc&) {
      report_error("out of memory");
      return kExitError;
    } catch (const std::exception& e) {
      // Not one of ours (std::filesystem, std::thread, a library): still one line, exit 2.
      report_error("{}", e.what());
      return kExitError;
    }
  }
  return kExitError;
}

}  // namespace
}  // namespace opsktl::cli

int main(int argc, char** argv) {
  // A closed stdout (`opsktl ... | head`) shows up as EPIPE from write(): quiet exit 0.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return opsktl::cli::run_main(argc, argv);
  } catch (...) {  // run_main reports and maps every error; this is the last resort
    std::fputs("opsktl: internal error: unknown exception\n", stderr);
    return opsktl::cli::kExitError;
  }
}
