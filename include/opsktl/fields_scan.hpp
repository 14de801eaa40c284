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
#include "opsktl/text.hpp"

namespace opsktl {

// Which positions the fields of a line sit at, read from FieldPositions exactly as
// FieldsParser reads them (positions of 64 and more are never filled).
struct FieldsLayout {
  static constexpr int kMaxPosition = 63;
  explicit FieldsLayout(const FieldPositions& positions);
  // A line with fewer fields than this is malformed (FieldsParser's rule).
  int last = 0;
  // 0-based field index of each FieldId, -1 when lines have no such field.
  std::array<int16_t, kFieldCount> slot{};
};

// One line as scan_fields_lines reports it: valid during the callback only.
struct FieldsLine {
  const char* begin;  // the line without its '\n' (a '\r' before it is kept)
  const char* end;
  // How many fields the line has; 0 exactly when it is blank. Counting may stop once
  // it is past FieldsLayout::last.
  int fields;
  // Field i (0-based, i < fields and i < last) is [before[i] + 1, ends[i]).
  const char* const* before;
  const char* const* ends;
  std::string_view field(int slot) const {
    if (slot < 0) return {};
    auto i = static_cast<size_t>(slot);
    return {before[i] + 1, static_cast<size_t>(ends[i] - before[i] - 1)};
  }
};

// For `blocks` blocks of 64 bytes at `data`: bit i of sep[b] is set when byte 64*b+i is
// a space, tab, '\r' or '\n'; bit i of newline[b] when it is '\n'. Uses AVX2 when the
// CPU has it, SSE2 otherwise.
void classify_separators(const char* data, size_t blocks, uint64_t* sep, uint64_t* newline);

namespace detail {
// The fields of a line with runs of separators, or too many: byte by byte.
int split_fields_slowly(const char* begin, const char* end, int last, const char** before, const char** ends);
}  // namespace detail

// Calls on_line(const FieldsLine&) for every line of `text` that ends in '\n', in order;
// bytes after the last '\n' are not looked at as a line.
//
// Most lines have single separators between fields: then the separator positions are
// the field boundaries, and recording them is all the work per field. A separator that
// follows another (or starts the line) marks an empty span; a line with one, other than
// the span before its newline ("\r\n", a trailing space), is split byte by byte.
template <typename OnLine>
void scan_fields_lines(std::string_view text, const FieldsLayout& layout, OnLine&& on_line) {
  constexpr size_t kChunkBlocks = 64;  // masks for 4 KiB at a time stay in L1
  constexpr unsigned kMaxSeps = 64;    // separators recorded per line; more: split slowly
  uint64_t sep[kChunkBlocks];
  uint64_t newline[kChunkBlocks];
  // bounds[0] is the byte before the line, bounds[k] its k-th separator, then the '\n'.
  const char* bounds[kMaxSeps + 2];
  const char* slow_before[FieldsLayout::kMaxPosition + 1];
  const char* slow_ends[FieldsLayout::kMaxPosition + 1];
  const char* const data = text.data();
  const size_t size = text.size();
  uint64_t carry = 1;  // the separator-ness of the byte before the block
  uint64_t n = 0;      // separators of the current line seen so far
  uint64_t empty = 0;  // non-zero when the current line has an empty span
  bounds[0] = data - 1;
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
      const uint64_t all = sep[b];
      uint64_t newlines = newline[b];
      uint64_t empties = all & ((all << 1) | carry);  // separators after a separator
      carry = all >> 63;
      uint64_t seps = all & ~newlines;
      while (newlines != 0) {
        const auto i = static_cast<unsigned>(std::countr_zero(newlines));
        newlines &= newlines - 1;
        const uint64_t before_nl = (uint64_t{1} << i) - 1;
        for (uint64_t m = seps & before_nl; m != 0; m &= m - 1) {
          bounds[1 + (n & (kMaxSeps - 1))] = base + std::countr_zero(m);
          ++n;
        }
        empty |= empties & before_nl;
        const char* nl = base + i;
        const char* begin = bounds[0] + 1;
        FieldsLine line{begin, nl, 0, bounds, bounds + 1};
        if (empty == 0 && n < kMaxSeps) [[likely]] {
          bounds[n + 1] = nl;
          // The span before the newline is empty after a trailing separator.
          line.fields = static_cast<int>(n + 1 - ((empties >> i) & 1));
        } else {
          line.fields = detail::split_fields_slowly(begin, nl, layout.last, slow_before, slow_ends);
          line.before = slow_before;
          line.ends = slow_ends;
        }
        on_line(line);  // one call site, so that it is inlined
        bounds[0] = nl;
        n = 0;
        empty = 0;
        const uint64_t after_nl = ~((uint64_t{2} << i) - 1);  // 0 when i is 63
        seps &= after_nl;
        empties &= after_nl;
      }
      for (; seps != 0; seps &= seps - 1) {
        bounds[1 + (n & (kMaxSeps - 1))] = base + std::countr_zero(seps);
        ++n;
      }
      empty |= empties;
    }
  }
}

// One piece of input from LineBlockReader.
struct LineBlock {
  // Whole lines, each ending in '\n' (the input's last line gets one when it had none).
  // Valid until the next call to next(). At least kPadding readable bytes follow it, so
  // that a short key inside a line can be loaded whole (ShortKey::load_padded).
  std::string_view text;
  static constexpr size_t kPadding = 64;
  // Instead of text: one line of max_line_bytes or more, which was skipped unread.
  bool overlong = false;
};

// Reads a ByteStream in large buffers and hands out as many whole lines at a time as a
// buffer holds. Lines split like LineReader's (an overlong line is one line), so line
// numbers agree; memory is bounded by the options in the same way. Adds the bytes it
// reads to read_progress(); the caller, who counts the lines, adds those.
//
// Reads are of kReadBytes (or LineReaderOptions::buffer_bytes when smaller), not of
// LineReader's 1 MiB: a buffer scanned right after the kernel copied it into memory
// should still be in the core's L2 cache (1 MiB here, shared with the caller's tables).
// errors-by-endpoint on two threads used 10% less CPU with 256 KiB than with 1 MiB
// (docs/benchmarks.md). The buffer still grows for a longer line, up to max_line_bytes.
class LineBlockReader {
 public:
  static constexpr size_t kReadBytes = size_t{256} * 1024;
  explicit LineBlockReader(ByteStream& stream, LineReaderOptions options = {});
  // The next block; false at the end of the input. Read errors propagate as
  // opsktl::Error from the stream.
  bool next(LineBlock& block);

 private:
  void fill();

  ByteStream& stream_;
  size_t max_line_;
  size_t capacity_;           // bytes of data the buffer holds at most
  std::vector<char> buffer_;  // capacity_ + 1 + LineBlock::kPadding: the 1 for a missing last newline
  size_t begin_ = 0;          // first byte not yet handed out
  size_t end_ = 0;            // end of valid data
  bool eof_ = false;
  bool skipping_ = false;  // inside an overlong line, up to its newline
};

}  // namespace opsktl
