#include "opsktl/timestamp.hpp"

#include <gtest/gtest.h>

namespace opsktl {
namespace {

constexpr Micros kS = kMicrosPerSecond;
// 2025-12-19T10:01:02Z
constexpr Micros k20251219 = 1766138462 * kS;

TimeContext utc(int year = 2025) { return TimeContext{year, 0}; }

TEST(Timestamp, ParsesEpochSeconds) {
  EXPECT_EQ(parse_timestamp("1703000000", utc()), 1703000000 * kS);
  EXPECT_EQ(parse_timestamp("0", utc()), 0);
}

TEST(Timestamp, ParsesFractionalEpochSeconds) {
  EXPECT_EQ(parse_timestamp("1703000000.25", utc()), 1703000000 * kS + 250000);
  EXPECT_EQ(parse_timestamp("1703000000.1234567", utc()), 1703000000 * kS + 123456);
}

TEST(Timestamp, ParsesEpochMillisAndMicros) {
  EXPECT_EQ(parse_timestamp("1703000000123", utc()), 1703000000 * kS + 123000);
  EXPECT_EQ(parse_timestamp("1703000000123456", utc()), 1703000000 * kS + 123456);
}

TEST(Timestamp, ParsesRfc3339) {
  EXPECT_EQ(parse_timestamp("2025-12-19T10:01:02Z", utc()), k20251219);
  EXPECT_EQ(parse_timestamp("2025-12-19T10:01:02.5Z", utc()), k20251219 + 500000);
  EXPECT_EQ(parse_timestamp("2025-12-19T11:01:02+01:00", utc()), k20251219);
  EXPECT_EQ(parse_timestamp("2025-12-19T05:31:02-0430", utc()), k20251219);
  EXPECT_EQ(parse_timestamp("2025-12-19 10:01:02", utc()), k20251219);
}

TEST(Timestamp, ZonelessFormsUseTheContextOffset) {
  TimeContext plus_one{2025, 3600};
  EXPECT_EQ(parse_timestamp("2025-12-19 11:01:02", plus_one), k20251219);
  EXPECT_EQ(parse_timestamp("2025-12-19T10:01:02Z", plus_one), k20251219);
}

TEST(Timestamp, ParsesLog4jCommaFraction) {
  EXPECT_EQ(parse_timestamp("2025-12-19 10:01:02,123", utc()), k20251219 + 123000);
}

TEST(Timestamp, ParsesClf) {
  EXPECT_EQ(parse_timestamp("19/Dec/2025:10:01:02 +0000", utc()), k20251219);
  EXPECT_EQ(parse_timestamp("[19/Dec/2025:11:01:02 +0100]", utc()), k20251219);
}

TEST(Timestamp, ParsesSyslogWithContextYear) {
  EXPECT_EQ(parse_timestamp("Dec 19 10:01:02", utc(2025)), k20251219);
  EXPECT_EQ(parse_timestamp("Dec  9 10:01:02", utc(2025)), k20251219 - 10 * 86400 * kS);
}

TEST(Timestamp, RejectsInvalidCalendarDates) {
  EXPECT_FALSE(parse_timestamp("2025-13-01T00:00:00Z", utc()));
  EXPECT_FALSE(parse_timestamp("2025-02-30T00:00:00Z", utc()));
  EXPECT_FALSE(parse_timestamp("2025-02-29T00:00:00Z", utc()));
  EXPECT_TRUE(parse_timestamp("2024-02-29T00:00:00Z", utc()));
  EXPECT_FALSE(parse_timestamp("2025-12-19T24:00:00Z", utc()));
  EXPECT_FALSE(parse_timestamp("Feb 30 10:00:00", utc()));
  EXPECT_FALSE(parse_timestamp("32/Dec/2025:10:01:02 +0000", utc()));
}

TEST(Timestamp, RejectsGarbage) {
  for (const char* text : {"", "x", "17030001x3", "12345678901234", "2025-12-19T10:01", "-", "2025/12/19",
                           "Dex 19 10:01:02", "1703000000."}) {
    EXPECT_FALSE(parse_timestamp(text, utc())) << text;
  }
}

TEST(Timestamp, PrefixReportsConsumedBytes) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("1703000000 nginx restarted", utc(), out), 10u);
  EXPECT_EQ(out, 1703000000 * kS);
  EXPECT_EQ(parse_timestamp_prefix("Dec 19 10:01:02 host sshd[1]: x", utc(), out), 15u);
  EXPECT_EQ(out, k20251219);
  EXPECT_EQ(parse_timestamp_prefix("  at java.lang.Thread.run", utc(), out), 0u);
}

TEST(Timestamp, AgreesWithDaysFromCivilAcrossYears) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
}

TEST(Duration, AcceptsUnits) {
  EXPECT_EQ(parse_duration("600", kS), 600 * kS);
  EXPECT_EQ(parse_duration("600s", kS), 600 * kS);
  EXPECT_EQ(parse_duration("10m", kS), 600 * kS);
  EXPECT_EQ(parse_duration("1h", kS), 3600 * kS);
  EXPECT_EQ(parse_duration("1.5h", kS), 5400 * kS);
  EXPECT_EQ(parse_duration("250ms", kS), 250000);
  EXPECT_EQ(parse_duration("850us", kS), 850);
  EXPECT_EQ(parse_duration("850\xC2\xB5s", kS), 850);
  EXPECT_EQ(parse_duration("12.5", 1000), 12500);
}

TEST(Duration, RejectsOtherForms) {
  for (const char* text : {"", "10 minutes", "-5s", "s", "5x", "1.", ".5"}) {
    EXPECT_FALSE(parse_duration(text, kS)) << text;
  }
}

TEST(TimeBound, AcceptsRelativeAndAbsolute) {
  EXPECT_EQ(parse_time_bound("-15m", utc(), 1000 * kS), 100 * kS);
  EXPECT_EQ(parse_time_bound("2025-12-19T10:01:02Z", utc(), 0), k20251219);
  EXPECT_FALSE(parse_time_bound("yesterday", utc(), 0));
}

TEST(UtcOffset, AcceptsUtcAndFixedOffsets) {
  EXPECT_EQ(parse_utc_offset("UTC"), 0);
  EXPECT_EQ(parse_utc_offset("+01:00"), 3600);
  EXPECT_EQ(parse_utc_offset("-0530"), -(5 * 3600 + 30 * 60));
  EXPECT_FALSE(parse_utc_offset("Europe/Paris"));
}

}  // namespace
}  // namespace opsktl
