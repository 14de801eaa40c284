#include "opsktl/merge.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::TempDir;
using test::write_file;

class CollectSink final : public MergeSink {
 public:
  void begin_record(Micros) override { ++records; }
  void write(std::string_view prefix, std::string_view text, bool newline) override {
    out.append(prefix);
    out.append(text);
    if (newline) out.push_back('\n');
  }
  std::string out;
  int records = 0;
};

class CollectListener final : public MergeListener {
 public:
  void input_failed(const std::string& message) override { failed.push_back(message); }
  void input_unsorted(const std::string& input, uint64_t line, uint64_t newest_line) override {
    unsorted.push_back(input + ":" + std::to_string(line) + "<" + std::to_string(newest_line));
  }
  void input_without_timestamps(const std::string& input, bool whole, uint64_t lines,
                                const std::string& first_line) override {
    untimed.push_back(input + (whole ? " whole " : " first ") + std::to_string(lines) + " " + first_line);
  }
  std::vector<std::string> failed;
  std::vector<std::string> unsorted;
  std::vector<std::string> untimed;
};

class MergeTest : public ::testing::Test {
 protected:
  // Writes each content to its own file, in order, and returns their paths.
  std::vector<std::string> files(const std::vector<std::string>& contents) {
    std::vector<std::string> paths;
    for (const std::string& content : contents) {
      paths.push_back(dir_.file("in" + std::to_string(paths.size()) + ".log"));
      write_file(paths.back(), content);
    }
    return paths;
  }
  MergeOptions options(std::vector<std::string> inputs) {
    MergeOptions o;
    o.inputs = std::move(inputs);
    o.temp_dir = dir_.path().string();
    return o;
  }
  std::string merge(const MergeOptions& o) {
    CollectSink sink;
    result_ = merge_logs(o, sink, listener_);
    return sink.out;
  }

  TempDir dir_;
  CollectListener listener_;
  MergeResult result_;
};

// Epoch seconds starting a line, ten digits or not, before a space, a tab or the end, or
// with a fraction, are instants like any other form; a digit run that runs into a
// letter is no timestamp (the line travels with the record above).
TEST_F(MergeTest, EpochSecondsInEveryShapeCompareAsInstants) {
  auto in = files({"1703000000 a\n1703000001\tb\n1703000002.5 c\n170300000x orphan\n1703000004\n",
                   "2023-12-19T15:33:20Z B0\n2023-12-19T15:33:21.5Z B1\n2023-12-19T15:33:22Z B2\n"
                   "2023-12-19T15:33:23Z B3\n2023-12-19T15:33:24Z B4\n"});
  EXPECT_EQ(merge(options(in)),
            "1703000000 a\n2023-12-19T15:33:20Z B0\n1703000001\tb\n2023-12-19T15:33:21.5Z B1\n"
            "2023-12-19T15:33:22Z B2\n1703000002.5 c\n170300000x orphan\n2023-12-19T15:33:23Z B3\n"
            "1703000004\n2023-12-19T15:33:24Z B4\n");
  EXPECT_TRUE(listener_.unsorted.empty());
}

TEST_F(MergeTest, InterleavesByInstant) {
  auto in = files({"1 a\n3 c\n5 e\n", "2 b\n4 d\n"});
  EXPECT_EQ(merge(options(in)), "1 a\n2 b\n3 c\n4 d\n5 e\n");
  EXPECT_EQ(result_.records, 5u);
  EXPECT_TRUE(listener_.unsorted.empty());
}

TEST_F(MergeTest, TiesComeInInputOrderThenLineOrder) {
  auto in = files({"5 b1\n5 b2\n", "5 a1\n5 a2\n"});
  EXPECT_EQ(merge(options(in)), "5 b1\n5 b2\n5 a1\n5 a2\n");
}

TEST_F(MergeTest, ComparesMixedTimestampFormsAsInstants) {
  // 1703000000 = 2023-12-19T15:33:20Z
  auto in = files({"2023-12-19T15:33:21Z iso\n19/Dec/2023:15:33:23 +0000 clf\n",
                   "1703000000 epoch\n1703000002000 millis\n2023-12-19T16:33:24+01:00 offset\n"});
  EXPECT_EQ(merge(options(in)),
            "1703000000 epoch\n2023-12-19T15:33:21Z iso\n1703000002000 millis\n"
            "19/Dec/2023:15:33:23 +0000 clf\n2023-12-19T16:33:24+01:00 offset\n");
}

TEST_F(MergeTest, OrphansTravelWithTheRecordAbove) {
  auto in = files({"1 a\n  at x\n  at y\n4 d\n", "2 b\nwrapped\n3 c\n"});
  EXPECT_EQ(merge(options(in)), "1 a\n  at x\n  at y\n2 b\nwrapped\n3 c\n4 d\n");
}

TEST_F(MergeTest, OrphansBeforeTheFirstRecordTravelWithIt) {
  auto in = files({"1 a\n", "head1\nhead2\n2 b\n"});
  EXPECT_EQ(merge(options(in)), "1 a\nhead1\nhead2\n2 b\n");
}

TEST_F(MergeTest, OrphansSkipDropsThemAndCountsNonBlankOnes) {
  auto in = files({"x\n1 a\n  at x\n\n2 b\n"});
  MergeOptions o = options(in);
  o.orphans = OrphanMode::kSkip;
  EXPECT_EQ(merge(o), "1 a\n2 b\n");
  EXPECT_EQ(result_.orphans_skipped, 2u);
  EXPECT_EQ(result_.first_orphan_skipped, in[0] + ":1");
}

TEST_F(MergeTest, InputWithoutAnyTimestampComesFirst) {
  auto in = files({"1 a\n", "no\ntime"});
  EXPECT_EQ(merge(options(in)), "no\ntime\n1 a\n");
  // ... and is reported (SPEC §5), with its line count and first line.
  EXPECT_EQ(listener_.untimed, (std::vector<std::string>{in[1] + " whole 2 no"}));
  EXPECT_EQ(result_.inputs_without_timestamps, 1u);
}

TEST_F(MergeTest, InputWhoseFirstLinesHaveNoTimestampIsReportedOnce) {
  std::string untimed = "\n  \n";
  for (uint64_t i = 1; i <= kTimestampSearchLines; ++i) untimed += "\tat frame " + std::to_string(i) + "\r\n";
  // One line short of the limit: not reported, the input has a timestamp.
  std::string short_of = untimed.substr(0, untimed.rfind("\tat frame"));
  auto in = files({"1 a\n", short_of + "2 b\n", untimed + "3 c\n", untimed + untimed});
  merge(options(in));
  EXPECT_EQ(listener_.untimed, (std::vector<std::string>{in[2] + " first 16 \\x09at frame 1",
                                                         in[3] + " first 16 \\x09at frame 1"}));
  EXPECT_EQ(result_.inputs_without_timestamps, 2u);
}

TEST_F(MergeTest, EmptyAndBlankInputsAreNotReported) {
  auto in = files({"1 a\n", "", "\n \n\t\r\n"});
  EXPECT_EQ(merge(options(in)), "\n \n\t\r\n1 a\n");
  EXPECT_TRUE(listener_.untimed.empty());
  EXPECT_EQ(result_.inputs_without_timestamps, 0u);
}

TEST_F(MergeTest, CheckReportsAnInputWithoutTimestamps) {
  auto in = files({"1 a\n2 b\n", "plain text\nmore\n"});
  MergeOptions o = options(in);
  o.mode = MergeMode::kCheck;
  EXPECT_EQ(merge(o), "");
  EXPECT_EQ(result_.unsorted_inputs, 0u);
  EXPECT_EQ(result_.inputs_without_timestamps, 1u);
  EXPECT_EQ(listener_.untimed, (std::vector<std::string>{in[1] + " whole 2 plain text"}));
}

TEST_F(MergeTest, KeepsCrlfAndEndsTheLastLine) {
  auto in = files({"1 a\r\n3 c", "2 b\r\n"});
  EXPECT_EQ(merge(options(in)), "1 a\r\n2 b\r\n3 c\n");
}

TEST_F(MergeTest, LabelPrefixesEveryLineWithItsInput) {
  auto in = files({"1 a\n  at\n", "2 b\n"});
  MergeOptions o = options(in);
  o.label = true;
  EXPECT_EQ(merge(o), in[0] + "\t1 a\n" + in[0] + "\t  at\n" + in[1] + "\t2 b\n");
}

TEST_F(MergeTest, ReportsAnUnsortedInputOnceAndKeepsMerging) {
  auto in = files({"1 a\n5 e\n2 late\n1 later\n", "3 c\n"});
  EXPECT_EQ(merge(options(in)), "1 a\n3 c\n5 e\n2 late\n1 later\n");
  ASSERT_EQ(listener_.unsorted.size(), 1u);
  EXPECT_EQ(listener_.unsorted[0], in[0] + ":3<2");
  EXPECT_EQ(result_.unsorted_inputs, 1u);
}

TEST_F(MergeTest, ReorderPutsRecordsUpToTheToleranceInPlace) {
  auto in = files({"10 a\n12 c\n11 b\n  orphan of b\n15 e\n3 way-late\n", "13 d\n"});
  MergeOptions o = options(in);
  o.reorder_us = 2 * kMicrosPerSecond;
  // Too late to be put in place, 3 comes out as soon as it has been read.
  EXPECT_EQ(merge(o), "10 a\n11 b\n  orphan of b\n12 c\n3 way-late\n13 d\n15 e\n");
  ASSERT_EQ(listener_.unsorted.size(), 1u);
  EXPECT_EQ(listener_.unsorted[0], in[0] + ":6<5");
}

TEST_F(MergeTest, CheckFindsUnsortedInputsAndWritesNothing) {
  auto in = files({"1 a\n2 b\n", "2 b\n1 a\n", "5 x\n5 y\n"});
  MergeOptions o = options(in);
  o.mode = MergeMode::kCheck;
  EXPECT_EQ(merge(o), "");
  EXPECT_EQ(result_.unsorted_inputs, 1u);
  ASSERT_EQ(listener_.unsorted.size(), 1u);
  EXPECT_EQ(listener_.unsorted[0], in[1] + ":2<1");
}

TEST_F(MergeTest, UnreadableInputIsReportedAndTheOthersMerged) {
  auto in = files({"1 a\n", "2 b\n"});
  in.insert(in.begin() + 1, dir_.file("missing.log"));
  EXPECT_EQ(merge(options(in)), "1 a\n2 b\n");
  ASSERT_EQ(listener_.failed.size(), 1u);
  EXPECT_EQ(listener_.failed[0], dir_.file("missing.log") + ": No such file or directory");
  EXPECT_EQ(result_.failed_inputs, 1u);
}

TEST_F(MergeTest, ReadsGzipInputs) {
  std::string path = dir_.file("a.log.gz");
  write_file(path, test::gzip("1 a\n3 c\n"));
  auto in = files({"2 b\n"});
  in.insert(in.begin(), path);
  EXPECT_EQ(merge(options(in)), "1 a\n2 b\n3 c\n");
}

TEST_F(MergeTest, OverlongLinesPassThroughByteExact) {
  std::string long_a = "1 " + std::string(200000, 'a');
  std::string long_orphan(300000, 'o');
  auto in = files({long_a + "\n" + long_orphan + "\n3 c\n", "2 b\n"});
  MergeOptions o = options(in);
  o.buffer_budget_bytes = 1;  // smallest read buffers: lines come in many pieces
  o.label = true;
  EXPECT_EQ(merge(o), in[0] + "\t" + long_a + "\n" + in[0] + "\t" + long_orphan + "\n" + in[1] + "\t2 b\n" +
                          in[0] + "\t3 c\n");
}

// A last line without a newline gets one, whatever its length: also when it is longer
// than the read buffer and fills its last buffer exactly.
TEST_F(MergeTest, OverlongLastLineWithoutNewlineGetsItsNewline) {
  for (size_t size : {size_t{16} << 10, (size_t{16} << 10) + 1, size_t{320} << 10, (size_t{320} << 10) - 7}) {
    std::string last = "3 " + std::string(size - 2, 'z');
    auto in = files({"1 a\n" + last, "2 b\n"});
    MergeOptions o = options(in);
    o.buffer_budget_bytes = 1;  // the smallest read buffers (16 KiB)
    EXPECT_EQ(merge(o), "1 a\n2 b\n" + last + "\n") << size;
    o.label = true;
    EXPECT_EQ(merge(o), in[0] + "\t1 a\n" + in[1] + "\t2 b\n" + in[0] + "\t" + last + "\n") << size;
  }
}

TEST_F(MergeTest, LeadingOrphansBeyondOneMebibyteSpillAndComeBackExact) {
  std::string orphans;
  for (int i = 0; orphans.size() < (size_t{3} << 20); ++i)
    orphans += "trace line " + std::to_string(i) + "\n";
  auto in = files({"1 a\n", orphans + "2 b\n"});
  EXPECT_EQ(merge(options(in)), "1 a\n" + orphans + "2 b\n");
  EXPECT_EQ(listener_.untimed, (std::vector<std::string>{in[1] + " first 16 trace line 0"}));
}

TEST_F(MergeTest, ManyInputsInPassesEqualOneMerge) {
  std::vector<std::string> contents;
  for (int i = 0; i < 23; ++i) {
    std::string c = "orphan " + std::to_string(i) + "\n";
    for (int t = i % 3; t < 40; t += 1 + (i % 4)) c += std::to_string(t) + " in" + std::to_string(i) + "\n";
    contents.push_back(c);
  }
  auto in = files(contents);
  MergeOptions o = options(in);
  o.label = true;
  std::string single = merge(o);
  for (size_t fan_in : {2, 3, 5}) {
    o.max_open_inputs = fan_in;
    EXPECT_EQ(merge(o), single) << "fan-in " << fan_in;
    EXPECT_GT(result_.temporary_runs, 0u);
  }
}

TEST_F(MergeTest, FieldPositionFindsTimestampsSpanningSeveralFields) {
  auto in = files({"host1 Dec 19 10:00:02 b\n", "host2 Dec 19 10:00:01 a\n"});
  MergeOptions o = options(in);
  o.log_format.format = LogFormat::kFields;
  o.log_format.positions[static_cast<size_t>(FieldId::kTs)] = 2;
  o.time_context.year = 2025;
  EXPECT_EQ(merge(o), "host2 Dec 19 10:00:01 a\nhost1 Dec 19 10:00:02 b\n");
}

TEST_F(MergeTest, SinceAndUntilDropRecordsWithTheirOrphans) {
  auto in = files({"x\n1 a\n  of a\n2 b\n  of b\n3 c\n", "4 d\n"});
  MergeOptions o = options(in);
  o.since = 2 * kMicrosPerSecond;
  o.until = 3 * kMicrosPerSecond;
  EXPECT_EQ(merge(o), "2 b\n  of b\n3 c\n");
  EXPECT_EQ(result_.filtered_out, 2u);
}

TEST_F(MergeTest, StrictMakesALineWithoutTimestampFatal) {
  auto in = files({"1 a\noops\n"});
  MergeOptions o = options(in);
  o.strict = true;
  CollectSink sink;
  try {
    merge_logs(o, sink, listener_);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), in[0] + ":2: line has no timestamp (--strict)");
  }
}

TEST(TimestampExtractor, AutoReadsTheStartOfTheLineOnly) {
  auto extractor = make_timestamp_extractor(LogFormatConfig{}, TimeContext{});
  Micros t = 0;
  EXPECT_TRUE(extractor->extract("1703000000 x", t));
  EXPECT_EQ(t, 1703000000 * kMicrosPerSecond);
  EXPECT_FALSE(extractor->extract(" 1703000000 x", t));
  EXPECT_FALSE(extractor->extract("\tat com.example.Foo", t));
}

}  // namespace
}  // namespace opsktl
