// The one error type the core throws up to the front ends.
#pragma once

#include <stdexcept>
#include <string>

namespace opsktl {

// A fatal problem with a clear one-line message that already names where it happened
// (a path, path:line or an option). Front ends print it and choose the exit code.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message for errno `err`, e.g. "No such file or directory".
std::string errno_message(int err);

}  // namespace opsktl
