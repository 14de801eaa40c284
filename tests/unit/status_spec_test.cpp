#include "opsktl/status_spec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace opsktl {
namespace {

TEST(StatusSpec, ClassCoversHundred) {
  auto set = parse_status_spec("5xx");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->contains(500));
  EXPECT_TRUE(set->contains(599));
  EXPECT_FALSE(set->contains(499));
  EXPECT_FALSE(set->contains(600));
}

TEST(StatusSpec, CommaListOfClasses) {
  auto set = parse_status_spec("4xx,5xx");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->contains(404));
  EXPECT_TRUE(set->contains(503));
  EXPECT_FALSE(set->contains(302));
}

TEST(StatusSpec, InclusiveRange) {
  auto set = parse_status_spec("500-504");
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->contains(499));
  EXPECT_TRUE(set->contains(500));
  EXPECT_TRUE(set->contains(504));
  EXPECT_FALSE(set->contains(505));
}

TEST(StatusSpec, SingleStatusAndMixedList) {
  auto set = parse_status_spec("502,429,400-401");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->contains(502));
  EXPECT_TRUE(set->contains(429));
  EXPECT_TRUE(set->contains(401));
  EXPECT_FALSE(set->contains(500));
}

TEST(StatusSpec, RejectsOtherForms) {
  for (const char* spec : {"", "5", "5xxx", "abc", "504-500", "50x", "5xx,", ",5xx", "0xx", "1000"}) {
    EXPECT_FALSE(parse_status_spec(spec)) << spec;
  }
}

TEST(ParseStatus, OnlyThreeDigits) {
  EXPECT_EQ(parse_status("200"), 200);
  EXPECT_EQ(parse_status("099"), 99);
  EXPECT_EQ(parse_status("5xx"), -1);
  EXPECT_EQ(parse_status("2OO"), -1);
  EXPECT_EQ(parse_status("50"), -1);
  EXPECT_EQ(parse_status("5000"), -1);
  EXPECT_EQ(parse_status("-"), -1);
  // Every byte next to the digits' range, in every position: '/' and ':' border '0'-'9'.
  for (int pos = 0; pos < 3; ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string text = "555";
      text[static_cast<size_t>(pos)] = static_cast<char>(byte);
      int expected = byte >= '0' && byte <= '9' ? std::stoi(text) : -1;
      EXPECT_EQ(parse_status(text), expected) << pos << " " << byte;
    }
  }
}

}  // namespace
}  // namespace opsktl
