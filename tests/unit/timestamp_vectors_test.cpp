// The timestamp parser against vectors computed independently with Python's datetime
// (gen_timestamp_vectors.py), and against every line of real logs in testdata/realdata.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "opsktl/timestamp.hpp"

namespace opsktl {
namespace {

TEST(TimestampVectors, AgreeWithPythonDatetime) {
  std::ifstream in(OPSKTL_TIMESTAMP_VECTORS);
  ASSERT_TRUE(in) << OPSKTL_TIMESTAMP_VECTORS;
  std::string line;
  size_t checked = 0, invalid = 0;
  while (std::getline(in, line)) {
    size_t tab1 = line.find('\t');
    size_t tab2 = line.find('\t', tab1 + 1);
    ASSERT_NE(tab2, std::string::npos) << line;
    int year = std::stoi(line.substr(0, tab1));
    std::string text = line.substr(tab1 + 1, tab2 - tab1 - 1);
    std::string expected = line.substr(tab2 + 1);
    auto got = parse_timestamp(text, TimeContext{year, 0});
    if (expected == "-") {
      EXPECT_FALSE(got.has_value()) << text << " parsed as " << *got;
      ++invalid;
    } else {
      ASSERT_TRUE(got.has_value()) << text;
      EXPECT_EQ(*got, std::stoll(expected)) << text;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 1080u);
  EXPECT_GT(invalid, 50u);
}

// Real logs in testdata/realdata (sources and licences in its README.md): every line that
// starts with a timestamp is read, and the instants agree with Python's datetime
// (first, last, and their sum modulo 1000000007 as a checksum of all of them).
struct RealLog {
  const char* file;
  size_t lines, stamped;
  Micros first, last;
  int64_t checksum;
};

TEST(TimestampVectors, EveryStampedLineOfRealLogsIsRead) {
  const RealLog logs[] = {
      {"auth.log", 300, 300, 1743099248000000, 1743147390000000, 134423661},
      {"nginx_error.log", 6, 4, 1477406974000000, 1572965444000000, 413298201},
      {"apache_error.log", 7, 7, 1482769073000000, 1482769337000000, 976344312},
      {"apache_error_mixed.log", 3, 3, 1482769328000000, 1315564949902022, 203038087},
      {"kafka_server.log", 20, 20, 1501843700377000, 1501843701167000, 803824889},
  };
  for (const RealLog& log : logs) {
    std::ifstream in(std::string(OPSKTL_REALDATA) + "/" + log.file);
    ASSERT_TRUE(in) << log.file;
    std::string line;
    size_t lines = 0, stamped = 0;
    Micros first = 0, last = 0;
    int64_t checksum = 0;
    while (std::getline(in, line)) {
      ++lines;
      Micros ts = 0;
      size_t n = parse_timestamp_prefix(line, TimeContext{2025, 0}, ts);
      if (n == 0) continue;
      ASSERT_EQ(line[n], ' ') << log.file << ": " << line;
      if (stamped++ == 0) first = ts;
      last = ts;
      checksum = (checksum + ts % 1000000007) % 1000000007;
    }
    EXPECT_EQ(lines, log.lines) << log.file;
    EXPECT_EQ(stamped, log.stamped) << log.file;
    EXPECT_EQ(first, log.first) << log.file;
    EXPECT_EQ(last, log.last) << log.file;
    EXPECT_EQ(checksum, log.checksum) << log.file;
  }
}

// Found by fuzz_timestamp: a half-read clock after a date leaked its hour into the date.
TEST(TimestampReview, DateFollowedByANumberIsMidnight) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("2100-02-28 20 x", TimeContext{}, out), 10u);
  EXPECT_EQ(out, parse_timestamp("2100-02-28T00:00:00Z", TimeContext{}));
}

// Found by fuzz_timestamp: a 20-digit number overflowed int64 (undefined behaviour).
TEST(TimestampReview, LongDigitRunsAreRejected) {
  EXPECT_FALSE(parse_timestamp("99881348001348990099", TimeContext{}));
}

TEST(TimestampReview, SyslogDayWithoutPadding) {
  EXPECT_EQ(parse_timestamp("Dec 9 10:01:02", TimeContext{2025, 0}),
            parse_timestamp("2025-12-09T10:01:02Z", TimeContext{}));
  EXPECT_FALSE(parse_timestamp("Dec 9 10:01", TimeContext{2025, 0}));
}

// "1099511627776d" used to overflow int64 (undefined behaviour) instead of failing.
TEST(TimestampReview, HugeDurationsAreRejectedNotOverflowed) {
  EXPECT_FALSE(parse_duration("1099511627776d", 1000));
  EXPECT_FALSE(parse_time_bound("-1099511627776d", TimeContext{}, 1766138462000000));
  EXPECT_EQ(parse_duration("1099511627776us", 1000), int64_t{1099511627776});
}

}  // namespace
}  // namespace opsktl
