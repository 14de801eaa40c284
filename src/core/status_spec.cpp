#include "opsktl/status_spec.hpp"

namespace opsktl {

void StatusSet::add_range(int first, int last) {
  for (int s = first; s <= last; ++s) bits_.set(static_cast<size_t>(s));
}

std::optional<StatusSet> parse_status_spec(std::string_view spec) {
  StatusSet set;
  if (spec.empty()) return std::nullopt;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view item =
        spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.size() == 3 && item[0] >= '1' && item[0] <= '9' && (item[1] | 0x20) == 'x' &&
        (item[2] | 0x20) == 'x') {
      int base = (item[0] - '0') * 100;
      set.add_range(base, base + 99);
    } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      int first = parse_status(item.substr(0, dash));
      int last = parse_status(item.substr(dash + 1));
      if (first < 0 || last < 0 || first > last) return std::nullopt;
      set.add_range(first, last);
    } else {
      int status = parse_status(item);
      if (status < 0) return std::nullopt;
      set.add_range(status, status);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

}  // namespace opsktl
