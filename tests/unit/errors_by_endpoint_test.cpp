#include "opsktl/errors_by_endpoint.hpp"

#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::TempDir;
using test::write_file;

ErrorsByEndpointOptions defaults(std::vector<std::string> inputs) {
  ErrorsByEndpointOptions o;
  o.inputs = std::move(inputs);
  o.log_format.positions = {1, 2, 3, 4, 5, 0, 0, 0};
  o.error_statuses = *parse_status_spec("5xx");
  o.by = {FieldId::kService, FieldId::kPath};
  return o;
}

std::string sample_log() {
  return "t a /x 500 10\n"
         "t a /x 200 20\n"
         "t b /y 502 30\n"
         "t b /y 503 40\n"
         "t c /z 200 50\n"
         "t a /w 500 -\n";
}

TEST(CountErrors, RanksByErrorsThenRequestsThenKeys) {
  TempDir dir;
  write_file(dir.file("a.log"), sample_log());
  auto result = count_errors(defaults({dir.file("a.log")}));
  ASSERT_EQ(result.rows.size(), 3u);
  EXPECT_EQ(result.rows[0].keys, (std::vector<std::string>{"b", "/y"}));
  EXPECT_EQ(result.rows[0].errors, 2u);
  EXPECT_EQ(result.rows[1].keys, (std::vector<std::string>{"a", "/x"}));
  EXPECT_EQ(result.rows[1].requests, 2u);
  EXPECT_EQ(result.rows[2].keys, (std::vector<std::string>{"a", "/w"}));
  EXPECT_FALSE(result.rows[2].p50_ms);
  EXPECT_EQ(result.endpoints, 4u);
  EXPECT_EQ(result.error_lines, 4u);
}

TEST(CountErrors, SplittingAcrossThreadsGivesTheSameAnswer) {
  TempDir dir;
  std::string log;
  for (int i = 0; i < 20000; ++i) {
    log += "t svc" + std::to_string(i % 7) + " /p" + std::to_string(i % 13) + " " +
           (i % 5 == 0 ? "500" : "200") + " " + std::to_string(i % 1000) + "\n";
    if (i == 15000) log += "malformed line here\n";
  }
  write_file(dir.file("a.log"), log);
  auto one = defaults({dir.file("a.log")});
  one.top = 0;
  auto many = one;
  many.threads = 4;
  many.split_min_bytes = 1;
  auto a = count_errors(one);
  auto b = count_errors(many);
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].keys, b.rows[i].keys);
    EXPECT_EQ(a.rows[i].errors, b.rows[i].errors);
    EXPECT_EQ(a.rows[i].p99_ms, b.rows[i].p99_ms);
  }
  EXPECT_EQ(a.first_malformed, dir.file("a.log") + ":15002");
  EXPECT_EQ(b.first_malformed, a.first_malformed);
  EXPECT_EQ(b.lines, 20001u);
}

TEST(CountErrors, StrictNamesTheFirstMalformedLine) {
  TempDir dir;
  write_file(dir.file("a.log"), "t a /x 500 1\nbroken\nt a /x 5xx 1\n");
  auto o = defaults({dir.file("a.log")});
  o.strict = true;
  try {
    count_errors(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("a.log") + ":2: malformed line (--strict)");
  }
}

TEST(CountErrors, UnreadableInputIsReportedAndOthersCount) {
  TempDir dir;
  write_file(dir.file("a.log"), sample_log());
  auto result = count_errors(defaults({dir.file("missing.log"), dir.file("a.log")}));
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].message, dir.file("missing.log") + ": No such file or directory");
  EXPECT_EQ(result.rows.size(), 3u);
}

TEST(CountErrors, TimeFilterCountsOutOfRangeLines) {
  TempDir dir;
  write_file(dir.file("a.log"),
             "1000 a /x 500 1\n2000 a /x 500 1\n3000 a /x 500 1\nnot-a-time a /x 500 1\n");
  auto o = defaults({dir.file("a.log")});
  o.since = 2000 * kMicrosPerSecond;
  o.until = 3000 * kMicrosPerSecond;
  auto result = count_errors(o);
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].errors, 2u);
  EXPECT_EQ(result.filtered_out, 1u);
  EXPECT_EQ(result.malformed, 1u);
}

TEST(CountErrors, NormalizeMergesIdPaths) {
  TempDir dir;
  write_file(dir.file("a.log"), "t a /o/1?x 500 1\nt a /o/2 500 1\nt a /o/3 200 1\n");
  auto o = defaults({dir.file("a.log")});
  o.normalize = true;
  auto result = count_errors(o);
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].keys[1], "/o/{id}");
  EXPECT_EQ(result.rows[0].errors, 2u);
  EXPECT_EQ(result.rows[0].requests, 3u);
}

TEST(CountErrors, OverlongLineIsOneMalformedLine) {
  TempDir dir;
  write_file(dir.file("a.log"), "t a /x 500 1\n" + std::string(5000, 'g') + "\nt a /x 500 1\n");
  auto o = defaults({dir.file("a.log")});
  o.reader = {64, 256};
  auto result = count_errors(o);
  EXPECT_EQ(result.malformed, 1u);
  EXPECT_EQ(result.lines, 3u);
  EXPECT_EQ(result.first_malformed, dir.file("a.log") + ":2");
  EXPECT_EQ(result.rows[0].errors, 2u);
}

}  // namespace
}  // namespace opsktl
