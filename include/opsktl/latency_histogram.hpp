// Latency percentiles in bounded memory per endpoint.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace opsktl {

// Counts latencies (in microseconds) in log-linear buckets: exact below 64 us, then 64
// equal sub-buckets per power of two, so a bucket's midpoint is within 0.79% of any value
// in it. Only the span of buckets between the smallest and largest value is allocated
// (at most 3,712 counters); the first four samples are kept exactly, which keeps the
// many endpoints that see only a request or two at a few bytes each.
class LatencyHistogram {
 public:
  // Inline for the common case, a value inside the buckets already allocated: it runs
  // once per log line.
  void add(uint64_t micros) {
    min_ = micros < min_ ? micros : min_;
    max_ = micros > max_ ? micros : max_;
    size_t offset = bucket_of(micros) - first_bucket_;  // wraps when below the span
    if (offset < counts_.size()) {
      ++counts_[offset];
      ++count_;
      return;
    }
    add_slow(micros);
  }
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  // The nearest-rank quantile (q in (0, 1]): the value at rank ceil(q * count), within
  // 0.79% relative error, clamped to the observed minimum and maximum. Needs count() > 0.
  double quantile(double q) const;

  // Exact below 64; above, the power of two (a count of leading zeros) and the next 6
  // bits below the leading one.
  static size_t bucket_of(uint64_t micros) {
    if (micros < kSub) return static_cast<size_t>(micros);
    unsigned e = 63u - static_cast<unsigned>(std::countl_zero(micros));  // >= kSubBits
    unsigned shift = e - kSubBits;
    return static_cast<size_t>(kSub + shift * kSub + ((micros >> shift) & (kSub - 1)));
  }
  static double bucket_midpoint(size_t bucket);

 private:
  static constexpr unsigned kSubBits = 6;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr size_t kInline = 4;
  void add_slow(uint64_t micros);
  void add_to_bucket(size_t bucket, uint64_t times);
  void spill();

  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  std::array<uint64_t, kInline> samples_{};  // used while count_ <= kInline and counts_ is empty
  size_t first_bucket_ = 0;
  std::vector<uint64_t> counts_;  // counts_[i] is bucket first_bucket_ + i
};

std::optional<uint64_t> parse_latency_with_unit(std::string_view text, int64_t default_unit_us);

// A latency value with an optional unit (us, µs, ms, s) in microseconds; a bare number is
// in `default_unit_us`. nullopt for "-" or anything that is not such a number. Inline
// for the common case, a bare integer of at most 12 digits.
inline std::optional<uint64_t> parse_latency(std::string_view text, int64_t default_unit_us) {
  if (!text.empty() && text.size() <= 12) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    if (i == text.size()) return v * static_cast<uint64_t>(default_unit_us);
  }
  return parse_latency_with_unit(text, default_unit_us);
}

}  // namespace opsktl
