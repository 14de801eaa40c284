#include "opsktl/flapping.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

constexpr Micros kSec = kMicrosPerSecond;

struct Recorded {
  std::string service;
  Micros a = 0, b = 0;
  uint64_t c = 0, d = 0;
  bool operator==(const Recorded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Recorded& r) {
  return os << "{" << r.service << " " << r.a << " " << r.b << " " << r.c << " " << r.d << "}";
}

class RecordingSink : public FlappingSink {
 public:
  void alert(const FlappingAlert& a) override {
    alerts.push_back({std::string(a.service), a.ts, 0, a.count, 0});
  }
  void episode(const FlappingEpisode& e) override {
    episodes.push_back({std::string(e.service), e.start, e.end, e.restarts, e.peak});
  }
  void late(const std::string& where) override { lates.push_back(where); }
  std::vector<Recorded> alerts, episodes;
  std::vector<std::string> lates;
};

// Feeds (service, seconds) restarts to a fresh detector and returns what it reported.
RecordingSink run(uint64_t n, Micros window, AlertMode mode,
                  const std::vector<std::pair<std::string, Micros>>& restarts) {
  RecordingSink sink;
  FlappingDetector detector(n, window, mode, true, sink);
  for (const auto& [service, seconds] : restarts) detector.add_restart(service, seconds * kSec);
  detector.finish();
  return sink;
}

Recorded alert(const std::string& service, Micros seconds, uint64_t count) {
  return {service, seconds * kSec, 0, count, 0};
}
Recorded episode(const std::string& service, Micros start, Micros end, uint64_t restarts, uint64_t peak) {
  return {service, start * kSec, end * kSec, restarts, peak};
}

TEST(FlappingWindow, IncludesBothEnds) {
  // Four restarts 200 s apart: the 4th is exactly 600 s after the 1st.
  auto sink = run(3, 600 * kSec, AlertMode::kEvery, {{"a", 0}, {"a", 200}, {"a", 400}, {"a", 600}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 600, 4)}));
}

TEST(FlappingWindow, ExcludesRestartOneMicrosecondTooOld) {
  RecordingSink sink;
  FlappingDetector detector(3, 600 * kSec, AlertMode::kEvery, true, sink);
  detector.add_restart("a", 0);
  detector.add_restart("a", 200 * kSec);
  detector.add_restart("a", 400 * kSec);
  detector.add_restart("a", 600 * kSec + 1);
  EXPECT_TRUE(sink.alerts.empty());
}

TEST(FlappingWindow, ThresholdIsExceededNotReached) {
  auto sink = run(3, 600 * kSec, AlertMode::kEvery, {{"a", 1}, {"a", 2}, {"a", 3}});
  EXPECT_TRUE(sink.alerts.empty());
}

TEST(FlappingWindow, EqualTimestampsAllCount) {
  auto sink = run(2, 600 * kSec, AlertMode::kEvery, {{"a", 5}, {"a", 5}, {"a", 5}, {"a", 5}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 5, 3), alert("a", 5, 4)}));
}

TEST(FlappingWindow, EqualTimestampIsNotLate) {
  RecordingSink sink;
  FlappingDetector detector(3, 600 * kSec, AlertMode::kEvery, true, sink);
  EXPECT_TRUE(detector.add_restart("a", 10 * kSec));
  EXPECT_TRUE(detector.add_restart("a", 10 * kSec));
  EXPECT_FALSE(detector.add_restart("a", 9 * kSec));
  EXPECT_EQ(detector.restarts(), 2u);
}

TEST(FlappingWindow, ZeroMaxRestartsAlertsOnEveryRestart) {
  auto sink = run(0, 600 * kSec, AlertMode::kEvery, {{"a", 0}, {"a", 1000}, {"b", 1000}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 0, 1), alert("a", 1000, 1), alert("b", 1000, 1)}));
}

TEST(FlappingWindow, ZeroMaxRestartsMakesOneEpisodePerService) {
  auto sink = run(0, 10 * kSec, AlertMode::kEpisode, {{"a", 0}, {"a", 1000}, {"a", 5000}});
  EXPECT_EQ(sink.episodes, (std::vector<Recorded>{episode("a", 0, 5000, 3, 1)}));
}

TEST(FlappingWindow, ZeroWindowCountsOnlyEqualTimes) {
  auto sink = run(1, 0, AlertMode::kEvery, {{"a", 1}, {"a", 2}, {"a", 2}, {"a", 3}, {"a", 3}, {"a", 3}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 2, 2), alert("a", 3, 2), alert("a", 3, 3)}));
}

TEST(FlappingWindow, ServicesInterleavedAreCountedApart) {
  auto sink = run(2, 600 * kSec, AlertMode::kEvery,
                  {{"a", 0}, {"b", 1}, {"a", 2}, {"b", 3}, {"a", 4}, {"c", 5}, {"b", 6}, {"a", 700}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 4, 3), alert("b", 6, 3)}));
}

TEST(FlappingWindow, SlidingWindowDropsOldRestarts) {
  // At 151 the window [51, 151] has lost 0 and 50; at 300 it holds only 300.
  auto sink = run(2, 100 * kSec, AlertMode::kEvery,
                  {{"a", 0}, {"a", 50}, {"a", 100}, {"a", 150}, {"a", 151}, {"a", 152}, {"a", 300}});
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{alert("a", 100, 3), alert("a", 150, 3), alert("a", 151, 3),
                                                alert("a", 152, 4)}));
}

TEST(FlappingEpisode, GroupsConsecutiveAlerts) {
  // Alerts at 100 (3), 150 (3), 151 (3), 152 (4); 300 does not alert and ends the
  // episode, whose start is the earliest restart in the window of its first alert.
  auto sink = run(2, 100 * kSec, AlertMode::kEpisode,
                  {{"a", 0},
                   {"a", 50},
                   {"a", 100},
                   {"a", 150},
                   {"a", 151},
                   {"a", 152},
                   {"a", 300},
                   {"a", 301},
                   {"a", 302}});
  EXPECT_EQ(sink.episodes, (std::vector<Recorded>{episode("a", 0, 152, 6, 4), episode("a", 300, 302, 3, 3)}));
}

TEST(FlappingEpisode, OrderedByEndThenService) {
  auto sink = run(1, 10 * kSec, AlertMode::kEpisode,
                  {{"b", 0}, {"b", 1}, {"a", 0}, {"a", 1}, {"c", 0}, {"c", 5}, {"c", 6}, {"c", 100}});
  EXPECT_EQ(sink.episodes, (std::vector<Recorded>{episode("a", 0, 1, 2, 2), episode("b", 0, 1, 2, 2),
                                                  episode("c", 0, 6, 3, 3)}));
}

TEST(FlappingEpisode, ClosedByTimeInFollowMode) {
  RecordingSink sink;
  FlappingDetector detector(1, 10 * kSec, AlertMode::kEpisode, false, sink);
  detector.add_restart("a", 0);
  detector.add_restart("a", 5 * kSec);
  detector.close_episodes_before(15 * kSec);  // a restart at 15 s still sees the one at 5 s
  EXPECT_TRUE(sink.episodes.empty());
  detector.close_episodes_before(15 * kSec + 1);
  EXPECT_EQ(sink.episodes, (std::vector<Recorded>{episode("a", 0, 5, 2, 2)}));
}

TEST(FlappingMemory, QuietServiceStoresNoRestartTimes) {
  RecordingSink sink;
  FlappingDetector detector(3, 600 * kSec, AlertMode::kEpisode, true, sink);
  for (int i = 0; i < 1000; ++i) detector.add_restart("quiet", i * 1000 * kSec);
  EXPECT_EQ(detector.stored_restarts(), 0u);
}

TEST(FlappingMemory, BurstIsReleasedOnceItsWindowEmpties) {
  RecordingSink sink;
  FlappingDetector detector(3, 600 * kSec, AlertMode::kEpisode, true, sink);
  for (int i = 0; i < 500; ++i) detector.add_restart("burst", i * kSec);
  EXPECT_EQ(detector.stored_restarts(), 499u);
  detector.add_restart("burst", 5000 * kSec);
  EXPECT_EQ(detector.stored_restarts(), 0u);
}

// ---- detect_flapping over files ----

FlappingResult detect_file(const std::string& content, FlappingOptions options, RecordingSink& sink) {
  test::TempDir dir;
  std::string path = dir.file("events.log");
  test::write_file(path, content);
  options.inputs = {path};
  options.log_format.format = LogFormat::kFields;
  options.log_format.positions = {1, 2, 0, 0, 0, 3, 0, 0};
  FlappingResult result = detect_flapping(options, sink);
  for (auto& a : sink.alerts) a.a /= kSec;
  return result;
}

TEST(DetectFlapping, EventIsCaseInsensitiveWholeField) {
  RecordingSink sink;
  FlappingOptions options;
  options.alerts = AlertMode::kEvery;
  options.max_restarts = 1;
  auto result = detect_file("1 a RESTARTED\n2 a restarted-ish\n3 a Restarted\n", options, sink);
  EXPECT_EQ(result.restarts, 2u);
  EXPECT_EQ(sink.alerts.size(), 1u);
}

TEST(DetectFlapping, EventRegexSearchesToEndOfLineInFields) {
  RecordingSink sink;
  FlappingOptions options;
  options.alerts = AlertMode::kEvery;
  options.max_restarts = 0;
  options.event_regex = "Scheduled restart";
  auto result = detect_file("1 nginx nginx.service: Scheduled restart job, counter 3.\n2 nginx started\n",
                            options, sink);
  EXPECT_EQ(result.restarts, 1u);
}

TEST(DetectFlapping, LateRestartIsSkippedAndReportedOnce) {
  RecordingSink sink;
  FlappingOptions options;
  auto result = detect_file("10 a restarted\n5 a restarted\n4 a restarted\n3 b restarted\n", options, sink);
  EXPECT_EQ(result.late, 2u);
  EXPECT_EQ(result.restarts, 2u);
  ASSERT_EQ(sink.lates.size(), 1u);
  EXPECT_TRUE(sink.lates[0].ends_with("events.log:2"));
}

TEST(DetectFlapping, ReorderPlacesLateRestarts) {
  RecordingSink sink;
  FlappingOptions options;
  options.alerts = AlertMode::kEvery;
  options.max_restarts = 2;
  options.window = 10 * kSec;
  options.reorder = 5 * kSec;
  auto result = detect_file("10 a restarted\n6 a restarted\n8 a restarted\n30 a restarted\n", options, sink);
  EXPECT_EQ(result.late, 0u);
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{{"a", 10, 0, 3, 0}}));
}

TEST(DetectFlapping, ReorderBeyondItsDurationIsStillLate) {
  RecordingSink sink;
  FlappingOptions options;
  options.reorder = 5 * kSec;
  // 30 releases 10 and 20 (at least 5 s older); 12 then comes after 20.
  auto result =
      detect_file("10 a restarted\n20 a restarted\n30 a restarted\n12 a restarted\n", options, sink);
  EXPECT_EQ(result.late, 1u);
}

// Lines shorter than 64 bytes in the default fields layout are split from one bit mask of
// their separators; leading blanks that push a line past 64 bytes send the same fields
// through the general parser. Both must agree on random streams with malformed lines
// (missing fields, bad and non-epoch timestamps), late restarts, tabs, inner '\r',
// CRLF, any-case events and lines on both sides of 64 bytes.
TEST(DetectFlapping, ShortLineSplitAgreesWithTheGeneralParser) {
  std::mt19937 random(7);
  auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
  for (int round = 0; round < 40; ++round) {
    std::string short_lines, long_lines;
    int64_t t = 1703000000;
    for (int i = 0; i < 200; ++i) {
      t += static_cast<int64_t>(random() % 4) - (random() % 10 == 0 ? 5 : 0);  // some late
      std::string ts = random() % 12 == 0 ? pick({"999999999", "17030001x3", "2023-12-19T15:33:20Z",
                                                  "1703000000.5", "+1703000000", "17030000000"})
                                          : std::to_string(t);
      std::string sep = pick({" ", " ", "\t", "  ", " \r "});
      std::string line = ts + sep + pick({"a", "b", "svc-with-a-longer-name"});
      if (random() % 15 != 0)
        line += sep + pick({"restarted", "restarted", "Restarted", "RESTARTED", "started", "restartedx"});
      if (random() % 3 == 0) line += " " + std::string(random() % 50, 'm');
      if (random() % 20 == 0) line = pick({"", " ", "\t"});
      std::string ending = random() % 10 == 0 ? "\r\n" : "\n";
      short_lines += line + ending;
      long_lines +=
          (line.find_first_not_of(" \t") == std::string::npos ? line : std::string(64, ' ') + line) + ending;
    }
    for (AlertMode mode : {AlertMode::kEvery, AlertMode::kEpisode}) {
      FlappingOptions options;
      options.alerts = mode;
      options.max_restarts = 1;
      options.window = 5 * kSec;
      options.reorder = round % 2 == 0 ? 0 : 2 * kSec;
      RecordingSink a, b;
      auto ra = detect_file(short_lines, options, a);
      auto rb = detect_file(long_lines, options, b);
      EXPECT_EQ(a.alerts, b.alerts) << "round " << round;
      EXPECT_EQ(a.episodes, b.episodes) << "round " << round;
      // Each run has its own temporary directory: compare "events.log:LINE".
      auto where = [](std::string path) { return path.substr(path.rfind('/') + 1); };
      ASSERT_EQ(a.lates.size(), b.lates.size());
      for (size_t i = 0; i < a.lates.size(); ++i) EXPECT_EQ(where(a.lates[i]), where(b.lates[i]));
      EXPECT_EQ(ra.lines, rb.lines);
      EXPECT_EQ(ra.malformed, rb.malformed);
      EXPECT_EQ(where(ra.first_malformed), where(rb.first_malformed));
      EXPECT_EQ(ra.first_malformed_reason, rb.first_malformed_reason);
      EXPECT_EQ(ra.malformed_reasons.by_reason, rb.malformed_reasons.by_reason);
      EXPECT_EQ(ra.malformed_reasons.total(), ra.malformed);
      EXPECT_EQ(ra.late, rb.late);
      EXPECT_EQ(where(ra.first_late), where(rb.first_late));
      EXPECT_EQ(ra.restarts, rb.restarts);
      EXPECT_GT(ra.malformed, 0u);
      EXPECT_GT(ra.restarts, 0u);
    }
  }
}

// The short-line split on hand-checked lines: tab and '\r' separate fields, a line of 63
// bytes and one of 64 give the same fields, and too few fields are malformed.
TEST(DetectFlapping, ShortLinesSplitAtSpacesTabsAndCarriageReturns) {
  RecordingSink sink;
  FlappingOptions options;
  options.alerts = AlertMode::kEvery;
  options.max_restarts = 2;
  std::string filler63 = "1703000003 a restarted " + std::string(63 - 23, 'z');
  std::string filler64 = "1703000004 a restarted " + std::string(64 - 23, 'z');
  ASSERT_EQ(filler63.size(), 63u);
  auto result = detect_file(
      "1703000000\ta\trestarted\n1703000001 a\rrestarted\n1703000002 a\n" + filler63 + "\n" + filler64 + "\n",
      options, sink);
  EXPECT_EQ(result.lines, 5u);
  EXPECT_EQ(result.malformed, 1u);
  EXPECT_TRUE(result.first_malformed.ends_with("events.log:3"));
  // detect_file gives alert times in seconds.
  EXPECT_EQ(sink.alerts, (std::vector<Recorded>{{"a", 1703000003, 0, 3, 0}, {"a", 1703000004, 0, 4, 0}}));
}

// Everything a run reports, with input paths cut to their base names.
struct RunReport {
  std::vector<Recorded> alerts, episodes;
  std::vector<std::string> lates;
  uint64_t lines = 0, malformed = 0, comments = 0, late = 0, filtered_out = 0, restarts = 0, services = 0,
           alerts_count = 0, episodes_count = 0;
  std::string first_malformed, first_late, error;
  bool operator==(const RunReport&) const = default;
};

std::ostream& operator<<(std::ostream& os, const RunReport& r) {
  return os << "{alerts " << r.alerts.size() << " episodes " << r.episodes.size() << " lines " << r.lines
            << " malformed " << r.malformed << " comments " << r.comments << " first " << r.first_malformed
            << " late " << r.late << " first " << r.first_late << " filtered " << r.filtered_out
            << " restarts " << r.restarts << " services " << r.services << " error '" << r.error << "'}";
}

RunReport report_of(const std::string& path, const FlappingOptions& options) {
  auto base = [](std::string where) { return where.substr(where.rfind('/') + 1); };
  RunReport report;
  RecordingSink sink;
  FlappingOptions run_options = options;
  run_options.inputs = {path};
  try {
    FlappingResult r = detect_flapping(run_options, sink);
    report.lines = r.lines;
    report.malformed = r.malformed;
    report.comments = r.comments;
    report.late = r.late;
    report.filtered_out = r.filtered_out;
    report.restarts = r.restarts;
    report.services = r.services;
    report.alerts_count = r.alerts;
    report.episodes_count = r.episodes;
    report.first_malformed = base(r.first_malformed);
    report.first_late = base(r.first_late);
  } catch (const Error& e) {
    report.error = base(e.what());
  }
  report.alerts = sink.alerts;
  report.episodes = sink.episodes;
  for (const std::string& where : sink.lates) report.lates.push_back(base(where));
  return report;
}

// A random event stream: names of 1 to 22 bytes (the 8- and 16-byte edges of the
// two-word compare included), events in any case and near misses, malformed lines,
// blank lines, CRLF, tabs, some late restarts, non-epoch timestamps, a last line
// without a newline.
std::string random_events(std::mt19937& random, int lines) {
  auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
  std::string out;
  int64_t t = 1703000000;
  for (int i = 0; i < lines; ++i) {
    t += static_cast<int64_t>(random() % 4) - (random() % 10 == 0 ? 5 : 0);
    std::string ts = random() % 15 == 0 ? pick({"999999999", "17030001x3", "2023-12-19T15:33:20Z",
                                                "1703000000.5", "+1703000000", "17030000000"})
                                        : std::to_string(t);
    std::string sep = pick({" ", " ", " ", "\t", "  ", " \r "});
    std::string line = ts + sep +
                       pick({"a", "b", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop",
                             "abcdefghijklmnoq", "abcdefghijklmnopq", "svc-with-a-longer-name", "Abcdefgh"});
    if (random() % 15 != 0)
      line += sep +
              pick({"restarted", "restarted", "restarted", "Restarted", "RESTARTED", "started", "restartedx",
                    "restarte", "rEsTaRtEd", "restartex", "restarteD", "Xestarted", "restarted\x01"});
    if (random() % 4 == 0) line += " " + std::string(random() % 70, 'm');
    if (random() % 25 == 0) line = pick({"", " ", "\t", "\r", ts, " " + ts + " "});
    if (random() % 30 == 0) line = pick({"#", "# "}) + line;  // a comment line
    out += line + (random() % 10 == 0 ? "\r\n" : "\n");
  }
  if (random() % 2 == 0 && !out.empty()) out.pop_back();
  return out;
}

// The buffer-at-a-time scan, with small reader buffers too (lines and names cut at
// buffer ends) and across threads with chunks of a few bytes (every line boundary a
// chunk boundary somewhere), must report exactly what the per-line path reports:
// rows, late reports, counts, the first malformed and late line, and the --strict error.
TEST(DetectFlapping, BlockScanAndThreadsAgreeWithThePerLinePath) {
  std::mt19937 random(11);
  test::TempDir dir;
  std::string path = dir.file("events.log");
  for (int round = 0; round < 60; ++round) {
    test::write_file(path, random_events(random, 300));
    FlappingOptions options;
    options.log_format.format = LogFormat::kFields;
    options.log_format.positions = {1, 2, 0, 0, 0, 3, 0, 0};
    options.alerts = round % 2 == 0 ? AlertMode::kEvery : AlertMode::kEpisode;
    options.max_restarts = static_cast<uint64_t>(round % 3);
    options.window = static_cast<Micros>(2 + round % 5) * kSec;
    if (round % 4 == 1) options.reorder = 2 * kSec;
    if (round % 7 == 3) options.since = Micros{1703000100} * kSec;
    if (round % 7 == 4) options.until = Micros{1703000200} * kSec;
    if (round % 10 == 9) options.strict = true;
    if (round % 11 == 5) options.event = "Restarted";
    options.block_scan = false;
    RunReport expected = report_of(path, options);
    EXPECT_GT(expected.restarts + (expected.error.empty() ? 0 : 1), 0u) << "round " << round;
    options.block_scan = true;
    EXPECT_EQ(report_of(path, options), expected) << "round " << round << " block scan";
    options.reader.buffer_bytes = 1 + random() % 100;
    EXPECT_EQ(report_of(path, options), expected)
        << "round " << round << " buffer " << options.reader.buffer_bytes;
    options.reader = {};
    options.split_min_bytes = 0;
    for (uint64_t chunk : {uint64_t{1}, uint64_t{1} + random() % 60, uint64_t{200} + random() % 2000}) {
      options.threads = 1 + static_cast<int>(random() % 4);
      options.chunk_bytes = chunk;
      EXPECT_EQ(report_of(path, options), expected)
          << "round " << round << " threads " << options.threads << " chunk " << chunk;
    }
  }
}

// Lines of 23 bytes and chunks of four lines (split_at_lines cuts a file of n * 23
// bytes into parts of 92 bytes exactly at line ends): a window that spans a chunk
// boundary, a late restart as the first line of a chunk, a malformed line as the first
// line of a chunk, and under --strict a malformed line after an alert in its chunk.
TEST(DetectFlapping, ThreadsAtChunkBoundaries) {
  auto lines = [](std::vector<std::string> texts) {
    std::string out;
    for (std::string& text : texts) out += text + std::string(22 - text.size(), ' ') + "\n";
    return out;
  };
  std::vector<std::string> texts = {
      "1703000000 a restarted", "1703000001 a restarted", "1703000002 a restarted", "1703000003 a restarted",
      "1703000004 a restarted", "1703000002 b restarted", "1703000005 c started",   "1703000005 a restarted",
      "1703000003 a restarted", "1703000006 a restarted", "1703000006 b restarted", "1703000007 c started",
      "1703000009 a_malformed", "1703000010 a restarted", "1703000020 a restarted", "1703000020 b restarted"};
  test::TempDir dir;
  std::string path = dir.file("events.log");
  test::write_file(path, lines(texts));
  FlappingOptions options;
  options.log_format.format = LogFormat::kFields;
  options.log_format.positions = {1, 2, 0, 0, 0, 3, 0, 0};
  options.alerts = AlertMode::kEvery;
  options.max_restarts = 4;
  options.window = 10 * kSec;
  options.threads = 2;
  options.split_min_bytes = 0;
  options.chunk_bytes = 4 * 23;
  RunReport threaded = report_of(path, options);
  auto at = [](Micros seconds, uint64_t count) {
    return Recorded{"a", (1703000000 + seconds) * kSec, 0, count, 0};
  };
  EXPECT_EQ(threaded.alerts, (std::vector<Recorded>{at(4, 5), at(5, 6), at(6, 7), at(10, 8)}));
  EXPECT_EQ(threaded.lates, (std::vector<std::string>{"events.log:9"}));
  EXPECT_EQ(threaded.first_late, "events.log:9");
  EXPECT_EQ(threaded.first_malformed, "events.log:13");
  EXPECT_EQ(threaded.lines, 16u);
  EXPECT_EQ(threaded.malformed, 1u);
  EXPECT_EQ(threaded.late, 1u);
  options.threads = 1;
  EXPECT_EQ(report_of(path, options), threaded);
  options.block_scan = false;
  EXPECT_EQ(report_of(path, options), threaded);

  std::swap(texts[12], texts[13]);  // the malformed line now follows an alert in its chunk
  test::write_file(path, lines(texts));
  options.strict = true;
  options.block_scan = true;
  options.threads = 2;
  threaded = report_of(path, options);
  EXPECT_EQ(threaded.alerts, (std::vector<Recorded>{at(4, 5), at(5, 6), at(6, 7), at(10, 8)}));
  EXPECT_EQ(threaded.error, "events.log:14: malformed line (--strict): fewer fields than --field asks");
  options.block_scan = false;
  EXPECT_EQ(report_of(path, options), threaded);
}

TEST(DetectFlapping, MalformedLinesAreCounted) {
  RecordingSink sink;
  FlappingOptions options;
  auto result = detect_file("1 a restarted\n\n2 a\nx1 a restarted\n3 a started\n", options, sink);
  EXPECT_EQ(result.lines, 5u);
  EXPECT_EQ(result.malformed, 2u);
  EXPECT_TRUE(result.first_malformed.ends_with("events.log:3"));
}

// SPEC §1: a line with `#` first is a comment, counted apart, never malformed nor a
// restart, in the block scan and the per-line path alike.
TEST(DetectFlapping, CommentLinesAreCountedApart) {
  for (bool block : {true, false}) {
    RecordingSink sink;
    FlappingOptions options;
    options.block_scan = block;
    options.max_restarts = 0;
    options.strict = true;
    auto result = detect_file("#1 a restarted\n# 1 a restarted\n#\n2 b restarted\n#Fields: ts service\n",
                              options, sink);
    EXPECT_EQ(result.lines, 5u) << block;
    EXPECT_EQ(result.comments, 4u) << block;
    EXPECT_EQ(result.malformed, 0u) << block;
    EXPECT_EQ(result.restarts, 1u) << block;
  }
}

TEST(DetectFlapping, StrictStopsAtFirstMalformedLine) {
  RecordingSink sink;
  FlappingOptions options;
  options.strict = true;
  EXPECT_THROW(detect_file("1 a restarted\n2 a\n", options, sink), Error);
}

TEST(DetectFlapping, UnreadableInputIsAProblemOthersStillCount) {
  test::TempDir dir;
  std::string path = dir.file("events.log");
  test::write_file(path, "1 a restarted\n2 a restarted\n");
  RecordingSink sink;
  FlappingOptions options;
  options.inputs = {dir.file("missing.log"), path};
  options.log_format.positions = {1, 2, 0, 0, 0, 3, 0, 0};
  options.max_restarts = 1;
  auto result = detect_flapping(options, sink);
  EXPECT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.episodes, 1u);
}

TEST(FormatEpochSeconds, FractionOnlyWhenPresent) {
  EXPECT_EQ(format_epoch_seconds(1703000000 * kSec), "1703000000");
  EXPECT_EQ(format_epoch_seconds(1703000000 * kSec + 250000), "1703000000.25");
  EXPECT_EQ(format_epoch_seconds(1 * kSec + 1), "1.000001");
  EXPECT_EQ(format_epoch_seconds(-kSec / 2), "-0.5");
  EXPECT_EQ(format_epoch_seconds(-3 * kSec), "-3");
}

}  // namespace
}  // namespace opsktl
