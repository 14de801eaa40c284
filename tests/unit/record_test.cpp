#include "opsktl/record.hpp"

#include <gtest/gtest.h>

namespace opsktl {
namespace {

constexpr FieldPositions kDefault = {1, 2, 3, 4, 5, 0, 0, 0};

TEST(FieldsParser, SplitsOnSpacesAndTabs) {
  FieldsParser parser(kDefault);
  Record r;
  ASSERT_TRUE(parser.parse("2025-12-19T10:01:02Z  serviceA\t/api/v1/orders 500 120", r));
  EXPECT_EQ(r[FieldId::kTs], "2025-12-19T10:01:02Z");
  EXPECT_EQ(r[FieldId::kService], "serviceA");
  EXPECT_EQ(r[FieldId::kPath], "/api/v1/orders");
  EXPECT_EQ(r[FieldId::kStatus], "500");
  EXPECT_EQ(r[FieldId::kLatency], "120");
  EXPECT_EQ(r[FieldId::kEvent], "");
}

TEST(FieldsParser, IgnoresTrailingCarriageReturnAndExtraFields) {
  FieldsParser parser(kDefault);
  Record r;
  ASSERT_TRUE(parser.parse("t s /p 200 5 extra more\r", r));
  EXPECT_EQ(r[FieldId::kLatency], "5");
  ASSERT_TRUE(parser.parse("t s /p 200 5\r", r));
  EXPECT_EQ(r[FieldId::kLatency], "5");
}

TEST(FieldsParser, TooFewFieldsIsMalformed) {
  FieldsParser parser(kDefault);
  Record r;
  EXPECT_FALSE(parser.parse("t s /p 500", r));
  EXPECT_FALSE(parser.parse("", r));
}

TEST(FieldsParser, CustomPositions) {
  FieldPositions positions{};
  positions[static_cast<size_t>(FieldId::kStatus)] = 8;
  positions[static_cast<size_t>(FieldId::kPath)] = 6;
  FieldsParser parser(positions);
  Record r;
  ASSERT_TRUE(parser.parse("1.2.3.4 - - [x] \"GET /a HTTP/1.1\" 503 12", r));
  EXPECT_EQ(r[FieldId::kStatus], "503");
  EXPECT_EQ(r[FieldId::kPath], "/a");
  EXPECT_FALSE(parser.provides(FieldId::kLatency));
  EXPECT_TRUE(parser.provides(FieldId::kStatus));
}

TEST(FieldNames, RoundTrip) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto id = static_cast<FieldId>(i);
    EXPECT_EQ(field_from_name(field_name(id)), id);
  }
  EXPECT_FALSE(field_from_name("nope"));
}

}  // namespace
}  // namespace opsktl
