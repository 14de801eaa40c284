#include "opsktl/errors_by_endpoint.hpp"

#include <random>

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
    EXPECT_EQ(std::string(e.what()),
              dir.file("a.log") + ":2: malformed line (--strict): fewer fields than --field asks");
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
  write_file(dir.file("a.log"), "1000 a /x 500 1\n2000 a /x 500 1\n3000 a /x 500 1\nnot-a-time a /x 500 1\n");
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

// Random fields-format logs: valid lines from a few endpoints, and malformed lines,
// tabs, runs of spaces, CRLF, blank lines, missing or odd latencies, huge numbers.
std::string random_fields_log(std::mt19937& rng, size_t lines) {
  static const std::vector<std::string> kServices = {"a", "b", "svc", "\xff", "a\vb"};
  static const std::vector<std::string> kPaths = {"/x", "/y", "/api/v1/orders", "/o/123?q=1", "/"};
  static const std::vector<std::string> kStatuses = {"200", "500", "502", "404", "5xx",
                                                     "-",   "2OO", "50",  "5000"};
  static const std::vector<std::string> kLatencies = {"1",
                                                      "120",
                                                      "0",
                                                      "-",
                                                      "n/a",
                                                      "12ms",
                                                      "0.5s",
                                                      "850us",
                                                      "99999999999999999999",
                                                      "123456789012",
                                                      "1234567890123"};
  static const std::vector<std::string> kSeparators = {" ", " ", " ", " ", "  ", "\t", " \t"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    int kind = static_cast<int>(rng() % 20);
    if (kind == 8) out += "#";  // a comment line, whatever follows
    std::vector<std::string> fields = {"t", pick(kServices), pick(kPaths), pick(kStatuses), pick(kLatencies)};
    if (kind == 0) fields.clear();            // blank
    if (kind == 1) fields.resize(rng() % 5);  // too few fields
    if (kind == 2) fields.push_back("extra");
    if (kind == 3) fields = {std::string(rng() % 200, 'g')};  // long, overlong with small limits
    if (kind == 6) fields[1] = "#" + fields[1];               // not first: data
    if (kind == 4) out += kSeparators[rng() % kSeparators.size()];
    for (size_t f = 0; f < fields.size(); ++f) {
      if (f > 0) out += kSeparators[rng() % kSeparators.size()];
      out += fields[f];
    }
    if (kind == 5) out += " ";
    if (kind == 7) out += rng() % 2 ? " # comment" : "#";  // comment-like
    if (rng() % 10 == 0) out += "\r";
    if (i + 1 < lines || rng() % 2) out += "\n";
  }
  return out;
}

void expect_same_results(const ErrorsByEndpointResult& a, const ErrorsByEndpointResult& b,
                         const std::string& what) {
  ASSERT_EQ(a.rows.size(), b.rows.size()) << what;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].keys, b.rows[i].keys) << what << " row " << i;
    EXPECT_EQ(a.rows[i].errors, b.rows[i].errors) << what << " row " << i;
    EXPECT_EQ(a.rows[i].requests, b.rows[i].requests) << what << " row " << i;
    EXPECT_EQ(a.rows[i].p50_ms, b.rows[i].p50_ms) << what << " row " << i;
    EXPECT_EQ(a.rows[i].p99_ms, b.rows[i].p99_ms) << what << " row " << i;
  }
  EXPECT_EQ(a.lines, b.lines) << what;
  EXPECT_EQ(a.malformed, b.malformed) << what;
  EXPECT_EQ(a.comments, b.comments) << what;
  EXPECT_EQ(a.error_lines, b.error_lines) << what;
  EXPECT_EQ(a.endpoints, b.endpoints) << what;
  EXPECT_EQ(a.first_malformed, b.first_malformed) << what;
  EXPECT_EQ(a.first_malformed_reason, b.first_malformed_reason) << what;
  EXPECT_EQ(a.malformed_reasons.by_reason, b.malformed_reasons.by_reason) << what;
  EXPECT_EQ(a.malformed_reasons.total(), a.malformed) << what;
}

TEST(CountErrors, FieldsScanEqualsPerLineParsingOnRandomLogs) {
  TempDir dir;
  std::mt19937 rng(1219);
  auto with = [](FieldId a, FieldId b) { return std::vector<FieldId>{a, b}; };
  std::vector<std::vector<FieldId>> bys = {with(FieldId::kService, FieldId::kPath),
                                           with(FieldId::kPath, FieldId::kService),
                                           {FieldId::kStatus},
                                           {FieldId::kService, FieldId::kPath, FieldId::kStatus}};
  for (int round = 0; round < 40; ++round) {
    std::string what = "round ";
    what += std::to_string(round);
    std::string file = dir.file(what + ".log");
    write_file(file, random_fields_log(rng, 1 + rng() % 400));
    auto general = defaults({file});
    general.log_format.format = LogFormat::kFields;
    general.top = 0;
    general.fields_fast_path = false;
    general.by = bys[static_cast<size_t>(round) % bys.size()];
    general.error_statuses = *parse_status_spec(round % 3 == 0 ? "4xx,5xx" : "5xx");
    if (round % 5 == 1) general.log_format.positions[static_cast<size_t>(FieldId::kLatency)] = 0;
    if (round % 4 == 2) general.reader = {16, 64};  // tiny buffers, overlong lines
    if (round % 4 == 3) {
      general.threads = 3;
      general.split_min_bytes = 1;
    }
    auto fast = general;
    fast.fields_fast_path = true;
    expect_same_results(count_errors(general), count_errors(fast), what);
  }
}

// SPEC §1: `#` as the first byte makes a comment line, skipped and counted apart, even
// when the rest would parse; `#` anywhere else is data.
TEST(CountErrors, CommentLinesAreCountedApartNeverMalformed) {
  TempDir dir;
  write_file(dir.file("a.log"),
             "#Software: generator 1.0\n"
             "#Fields: ts service path status latency\n"
             "t a /x 500 10\n"
             "#t a /x 500 10\n"  // would count as a request without its '#'
             "# t a /x 500 10 extra\n"
             "#\n"
             " #t a /x 503 10\n"  // not first: a line whose ts is #t
             "t a /#x 502 20\r\n"
             "\n");
  for (bool fast : {true, false}) {
    auto o = defaults({dir.file("a.log")});
    o.log_format.format = LogFormat::kFields;
    o.fields_fast_path = fast;
    o.top = 0;
    auto result = count_errors(o);
    EXPECT_EQ(result.lines, 9u) << fast;
    EXPECT_EQ(result.comments, 5u) << fast;
    EXPECT_EQ(result.malformed, 0u) << fast;
    ASSERT_EQ(result.rows.size(), 2u) << fast;
    EXPECT_EQ(result.rows[0].keys, (std::vector<std::string>{"a", "/x"})) << fast;
    EXPECT_EQ(result.rows[0].requests, 2u) << fast;
    EXPECT_EQ(result.rows[1].keys, (std::vector<std::string>{"a", "/#x"})) << fast;
  }
  // The other formats skip them too.
  write_file(dir.file("b.log"), "#Version: 1.0\nservice=a path=/x status=500\n# status=500\n");
  auto o = defaults({dir.file("b.log")});
  o.log_format.format = LogFormat::kLogfmt;
  auto result = count_errors(o);
  EXPECT_EQ(result.comments, 2u);
  EXPECT_EQ(result.malformed, 0u);
  EXPECT_EQ(result.error_lines, 1u);
}

TEST(CountErrors, FieldsScanAndPerLineInputsAddUp) {
  // One input in the fields format and one in logfmt: both paths feed the same table.
  TempDir dir;
  write_file(dir.file("a.log"), "t a /x 500 10\nt a /x 200 20\n");
  write_file(dir.file("b.log"), "service=a path=/x status=503\n");
  auto o = defaults({dir.file("a.log"), dir.file("b.log")});
  o.log_format.format = LogFormat::kAuto;
  auto result = count_errors(o);
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].keys, (std::vector<std::string>{"a", "/x"}));
  EXPECT_EQ(result.rows[0].errors, 2u);
  EXPECT_EQ(result.rows[0].requests, 3u);
  EXPECT_EQ(result.rows[0].p99_ms, 20.0);
}

}  // namespace
}  // namespace opsktl
