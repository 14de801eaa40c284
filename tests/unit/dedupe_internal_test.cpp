// The private helpers of dedupe (src/core/dedupe_internal.hpp).
#include "dedupe_internal.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace opsktl::dedupe_detail {
namespace {

std::vector<std::vector<int>> runs_of(const std::vector<int>& v) {
  std::vector<std::vector<int>> out;
  for_each_run(
      v.begin(), v.end(), [](int a, int b) { return a / 10 == b / 10; },
      [&](auto first, auto last) { out.emplace_back(first, last); });
  return out;
}

TEST(DedupeRuns, EachRunOfEqualKeysOnceInOrder) {
  using V = std::vector<std::vector<int>>;
  EXPECT_EQ(runs_of({}), V{});
  EXPECT_EQ(runs_of({5}), (V{{5}}));
  EXPECT_EQ(runs_of({1, 2, 11, 30, 31, 39}), (V{{1, 2}, {11}, {30, 31, 39}}));
  // Neighbours only: an equal key after a different one starts a new run.
  EXPECT_EQ(runs_of({1, 11, 2}), (V{{1}, {11}, {2}}));
}

}  // namespace
}  // namespace opsktl::dedupe_detail
