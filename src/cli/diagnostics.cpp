#include <spdlog/sinks/base_sink.h>

#include "diagnostics.hpp"
#include "progress_line.hpp"

namespace opsktl::cli {
namespace {
std::string g_prefix = "opsktl: ";

// stderr, through write_diagnostic so that a progress line is erased first.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    write_diagnostic(std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override {}
};
}  // namespace

void init_diagnostics(const std::string& subcommand, bool quiet, bool verbose) {
  g_prefix = subcommand.empty() ? "opsktl: " : "opsktl: " + subcommand + ": ";
  static auto logger = [] {
    auto l = std::make_shared<spdlog::logger>("opsktl", std::make_shared<StderrSink>());
    l->set_pattern("%v");
    return l;
  }();
  spdlog::set_default_logger(logger);
  spdlog::set_level(quiet ? spdlog::level::err : verbose ? spdlog::level::debug : spdlog::level::info);
}

const std::string& diagnostics_prefix() { return g_prefix; }

}  // namespace opsktl::cli
