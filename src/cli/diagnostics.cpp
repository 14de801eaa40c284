#include "diagnostics.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace opsktl::cli {
namespace {
std::string g_prefix = "opsktl: ";
}

void init_diagnostics(std::string subcommand, bool quiet, bool verbose) {
  g_prefix = subcommand.empty() ? "opsktl: " : "opsktl: " + subcommand + ": ";
  static auto logger = [] {
    auto l = spdlog::stderr_logger_st("opsktl");
    l->set_pattern("%v");
    return l;
  }();
  spdlog::set_default_logger(logger);
  spdlog::set_level(quiet ? spdlog::level::err : verbose ? spdlog::level::debug : spdlog::level::info);
}

const std::string& diagnostics_prefix() { return g_prefix; }

}  // namespace opsktl::cli
