// Messages on stderr, one line each: "opsktl: SUBCOMMAND: WHERE: WHAT".
#pragma once

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

namespace opsktl::cli {

// Sets up the stderr logger; -q shows errors only, -v adds debug messages.
void init_diagnostics(const std::string& subcommand, bool quiet, bool verbose);
const std::string& diagnostics_prefix();  // "opsktl: SUBCOMMAND: "

template <typename... Args>
void report_error(fmt::format_string<Args...> format, Args&&... args) {
  spdlog::error("{}{}", diagnostics_prefix(), fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void report_warning(fmt::format_string<Args...> format, Args&&... args) {
  spdlog::warn("{}{}", diagnostics_prefix(), fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void report_debug(fmt::format_string<Args...> format, Args&&... args) {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("{}{}", diagnostics_prefix(), fmt::format(format, std::forward<Args>(args)...));
  }
}

// A bad option value found after CLI11's parse: printed with a usage hint, exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace opsktl::cli
