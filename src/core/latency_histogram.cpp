// Percentiles need either every value (memory grows with lines) or a sketch. A
// log-linear histogram, as in HdrHistogram, maps a value to its bucket with a count of
// leading zeros and a shift: no floating point, no log() per request. 64 sub-buckets per
// octave bound the relative error of the bucket midpoint by 1/128 (0.79%), inside the
// 1% the output promises. Rejected: t-digest and GK sketches (merging across threads
// is approximate and slower), and exact sorting (O(lines) memory).
#include "opsktl/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "opsktl/timestamp.hpp"

namespace opsktl {

double LatencyHistogram::bucket_midpoint(size_t bucket) {
  if (bucket < kSub) return static_cast<double>(bucket);
  size_t shift = (bucket - kSub) / kSub;
  size_t sub = (bucket - kSub) % kSub;
  double lower = std::ldexp(static_cast<double>(kSub + sub), static_cast<int>(shift));
  double width = std::ldexp(1.0, static_cast<int>(shift));
  return lower + (width - 1) / 2;
}

void LatencyHistogram::add_slow(uint64_t micros) {
  // min_ and max_ are updated already; the value is outside the allocated buckets.
  if (counts_.empty() && count_ < kInline) {
    samples_[count_++] = micros;
    return;
  }
  if (counts_.empty()) spill();
  add_to_bucket(bucket_of(micros), 1);
  ++count_;
}

void LatencyHistogram::spill() {
  for (size_t i = 0; i < count_ && i < kInline; ++i) add_to_bucket(bucket_of(samples_[i]), 1);
}

void LatencyHistogram::carry(size_t offset) {
  if (high_.empty()) high_.assign(counts_.size(), 0);
  high_[offset] += uint64_t{1} << 16;
}

void LatencyHistogram::add_to_bucket(size_t b, uint64_t times) {
  if (counts_.empty()) {
    first_bucket_ = b;
    counts_.assign(1, 0);
  } else if (b < first_bucket_) {
    counts_.insert(counts_.begin(), first_bucket_ - b, 0);
    if (!high_.empty()) high_.insert(high_.begin(), first_bucket_ - b, 0);
    first_bucket_ = b;
  } else if (b >= first_bucket_ + counts_.size()) {
    counts_.resize(b - first_bucket_ + 1, 0);
    if (!high_.empty()) high_.resize(counts_.size(), 0);
  }
  const size_t offset = b - first_bucket_;
  const uint64_t total = bucket_count(offset) + times;
  counts_[offset] = static_cast<uint16_t>(total);
  const uint64_t high = total - counts_[offset];
  if (high != 0 && high_.empty()) high_.assign(counts_.size(), 0);
  if (!high_.empty()) high_[offset] = high;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.empty()) {
    for (size_t i = 0; i < other.count_; ++i) add(other.samples_[i]);
    return;
  }
  if (counts_.empty()) spill();
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    uint64_t times = other.bucket_count(i);
    if (times != 0) add_to_bucket(other.first_bucket_ + i, times);
  }
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::quantile(double q) const {
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  double value = 0;
  if (counts_.empty()) {
    // At most four samples: the rank-th smallest by counting.
    for (size_t i = 0; i < count_; ++i) {
      size_t smaller = 0, equal_before = 0;
      for (size_t j = 0; j < count_; ++j) {
        smaller += samples_[j] < samples_[i];
        equal_before += j < i && samples_[j] == samples_[i];
      }
      if (smaller + equal_before + 1 == rank) return static_cast<double>(samples_[i]);
    }
  }
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += bucket_count(i);
    if (seen >= rank) {
      value = bucket_midpoint(first_bucket_ + i);
      break;
    }
  }
  return std::clamp(value, static_cast<double>(min_), static_cast<double>(max_));
}

std::optional<uint64_t> parse_latency_with_unit(std::string_view text, int64_t default_unit_us) {
  if (text.empty() || text == "-") return std::nullopt;
  size_t unit = text.size();
  while (unit > 0 && !(text[unit - 1] >= '0' && text[unit - 1] <= '9')) --unit;
  std::string_view suffix = text.substr(unit);
  if (suffix == "ns" || (suffix.empty() && default_unit_us == kLatencyUnitNanos)) {
    // Nanoseconds: whole microseconds, the rest truncated, as for finer fractions.
    auto us = parse_duration(text.substr(0, unit), 1);
    if (!us || *us < 0) return std::nullopt;
    return static_cast<uint64_t>(*us / 1000);
  }
  if (!(suffix.empty() || suffix == "us" || suffix == "\xC2\xB5s" || suffix == "ms" || suffix == "s")) {
    return std::nullopt;
  }
  auto us = parse_duration(text, default_unit_us);
  if (!us || *us < 0) return std::nullopt;
  return static_cast<uint64_t>(*us);
}

}  // namespace opsktl
