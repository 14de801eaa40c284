// Whitespace-separated fields of every line in a buffer, found in one pass.
//
// Reading the fields format line by line touches every byte twice (find the newline,
// then split the line) and calls the parser through RecordParser once per line. Here the
// two are fused: classify_separators marks, 64 bytes at a time, the bytes that end a
// field (space, tab, '\r', '\n') and the newlines as bit masks, and scan_fields_lines
// walks the set bits, so a line costs a few instructions per field rather than per byte.
// LineBlockReader supplies buffers of whole lines from a ByteStream.
//
// The results are those of FieldsParser on each line (after strip_cr): the same fields,
// the same field count rule, blank lines seen as lines without fields.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "opsktl/input.hpp"
#include "opsktl/line_reader.hpp"
#include "opsktl/record.hpp"

namespace opsktl {

// Which positions the fields of a line sit at, read from FieldPositions exactly as
// FieldsParser reads them (positions of 64 and more are never filled).
struct FieldsLayout {
  static constexpr int kMaxPosition = 63;
  explicit FieldsLayout(const FieldPositions& positions);
  // A line with fewer fields than this is malformed (FieldsParser's rule).
  int last = 0;
  // 0-based field index of each FieldId, -1 when lines have no such field.
  std::array<int8_t, kFieldCount> slot{};
};

// One line as scan_fields_lines reports it: valid during the callback only.
struct FieldsLine {
  const char* begin;  // the line without its '\n' (a '\r' before it is kept)
  const char* end;
  int fields;         // how many fields the line has, counted up to FieldsLayout::last
  const char* const* starts;  // field i (0-based, i < fields) is [starts[i], ends[i])
  const char* const* ends;
  std::string_view field(int slot) const {
    if (slot < 0) return {};
    auto i = static_cast<size_t>(slot);
    return {starts[i], static_cast<size_t>(ends[i] - starts[i])};
  }
};

// For `blocks` blocks of 64 bytes at `data`: bit i of sep[b] is set when byte 64*b+i is
// a space, tab, '\r' or '\n'; bit i of newline[b] when it is '\n'. Uses AVX2 when the
// CPU has it, SSE2 otherwise.
void classify_separators(const char* data, size_t blocks, uint64_t* sep, uint64_t* newline);

// Calls on_line(const FieldsLine&) for every line of `text` that ends in '\n', in order;
// bytes after the last '\n' are not looked at as a line. A line has `fields == 0`
// exactly when it is blank (only spaces, tabs and '\r').
template <typename OnLine>
void scan_fields_lines(std::string_view text, const FieldsLayout& layout, OnLine&& on_line) {
  constexpr size_t kChunkBlocks = 64;  // masks for 4 KiB at a time stay in L1
  uint64_t sep[kChunkBlocks];
  uint64_t newline[kChunkBlocks];
  std::array<const char*, FieldsLayout::kMaxPosition + 1> starts;
  std::array<const char*, FieldsLayout::kMaxPosition + 1> ends;
  const char* const data = text.data();
  const size_t size = text.size();
  const int last = layout.last;
  const char* line = data;   // start of the current line
  const char* field = data;  // start of the current field, if it is not empty
  int count = 0;
  for (size_t chunk = 0; chunk < size; chunk += kChunkBlocks * 64) {
    const size_t bytes = std::min(size - chunk, kChunkBlocks * 64);
    size_t blocks = bytes / 64;
    classify_separators(data + chunk, blocks, sep, newline);
    if (bytes % 64 != 0) {
      // The last partial block, padded with bytes that separate nothing.
      char tail[64] = {};
      std::memcpy(tail, data + chunk + blocks * 64, bytes % 64);
      classify_separators(tail, 1, sep + blocks, newline + blocks);
      ++blocks;
    }
    for (size_t b = 0; b < blocks; ++b) {
      const char* base = data + chunk + b * 64;
      uint64_t bits = sep[b];
      const uint64_t newlines = newline[b];
      while (bits != 0) {
        const auto i = static_cast<unsigned>(std::countr_zero(bits));
        bits &= bits - 1;
        const char* at = base + i;
        // [field, at) is a field unless empty (a run of separators); once `last` fields
        // are seen, later ones only overwrite the spare slot.
        auto slot = static_cast<size_t>(count);
        starts[slot] = field;
        ends[slot] = at;
        count += static_cast<int>((at != field) & (count < last));
        field = at + 1;
        if ((newlines >> i) & 1u) {
          on_line(FieldsLine{line, at, count, starts.data(), ends.data()});
          line = field;
          count = 0;
        }
      }
    }
  }
}

// One piece of input from LineBlockReader.
struct LineBlock {
  // Whole lines, each ending in '\n' (the input's last line gets one when it had none).
  // Valid until the next call to next().
  std::string_view text;
  // Instead of text: one line of max_line_bytes or more, which was skipped unread.
  bool overlong = false;
};

// Reads a ByteStream in large buffers and hands out as many whole lines at a time as a
// buffer holds. Lines split like LineReader's (an overlong line is one line), so line
// numbers agree; memory is bounded by the options in the same way.
class LineBlockReader {
 public:
  explicit LineBlockReader(ByteStream& stream, LineReaderOptions options = {});
  // The next block; false at the end of the input. Read errors propagate as
  // opsktl::Error from the stream.
  bool next(LineBlock& block);

 private:
  void fill();

  ByteStream& stream_;
  size_t max_line_;
  size_t capacity_;          // bytes of data the buffer holds at most
  std::vector<char> buffer_;  // capacity_ + 1: room for a missing last newline
  size_t begin_ = 0;          // first byte not yet handed out
  size_t end_ = 0;            // end of valid data
  bool eof_ = false;
  bool skipping_ = false;     // inside an overlong line, up to its newline
};

}  // namespace opsktl
