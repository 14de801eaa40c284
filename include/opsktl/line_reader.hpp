// Splits a ByteStream into lines, as views into one reusable buffer: no allocation and
// no copy per line.
//
// Newlines are found 64 bytes at a time (SSE2 compares into a bit mask): the mask of
// the current block hands out the next line with a count of trailing zeros, so short
// lines cost no call and no per-byte loop.
//
// A line longer than max_line_bytes is not gathered in memory: it is handed out in
// pieces of at most that size, flagged so that analysers can count it once as
// malformed while merge passes every byte through. Memory is therefore bounded by
// max_line_bytes plus the read size, whatever the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "opsktl/input.hpp"

namespace opsktl {

struct LineReaderOptions {
  size_t buffer_bytes = size_t{1} << 20;    // initial read buffer; grows up to max_line_bytes
  size_t max_line_bytes = size_t{8} << 20;  // longer lines come in pieces
};

// From the start of every line a LineReader hands out, this many bytes may be read (the
// line's, then the next lines' or padding), for block-wise scanning of short lines.
inline constexpr size_t kLineReadAhead = 64;

struct Line {
  // The bytes without the terminating '\n' (a '\r' before it is kept). Valid until the
  // next call to LineReader::next.
  std::string_view text;
  bool newline = false;       // text was followed by '\n' in the input
  bool continues = false;     // more pieces of this same line follow
  bool continuation = false;  // this piece continues the previous one
  bool whole() const { return !continues && !continuation; }
};

class LineReader {
 public:
  explicit LineReader(ByteStream& stream, LineReaderOptions options = {});

  // The next line (or piece of an overlong line). False at the end of the input.
  // Read errors propagate as opsktl::Error from the stream.
  bool next(Line& line) {
    // The common case, inline: a whole line ends within the searched bytes.
    if (mask_ != 0 && !in_long_line_) {
      take_masked_line(line);
      return true;
    }
    return next_slow(line);
  }
  // 1-based number of the line last returned (pieces of one line share a number).
  uint64_t line_number() const { return line_number_; }

 private:
  bool next_slow(Line& line);
  // Hands out the bytes up to the next newline marked in mask_ (the last piece of an
  // overlong line when in_long_line_).
  void take_masked_line(Line& line) {
    size_t pos = mask_base_ + static_cast<size_t>(__builtin_ctzll(mask_));
    mask_ &= mask_ - 1;
    line.text = std::string_view(buffer_.data() + begin_, pos - begin_);
    line.newline = true;
    line.continues = false;
    line.continuation = in_long_line_;
    if (!in_long_line_) ++line_number_;
    in_long_line_ = false;
    begin_ = pos + 1;
  }
  void fill();
  void report_progress(size_t bytes);  // adds to read_progress()

  ByteStream& stream_;
  size_t max_line_;
  std::vector<char> buffer_;  // capacity_ bytes of data, then padding for 64-byte loads
  size_t capacity_ = 0;
  size_t begin_ = 0;   // first byte not yet handed out
  size_t scan_ = 0;    // bytes before this position were searched: their '\n's not yet
                       // handed out are the bits of mask_
  uint64_t mask_ = 0;  // bit i: a '\n' at mask_base_ + i
  size_t mask_base_ = 0;
  size_t end_ = 0;  // end of valid data
  bool eof_ = false;
  bool in_long_line_ = false;
  uint64_t line_number_ = 0;
  uint64_t lines_reported_ = 0;  // line_number_ as last added to read_progress()
};

// The line without a trailing '\r' (CRLF input).
inline std::string_view strip_cr(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

// True when the line holds only spaces, tabs and '\r'.
bool is_blank(std::string_view text);

}  // namespace opsktl
