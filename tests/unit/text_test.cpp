#include "opsktl/text.hpp"

#include <gtest/gtest.h>

namespace opsktl {
namespace {

TEST(Utf8, ValidatesSequences) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
}

TEST(Utf8, EscapesOnlyInvalidBytes) {
  EXPECT_EQ(escape_invalid_utf8("a\xFF"
                                "b\xC3\xA9"),
            "a\\xFFb\xC3\xA9");
  EXPECT_EQ(escape_invalid_utf8("\xC3("), "\\xC3(");
}

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xFF\xFE"), "//4=");
}

}  // namespace
}  // namespace opsktl
