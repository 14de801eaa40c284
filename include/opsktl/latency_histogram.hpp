// Latency percentiles in bounded memory per endpoint.
#pragma once

#include <array>
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
  void add(uint64_t micros);
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  // The nearest-rank quantile (q in (0, 1]): the value at rank ceil(q * count), within
  // 0.79% relative error, clamped to the observed minimum and maximum. Needs count() > 0.
  double quantile(double q) const;

  static size_t bucket_of(uint64_t micros);
  static double bucket_midpoint(size_t bucket);

 private:
  static constexpr size_t kInline = 4;
  void add_to_bucket(size_t bucket, uint64_t times);
  void spill();

  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  std::array<uint64_t, kInline> samples_{};  // used while count_ <= kInline and counts_ is empty
  size_t first_bucket_ = 0;
  std::vector<uint64_t> counts_;  // counts_[i] is bucket first_bucket_ + i
};

// A latency value with an optional unit (us, µs, ms, s) in microseconds; a bare number is
// in `default_unit_us`. nullopt for "-" or anything that is not such a number.
std::optional<uint64_t> parse_latency(std::string_view text, int64_t default_unit_us);

}  // namespace opsktl
