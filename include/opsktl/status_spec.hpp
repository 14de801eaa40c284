// Which HTTP statuses count as errors (--status).
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

namespace opsktl {

// A set of 3-digit statuses (000-999).
class StatusSet {
 public:
  bool contains(int status) const {
    return status >= 0 && status < 1000 && bits_[static_cast<size_t>(status)];
  }
  void add_range(int first, int last);
  bool empty() const { return bits_.none(); }

 private:
  std::bitset<1000> bits_;
};

// Parses "5xx", "4xx,5xx", "500-504", "502" and comma lists of these. Returns nullopt
// for anything else (the caller names the accepted forms).
std::optional<StatusSet> parse_status_spec(std::string_view spec);

// The status as a number when `text` is exactly three digits, else -1.
inline int parse_status(std::string_view text) {
  if (text.size() != 3) return -1;
  const unsigned d0 = static_cast<unsigned char>(text[0]) - unsigned{'0'};
  const unsigned d1 = static_cast<unsigned char>(text[1]) - unsigned{'0'};
  const unsigned d2 = static_cast<unsigned char>(text[2]) - unsigned{'0'};
  if ((d0 > 9) | (d1 > 9) | (d2 > 9)) return -1;
  return static_cast<int>(d0 * 100 + d1 * 10 + d2);
}

}  // namespace opsktl
