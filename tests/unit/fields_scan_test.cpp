#include "opsktl/fields_scan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "opsktl/line_reader.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

constexpr FieldPositions kDefault = {1, 2, 3, 4, 5, 0, 0, 0};

// Serves `data` at most `step` bytes per read, so that buffer edges fall everywhere.
class TrickleStream final : public ByteStream {
 public:
  TrickleStream(std::string data, size_t step) : data_(std::move(data)), step_(step) {}
  size_t read(char* buffer, size_t size) override {
    size_t n = std::min({size, step_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, n, buffer);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t step_;
  size_t pos_ = 0;
};

// What scan_fields_lines reports for one line, in plain values.
struct ScannedLine {
  std::string text;
  int fields = 0;
  std::vector<std::string> values;  // by FieldId, for lines with all fields
  bool operator==(const ScannedLine&) const = default;
};

std::vector<ScannedLine> scan(std::string_view text, const FieldPositions& positions) {
  FieldsLayout layout(positions);
  std::vector<ScannedLine> out;
  scan_fields_lines(text, layout, [&](const FieldsLine& line) {
    // Counting may go on past `last`; only "at least last" is promised.
    ScannedLine s{std::string(line.begin, line.end), std::min(line.fields, layout.last), {}};
    if (line.fields >= layout.last) {
      for (size_t id = 0; id < kFieldCount; ++id) s.values.emplace_back(line.field(layout.slot[id]));
    }
    out.push_back(std::move(s));
  });
  return out;
}

// The same through the per-line route: split at '\n', then FieldsParser.
std::vector<ScannedLine> reference_scan(std::string_view text, const FieldPositions& positions) {
  FieldsParser parser(positions);
  FieldsLayout layout(positions);
  std::vector<ScannedLine> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    std::string_view line = text.substr(start, nl - start);
    ScannedLine s{std::string(line), 0, {}};
    Record record;
    if (is_blank(strip_cr(line))) {
      s.fields = 0;
    } else if (parser.parse(strip_cr(line), record)) {
      s.fields = layout.last;
      for (size_t id = 0; id < kFieldCount; ++id) s.values.emplace_back(record.fields[id]);
    } else {
      s.fields = -1;  // fewer than last, but not blank
    }
    out.push_back(std::move(s));
  }
  return out;
}

// scan()'s field counts below `last` say only "malformed"; map them like the reference.
std::vector<ScannedLine> as_reference(std::vector<ScannedLine> lines, const FieldPositions& positions) {
  FieldsLayout layout(positions);
  for (auto& s : lines) {
    if (s.fields != 0 && s.fields < layout.last) s.fields = -1;
  }
  return lines;
}

// Random text made of the pieces log lines are made of, and of the ones they should
// not contain: tabs, runs of spaces, CR, blank lines, control and non-ASCII bytes.
std::string random_log(std::mt19937& rng, size_t lines) {
  static const std::vector<std::string> kWords = {"2025-12-19T10:01:02Z",
                                                  "1703000000",
                                                  "serviceA",
                                                  "svc",
                                                  "/api/v1/orders",
                                                  "/x",
                                                  "500",
                                                  "502",
                                                  "200",
                                                  "404",
                                                  "5xx",
                                                  "-",
                                                  "n/a",
                                                  "120",
                                                  "0",
                                                  "12ms",
                                                  "0.5s",
                                                  "850us",
                                                  "99999999999999999999",
                                                  "123456789012",
                                                  "1234567890123",
                                                  "a\vb",
                                                  "\xff\xfe",
                                                  "\xc3\xa9t\xc3\xa9",
                                                  std::string(1, '\0')};
  static const std::vector<std::string> kSeparators = {" ", " ", " ", "  ", "\t", " \t ", "\r "};
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    int kind = static_cast<int>(rng() % 10);
    if (kind == 0) {
      out += std::string(rng() % 3, ' ') + (rng() % 2 ? "\r" : "");  // blank
    } else {
      size_t fields = kind == 1 ? rng() % 5 : 5 + rng() % 3;               // kind 1: too few
      if (rng() % 4 == 0) out += kSeparators[rng() % kSeparators.size()];  // leading
      for (size_t f = 0; f < fields; ++f) {
        if (f > 0) out += kSeparators[rng() % kSeparators.size()];
        out += kWords[rng() % kWords.size()];
      }
      if (rng() % 4 == 0) out += kSeparators[rng() % kSeparators.size()];  // trailing
      if (rng() % 5 == 0) out += '\r';
    }
    if (i + 1 < lines || rng() % 2) out += '\n';
  }
  return out;
}

TEST(ClassifySeparators, MarksExactlySpaceTabCrLf) {
  // Every byte value at every position of a block.
  for (int shift = 0; shift < 64; ++shift) {
    std::string block(256 + 64, 'x');
    for (int c = 0; c < 256; ++c) block[static_cast<size_t>(c + shift)] = static_cast<char>(c);
    uint64_t sep[5], nl[5];
    classify_separators(block.data(), 5, sep, nl);
    for (size_t i = 0; i < block.size(); ++i) {
      char c = block[i];
      bool is_sep = c == ' ' || c == '\t' || c == '\r' || c == '\n';
      EXPECT_EQ((sep[i / 64] >> (i % 64)) & 1, is_sep ? 1u : 0u) << "byte " << int(c);
      EXPECT_EQ((nl[i / 64] >> (i % 64)) & 1, c == '\n' ? 1u : 0u) << "byte " << int(c);
    }
  }
}

TEST(ScanFieldsLines, FindsFieldsAsFieldsParser) {
  auto lines = scan("2025-12-19T10:01:02Z  serviceA\t/api/v1/orders 500 120\n", kDefault);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].fields, 5);
  EXPECT_EQ(lines[0].values[static_cast<size_t>(FieldId::kService)], "serviceA");
  EXPECT_EQ(lines[0].values[static_cast<size_t>(FieldId::kPath)], "/api/v1/orders");
  EXPECT_EQ(lines[0].values[static_cast<size_t>(FieldId::kLatency)], "120");
  EXPECT_EQ(lines[0].values[static_cast<size_t>(FieldId::kEvent)], "");
}

TEST(ScanFieldsLines, CrLfBlankTooFewAndExtraFields) {
  auto lines = scan("t s /p 200 5\r\n \t\r\n\nt s /p 500\nt s /p 200 5 extra more\r\n", kDefault);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].text, "t s /p 200 5\r");
  EXPECT_EQ(lines[0].values[static_cast<size_t>(FieldId::kLatency)], "5");
  EXPECT_EQ(lines[1].fields, 0);
  EXPECT_EQ(lines[2].fields, 0);
  EXPECT_EQ(lines[3].fields, 4);
  EXPECT_EQ(lines[4].fields, 5);
  EXPECT_EQ(lines[4].values[static_cast<size_t>(FieldId::kLatency)], "5");
}

TEST(ScanFieldsLines, TextAfterTheLastNewlineIsNotALine) {
  auto lines = scan("t s /p 200 5\nt s /p 200", kDefault);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(scan("no newline at all", kDefault).empty());
  EXPECT_TRUE(scan("", kDefault).empty());
}

TEST(ScanFieldsLines, LinesAcrossBlocksAndChunks) {
  // Fields straddling every 64-byte block edge and the 4 KiB chunk edges.
  std::string text;
  for (int i = 0; text.size() < 3 * 4096; ++i) {
    text += 't';
    text.append(static_cast<size_t>(i % 70), 's');
    text += " svc /p";
    text += std::to_string(i);
    text += " 500 ";
    text += std::to_string(i);
    text += '\n';
  }
  EXPECT_EQ(as_reference(scan(text, kDefault), kDefault), reference_scan(text, kDefault));
}

TEST(ScanFieldsLines, CustomPositionsAndSharedPosition) {
  FieldPositions positions{};
  positions[static_cast<size_t>(FieldId::kStatus)] = 9;
  positions[static_cast<size_t>(FieldId::kService)] = 1;
  positions[static_cast<size_t>(FieldId::kPath)] = 1;  // FieldsParser keeps the later FieldId
  std::string text = "a b c d e f g h 503\na b c d e f g h\n";
  EXPECT_EQ(as_reference(scan(text, positions), positions), reference_scan(text, positions));
  positions[static_cast<size_t>(FieldId::kLatency)] = 64;  // beyond what is read: never filled
  EXPECT_EQ(as_reference(scan(text, positions), positions), reference_scan(text, positions));
}

TEST(ScanFieldsLines, ManyFieldsAndLongSeparatorRuns) {
  FieldPositions positions{};
  positions[static_cast<size_t>(FieldId::kStatus)] = 63;
  positions[static_cast<size_t>(FieldId::kPath)] = 62;
  std::string many, runs;
  for (int i = 0; i < 100; ++i) many += std::to_string(i) + (i % 10 == 9 ? "\t" : " ");
  for (int i = 0; i < 70; ++i) runs += std::string(static_cast<size_t>(i % 3 + 1), ' ') + "f";
  std::string text = many + "\n" + many.substr(0, 120) + "\n" + runs + "\r\n" + std::string(200, ' ') + "\n";
  EXPECT_EQ(as_reference(scan(text, positions), positions), reference_scan(text, positions));
  EXPECT_EQ(as_reference(scan(text, kDefault), kDefault), reference_scan(text, kDefault));
}

TEST(ScanFieldsLines, SameAsFieldsParserOnRandomText) {
  std::mt19937 rng(20251219);
  std::vector<FieldPositions> layouts = {kDefault, {0, 1, 2, 3, 0, 0, 0, 0}, {1, 3, 2, 5, 7, 0, 0, 0}};
  for (int round = 0; round < 200; ++round) {
    std::string text = random_log(rng, 1 + rng() % 60);
    for (const auto& positions : layouts) {
      ASSERT_EQ(as_reference(scan(text, positions), positions), reference_scan(text, positions))
          << "round " << round;
    }
  }
}

// Every line LineBlockReader hands out, with "<overlong>" for a skipped line.
std::vector<std::string> block_lines(ByteStream& stream, LineReaderOptions options) {
  LineBlockReader reader(stream, options);
  std::vector<std::string> lines;
  LineBlock block;
  while (reader.next(block)) {
    if (block.overlong) {
      EXPECT_TRUE(block.text.empty());
      lines.emplace_back("<overlong>");
      continue;
    }
    EXPECT_FALSE(block.text.empty());
    EXPECT_EQ(block.text.back(), '\n');
    std::string_view text = block.text;
    for (size_t nl; (nl = text.find('\n')) != std::string_view::npos; text.remove_prefix(nl + 1)) {
      lines.emplace_back(text.substr(0, nl));
    }
  }
  return lines;
}

// LineReader's lines, with "<overlong>" for a line it handed out in pieces.
std::vector<std::string> reader_lines(ByteStream& stream, LineReaderOptions options) {
  LineReader reader(stream, options);
  std::vector<std::string> lines;
  Line line;
  while (reader.next(line)) {
    if (line.continuation) continue;
    lines.emplace_back(line.whole() ? std::string(line.text) : "<overlong>");
  }
  return lines;
}

TEST(LineBlockReader, WholeLinesAndMissingLastNewline) {
  auto stream = make_string_stream("a b\r\nc\n\nlast");
  EXPECT_EQ(block_lines(*stream, {}), (std::vector<std::string>{"a b\r", "c", "", "last"}));
  auto empty = make_string_stream("");
  EXPECT_TRUE(block_lines(*empty, {}).empty());
  auto one = make_string_stream("\n");
  EXPECT_EQ(block_lines(*one, {}), (std::vector<std::string>{""}));
}

TEST(LineBlockReader, OverlongLineIsOneSkippedLine) {
  std::string text = "ok\n" + std::string(100, 'x') + "\nafter\n" + std::string(100, 'y');
  auto stream = make_string_stream(text);
  EXPECT_EQ(block_lines(*stream, {16, 32}),
            (std::vector<std::string>{"ok", "<overlong>", "after", "<overlong>"}));
}

TEST(LineBlockReader, SplitsLikeLineReaderAtEveryBufferSize) {
  std::mt19937 rng(7);
  std::vector<std::string> texts = {"",
                                    "\n",
                                    "x",
                                    "ab\ncd",
                                    "ab\ncd\n",
                                    std::string(31, 'a') + "\n",
                                    std::string(32, 'a') + "\n",
                                    std::string(33, 'a'),
                                    std::string(32, 'a') + "\n" + std::string(31, 'b') + "\nc"};
  for (int i = 0; i < 20; ++i) texts.push_back(random_log(rng, 1 + rng() % 30));
  for (const std::string& text : texts) {
    for (size_t buffer : {1, 2, 7, 32, 64, 1 << 20}) {
      for (size_t max_line : {1, 2, 16, 32, 33, 8 << 20}) {
        for (size_t step : {1, 3, 1000}) {
          LineReaderOptions options{buffer, max_line};
          TrickleStream a(text, step), b(text, step);
          ASSERT_EQ(block_lines(a, options), reader_lines(b, options))
              << "buffer " << buffer << " max_line " << max_line << " step " << step;
        }
      }
    }
  }
}

}  // namespace
}  // namespace opsktl
