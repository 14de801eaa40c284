#include "opsktl/path_normalizer.hpp"

#include <gtest/gtest.h>

namespace opsktl {
namespace {

std::string normalized(std::string_view path) {
  std::string scratch;
  return std::string(normalize_path(path, scratch));
}

TEST(NormalizePath, NumericSegmentsBecomeId) {
  EXPECT_EQ(normalized("/orders/12345"), "/orders/{id}");
  EXPECT_EQ(normalized("/api/v2/orders/1037/items"), "/api/v2/orders/{id}/items");
}

TEST(NormalizePath, UuidAndLongHexBecomeId) {
  EXPECT_EQ(normalized("/u/123e4567-e89b-12d3-a456-426614174000/x"), "/u/{id}/x");
  EXPECT_EQ(normalized("/blob/deadbeef12"), "/blob/{id}");
}

TEST(NormalizePath, WordsStay) {
  EXPECT_EQ(normalized("/api/v1/orders"), "/api/v1/orders");
  EXPECT_EQ(normalized("/feedface"), "/feedface");  // hex letters only: a word
  EXPECT_EQ(normalized("/"), "/");
}

TEST(NormalizePath, DropsQueryAndFragment) {
  EXPECT_EQ(normalized("/search?q=1"), "/search");
  EXPECT_EQ(normalized("/a/42?x#y"), "/a/{id}");
  EXPECT_EQ(normalized("/a#frag"), "/a");
}

}  // namespace
}  // namespace opsktl
