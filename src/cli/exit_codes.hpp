// Exit codes (SPEC §1), chosen in one place: main() maps a subcommand's Outcome.
#pragma once

namespace opsktl::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNothing = 1;  // nothing found, or some inputs unreadable (du style)
inline constexpr int kExitError = 2;    // usage or fatal error

enum class Outcome {
  kFound,         // 0
  kNothingFound,  // 1 (errors-by-endpoint, flapping)
  kSomeFailed,    // 1 (merge, space-hogs, dedupe: finished, some inputs not read or acted on)
  kError,         // 2
};

inline int exit_code(Outcome outcome) {
  switch (outcome) {
    case Outcome::kFound: return kExitOk;
    case Outcome::kNothingFound:
    case Outcome::kSomeFailed: return kExitNothing;
    case Outcome::kError: return kExitError;
  }
  return kExitError;
}

}  // namespace opsktl::cli
