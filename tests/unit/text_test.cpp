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

TEST(PrintableExcerpt, EscapesWhatCouldBreakALineAndCutsOnACharacter) {
  EXPECT_EQ(printable_excerpt("GET /a 200"), "GET /a 200");
  EXPECT_EQ(printable_excerpt("a\tb\x1b[31m\x7f\\"), "a\\x09b\\x1B[31m\\x7F\\\\");
  EXPECT_EQ(printable_excerpt("caf\xC3\xA9 \xFF"), "caf\xC3\xA9 \\xFF");  // UTF-8 kept, invalid escaped
  EXPECT_EQ(printable_excerpt(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(printable_excerpt("abcd\xC3\xA9", 5), "abcd...");  // not half a character
  EXPECT_EQ(printable_excerpt("abcd\xC3\xA9", 6), "abcd\xC3\xA9");
  EXPECT_EQ(printable_excerpt(""), "");
}

}  // namespace
}  // namespace opsktl
