// The timestamp parser against vectors computed independently with Python's datetime
// (gen_timestamp_vectors.py), and against every line of a real syslog file.
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
  EXPECT_EQ(checked, 600u);
  EXPECT_GT(invalid, 50u);
}

// /work/shared/realdata/syslog_auth.log: 7,121 lines from Mar 27 to Apr ... of one year.
TEST(TimestampVectors, EveryLineOfARealSyslogFileHasATimestamp) {
  std::ifstream in(std::string(OPSKTL_REALDATA) + "/syslog_auth.log");
  if (!in) GTEST_SKIP() << "realdata not found";
  std::string line;
  size_t lines = 0;
  Micros first = 0, last = 0;
  while (std::getline(in, line)) {
    Micros ts = 0;
    size_t n = parse_timestamp_prefix(line, TimeContext{2025, 0}, ts);
    ASSERT_GT(n, 0u) << line;
    ASSERT_EQ(line[n], ' ') << line;
    if (lines == 0) first = ts;
    last = ts;
    ++lines;
  }
  EXPECT_EQ(lines, 7121u);
  EXPECT_EQ(first, parse_timestamp("2025-03-27T13:06:56Z", TimeContext{}));
  EXPECT_GT(last, first);
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
