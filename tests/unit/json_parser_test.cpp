// The json record parser on its own: which values it extracts, how it decodes them, and
// which lines it rejects as not one valid JSON object (RFC 8259). Expected values are
// written by hand from the JSON grammar.
#include <gtest/gtest.h>

#include <string>

#include "opsktl/record.hpp"

namespace opsktl {
namespace {

std::unique_ptr<RecordParser> json_parser(FieldKeys keys = {}) {
  LogFormatConfig config;
  config.format = LogFormat::kJson;
  config.keys = std::move(keys);
  return make_record_parser(config);
}

FieldKeys keys_with(FieldId id, const std::string& key) {
  FieldKeys keys;
  keys[static_cast<size_t>(id)] = key;
  return keys;
}

// The status field of `line`, or "MALFORMED".
std::string status_of(RecordParser& parser, std::string_view line) {
  Record r;
  if (!parser.parse(line, r)) return "MALFORMED";
  return std::string(r[FieldId::kStatus]);
}

std::string service_of(RecordParser& parser, std::string_view line) {
  Record r;
  if (!parser.parse(line, r)) return "MALFORMED";
  return std::string(r[FieldId::kService]);
}

TEST(JsonParser, ReadsKeysNestedAtAnyDepth) {
  auto parser = json_parser(keys_with(FieldId::kStatus, "a.b.c"));
  EXPECT_EQ(status_of(*parser, R"({"a":{"x":1,"b":{"y":[2],"c":503}}})"), "503");
  EXPECT_EQ(status_of(*parser, R"({"a":{"b":{"c":{"d":1}}}})"), "");  // an object is no value
  EXPECT_EQ(status_of(*parser, R"({"a":{"b":7}})"), "");
  EXPECT_EQ(status_of(*parser, R"({"c":1,"b":{"c":2}})"), "");
}

TEST(JsonParser, SameKeyAtAnotherDepthDoesNotMatch) {
  auto top = json_parser();
  EXPECT_EQ(status_of(*top, R"({"x":{"status":500},"status":200})"), "200");
  EXPECT_EQ(status_of(*top, R"({"x":{"status":500}})"), "");
  auto nested = json_parser(keys_with(FieldId::kStatus, "http.status"));
  EXPECT_EQ(status_of(*nested, R"({"status":500,"http":{"status":502}})"), "502");
  EXPECT_EQ(status_of(*nested, R"({"status":500,"http":{"x":{"status":501}}})"), "");
}

TEST(JsonParser, ArraysAreNotSearchedForKeys) {
  auto top = json_parser();
  EXPECT_EQ(status_of(*top, R"({"a":[{"status":500}],"status":204})"), "204");
  EXPECT_EQ(status_of(*top, R"({"a":[{"status":500}]})"), "");
  EXPECT_EQ(status_of(*top, R"({"status":[500]})"), "");
  auto nested = json_parser(keys_with(FieldId::kStatus, "http.status"));
  EXPECT_EQ(status_of(*nested, R"({"http":[{"status":502}]})"), "");
  EXPECT_EQ(status_of(*nested, R"({"x":[{"http":{"status":502}}],"http":{"status":503}})"), "503");
}

TEST(JsonParser, KeysThatArePrefixesOfEachOtherAreToldApart) {
  auto parser = json_parser();
  // status, code and status_code are the status keys; the others only look alike.
  EXPECT_EQ(status_of(*parser, R"({"stat":1,"statu":2,"status_":3,"statuses":4,"status_code":404})"), "404");
  EXPECT_EQ(status_of(*parser, R"({"status_cod":1,"status_codes":2,"Status":3,"":4})"), "");
  // Keys longer than 8 and 16 bytes that share their first bytes.
  Record r;
  ASSERT_TRUE(parser->parse(R"({"__REALTIME_TIMESTAMX":"1","__REALTIME_TIMESTAM":"2","latency_mx":3,)"
                            R"("latency_m":4,"__REALTIME_TIMESTAMP":"1766138462123456","latency_ms":5})",
                            r));
  EXPECT_EQ(r[FieldId::kTs], "1766138462123456");
  EXPECT_EQ(r[FieldId::kLatency], "5");
  // One key is both a value and a prefix: an object is entered, anything else is the value.
  FieldKeys keys;
  keys[static_cast<size_t>(FieldId::kService)] = "http";
  keys[static_cast<size_t>(FieldId::kStatus)] = "http.status";
  auto both = json_parser(keys);
  ASSERT_TRUE(both->parse(R"({"http":{"status":502}})", r));
  EXPECT_EQ(r[FieldId::kService], "");
  EXPECT_EQ(r[FieldId::kStatus], "502");
  ASSERT_TRUE(both->parse(R"({"http":"web"})", r));
  EXPECT_EQ(r[FieldId::kService], "web");
  EXPECT_EQ(r[FieldId::kStatus], "");
}

TEST(JsonParser, DecodesEveryEscapeOfAUsedValue) {
  auto parser = json_parser();
  EXPECT_EQ(service_of(*parser, R"({"service":"q\" b\\ s\/ \b\f\n\r\t end"})"), "q\" b\\ s/ \b\f\n\r\t end");
  EXPECT_EQ(service_of(*parser, R"({"service":"\u0041\u00e9\u20AC\uffff"})"),
            "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
  EXPECT_EQ(service_of(*parser, R"({"service":"\ud83d\ude00 \uD800\uDC00 \udbff\udfff"})"),
            "\xf0\x9f\x98\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf");
  EXPECT_EQ(service_of(*parser, R"({"service":"a\u0000b"})"), std::string("a\0b", 3));
  // Escapes at either side of a 16-byte block boundary, and in a long value.
  for (size_t at : {0, 14, 15, 16, 17, 31, 38}) {
    std::string before(at, 'x');
    std::string after(38 - at, 'y');
    EXPECT_EQ(service_of(*parser, R"({"service":")" + before + "\\n" + after + R"("})"),
              before + "\n" + after)
        << at;
  }
  // Without escapes the value is a view into the line.
  std::string line = R"({"service":"plain"})";
  Record r;
  ASSERT_TRUE(parser->parse(line, r));
  EXPECT_EQ(r[FieldId::kService].data(), line.data() + 12);
}

TEST(JsonParser, EscapedKeysMatchTheirDecodedName) {
  auto parser = json_parser();
  EXPECT_EQ(status_of(*parser, R"({"st\u0061tus":503})"), "503");
  EXPECT_EQ(status_of(*parser, R"({"stat\"us":503})"), "");
}

TEST(JsonParser, LoneSurrogatesAreMalformedWantedOrNot) {
  auto parser = json_parser();
  for (const char* value :
       {R"(\ud800)", R"(\udbff)", R"(\udc00)", R"(\udfff)", R"(\ud800\u0041)", R"(\ud800x)", R"(\ud800\n)",
        R"(\udbff\udbff)", R"(\ude00\ud83d)", R"(a\ud800)"}) {
    EXPECT_EQ(service_of(*parser, std::string(R"({"service":")") + value + R"("})"), "MALFORMED") << value;
    EXPECT_EQ(service_of(*parser, std::string(R"({"unused":")") + value + R"("})"), "MALFORMED") << value;
  }
}

TEST(JsonParser, BadEscapesAreMalformed) {
  auto parser = json_parser();
  for (const char* value :
       {R"(\x41)", R"(\')", R"(\a)", R"(\U0041)", R"(\u12)", R"(\u12g4)", R"(\u-123)", R"(\u 123)", R"(\)"}) {
    EXPECT_EQ(service_of(*parser, std::string(R"({"service":")") + value + R"("})"), "MALFORMED") << value;
    EXPECT_EQ(service_of(*parser, std::string(R"({"x":[")") + value + R"("]})"), "MALFORMED") << value;
  }
  EXPECT_EQ(service_of(*parser, R"({"service":"abc\)"), "MALFORMED");  // cut off after the backslash
}

TEST(JsonParser, ControlCharactersInStringsAreMalformed) {
  auto parser = json_parser();
  for (char c : {'\x00', '\x01', '\t', '\n', '\r', '\x1f'}) {
    std::string in_value = std::string(R"({"service":"a)") + c + R"(b"})";
    std::string in_key = std::string(R"({"k)") + c + R"(":1})";
    std::string in_skipped = std::string(R"({"x":{"y":"a)") + c + R"("}})";
    EXPECT_EQ(service_of(*parser, in_value), "MALFORMED") << int{c};
    EXPECT_EQ(service_of(*parser, in_key), "MALFORMED") << int{c};
    EXPECT_EQ(service_of(*parser, in_skipped), "MALFORMED") << int{c};
  }
  EXPECT_EQ(service_of(*parser, "{\"service\":\"a\x7f\"}"), "a\x7f");  // DEL is no control character in JSON
}

TEST(JsonParser, InvalidUtf8IsMalformedValidIsKept) {
  auto parser = json_parser();
  EXPECT_EQ(service_of(*parser, "{\"service\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  for (const char* bad :
       {"\xff", "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf0\x80\x80\xaf",
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82", "\xc3", "\xc3("}) {
    EXPECT_EQ(service_of(*parser, std::string("{\"service\":\"") + bad + "\"}"), "MALFORMED");
    EXPECT_EQ(service_of(*parser, std::string("{\"unused\":\"") + bad + "\"}"), "MALFORMED");
    EXPECT_EQ(service_of(*parser, std::string("{\"service\":\"x\"}") + bad), "MALFORMED");
  }
  // Non-ASCII at 16-byte block boundaries and at the end of a long line.
  for (size_t at : {0, 13, 14, 15, 16, 30}) {
    std::string value = std::string(at, 'a') + "\xe2\x82\xac" + std::string(20, 'b');
    EXPECT_EQ(service_of(*parser, "{\"service\":\"" + value + "\"}"), value) << at;
    value.erase(at + 2, 1);  // a cut sequence
    EXPECT_EQ(service_of(*parser, "{\"service\":\"" + value + "\"}"), "MALFORMED") << at;
  }
}

TEST(JsonParser, EveryNumberFormKeepsItsText) {
  auto parser = json_parser();
  for (const char* number : {"0", "-0", "7", "-12", "1.5", "-0.25", "0.0", "1e5", "1E5", "1e+5", "1e-5",
                             "2.5E-3", "-0e0", "123456789012345678901234567890", "1.7976931348623157e309"}) {
    EXPECT_EQ(status_of(*parser, std::string(R"({"status":)") + number + "}"), number);
    EXPECT_EQ(status_of(*parser, std::string(R"({"status": )") + number + " }"), number);
    EXPECT_EQ(status_of(*parser, std::string(R"({"x":[)") + number + "," + number + R"(],"status":1})"), "1");
  }
}

TEST(JsonParser, BadNumbersAreMalformedWantedOrNot) {
  auto parser = json_parser();
  for (const char* number :
       {"01",  "-01",      "00",        "1.",    ".5",  "-",    "+1",    "1e",    "1e+",  "1E-", "0x10",
        "NaN", "Infinity", "-Infinity", "1.5.5", "--1", "1ee5", "1e5.0", "1_000", "1,5,", "- 1"}) {
    EXPECT_EQ(status_of(*parser, std::string(R"({"status":)") + number + "}"), "MALFORMED") << number;
    EXPECT_EQ(status_of(*parser, std::string(R"({"unused":)") + number + "}"), "MALFORMED") << number;
    EXPECT_EQ(status_of(*parser, std::string(R"({"x":[)") + number + "]}"), "MALFORMED") << number;
  }
}

TEST(JsonParser, TrueFalseKeepTheirTextNullLeavesTheFieldEmpty) {
  auto parser = json_parser();
  Record r;
  ASSERT_TRUE(parser->parse(R"({"status":true,"service":false,"path":null,"x":[true,false,null]})", r));
  EXPECT_EQ(r[FieldId::kStatus], "true");
  EXPECT_EQ(r[FieldId::kService], "false");
  EXPECT_EQ(r[FieldId::kPath], "");
  for (const char* word : {"tru", "nul", "fals", "truex", "True", "NULL", "nil", "t"}) {
    EXPECT_EQ(status_of(*parser, std::string(R"({"status":)") + word + "}"), "MALFORMED") << word;
    EXPECT_EQ(status_of(*parser, std::string(R"({"unused":)") + word + "}"), "MALFORMED") << word;
  }
}

TEST(JsonParser, WhitespaceIsAllowedBetweenAllTokens) {
  auto parser = json_parser();
  Record r;
  ASSERT_TRUE(
      parser->parse(" \t{ \n\"status\" \r: \t500 ,\n \"path\" : \"/a\" , \"x\" : [ 1 , { \"y\" : 2 } , [ ] ,"
                    " { } ] , \"z\" : { } } \t\r",
                    r));
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(r[FieldId::kPath], "/a");
  ASSERT_TRUE(parser->parse("{}", r));
  ASSERT_TRUE(parser->parse("{ }", r));
  EXPECT_FALSE(parser->parse("{\"status\":500}\v", r));  // \v and \f are not JSON whitespace
  EXPECT_FALSE(parser->parse("{\f\"status\":500}", r));
}

TEST(JsonParser, BracesAndQuotesInsideStringsAreText) {
  auto parser = json_parser();
  Record r;
  ASSERT_TRUE(parser->parse(
      R"({"x":"}","y":"{","z":["]","}",{"k":"[{\"}"}],"path":"/a{b}[c]\"d\"","status":500})", r));
  EXPECT_EQ(r[FieldId::kPath], "/a{b}[c]\"d\"");
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(status_of(*parser, R"({"x":"\\","status":501})"), "501");  // an escaped backslash ends no string
  EXPECT_EQ(status_of(*parser, R"({"x":"\\\"","status":502})"), "502");
}

TEST(JsonParser, DuplicateKeysFirstOneWins) {
  auto parser = json_parser();
  EXPECT_EQ(status_of(*parser, R"({"status":500,"status":200})"), "500");
  EXPECT_EQ(status_of(*parser, R"({"status":500,"st\u0061tus":200})"), "500");
  EXPECT_EQ(status_of(*parser, R"({"status":null,"status":200})"), "");    // null is a value too
  EXPECT_EQ(status_of(*parser, R"({"status":[1],"status":200})"), "200");  // an array is none
  auto nested = json_parser(keys_with(FieldId::kStatus, "http.status"));
  EXPECT_EQ(status_of(*nested, R"({"http":{"status":502},"http":{"status":503}})"), "502");
  EXPECT_EQ(status_of(*nested, R"({"http":{"x":1},"http":{"status":503}})"), "503");
}

TEST(JsonParser, TruncatedOrUnbalancedLinesAreMalformed) {
  auto parser = json_parser();
  for (const char* line : {"{",
                           R"({"status")",
                           R"({"status":)",
                           R"({"status":5)",
                           R"({"status":"5)",
                           R"({"status":"5"})"
                           "}",
                           R"({"a":[1,2})",
                           R"({"a":{"b":1]})",
                           R"({"a":[1,2]]})",
                           R"({"a":1,})",
                           R"({,})",
                           R"({"a" 1})",
                           R"({"a":1 "b":2})",
                           R"({'a':1})",
                           R"({a:1})",
                           R"({"a":[1,]})",
                           R"({"a":[,1]})",
                           R"({"a":{"b"}})",
                           R"({"a":{"b":}})",
                           R"({"a":{,}})",
                           R"({"a":[)",
                           R"({"a":{)",
                           R"({"a":[1)",
                           R"({"a":{"b":1)",
                           R"({"a":1]})",
                           "{]",
                           "{1:2}",
                           R"({"a"::1})",
                           R"({"a":1,,"b":2})",
                           "{\"a\":\"\\u00e"}) {
    EXPECT_EQ(status_of(*parser, line), "MALFORMED") << line;
  }
}

TEST(JsonParser, OnlyOneObjectMakesALine) {
  auto parser = json_parser();
  for (const char* line : {"", " ", "[1]", "[]", R"("status")", "1", "true", "null", R"({"a":1}x)",
                           R"({"a":1} {})", R"({"a":1},)", R"({"a":1}})", "\n{\"a\":1}", "x{\"a\":1}"}) {
    EXPECT_EQ(status_of(*parser, line), "MALFORMED") << line;
  }
}

TEST(JsonParser, NestingIsBoundedAt1024) {
  auto parser = json_parser();
  // The line's object and 1023 arrays: accepted; one more level: malformed.
  auto arrays = [](int n) { return R"({"status":1,"x":)" + std::string(n, '[') + std::string(n, ']') + "}"; };
  EXPECT_EQ(status_of(*parser, arrays(1023)), "1");
  EXPECT_EQ(status_of(*parser, arrays(1024)), "MALFORMED");
  std::string objects = "{";
  for (int i = 0; i < 100000; ++i) objects += R"("a":{)";
  EXPECT_EQ(status_of(*parser, objects), "MALFORMED");  // no stack overflow either way
  EXPECT_EQ(status_of(*parser, std::string(1000000, '[')), "MALFORMED");
  EXPECT_EQ(status_of(*parser, "{\"x\":" + std::string(1000000, '[')), "MALFORMED");
  // Along a wanted path too.
  std::string key = "a";
  for (int i = 0; i < 1100; ++i) key += ".a";
  auto deep = json_parser(keys_with(FieldId::kStatus, key));
  auto path = [](int n) {
    std::string line;
    for (int i = 0; i < n; ++i) line += R"({"a":)";
    return line + "5" + std::string(n, '}');
  };
  EXPECT_EQ(status_of(*deep, path(1024)), "");
  EXPECT_EQ(status_of(*deep, path(1025)), "MALFORMED");
  EXPECT_EQ(status_of(*deep, path(1500)), "MALFORMED");
}

TEST(JsonParser, JournaldByteArrayMessageLeavesTheEventEmpty) {
  // journalctl -o json writes a MESSAGE that is not UTF-8 as an array of byte values.
  auto parser = json_parser();
  Record r;
  ASSERT_TRUE(parser->parse(R"({"__REALTIME_TIMESTAMP":"1766138467210042","_SYSTEMD_UNIT":"nginx.service",)"
                            R"("MESSAGE":[110,103,105,110,120,58,32,255],"_PID":"4242"})",
                            r));
  EXPECT_EQ(r[FieldId::kEvent], "");
  EXPECT_EQ(r[FieldId::kService], "nginx.service");
  EXPECT_EQ(r[FieldId::kTs], "1766138467210042");
}

}  // namespace
}  // namespace opsktl
