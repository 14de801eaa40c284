// --normalize: one endpoint for /orders/12345 and /orders/67890.
#pragma once

#include <string>
#include <string_view>

namespace opsktl {

// `path` without its query string or fragment, with each segment that looks like an id
// replaced by "{id}": all digits, a UUID (8-4-4-4-12 hex), or hex of 8 or more
// characters with at least one digit. Returns a view into `scratch` or into `path`.
std::string_view normalize_path(std::string_view path, std::string& scratch);

}  // namespace opsktl
