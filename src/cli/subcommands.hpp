// The subcommand front ends. Each setup function registers its options on `app` and
// returns the function that runs the subcommand once parsing is over.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "exit_codes.hpp"

namespace opsktl::cli {

using Runner = std::function<Outcome()>;

Runner setup_errors_by_endpoint(CLI::App& app);
Runner setup_space_hogs(CLI::App& app);
Runner setup_flapping(CLI::App& app);
Runner setup_merge(CLI::App& app);
Runner setup_dedupe(CLI::App& app);

}  // namespace opsktl::cli
