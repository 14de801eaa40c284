// Latency percentiles in bounded memory per endpoint.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace opsktl {

// Counts latencies (in microseconds) in log-linear buckets: exact below 64 us, then 64
// equal sub-buckets per power of two, so a bucket's midpoint is within 0.79% of any value
// in it. Only the span of buckets between the smallest and largest value is allocated
// (at most 3,712 counters); the first four samples are kept exactly, which keeps the
// many endpoints that see only a request or two at a few bytes each.
//
// A counter is 16 bits, and the multiples of 65,536 it carries go to a second array
// that exists only once some bucket has overflowed. Every log line increments one
// counter at a random place in one endpoint's histogram, and with 64-bit counters
// those increments missed the CPU caches: with 16 bits, four times as many buckets of
// all the endpoints fit in them.
class LatencyHistogram {
 public:
  // Inline for the common case, a value inside the buckets already allocated: it runs
  // once per log line.
  void add(uint64_t micros) {
    min_ = micros < min_ ? micros : min_;
    max_ = micros > max_ ? micros : max_;
    size_t offset = bucket_of(micros) - first_bucket_;  // wraps when below the span
    if (offset < counts_.size()) {
      ++count_;
      if (++counts_[offset] == 0) [[unlikely]]
        carry(offset);
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
  void carry(size_t offset);  // counts_[offset] wrapped around to 0
  uint64_t bucket_count(size_t offset) const { return counts_[offset] + (high_.empty() ? 0 : high_[offset]); }

  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  std::array<uint64_t, kInline> samples_{};  // used while count_ <= kInline and counts_ is empty
  size_t first_bucket_ = 0;
  // Bucket first_bucket_ + i holds counts_[i] + high_[i]; high_ is empty until a
  // counter overflows, and then as long as counts_.
  std::vector<uint16_t> counts_;
  std::vector<uint64_t> high_;
};

// A unit of a bare latency number finer than the microsecond: nanoseconds (Traefik's
// Duration), for --latency-unit ns.
inline constexpr int64_t kLatencyUnitNanos = -1000;

std::optional<uint64_t> parse_latency_with_unit(std::string_view text, int64_t default_unit_us);

// A latency value with an optional unit (ns, us, µs, ms, s) in microseconds; a bare
// number is in `default_unit_us` (µs per unit, or kLatencyUnitNanos). nullopt for "-" or
// anything that is not such a number. Inline for the common case, a bare integer of at
// most 12 digits.
inline std::optional<uint64_t> parse_latency(std::string_view text, int64_t default_unit_us) {
  if (!text.empty() && text.size() <= 12 && default_unit_us > 0) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    if (i == text.size()) return v * static_cast<uint64_t>(default_unit_us);
  }
  return parse_latency_with_unit(text, default_unit_us);
}

// parse_latency for a value with 8 readable bytes at text.data() (a field of a padded
// line buffer), with default_unit_us > 0: a bare integer of up to 8 digits, the common case, is converted
// with a few multiplications on one 64-bit word instead of a loop whose length varies from line to line.
inline std::optional<uint64_t> parse_latency_padded(std::string_view text, int64_t default_unit_us) {
  const size_t n = text.size();
  if (n - 1 < 8) {  // 1 to 8 bytes
    uint64_t word;
    std::memcpy(&word, text.data(), sizeof word);
    const unsigned drop = 8 * static_cast<unsigned>(8 - n);
    const uint64_t digits = word << drop;  // the first byte highest but n-1, zeros below
    const uint64_t used = ~uint64_t{0} << drop;
    constexpr uint64_t kHigh = 0xF0F0F0F0F0F0F0F0ull, kThrees = 0x3030303030303030ull;
    if ((digits & kHigh) == (kThrees & used) &&
        ((digits + 0x0606060606060606ull) & kHigh & used) == (kThrees & used)) {
      // Eight digits (leading zeros in the dropped bytes) to a number: pairs, then
      // fours, then the eight (each step a multiply-add on all lanes at once).
      uint64_t v = digits & 0x0F0F0F0F0F0F0F0Full;
      v = (v * 10) + (v >> 8);
      v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
           (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
          32;
      return v * static_cast<uint64_t>(default_unit_us);
    }
  }
  return parse_latency(text, default_unit_us);
}

}  // namespace opsktl
