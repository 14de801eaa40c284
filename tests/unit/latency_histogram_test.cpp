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

// A bucket counter is 16 bits; counts past 65,535 carry into a second array. Values 1
// and 1000 sit in different buckets, so the median moves from 1 to 1000 exactly when the
// count of 1000s passes the count of 1s: off by a lost carry, it would not.
TEST(LatencyHistogram, CountsPastSixteenBitsAreKept) {
  LatencyHistogram h;
  const int ones = 3 * 65536 + 5;
  for (int i = 0; i < ones; ++i) h.add(1);
  for (int i = 0; i < ones - 1; ++i) h.add(1000);
  EXPECT_EQ(h.count(), uint64_t{2 * ones - 1});
  EXPECT_EQ(h.quantile(0.5), 1);  // rank `ones`: the last 1
  h.add(1000);
  h.add(1000);
  EXPECT_NEAR(h.quantile(0.5), 1000, 10);  // rank ones + 1: the first 1000
  // The span grows below and above after the carry array exists.
  h.add(0);
  h.add(5000000);
  EXPECT_EQ(h.quantile(1.0), 5000000);
  EXPECT_EQ(h.count(), uint64_t{2 * ones + 3});
}

TEST(LatencyHistogram, MergeCarriesPastSixteenBits) {
  LatencyHistogram a, b, all;
  for (int i = 0; i < 70000; ++i) {
    a.add(40);
    b.add(40);
    all.add(40);
    all.add(40);
  }
  for (int i = 0; i < 139999; ++i) {
    b.add(900);
    all.add(900);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {0.25, 0.5, 0.50001, 0.75, 1.0}) EXPECT_EQ(a.quantile(q), all.quantile(q)) << q;
  EXPECT_EQ(a.quantile(0.5), 40);  // 140,000 of 279,999 values are 40
  EXPECT_NEAR(a.quantile(0.50001), 900, 9);
}

TEST(ParseLatency, AcceptsUnitsAndDefault) {
  EXPECT_EQ(parse_latency("120", 1000), 120000u);
  EXPECT_EQ(parse_latency("12.5ms", 1000), 12500u);
  EXPECT_EQ(parse_latency("0.120s", 1000), 120000u);
  EXPECT_EQ(parse_latency("850us", 1000), 850u);
  EXPECT_EQ(parse_latency("850\xC2\xB5s", 1000), 850u);
  EXPECT_EQ(parse_latency("0.120", 1000000), 120000u);
}

// The word-at-a-time parse must agree with the plain one on every input: digits of
// every length (with leading zeros), and digit runs broken by one byte of any value, in
// a buffer whose following bytes are random.
TEST(ParseLatency, PaddedAgreesWithPlain) {
  std::mt19937_64 rng(11);
  std::string buffer(64, ' ');
  for (int round = 0; round < 200000; ++round) {
    size_t size = rng() % 14;
    std::string text;
    for (size_t i = 0; i < size; ++i) text.push_back(static_cast<char>('0' + rng() % 10));
    if (size > 0 && round % 3 == 0) text[rng() % size] = static_cast<char>(rng());
    if (round % 50 == 0) text = std::to_string(rng() % 100000000) + "ms";
    for (auto& c : buffer) c = static_cast<char>(rng());
    buffer.replace(0, text.size(), text);
    std::string_view field(buffer.data(), text.size());
    for (int64_t unit : {1, 1000}) {
      ASSERT_EQ(parse_latency_padded(field, unit), parse_latency(text, unit))
          << "'" << text << "' unit " << unit;
    }
  }
  EXPECT_EQ(parse_latency_padded(std::string_view("12345678        ", 8), 1), 12345678u);
  EXPECT_EQ(parse_latency_padded(std::string_view("007     ", 3), 1000), 7000u);
  EXPECT_EQ(parse_latency_padded(std::string_view("1:3     ", 3), 1), std::nullopt);
}

TEST(ParseLatency, AbsentOrInvalidIsNullopt) {
  for (const char* text : {"", "-", "fast", "10m", "1h", "-5"})
    EXPECT_FALSE(parse_latency(text, 1000)) << text;
}

}  // namespace
}  // namespace opsktl
