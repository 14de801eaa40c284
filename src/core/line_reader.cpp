#include "opsktl/line_reader.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "opsktl/read_progress.hpp"

namespace opsktl {
namespace {

// Bytes of a search block, and of readable padding after the data.
constexpr size_t kBlock = 64;
static_assert(kLineReadAhead <= kBlock, "every line starts within the data, before the padding");

// Bit i set when data[i] is '\n', for i < n (n <= kBlock; kBlock bytes are readable).
inline uint64_t newline_mask(const char* data, size_t n) {
  uint64_t mask = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  for (size_t i = 0; i < kBlock; i += 16) {
    __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    auto bits = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, newline)));
    mask |= static_cast<uint64_t>(bits) << i;
  }
#else
  for (size_t i = 0; i < kBlock; ++i) mask |= static_cast<uint64_t>(data[i] == '\n') << i;
#endif
  return n < kBlock ? mask & ((uint64_t{1} << n) - 1) : mask;
}

}  // namespace

LineReader::LineReader(ByteStream& stream, LineReaderOptions options)
    : stream_(stream), max_line_(std::max<size_t>(options.max_line_bytes, 1)) {
  capacity_ = std::max<size_t>(std::min(options.buffer_bytes, max_line_), 1);
  buffer_.resize(capacity_ + kBlock);
}

bool LineReader::next_slow(Line& line) {
  for (;;) {
    if (mask_ != 0) {
      take_masked_line(line);
      return true;
    }
    if (scan_ < end_) {
      size_t n = std::min(kBlock, end_ - scan_);
      mask_ = newline_mask(buffer_.data() + scan_, n);
      mask_base_ = scan_;
      scan_ += n;
      continue;
    }
    size_t pending = end_ - begin_;
    if (eof_) {
      if (pending == 0 && in_long_line_) {
        // The last piece of an overlong line filled the buffer exactly and the input
        // ends after it: an empty last piece ends the line, as a newline would.
        line.text = {};
        line.newline = false;
        line.continues = false;
        line.continuation = true;
        in_long_line_ = false;
        return true;
      }
      if (pending == 0) {
        report_progress(0);
        return false;
      }
      line.text = std::string_view(buffer_.data() + begin_, pending);
      line.newline = false;
      line.continues = false;
      line.continuation = in_long_line_;
      if (!in_long_line_) ++line_number_;
      in_long_line_ = false;
      begin_ = scan_ = end_;
      return true;
    }
    if (pending >= max_line_) {
      // Hand out what we hold as one piece of an overlong line.
      line.text = std::string_view(buffer_.data() + begin_, pending);
      line.newline = false;
      line.continues = true;
      line.continuation = in_long_line_;
      if (!in_long_line_) ++line_number_;
      in_long_line_ = true;
      begin_ = scan_ = end_;
      return true;
    }
    fill();
  }
}

// Called only when every byte was searched and no newline is pending (mask_ is 0).
void LineReader::fill() {
  if (begin_ > 0) {
    size_t pending = end_ - begin_;
    std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
    scan_ -= begin_;
    end_ = pending;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    size_t grown = std::min(std::max(capacity_ * 2, size_t{64}), max_line_);
    capacity_ = std::max(grown, end_ + 1);
    buffer_.resize(capacity_ + kBlock);
  }
  size_t n = stream_.read(buffer_.data() + end_, capacity_ - end_);
  if (n == 0) eof_ = true;
  end_ += n;
  report_progress(n);
}

// Once per buffer, never per line: relaxed adds, which the hot loop does not notice.
void LineReader::report_progress(size_t bytes) {
  ReadProgress& progress = read_progress();
  progress.bytes.fetch_add(bytes, std::memory_order_relaxed);
  progress.lines.fetch_add(line_number_ - lines_reported_, std::memory_order_relaxed);
  lines_reported_ = line_number_;
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace opsktl
