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

// Expected instants below were computed with Python's datetime (UTC).

TEST(Timestamp, ParsesNginxErrorLogStamp) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("2016/10/25 14:49:34 [error] 1234#0: *1 open() failed", utc(), out), 19u);
  EXPECT_EQ(out, Micros{1477406974000000});
  EXPECT_FALSE(parse_timestamp("2016/13/25 14:49:34", utc()));
  EXPECT_FALSE(parse_timestamp("2016/10/25", utc()));  // a date without its clock is not this form
}

TEST(Timestamp, ParsesBracketedLog4j) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("[2016-12-19 20:39:48,918] INFO [Kafka Server 0], started", utc(), out),
            25u);
  EXPECT_EQ(out, Micros{1482179988918000});
  EXPECT_FALSE(parse_timestamp("[2016-12-19 20:39:48,918", utc()));
}

TEST(Timestamp, ParsesCtimeAsApacheErrorLogWritesIt) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", utc(), out),
            26u);
  EXPECT_EQ(out, Micros{1133671664000000});
  EXPECT_EQ(parse_timestamp("Sun Dec 04 04:47:44 2005", utc()), Micros{1133671664000000});
  EXPECT_EQ(parse_timestamp("Sun Dec  4 04:47:44 2005", utc()), Micros{1133671664000000});
  EXPECT_EQ(parse_timestamp("[Wed Oct 11 14:32:52.123456 2017]", utc()), Micros{1507732372123456});
  // Found by fuzz_timestamp: an unpadded day made the stamp one byte shorter than the
  // length check allowed, so it parsed only with a byte after it.
  EXPECT_EQ(parse_timestamp("Mon Feb 6 14:52:48 2023", utc()), Micros{1675695168000000});
  EXPECT_FALSE(parse_timestamp("Mon Dec 04 04:47:44 2005", utc()));  // 2005-12-04 was a Sunday
  EXPECT_FALSE(parse_timestamp("Sun Dec 04 24:47:44 2005", utc()));
}

TEST(Timestamp, ParsesTwoDigitYearSlashDate) {
  EXPECT_EQ(parse_timestamp("17/06/09 20:10:40", utc()), Micros{1497039040000000});
  EXPECT_FALSE(parse_timestamp("17/13/09 20:10:40", utc()));
}

TEST(Timestamp, ParsesLogcatWithContextYear) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("03-17 16:13:38.811  1702  2395 D WindowManager: x", utc(2025), out), 18u);
  EXPECT_EQ(out, Micros{1742228018811000});
  EXPECT_TRUE(parse_timestamp("02-29 00:00:00.000", utc(2024)));
  EXPECT_FALSE(parse_timestamp("02-29 00:00:00.000", utc(2025)));
}

TEST(Timestamp, ParsesHdfsCompactDateAndTime) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("081109 203615 148 INFO dfs.DataNode$PacketResponder: x", utc(), out),
            13u);
  EXPECT_EQ(out, Micros{1226262975000000});
  // Two six-digit tokens are this form or nothing, never an epoch.
  EXPECT_EQ(parse_timestamp_prefix("081309 203615 x", utc(), out), 0u);
  EXPECT_EQ(parse_timestamp_prefix("081109 243615 x", utc(), out), 0u);
}

TEST(Timestamp, ParsesCompactDateDashClockWithMillis) {
  EXPECT_EQ(parse_timestamp("20171223-22:15:29:606", utc()), Micros{1514067329606000});
  EXPECT_EQ(parse_timestamp("20171223-22:15:29", utc()), Micros{1514067329000000});
  EXPECT_FALSE(parse_timestamp("20170230-22:15:29:606", utc()));
}

TEST(Timestamp, CommaThenSpaceEndsTheStamp) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("2016-09-28 04:30:30, Info                  CBS    Loaded", utc(), out),
            19u);
  EXPECT_EQ(out, Micros{1475037030000000});
}

TEST(Timestamp, IsoWithSpaceOrCommaBeforeFraction) {
  EXPECT_EQ(parse_timestamp("2015-07-29 19:03:35,413", utc()), Micros{1438196615413000});
  EXPECT_EQ(parse_timestamp("2015-07-29 19:03:35.413", utc()), Micros{1438196615413000});
  EXPECT_EQ(parse_timestamp("2015-07-29T19:03:35,413Z", utc()), Micros{1438196615413000});
}

// A date and a clock separated by a tab (CloudFront, tab-separated exports) are one
// stamp: the date alone used to be read as midnight.
TEST(Timestamp, IsoDateTabClockIsOneStamp) {
  EXPECT_EQ(parse_timestamp("2025-12-19\t10:01:02", utc()), k20251219);
  FieldTimestamp ts = read_field_timestamp("2025-12-19\t10:01:02\tsvc\trestarted", utc());
  EXPECT_EQ(ts.instant, k20251219);
  EXPECT_EQ(ts.bytes, 19u);
  EXPECT_EQ(ts.fields, 2);
}

// Digits followed by '/', '-', ':' or a letter are never epoch seconds: merge used to put
// these lines in 1970.
TEST(Timestamp, DigitsBeforeSlashDashColonOrLetterAreNotAnEpoch) {
  Micros out = 0;
  for (const char* text : {"2016/10/25 [error]", "03-17 x", "20171223-x", "1703000000:", "1703000000abc",
                           "2016/10/25", "12:00", "42x restarted", "17/06/09 x"}) {
    EXPECT_EQ(parse_timestamp_prefix(text, utc(), out), 0u) << text;
  }
}

TEST(Timestamp, EpochIsAWholeTokenOfPlausibleLength) {
  Micros out = 0;
  EXPECT_EQ(parse_timestamp_prefix("1703000000 nginx restarted", utc(), out), 10u);
  EXPECT_EQ(parse_timestamp_prefix("1703000000,next", utc(), out), 10u);
  EXPECT_EQ(parse_timestamp_prefix("[1703000000] x", utc(), out), 12u);
  EXPECT_FALSE(parse_timestamp("170300000012", utc()));    // 12 digits
  EXPECT_FALSE(parse_timestamp("17030000001234", utc()));  // 14 digits
  EXPECT_FALSE(parse_timestamp("1703000000123.5x", utc()));
  EXPECT_FALSE(parse_timestamp("1703000000123456.5", utc()));  // microseconds take no fraction
}

TEST(Timestamp, InlineFastPathsAgreeWithTheReader) {
  Micros fast = 0, slow = 0;
  for (const char* text : {"1703000000", "1703000000 x", "1703000000\tx", "1703000000\r"}) {
    ASSERT_TRUE(read_epoch_seconds10(text, fast)) << text;
    ASSERT_EQ(parse_timestamp_prefix(text, utc(), slow), 10u) << text;
    EXPECT_EQ(fast, slow) << text;
  }
  for (const char* text : {"170300000", "17030000001", "1703000000/", "1703000000:", "170300000x"}) {
    EXPECT_FALSE(read_epoch_seconds10(text, fast)) << text;
  }
}

TEST(Timestamp, FieldTimestampCountsTheFieldsItCovers) {
  FieldTimestamp ts = read_field_timestamp("2015-07-29 19:03:35,413 nginx restarted", utc());
  EXPECT_EQ(ts.bytes, 23u);
  EXPECT_EQ(ts.fields, 2);
  EXPECT_EQ(ts.instant, Micros{1438196615413000});
  ts = read_field_timestamp("Dec  9 10:01:02 host", utc());
  EXPECT_EQ(ts.fields, 3);
  ts = read_field_timestamp("[Sun Dec 04 04:47:44 2005] [error]", utc());
  EXPECT_EQ(ts.fields, 5);
  ts = read_field_timestamp("1703000000 x", utc());
  EXPECT_EQ(ts.fields, 1);
  // A field timestamp ends its field, or all of it but a closing mark.
  ts = read_field_timestamp("2016-09-28 04:30:30, Info", utc());
  EXPECT_EQ(ts.bytes, 19u);
  EXPECT_EQ(ts.fields, 2);
  EXPECT_EQ(read_field_timestamp("2016-09-28 04:30:30,x Info", utc()).bytes, 0u);
  EXPECT_EQ(read_field_timestamp("1703000000, x", utc()).bytes, 10u);
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

TEST(Duration, RefusesWhatDoesNotFitIn64BitsOfMicroseconds) {
  // 106751991 days is just under 2^63 microseconds (9223372022400000000 of 9223372036854775807);
  // a fraction of .9 day (77760000000) takes it past: refused, not wrapped to a negative.
  EXPECT_EQ(parse_duration("106751991d", kS), int64_t{106751991} * 86400 * kS);
  EXPECT_FALSE(parse_duration("106751991.9d", kS));
  EXPECT_FALSE(parse_duration("106751992d", kS));
  EXPECT_FALSE(parse_time_bound("-106751991.9d", utc(), 0));
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
