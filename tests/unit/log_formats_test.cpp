// The combined, logfmt, json and regex record parsers and --log-format auto sniffing.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "opsktl/error.hpp"
#include "opsktl/input.hpp"
#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

std::unique_ptr<RecordParser> parser_for(LogFormat format, FieldKeys keys = {}, std::string service = "") {
  LogFormatConfig config;
  config.format = format;
  config.keys = std::move(keys);
  config.service = std::move(service);
  return make_record_parser(config);
}

std::unique_ptr<RecordParser> regex_parser(const std::string& pattern) {
  LogFormatConfig config;
  config.format = LogFormat::kRegex;
  config.regex = pattern;
  return make_record_parser(config);
}

// --- combined ------------------------------------------------------------------------

TEST(CombinedParser, ReadsTheCombinedFormat) {
  auto parser = parser_for(LogFormat::kCombined);
  parser->begin_input("/var/log/nginx/shop.log.1.gz");
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(203.0.113.7 - alice [19/Dec/2025:10:01:02 +0000] "GET /api/v1/orders?id=5&x=1 HTTP/1.1" 500 123 "https://ex.com/" "curl/8.0.1")",
      r));
  EXPECT_EQ(r[FieldId::kClient], "203.0.113.7");
  EXPECT_EQ(r[FieldId::kTs], "19/Dec/2025:10:01:02 +0000");
  EXPECT_EQ(r[FieldId::kMethod], "GET");
  EXPECT_EQ(r[FieldId::kPath], "/api/v1/orders");
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(r[FieldId::kService], "shop");  // the file's base name
  EXPECT_EQ(r[FieldId::kLatency], "");
  EXPECT_TRUE(parser->provides(FieldId::kMethod));
  EXPECT_FALSE(parser->provides(FieldId::kEvent));
}

TEST(CombinedParser, ReadsTheCommonFormatWithDashes) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  ASSERT_TRUE(parser->parse(R"(10.0.0.1 - - [19/Dec/2025:10:01:02 -0500] "POST /login HTTP/1.0" 302 -)", r));
  EXPECT_EQ(r[FieldId::kStatus], "302");
  EXPECT_EQ(r[FieldId::kPath], "/login");
  EXPECT_EQ(r[FieldId::kService], "-");  // standard input
}

TEST(CombinedParser, KeepsEscapedQuotesInsideRequestAndUserAgent) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a\"b?q=\"x\" HTTP/1.1" 404 0 "-" "Mozilla \"quoted\" \\" host=web rt=0.250)",
      r));
  EXPECT_EQ(r[FieldId::kPath], R"(/a\"b)");
  EXPECT_EQ(r[FieldId::kStatus], "404");
  EXPECT_EQ(r[FieldId::kService], "web");
  EXPECT_EQ(r[FieldId::kLatency], "0.250");
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
}

TEST(CombinedParser, ReadsIpv6ClientsAndVhostPrefix) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(shop.example.com:443 2001:db8::1 - - [19/Dec/2025:10:01:02 +0000] "DELETE /cart/7 HTTP/2.0" 503 12 "-" "ua" host=other)",
      r));
  EXPECT_EQ(r[FieldId::kClient], "2001:db8::1");
  EXPECT_EQ(r[FieldId::kService], "shop.example.com");  // vhost wins over host=
  EXPECT_EQ(r[FieldId::kMethod], "DELETE");
}

TEST(CombinedParser, ServiceOptionWinsOverEverything) {
  auto parser = parser_for(LogFormat::kCombined, {}, "api");
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(v:80 1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" host=h)", r));
  EXPECT_EQ(r[FieldId::kService], "api");
}

TEST(CombinedParser, LatencyFromRequestTimeOrTrailingMicroseconds) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  const std::string head = R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua")";
  std::string line;  // the record's fields are views into it
  ASSERT_TRUE(parser->parse(line = head + " request_time=1.5", r));
  EXPECT_EQ(r[FieldId::kLatency], "1.5");
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
  ASSERT_TRUE(parser->parse(line = head + " 120500", r));
  EXPECT_EQ(r[FieldId::kLatency], "120500");
  EXPECT_EQ(r.latency_unit_us, 1);
  ASSERT_TRUE(parser->parse(line = head + " 0.120", r));  // nginx $request_time without a key
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
  ASSERT_TRUE(parser->parse(line = head + " 120500 host=a", r));  // not the final field
  EXPECT_EQ(r[FieldId::kLatency], "");
  ASSERT_TRUE(parser->parse(R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /x HTTP/1.1" 200 5)", r));
  EXPECT_EQ(r[FieldId::kLatency], "");  // the bytes field is not a latency
}

TEST(CombinedParser, AbsoluteTargetsAndStarAndConnect) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  const std::string pre = R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] ")";
  std::string line;  // the record's fields are views into it
  ASSERT_TRUE(parser->parse(line = pre + R"(GET http://ex.com/a/b?c HTTP/1.1" 200 1)", r));
  EXPECT_EQ(r[FieldId::kPath], "/a/b");
  ASSERT_TRUE(parser->parse(line = pre + R"(GET http://ex.com HTTP/1.1" 200 1)", r));
  EXPECT_EQ(r[FieldId::kPath], "/");
  ASSERT_TRUE(parser->parse(line = pre + R"(OPTIONS * HTTP/1.1" 200 1)", r));
  EXPECT_EQ(r[FieldId::kPath], "*");
  ASSERT_TRUE(parser->parse(line = pre + R"(CONNECT ex.com:443 HTTP/1.1" 400 1)", r));
  EXPECT_EQ(r[FieldId::kPath], "ex.com:443");
}

// A request line the server could not read is still a request it answered (with 400):
// method and path `-`, so that --status 4xx counts it.
TEST(CombinedParser, GarbageRequestsHavePathDash) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  const std::string pre = R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] ")";
  for (const std::string request :
       {"-", R"(\x16\x03\x01\x00\xa5\x01)", "\x16\x03\x01\xff\x01", "GET", "GET /a HTTP/1.1 extra",
        "get /a HTTP/1.1", "GET nothing HTTP/1.1", "", "GET /a FTP/1.0", "PATCHp /x HTTP/1.1"}) {
    const std::string line = pre + request + "\" 400 0 \"-\" \"-\"";  // the record's views point into it
    ASSERT_TRUE(parser->parse(line, r)) << request;
    EXPECT_EQ(r[FieldId::kPath], "-") << request;
    EXPECT_EQ(r[FieldId::kMethod], "-") << request;
    EXPECT_EQ(r[FieldId::kStatus], "400") << request;
  }
  EXPECT_TRUE(parser->parse(pre + "GET /a\" 200 1", r));          // HTTP/0.9
  EXPECT_FALSE(parser->parse(pre + "GET /a HTTP/1.1\" 200", r));  // no bytes field: cut off
}

// $proxy_add_x_forwarded_for logs the proxies' list as the client: the first address.
TEST(CombinedParser, ForwardedForListAsClient) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" 500 12 "-" "ua")",
      r));
  EXPECT_EQ(r[FieldId::kClient], "10.0.0.2");
  EXPECT_EQ(r[FieldId::kPath], "/x");
  EXPECT_EQ(r[FieldId::kTs], "07/Dec/2016:11:05:07 +0100");
  ASSERT_TRUE(parser->parse(
      R"(shop:443 2001:db8::1, 10.0.0.1 - bob [07/Dec/2016:11:05:07 +0100] "GET /y" 200 1)", r));
  EXPECT_EQ(r[FieldId::kClient], "2001:db8::1");
  EXPECT_EQ(r[FieldId::kService], "shop");
  EXPECT_FALSE(parser->parse(R"(10.0.0.2, - - [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" 500 12)", r));
  EXPECT_FALSE(parser->parse(R"(10.0.0.2, [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" 500 12)", r));
  EXPECT_EQ(
      sniff_log_format(
          R"(10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" 500 12 "-" "ua")"
          "\n")
          .format,
      LogFormat::kCombined);
}

TEST(CombinedParser, LatencyUnitOptionSetsTheUnitOfATrailingNumber) {
  LogFormatConfig config;
  config.format = LogFormat::kCombined;
  Record r;
  const std::string line = R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1" 200 1 "-" "ua" 3)";
  ASSERT_TRUE(make_record_parser(config)->parse(line, r));
  EXPECT_EQ(r.latency_unit_us, 1);     // %D
  config.latency_unit_us = 1'000'000;  // --latency-unit s: Apache's %T
  ASSERT_TRUE(make_record_parser(config)->parse(line, r));
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
  const std::string with_rt = line + " rt=0.5";  // the record's views point into it
  ASSERT_TRUE(make_record_parser(config)->parse(with_rt, r));
  EXPECT_EQ(r[FieldId::kLatency], "0.5");  // rt= names its unit
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
}

TEST(CombinedParser, TruncatedLinesAreMalformed) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  for (const char* line :
       {"", "1.2.3.4 - -", "1.2.3.4 - - [19/Dec/2025:10:01:02 +0000",
        R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1)",
        R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1")",
        R"(1.2.3.4 [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1" 200 1)",
        R"(a b c d e [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1" 200 1)",
        R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1" 200 1 "unterminated)"}) {
    EXPECT_FALSE(parser->parse(line, r)) << line;
  }
}

// --- why a line is malformed ----------------------------------------------------------

TEST(MalformedReason, EachParserSaysWhyALineIsMalformed) {
  Record r;
  EXPECT_EQ(parser_for(LogFormat::kCombined)->parse("1.2.3.4 - - [19/Dec/2025:10:01:02 +0000", r).status,
            ParseStatus::kNotCombined);
  EXPECT_EQ(parser_for(LogFormat::kJson)->parse(R"({"status": 500)", r).status, ParseStatus::kInvalidJson);
  EXPECT_EQ(parser_for(LogFormat::kJson)->parse("[500]", r).status, ParseStatus::kInvalidJson);
  EXPECT_EQ(parser_for(LogFormat::kLogfmt)->parse(R"(status=500 msg="cut)", r).status,
            ParseStatus::kInvalidLogfmt);
  EXPECT_EQ(parser_for(LogFormat::kLogfmt)->parse("=500", r).status, ParseStatus::kInvalidLogfmt);
  EXPECT_EQ(regex_parser("^(?P<status>[0-9]{3}) ")->parse("abc def", r).status, ParseStatus::kNoRegexMatch);
  // --service keeps the inner parser's verdict.
  EXPECT_EQ(parser_for(LogFormat::kJson, {}, "svc")->parse("{", r).status, ParseStatus::kInvalidJson);
  EXPECT_EQ(parser_for(LogFormat::kJson)->parse(R"({"status": 500})", r).status, ParseStatus::kOk);
}

TEST(MalformedReason, FieldsParserNamesAMissingLatencyColumn) {
  FieldPositions positions = {1, 2, 3, 4, 5, 0, 0, 0};  // ts service path status latency
  FieldsParser parser(positions);
  Record r;
  EXPECT_EQ(parser.parse("t s /a 500 1", r).status, ParseStatus::kOk);
  EXPECT_EQ(parser.parse("t s /a 500", r).status, ParseStatus::kNoLatencyColumn);
  EXPECT_EQ(parser.parse("t s /a", r).status, ParseStatus::kTooFewFields);
  EXPECT_EQ(parser.parse("  t s /a 500\r", r).status, ParseStatus::kNoLatencyColumn);
  positions = {1, 2, 3, 5, 4, 0, 0, 0};  // the status is the last field: no hint
  FieldsParser status_last(positions);
  EXPECT_EQ(status_last.parse("t s /a 1", r).status, ParseStatus::kTooFewFields);
  EXPECT_EQ(fields_shortage(4, 5, true), ParseStatus::kNoLatencyColumn);
  EXPECT_EQ(fields_shortage(3, 5, true), ParseStatus::kTooFewFields);
}

TEST(MissingFieldMessage, OneWordingForEveryFormat) {
  LogFormatConfig config;
  config.positions = {1, 2, 3, 4, 5, 0, 0, 0};
  EXPECT_EQ(missing_field_message(config, LogFormat::kFields, {{FieldId::kStatus, "x"}}), "");
  EXPECT_EQ(
      missing_field_message(config, LogFormat::kFields,
                            {{FieldId::kStatus, "x"}, {FieldId::kMethod, "--by"}}),
      "the fields format has no method field, which --by needs; give its position with --field method=N");
  EXPECT_EQ(
      missing_field_message(config, LogFormat::kCombined, {{FieldId::kEvent, "flapping"}}),
      "the combined format has no event field, which flapping needs; choose the format with --log-format");
  FormatGuess guess{LogFormat::kFields, true, "WHY"};
  EXPECT_EQ(
      missing_field_message(config, LogFormat::kFields, {{FieldId::kEvent, "flapping"}}, &guess),
      "the fields format has no event field, which flapping needs (--log-format auto read it as fields: "
      "WHY); choose the format with --log-format, or give its position with --field event=N");
  config.regex = "(?P<ts>\\S+) (?P<status>\\d+)";
  EXPECT_EQ(
      missing_field_message(config, LogFormat::kRegex, {{FieldId::kTs, "merge"}, {FieldId::kPath, "--by"}}),
      "--regex: the pattern has no named group (?P<path>...), which --by needs");
  config.regex = "(unclosed";
  EXPECT_THROW(missing_field_message(config, LogFormat::kRegex, {{FieldId::kTs, "merge"}}), Error);
  // --service gives every format a service.
  config.service = "web";
  config.positions = {1, 0, 3, 4, 5, 0, 0, 0};
  EXPECT_EQ(missing_field_message(config, LogFormat::kFields, {{FieldId::kService, "--by"}}), "");
}

TEST(MalformedReason, NamesAndTextsAreDistinct) {
  std::set<std::string_view> names, texts;
  for (size_t i = 0; i < kParseStatusCount; ++i) {
    auto status = static_cast<ParseStatus>(i);
    EXPECT_TRUE(names.insert(parse_status_name(status)).second) << i;
    EXPECT_TRUE(texts.insert(parse_status_text(status)).second) << i;
  }
  EXPECT_EQ(parse_status_name(missing_field(FieldId::kStatus)), "no_status");
  EXPECT_EQ(parse_status_text(missing_field(FieldId::kClient)), "no client field");
  EXPECT_EQ(parse_status_name(ParseStatus::kNoLatencyColumn), "no_latency_column");
}

TEST(CombinedParser, ServiceFromFileName) {
  auto parser = parser_for(LogFormat::kCombined);
  Record r;
  const char* line = R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /a HTTP/1.1" 200 1)";
  for (auto [name, service] :
       std::vector<std::pair<std::string, std::string>>{{"access.log", "access"},
                                                        {"/x/y/api.example.com.log.12.gz", "api.example.com"},
                                                        {"serviceA.log", "serviceA"},
                                                        {"plain", "plain"},
                                                        {"-", "-"},
                                                        {"a.1", "a"}}) {
    parser->begin_input(name);
    ASSERT_TRUE(parser->parse(line, r));
    EXPECT_EQ(r[FieldId::kService], service) << name;
  }
}

// --- logfmt --------------------------------------------------------------------------

TEST(LogfmtParser, ReadsDefaultKeysFirstPresentWins) {
  auto parser = parser_for(LogFormat::kLogfmt);
  Record r;
  ASSERT_TRUE(parser->parse(
      R"(time=2025-12-19T10:01:02Z level=error app=shop service=checkout uri=/u path=/api/v1/orders code=500 latency_ms=12.5 msg="upstream \"timed\" out")",
      r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19T10:01:02Z");
  EXPECT_EQ(r[FieldId::kService], "checkout");  // service ranks before app
  EXPECT_EQ(r[FieldId::kPath], "/api/v1/orders");
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(r[FieldId::kLatency], "12.5");
  EXPECT_EQ(r.latency_unit_us, 1000);
  EXPECT_EQ(r[FieldId::kEvent], R"(upstream "timed" out)");
}

TEST(LogfmtParser, QuotedValuesKeepSpacesAndEscapes) {
  auto parser = parser_for(LogFormat::kLogfmt);
  Record r;
  ASSERT_TRUE(parser->parse(R"(service="my app" path="/a b" status=200 event="a\\b\nc" bare)", r));
  EXPECT_EQ(r[FieldId::kService], "my app");
  EXPECT_EQ(r[FieldId::kPath], "/a b");
  EXPECT_EQ(r[FieldId::kEvent], "a\\b\nc");
}

TEST(LogfmtParser, RequestTimeIsInSeconds) {
  auto parser = parser_for(LogFormat::kLogfmt);
  Record r;
  ASSERT_TRUE(parser->parse("status=200 request_time=0.120", r));
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
}

TEST(LogfmtParser, CustomKeysReplaceDefaults) {
  FieldKeys keys;
  keys[static_cast<size_t>(FieldId::kStatus)] = "http.status";
  keys[static_cast<size_t>(FieldId::kPath)] = "msg";
  auto parser = parser_for(LogFormat::kLogfmt, keys);
  Record r;
  ASSERT_TRUE(parser->parse("status=200 http.status=503 msg=/x", r));
  EXPECT_EQ(r[FieldId::kStatus], "503");
  EXPECT_EQ(r[FieldId::kPath], "/x");
  EXPECT_EQ(r[FieldId::kEvent], "/x");  // msg still feeds event by default
}

TEST(LogfmtParser, UnterminatedQuoteOrMissingKeyIsMalformed) {
  auto parser = parser_for(LogFormat::kLogfmt);
  Record r;
  EXPECT_FALSE(parser->parse(R"(status=200 msg="oops)", r));
  EXPECT_FALSE(parser->parse("=5 status=200", r));
  EXPECT_TRUE(parser->parse("", r));
}

// --- json ----------------------------------------------------------------------------

TEST(JsonParser, ReadsStringsNumbersAndNestedKeys) {
  FieldKeys keys;
  keys[static_cast<size_t>(FieldId::kStatus)] = "http.response.status";
  auto parser = parser_for(LogFormat::kJson, keys);
  Record r;
  ASSERT_TRUE(
      parser->parse(R"({"@timestamp":"2025-12-19T10:01:02Z","service":"shop","path":"/a\/b\"c","status":200,)"
                    R"("http":{"response":{"status":503},"x":[1,{"y":2}]},"latency":17.5,"extra":null})",
                    r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19T10:01:02Z");
  EXPECT_EQ(r[FieldId::kService], "shop");
  EXPECT_EQ(r[FieldId::kPath], "/a/b\"c");
  EXPECT_EQ(r[FieldId::kStatus], "503");
  EXPECT_EQ(r[FieldId::kLatency], "17.5");
  EXPECT_EQ(r.latency_unit_us, 0);  // `latency` names no unit: --latency-unit, else ms
}

TEST(JsonParser, ReadsJournaldExport) {
  auto parser = parser_for(LogFormat::kJson);
  Record r;
  ASSERT_TRUE(parser->parse(
      R"({"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1766138462123456","_SYSTEMD_UNIT":"nginx.service",)"
      R"("MESSAGE":"nginx.service: Scheduled restart job, restart counter is at 3.","PRIORITY":"6"})",
      r));
  EXPECT_EQ(r[FieldId::kTs], "1766138462123456");
  EXPECT_EQ(r[FieldId::kService], "nginx.service");
  EXPECT_EQ(r[FieldId::kEvent], "nginx.service: Scheduled restart job, restart counter is at 3.");
  EXPECT_EQ(parse_timestamp(r[FieldId::kTs], TimeContext{}), Micros{1766138462123456});
}

// systemd logs a unit's restarts from init.scope: the unit named in UNIT (or USER_UNIT)
// is the service, in whichever order the keys come.
TEST(JsonParser, JournaldUnitBeforeSystemdUnit) {
  Record r;
  for (
      const char* line :
      {R"({"_SYSTEMD_UNIT":"init.scope","UNIT":"nginx.service","MESSAGE":"nginx.service: Scheduled restart job"})",
       R"({"UNIT":"nginx.service","_SYSTEMD_UNIT":"init.scope","MESSAGE":"x"})",
       R"({"_SYSTEMD_UNIT":"user@1000.service","USER_UNIT":"app.service","MESSAGE":"x"})"}) {
    auto json = parser_for(LogFormat::kJson);
    ASSERT_TRUE(json->parse(line, r)) << line;
    EXPECT_EQ(r[FieldId::kService], std::string_view(line).find("USER_UNIT") != std::string_view::npos
                                        ? "app.service"
                                        : "nginx.service")
        << line;
    auto logfmt = parser_for(LogFormat::kLogfmt);
    ASSERT_TRUE(logfmt->parse("_SYSTEMD_UNIT=init.scope UNIT=nginx.service USER_UNIT=u.service", r));
    EXPECT_EQ(r[FieldId::kService], "nginx.service");
  }
}

TEST(JsonParser, FirstPresentKeyWinsWhateverTheOrder) {
  auto parser = parser_for(LogFormat::kJson);
  Record r;
  ASSERT_TRUE(parser->parse(R"({"request_time":0.5,"status_code":"404","latency_ms":250,"code":500})", r));
  EXPECT_EQ(r[FieldId::kStatus], "500");  // code ranks before status_code
  EXPECT_EQ(r[FieldId::kLatency], "250");
  EXPECT_EQ(r.latency_unit_us, 1000);
}

TEST(JsonParser, NotOneObjectIsMalformed) {
  auto parser = parser_for(LogFormat::kJson);
  Record r;
  for (const char* line : {"", "[1,2]", "plain text", R"({"status":500)", R"({"status":500} {"a":1})",
                           R"({"status":500} trailing)", R"({"status":})", "{\"a\":\"\xff\"}"}) {
    EXPECT_FALSE(parser->parse(line, r)) << line;
  }
  EXPECT_TRUE(parser->parse(R"(  {"status":500}  )", r));
  EXPECT_EQ(r[FieldId::kStatus], "500");
}

// --- regex ---------------------------------------------------------------------------

TEST(RegexParser, NamedGroupsBecomeFields) {
  auto parser = regex_parser(
      R"(^(?P<ts>\S+) \[(?P<service>[^\]]+)\] (?P<method>[A-Z]+) (?P<path>\S+) -> (?P<status>\d{3})(?: in (?P<latency>\S+))?)");
  Record r;
  ASSERT_TRUE(parser->parse("2025-12-19T10:01:02Z [api] GET /a -> 502 in 30ms", r));
  EXPECT_EQ(r[FieldId::kService], "api");
  EXPECT_EQ(r[FieldId::kMethod], "GET");
  EXPECT_EQ(r[FieldId::kStatus], "502");
  EXPECT_EQ(r[FieldId::kLatency], "30ms");
  ASSERT_TRUE(parser->parse("2025-12-19T10:01:02Z [api] GET /a -> 200", r));
  EXPECT_EQ(r[FieldId::kLatency], "");
  EXPECT_FALSE(parser->parse("something else", r));
  EXPECT_TRUE(parser->provides(FieldId::kStatus));
  EXPECT_FALSE(parser->provides(FieldId::kEvent));
}

TEST(RegexParser, BadPatternThrowsWithRe2Message) {
  try {
    regex_parser("(?P<status>\\d+");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--regex: missing ): (?P<status>\\d+");
  }
}

// --- --service and auto ----------------------------------------------------------------

TEST(ServiceOption, ReplacesTheServiceOfOtherFormats) {
  auto parser = parser_for(LogFormat::kJson, {}, "fixed");
  Record r;
  ASSERT_TRUE(parser->parse(R"({"service":"x","status":200})", r));
  EXPECT_EQ(r[FieldId::kService], "fixed");
}

TEST(SniffLogFormat, RecognisesEachFormat) {
  EXPECT_EQ(sniff_log_format("2025-12-19T10:01:02Z s /p 500 1\n1703000000 nginx restarted\n").format,
            LogFormat::kFields);
  EXPECT_EQ(sniff_log_format(R"(1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-")"
                             "\n")
                .format,
            LogFormat::kCombined);
  EXPECT_EQ(sniff_log_format("ts=1 level=info msg=\"a b\" status=200\n").format, LogFormat::kLogfmt);
  EXPECT_EQ(sniff_log_format("\n  \n{\"a\":1}\n{\"b\":2}\n").format, LogFormat::kJson);
  EXPECT_EQ(sniff_log_format("Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening\n").format,
            LogFormat::kSyslog);
  EXPECT_EQ(sniff_log_format("<34>1 2025-12-19T10:01:02.5Z host app 12 - - hello\n").format,
            LogFormat::kSyslog);
  EXPECT_EQ(sniff_log_format("#Version: 1.0\n#Fields: date time cs-uri-stem sc-status\n"
                             "2025-12-19 10:01:02 /a 500\n")
                .format,
            LogFormat::kW3c);
  FormatGuess guess = sniff_log_format("{\"a\":1}\n");
  EXPECT_TRUE(guess.certain);
  EXPECT_EQ(guess.reason, "1 of the first 1 non-blank lines are JSON objects");
}

TEST(SniffLogFormat, MixedAndUnknownInputIsUncertain) {
  FormatGuess mixed = sniff_log_format("{\"a\":1}\n{\"a\":2}\nts=1 status=200\n");
  EXPECT_EQ(mixed.format, LogFormat::kJson);
  EXPECT_FALSE(mixed.certain);
  EXPECT_EQ(mixed.reason,
            "mixed formats in the first 3 non-blank lines (json 2, logfmt 1); reading it as json: "
            "lines in other formats count as malformed");
  FormatGuess unknown = sniff_log_format(
      "\x7f"
      "ELF\x02\x01\n%%%\n");
  EXPECT_EQ(unknown.format, LogFormat::kFields);
  EXPECT_FALSE(unknown.certain);
  FormatGuess empty = sniff_log_format("\n\n");
  EXPECT_TRUE(empty.certain);
}

TEST(SniffLogFormat, IgnoresALastLineCutOffByTheHead) {
  EXPECT_TRUE(sniff_log_format("{\"a\":1}\n{\"a\":2}\n2025-12-19T10:0").certain);
}

// --- syslog --------------------------------------------------------------------------

Micros utc(int year, unsigned month, unsigned day, int hour, int minute, int second) {
  return (days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) * kMicrosPerSecond;
}

TEST(SyslogParser, ReadsRfc3164AsInAuthLog) {
  auto parser = parser_for(LogFormat::kSyslog);
  Record r;
  ASSERT_TRUE(
      parser->parse("Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.", r));
  EXPECT_EQ(r[FieldId::kTs], "Mar 27 13:06:56");
  EXPECT_EQ(r[FieldId::kService], "sshd");
  EXPECT_EQ(r[FieldId::kEvent], "Server listening on 0.0.0.0 port 22.");
  TimeContext context;
  context.year = 2025;
  EXPECT_EQ(parse_timestamp(r[FieldId::kTs], context), utc(2025, 3, 27, 13, 6, 56));
  ASSERT_TRUE(parser->parse("Apr  2 07:00:01 host CRON[2045]: pam_unix(cron:session): session opened", r));
  EXPECT_EQ(r[FieldId::kTs], "Apr  2 07:00:01");
  EXPECT_EQ(r[FieldId::kService], "CRON");
  EXPECT_EQ(r[FieldId::kEvent], "pam_unix(cron:session): session opened");
  ASSERT_TRUE(parser->parse("<13>Dec 19 10:01:02 host kernel: [ 1.0] x\r", r));  // priority, CRLF
  EXPECT_EQ(r[FieldId::kService], "kernel");
  EXPECT_EQ(r[FieldId::kEvent], "[ 1.0] x");
  ASSERT_TRUE(parser->parse("Dec 19 10:01:02 router: link up", r));  // no host
  EXPECT_EQ(r[FieldId::kService], "router");
  EXPECT_EQ(r[FieldId::kEvent], "link up");
  EXPECT_TRUE(parser->provides(FieldId::kEvent));
  EXPECT_FALSE(parser->provides(FieldId::kStatus));
  EXPECT_FALSE(parser->provides(FieldId::kPath));
}

TEST(SyslogParser, ReadsRsyslogFileFormat) {
  auto parser = parser_for(LogFormat::kSyslog);
  Record r;
  ASSERT_TRUE(parser->parse("2025-12-19T10:01:02.123456+00:00 web1 nginx[77]: worker exited", r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19T10:01:02.123456+00:00");
  EXPECT_EQ(r[FieldId::kService], "nginx");
  EXPECT_EQ(r[FieldId::kEvent], "worker exited");
  EXPECT_EQ(parse_timestamp(r[FieldId::kTs], TimeContext{}), utc(2025, 12, 19, 10, 1, 2) + 123456);
}

TEST(SyslogParser, ReadsRfc5424) {
  auto parser = parser_for(LogFormat::kSyslog);
  Record r;
  ASSERT_TRUE(parser->parse("<34>1 2025-12-19T10:01:02.5Z mymachine su 1234 ID47 - 'su root' failed", r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19T10:01:02.5Z");
  EXPECT_EQ(r[FieldId::kService], "su");
  EXPECT_EQ(r[FieldId::kEvent], "'su root' failed");
  ASSERT_TRUE(parser->parse(
      R"(<165>1 2025-12-19T10:01:02Z host app - - [ex@32473 iut="3" note="a \"]\" b"][b@1 x="y"] )"
      "\xEF\xBB\xBF"
      "message",
      r));
  EXPECT_EQ(r[FieldId::kService], "app");
  EXPECT_EQ(r[FieldId::kEvent], "message");
  ASSERT_TRUE(
      parser->parse("<30>1 2025-12-19T10:00:11Z web1 systemd 1 - - foo.service: Scheduled restart job", r));
  EXPECT_EQ(r[FieldId::kService], "foo.service");
  ASSERT_TRUE(parser->parse("<165>1 - host - - - -", r));  // nil everything
  EXPECT_EQ(r[FieldId::kTs], "");
  EXPECT_EQ(r[FieldId::kService], "");
  EXPECT_EQ(r[FieldId::kEvent], "");
  for (const char* line :
       {"<34>1 2025-12-19T10:01:02Z host app 1 ID", "<34>1 2025-13-19T10:01:02Z h a 1 - - x",
        "<34>1 2025-12-19T10:01:02Z h a 1 - [unterminated x", "<34>1 2025-12-19T10:01:02Z h a 1 - -x"}) {
    EXPECT_FALSE(parser->parse(line, r)) << line;
  }
}

// systemd's lines about a unit give the unit as the service.
TEST(SyslogParser, SystemdUnitLinesNameTheUnit) {
  auto parser = parser_for(LogFormat::kSyslog);
  Record r;
  ASSERT_TRUE(parser->parse(
      "Dec 19 10:01:02 web1 systemd[1]: foo.service: Scheduled restart job, restart counter is at 5.", r));
  EXPECT_EQ(r[FieldId::kService], "foo.service");
  EXPECT_EQ(r[FieldId::kEvent], "foo.service: Scheduled restart job, restart counter is at 5.");
  ASSERT_TRUE(parser->parse("Dec 19 10:01:02 web1 systemd[1]: Started Session 3 of user root.", r));
  EXPECT_EQ(r[FieldId::kService], "systemd");
  ASSERT_TRUE(parser->parse("Dec 19 10:01:02 web1 sshd[9]: foo.service: not systemd", r));
  EXPECT_EQ(r[FieldId::kService], "sshd");
  for (auto [message, service] : std::vector<std::pair<std::string, std::string>>{
           {"app@2.service: Start request repeated too quickly.", "app@2.service"},
           {"backup.timer: Succeeded.", "backup.timer"},
           {"a b.service: x", "systemd"},
           {"foo.conf: x", "systemd"},
           {".service: x", "systemd"}}) {
    const std::string line =
        "Dec 19 10:01:02 web1 systemd[1]: " + message;  // the record's views point into it
    ASSERT_TRUE(parser->parse(line, r));
    EXPECT_EQ(r[FieldId::kService], service) << message;
  }
}

TEST(SyslogParser, LinesWithoutStampOrTagAreMalformed) {
  auto parser = parser_for(LogFormat::kSyslog);
  Record r;
  for (const char* line : {"", "Mar 27 13:06:56", "Mar 27 13:06:56 host", "Mar 27 13:06:56 host no tag here",
                           "2025-12-19T10:01:02Z nginx restarted", "1703000000 host app: x",
                           "Mar 32 13:06:56 host app: x", "hello world: x"}) {
    EXPECT_FALSE(parser->parse(line, r)) << line;
  }
}

// --- w3c ----------------------------------------------------------------------------

TEST(W3cParser, ReadsIisLogsByTheirFieldsDirective) {
  auto parser = parser_for(LogFormat::kW3c);
  parser->begin_input("u_ex251219.log");
  Record r;
  EXPECT_FALSE(parser->parse("2025-12-19 10:01:02 W3SVC1 GET /a 500 120", r));  // no directive yet
  parser->comment("#Software: Microsoft Internet Information Services 10.0");
  parser->comment(
      "#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query c-ip sc-status time-taken");
  ASSERT_TRUE(
      parser->parse("2025-12-19 10:01:02 W3SVC1 10.0.0.5 GET /api/orders id=5 203.0.113.7 500 120", r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19 10:01:02");
  EXPECT_EQ(r[FieldId::kService], "W3SVC1");
  EXPECT_EQ(r[FieldId::kMethod], "GET");
  EXPECT_EQ(r[FieldId::kPath], "/api/orders");
  EXPECT_EQ(r[FieldId::kClient], "203.0.113.7");
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(r[FieldId::kLatency], "120");
  EXPECT_EQ(r.latency_unit_us, 1000);
  EXPECT_EQ(parse_timestamp(r[FieldId::kTs], TimeContext{}), utc(2025, 12, 19, 10, 1, 2));
  ASSERT_TRUE(parser->parse("2025-12-19 10:01:03 - 10.0.0.5 GET /b - - 200 7", r));  // s-sitename `-`
  EXPECT_EQ(r[FieldId::kService], "10.0.0.5");
  EXPECT_EQ(r[FieldId::kClient], "");
  EXPECT_FALSE(parser->parse("2025-12-19 10:01:03 W3SVC1 10.0.0.5 GET /b - - 200", r));  // one value short
  EXPECT_FALSE(parser->parse("2025-12-19 10:01:03 W3SVC1 10.0.0.5 GET /b - - 200 7 x", r));  // one too many
  EXPECT_FALSE(parser->parse("2025-12-19  10:01:03 W3SVC1 10.0.0.5 GET /b - - 200 7", r));   // empty value
  // A later directive replaces the mapping.
  parser->comment("#Fields: time cs-uri-stem sc-status");
  parser->comment("#Date: 2025-12-20 00:00:00");
  ASSERT_TRUE(parser->parse("00:00:05 /c 503", r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-20 00:00:05");
  EXPECT_EQ(r[FieldId::kPath], "/c");
  EXPECT_EQ(r[FieldId::kService], "u_ex251219");  // no service column: the file's base name
  EXPECT_EQ(r[FieldId::kLatency], "");
}

TEST(W3cParser, CloudFrontTabsAndSeconds) {
  auto parser = parser_for(LogFormat::kW3c);
  Record r;
  parser->comment("#Version: 1.0");
  parser->comment(
      "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status time-taken");
  ASSERT_TRUE(parser->parse(
      "2025-12-19\t10:01:02\tFRA2-C1\t512\t198.51.100.9\tGET\td111.cloudfront.net\t/img/a.png\t502\t0.082",
      r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19 10:01:02");
  EXPECT_EQ(r[FieldId::kService], "d111.cloudfront.net");
  EXPECT_EQ(r[FieldId::kPath], "/img/a.png");
  EXPECT_EQ(r[FieldId::kLatency], "0.082");
  EXPECT_EQ(r.latency_unit_us, 1'000'000);
  // --latency-unit overrides the format's unit.
  LogFormatConfig config;
  config.format = LogFormat::kW3c;
  config.latency_unit_us = 1000;
  auto ms = make_record_parser(config);
  ms->comment("#Fields: x-edge-location time-taken");
  ASSERT_TRUE(ms->parse("FRA2 82", r));
  EXPECT_EQ(r.latency_unit_us, 1000);
}

TEST(W3cParser, ParseSeesDirectivesToo) {
  // merge hands every line to parse: the directive must still take effect.
  auto parser = parser_for(LogFormat::kW3c);
  Record r;
  EXPECT_FALSE(parser->parse("#Fields: time sc-status", r));
  ASSERT_TRUE(parser->parse("10:00:00 404", r));
  EXPECT_EQ(r[FieldId::kStatus], "404");
}

// The reasons the new formats give for a malformed line.
TEST(ParseStatus, SyslogAndW3cReasons) {
  Record r;
  auto syslog = parser_for(LogFormat::kSyslog);
  EXPECT_EQ(syslog->parse("Mar 27 13:06:56 host no tag", r).status, ParseStatus::kNotSyslog);
  EXPECT_EQ(syslog->parse("<34>1 2025-12-19T10:01:02Z h a 1 - [x", r).status, ParseStatus::kNotSyslog);
  EXPECT_EQ(parse_status_name(ParseStatus::kNotSyslog), "not_syslog");
  auto w3c = parser_for(LogFormat::kW3c);
  EXPECT_EQ(w3c->parse("2025-12-19 10:00:00 /a 500", r).status, ParseStatus::kNoW3cDirective);
  w3c->comment("#Fields: date time cs-uri-stem sc-status");
  EXPECT_EQ(w3c->parse("2025-12-19 10:00:00 /a", r).status, ParseStatus::kW3cFieldCount);
  EXPECT_EQ(w3c->parse("2025-12-19 10:00:00 /a 500 x", r).status, ParseStatus::kW3cFieldCount);
  EXPECT_EQ(w3c->parse("2025-12-19 10:00:00 /a 500", r).status, ParseStatus::kOk);
  EXPECT_EQ(parse_status_name(ParseStatus::kNoW3cDirective), "no_w3c_directive");
  EXPECT_EQ(parse_status_name(ParseStatus::kW3cFieldCount), "w3c_field_count");
}

// A small in-tree stand-in for fuzz_syslog and fuzz_w3c: seed lines cut and mutated at
// random, fed through the parsers and the sniffer; every field must be a readable view
// (the sanitizer build checks each read) and nothing may throw.
TEST(SyslogAndW3c, MutatedLinesNeverBreakTheParsers) {
  const std::vector<std::string> seeds = {
      "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.",
      "<13>Dec 19 10:01:02 web1 systemd[1]: foo.service: Scheduled restart job, restart counter is at 5.",
      "2025-12-19T10:01:02.123456+00:00 web1 nginx[77]: worker exited",
      R"(<165>1 2025-12-19T10:01:02Z host app - - [ex@32473 iut="3" note="a \"]\" b"] message)",
      "#Fields: date time s-sitename cs-method cs-uri-stem sc-status time-taken",
      "2025-12-19 10:00:01 W3SVC1 GET /api/orders 500 120",
      "2025-12-19\t10:01:02\tFRA2\t/img/a.png\t502\t0.082"};
  std::mt19937 random(20251219);
  auto syslog = parser_for(LogFormat::kSyslog);
  auto w3c = parser_for(LogFormat::kW3c);
  w3c->comment("#Fields: date time s-sitename cs-method cs-uri-stem sc-status time-taken");
  Record r;
  size_t sum = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string line = seeds[random() % seeds.size()];
    for (int edits = static_cast<int>(random() % 4); edits > 0 && !line.empty(); --edits) {
      size_t at = random() % line.size();
      switch (random() % 4) {
        case 0: line[at] = static_cast<char>(random() % 256); break;
        case 1: line.resize(at); break;
        case 2: line.erase(at, 1); break;
        default: line.insert(at, 1, " []\":<>#-\t"[random() % 11]); break;
      }
    }
    for (RecordParser* parser : {syslog.get(), w3c.get()}) {
      if (is_comment_line(line)) {
        parser->comment(line);
        continue;
      }
      if (parser->parse(line, r)) {
        for (std::string_view field : r.fields) {
          for (char c : field) sum += static_cast<unsigned char>(c);
        }
      }
    }
    if (round % 100 == 0) (void)sniff_log_format(line + "\n" + seeds[random() % seeds.size()] + "\n");
  }
  EXPECT_GT(sum, 0u);
}

TEST(InputHead, StreamStillDeliversEveryByte) {
  test::TempDir dir;
  std::string data;
  for (int i = 0; i < 5000; ++i) data += "line " + std::to_string(i) + "\n";
  test::write_file(dir.file("a.log"), data);
  Input input = Input::open(dir.file("a.log"));
  EXPECT_EQ(input.head(100), data.substr(0, 100));
  EXPECT_EQ(input.head(100), data.substr(0, 100));
  std::string all;
  char buffer[777];
  while (size_t n = input.stream().read(buffer, sizeof buffer)) all.append(buffer, n);
  EXPECT_EQ(all, data);
}

}  // namespace
}  // namespace opsktl
