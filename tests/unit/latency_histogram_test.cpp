#include "opsktl/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace opsktl {
namespace {

// The exact nearest-rank quantile, as the histogram defines it.
double exact_quantile(std::vector<uint64_t> values, double q) {
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return static_cast<double>(values[rank - 1]);
}

TEST(LatencyHistogram, FewSamplesAreExact) {
  LatencyHistogram h;
  h.add(120000);
  EXPECT_EQ(h.quantile(0.5), 120000);
  h.add(20000);
  h.add(70000);
  EXPECT_EQ(h.quantile(0.5), 70000);
  EXPECT_EQ(h.quantile(0.99), 120000);
}

TEST(LatencyHistogram, EqualValuesGiveThatValue) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.add(123456);
  EXPECT_EQ(h.quantile(0.5), 123456);
  EXPECT_EQ(h.quantile(0.99), 123456);
}

TEST(LatencyHistogram, WithinOnePercentOfExactOnLognormalData) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(50000.0), 1.2);
  for (int n : {5, 17, 1000, 100000}) {
    LatencyHistogram h;
    std::vector<uint64_t> values;
    for (int i = 0; i < n; ++i) {
      auto v = static_cast<uint64_t>(dist(rng));
      values.push_back(v);
      h.add(v);
    }
    for (double q : {0.01, 0.5, 0.9, 0.99, 1.0}) {
      double exact = exact_quantile(values, q);
      EXPECT_LE(std::fabs(h.quantile(q) - exact), exact * 0.01) << "n=" << n << " q=" << q;
    }
  }
}

TEST(LatencyHistogram, BucketMidpointsAreWithinBound) {
  for (uint64_t v = 1; v < (uint64_t{1} << 40); v = v * 3 / 2 + 1) {
    double mid = LatencyHistogram::bucket_midpoint(LatencyHistogram::bucket_of(v));
    EXPECT_LE(std::fabs(mid - static_cast<double>(v)), static_cast<double>(v) / 128 + 0.5) << v;
  }
}

TEST(LatencyHistogram, MergeEqualsAddingEverything) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<uint64_t> dist(1, 5000000);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 3000; ++i) {
    uint64_t v = dist(rng);
    (i % 3 == 0 ? a : b).add(v);
    all.add(v);
  }
  LatencyHistogram small;
  small.add(42);
  a.merge(b);
  a.merge(small);
  all.add(42);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {0.5, 0.99}) EXPECT_EQ(a.quantile(q), all.quantile(q));
}

TEST(ParseLatency, AcceptsUnitsAndDefault) {
  EXPECT_EQ(parse_latency("120", 1000), 120000u);
  EXPECT_EQ(parse_latency("12.5ms", 1000), 12500u);
  EXPECT_EQ(parse_latency("0.120s", 1000), 120000u);
  EXPECT_EQ(parse_latency("850us", 1000), 850u);
  EXPECT_EQ(parse_latency("850\xC2\xB5s", 1000), 850u);
  EXPECT_EQ(parse_latency("0.120", 1000000), 120000u);
}

TEST(ParseLatency, AbsentOrInvalidIsNullopt) {
  for (const char* text : {"", "-", "fast", "10m", "1h", "-5"})
    EXPECT_FALSE(parse_latency(text, 1000)) << text;
}

}  // namespace
}  // namespace opsktl
