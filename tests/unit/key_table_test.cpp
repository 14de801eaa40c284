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

// find_or_insert_padded reads kShortKeyBytes from the key's start and masks what lies
// past its end; it must find exactly the entries find_or_insert finds, for every
// length around the word and size boundaries, whatever bytes follow the key.
TEST(KeyTable, PaddedLookupAgreesWithPlainLookup) {
  KeyTable<int> table;
  std::mt19937 rng(3);
  std::string buffer(256, 'x');
  std::map<std::string, int> reference;
  for (int round = 0; round < 20000; ++round) {
    size_t size = rng() % 70;
    std::string key;
    for (size_t i = 0; i < size; ++i) key.push_back(static_cast<char>("ab\0/ "[rng() % 5]));
    // The key inside a buffer of random bytes: the same key with different neighbours.
    for (auto& c : buffer) c = static_cast<char>(rng());
    size_t at = rng() % 64;
    buffer.replace(at, key.size(), key);
    std::string_view in_buffer(buffer.data() + at, key.size());
    int& value = (round % 2 == 0) ? table.find_or_insert(key) : table.find_or_insert_padded(in_buffer);
    ++value;
    ++reference[key];
  }
  ASSERT_EQ(table.size(), reference.size());
  for (const auto& e : table.entries()) EXPECT_EQ(e.value, reference[std::string(e.key)]) << e.key;
}

TEST(KeyTable, PaddedKeysDifferingOnlyInATrailingNulAreDistinct) {
  KeyTable<int> table;
  std::string buffer(64, '\0');
  buffer.replace(0, 3, "abc");
  table.find_or_insert_padded(std::string_view(buffer.data(), 3)) = 1;
  table.find_or_insert_padded(std::string_view(buffer.data(), 4)) = 2;
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find_or_insert(std::string_view("abc\0", 4)), 2);
  EXPECT_EQ(table.find_or_insert("abc"), 1);
}

}  // namespace
}  // namespace opsktl
