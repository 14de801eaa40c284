#include "opsktl/line_reader.hpp"

#include <cstring>

#include "opsktl/read_progress.hpp"

#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::read_lines;
using Lines = std::vector<std::string>;

// Every buffer size from one byte up, so that lines cross buffer boundaries everywhere.
void expect_lines_for_all_buffers(const std::string& data, const Lines& expected) {
  for (size_t buffer : {1, 2, 3, 5, 8, 64, 1 << 20}) {
    auto stream = make_string_stream(data);
    EXPECT_EQ(read_lines(*stream, {buffer, 1 << 20}), expected) << "buffer " << buffer;
  }
}

TEST(LineReader, SplitsLinesAtNewlines) {
  expect_lines_for_all_buffers("a\nbb\nccc\n", {"a", "bb", "ccc"});
}

TEST(LineReader, YieldsLastLineWithoutNewline) {
  expect_lines_for_all_buffers("a\nlast", {"a", "last"});
}

TEST(LineReader, KeepsCarriageReturnForTheCaller) {
  expect_lines_for_all_buffers("a\r\nb\r\n", {"a\r", "b\r"});
  EXPECT_EQ(strip_cr("a\r"), "a");
  EXPECT_EQ(strip_cr("a"), "a");
}

TEST(LineReader, YieldsEmptyLines) { expect_lines_for_all_buffers("\n\nx\n\n", {"", "", "x", ""}); }

TEST(LineReader, EmptyInputHasNoLines) { expect_lines_for_all_buffers("", {}); }

TEST(LineReader, ReportsLineNumbers) {
  auto stream = make_string_stream("a\nb\nc");
  LineReader reader(*stream, {2, 1 << 20});
  Line line;
  std::vector<uint64_t> numbers;
  while (reader.next(line)) numbers.push_back(reader.line_number());
  EXPECT_EQ(numbers, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(LineReader, AddsBytesAndLinesReadToTheProcessProgress) {
  for (size_t buffer : {1, 3, 1 << 20}) {
    uint64_t bytes_before = read_progress().bytes.load();
    uint64_t lines_before = read_progress().lines.load();
    auto stream = make_string_stream("a\nbb\nccc\nlast");
    LineReader reader(*stream, {buffer, 1 << 20});
    Line line;
    while (reader.next(line)) {
    }
    EXPECT_EQ(read_progress().bytes.load() - bytes_before, 13u) << "buffer " << buffer;
    EXPECT_EQ(read_progress().lines.load() - lines_before, 4u) << "buffer " << buffer;
  }
}

TEST(LineReader, FlagsWhetherANewlineEndedTheLine) {
  auto stream = make_string_stream("a\nb");
  LineReader reader(*stream);
  Line line;
  ASSERT_TRUE(reader.next(line));
  EXPECT_TRUE(line.newline);
  ASSERT_TRUE(reader.next(line));
  EXPECT_FALSE(line.newline);
  EXPECT_FALSE(reader.next(line));
}

TEST(LineReader, HandsOutOverlongLinesInBoundedPieces) {
  std::string data = "short\n" + std::string(100, 'x') + "\nafter\n";
  auto stream = make_string_stream(data);
  LineReader reader(*stream, {4, 16});
  Line line;
  std::vector<std::string> pieces;
  std::string joined;
  size_t max_piece = 0;
  uint64_t long_line_number = 0;
  while (reader.next(line)) {
    if (!line.whole()) {
      max_piece = std::max(max_piece, line.text.size());
      joined.append(line.text);
      long_line_number = reader.line_number();
      EXPECT_EQ(line.continues, !line.newline);
    } else {
      pieces.emplace_back(line.text);
    }
  }
  EXPECT_EQ(pieces, (Lines{"short", "after"}));
  EXPECT_EQ(joined, std::string(100, 'x'));
  EXPECT_LE(max_piece, 16u);
  EXPECT_EQ(long_line_number, 2u);
  EXPECT_EQ(reader.line_number(), 3u);
}

TEST(LineReader, HugeLineWithoutNewlineUsesBoundedMemory) {
  // 64 MiB of garbage with no newline: the reader must stream it in pieces.
  class Garbage final : public ByteStream {
   public:
    size_t read(char* buffer, size_t size) override {
      size = std::min<size_t>(size, left_);
      std::memset(buffer, 0xAB, size);
      left_ -= size;
      return size;
    }
    size_t left_ = size_t{64} << 20;
  } garbage;
  LineReader reader(garbage, {1 << 16, 1 << 20});
  Line line;
  uint64_t bytes = 0;
  size_t max_piece = 0;
  while (reader.next(line)) {
    bytes += line.text.size();
    max_piece = std::max(max_piece, line.text.size());
  }
  EXPECT_EQ(bytes, uint64_t{64} << 20);
  EXPECT_LE(max_piece, size_t{1} << 20);
  EXPECT_EQ(reader.line_number(), 1u);
}

TEST(LineReader, BlankMeansOnlySpacesTabsAndCarriageReturns) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r"));
  EXPECT_FALSE(is_blank(" x "));
}

}  // namespace
}  // namespace opsktl
