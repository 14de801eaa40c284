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

TEST(DedupeExtents, SameExtentsOnlyWhenEveryExtentHasTheSamePlace) {
  using E = std::vector<Extent>;
  E a = {{0, 1 << 20, 65536, 0x2000}, {65536, 5 << 20, 4096, 0x2000 | 0x1}};  // shared; last
  EXPECT_TRUE(same_extents(a, a));
  E moved = a;
  moved[1].physical += 4096;  // one block elsewhere: a copy, not a clone
  EXPECT_FALSE(same_extents(a, moved));
  EXPECT_FALSE(same_extents(a, E(a.begin(), a.begin() + 1)));
  EXPECT_FALSE(same_extents({}, {}));  // nothing known
  E delayed = a;
  delayed[0].flags |= 0x4;  // FIEMAP_EXTENT_DELALLOC: no place yet
  EXPECT_FALSE(same_extents(delayed, delayed));
  E inline_data = {{0, 0, 100, 0x200 | 0x1}};  // FIEMAP_EXTENT_DATA_INLINE
  EXPECT_FALSE(same_extents(inline_data, inline_data));
}

}  // namespace
}  // namespace opsktl::dedupe_detail
