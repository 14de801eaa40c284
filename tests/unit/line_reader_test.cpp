#include "opsktl/line_reader.hpp"

#include <cstring>
#include <random>

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

TEST(LineReader, SplitsLinesAtNewlines) { expect_lines_for_all_buffers("a\nbb\nccc\n", {"a", "bb", "ccc"}); }

TEST(LineReader, YieldsLastLineWithoutNewline) { expect_lines_for_all_buffers("a\nlast", {"a", "last"}); }

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

// The last line of an input, without a newline, whatever its length: its last piece says
// the line ends there (continues false), also when the line fills the buffer exactly, so
// that merge writes its newline as for a short last line.
TEST(LineReader, OverlongLastLineWithoutNewlineEnds) {
  for (size_t size : {15, 16, 17, 32, 33, 48, 100}) {
    auto stream = make_string_stream("a\n" + std::string(size, 'x'));
    LineReader reader(*stream, {16, 16});
    Line line;
    std::string joined;
    bool ended = false;
    int lines = 0;
    while (reader.next(line)) {
      EXPECT_FALSE(ended) << size << ": a piece after the end of the line";
      if (line.continuation) {
        joined.append(line.text);
      } else {
        ++lines;
        if (line.text != "a") joined.append(line.text);
      }
      if (line.text != "a") ended = !line.continues;
    }
    EXPECT_TRUE(ended) << size;
    EXPECT_EQ(joined, std::string(size, 'x')) << size;
    EXPECT_EQ(lines, 2) << size;
    EXPECT_EQ(reader.line_number(), 2u) << size;
  }
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

// Lines of every length from 0 to 130 put a newline at every offset of a 64-byte search
// block, also right before and after a block boundary and at the end of the data.
TEST(LineReader, FindsNewlinesAtEveryOffsetOfASearchBlock) {
  std::string data;
  Lines expected;
  for (size_t length = 0; length <= 130; ++length) {
    expected.emplace_back(length, static_cast<char>('a' + length % 26));
    data += expected.back() + "\n";
  }
  expect_lines_for_all_buffers(data, expected);
  for (size_t buffer : {63, 64, 65, 127, 128, 129}) {
    auto stream = make_string_stream(data);
    EXPECT_EQ(read_lines(*stream, {buffer, 1 << 20}), expected) << "buffer " << buffer;
  }
}

// What a byte-by-byte splitter gives: each line's bytes, whether a newline ended it,
// and whether it reached max_line bytes (then it comes in pieces).
struct SplitLine {
  std::string text;
  bool newline = false;
  bool whole = true;
  uint64_t number = 0;
  bool operator==(const SplitLine&) const = default;
};

std::vector<SplitLine> split_simply(const std::string& data, size_t max_line) {
  std::vector<SplitLine> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = start;
    while (end < data.size() && data[end] != '\n') ++end;
    SplitLine line{data.substr(start, end - start), end < data.size(), end - start < max_line,
                   lines.size() + 1};
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<SplitLine> split_with_reader(const std::string& data, LineReaderOptions options) {
  auto stream = make_string_stream(data);
  LineReader reader(*stream, options);
  std::vector<SplitLine> lines;
  Line line;
  while (reader.next(line)) {
    if (line.continuation) {
      lines.back().text.append(line.text);
    } else {
      lines.push_back({std::string(line.text), false, true, reader.line_number()});
    }
    lines.back().newline = line.newline;
    if (!line.whole()) lines.back().whole = false;
    EXPECT_LE(line.text.size(), options.max_line_bytes);
  }
  return lines;
}

// Random data with CRLF endings, blank lines, overlong lines and no final newline, split
// with read buffers and line limits of many sizes, against the byte-by-byte splitter.
TEST(LineReader, MatchesAByteByByteSplitterOnRandomData) {
  std::mt19937 random(20261127);
  const std::string alphabet = "ab \t\r\n\n\xff";
  for (int round = 0; round < 300; ++round) {
    std::string data;
    size_t length = random() % 400;
    for (size_t i = 0; i < length; ++i) {
      if (random() % 50 == 0) data.append(random() % 150, 'x');  // a long run without '\n'
      data += alphabet[random() % alphabet.size()];
    }
    size_t max_line = 1 + random() % 200;
    size_t buffer = 1 + random() % 300;
    auto expected = split_simply(data, max_line);
    EXPECT_EQ(split_with_reader(data, {buffer, max_line}), expected)
        << "round " << round << ", buffer " << buffer << ", max_line " << max_line;
  }
}

TEST(LineReader, BlankMeansOnlySpacesTabsAndCarriageReturns) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r"));
  EXPECT_FALSE(is_blank(" x "));
}

}  // namespace
}  // namespace opsktl
