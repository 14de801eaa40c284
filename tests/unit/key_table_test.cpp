#include "opsktl/key_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace opsktl {
namespace {

TEST(KeyTable, CountsLikeAStdMap) {
  KeyTable<int> table;
  std::map<std::string, int> reference;
  std::mt19937 rng(1);
  for (int i = 0; i < 50000; ++i) {
    std::string key = "k";
    key += std::to_string(rng() % 5000);
    if (i % 7 == 0) key.push_back('\0');  // keys are bytes, NUL included
    ++table.find_or_insert(key);
    ++reference[key];
  }
  ASSERT_EQ(table.size(), reference.size());
  for (const auto& e : table.entries()) EXPECT_EQ(e.value, reference[std::string(e.key)]);
}

TEST(KeyTable, KeysOutliveTheCallersBuffer) {
  KeyTable<int> table;
  {
    std::string temporary = "service/path";
    table.find_or_insert(temporary) = 3;
    temporary.assign("overwritten!");
  }
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table.entries()[0].key, "service/path");
}

TEST(KeyTable, StoresKeysLargerThanABlock) {
  KeyTable<int> table;
  std::string big(1 << 20, 'b');
  table.find_or_insert(big) = 1;
  table.find_or_insert("small") = 2;
  EXPECT_EQ(table.find_or_insert(big), 1);
  EXPECT_EQ(table.find_or_insert(""), 0);
  EXPECT_EQ(table.size(), 3u);
}

}  // namespace
}  // namespace opsktl
