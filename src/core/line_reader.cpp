#include "opsktl/line_reader.hpp"

#include <algorithm>
#include <cstring>

#include "opsktl/read_progress.hpp"

namespace opsktl {

LineReader::LineReader(ByteStream& stream, LineReaderOptions options)
    : stream_(stream), max_line_(std::max<size_t>(options.max_line_bytes, 1)) {
  buffer_.resize(std::max<size_t>(std::min(options.buffer_bytes, max_line_), 1));
}

bool LineReader::next(Line& line) {
  for (;;) {
    if (scan_ < end_) {
      const char* base = buffer_.data();
      const void* nl = std::memchr(base + scan_, '\n', end_ - scan_);
      if (nl != nullptr) {
        size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - base);
        line.text = std::string_view(base + begin_, pos - begin_);
        line.newline = true;
        line.continues = false;
        line.continuation = in_long_line_;
        if (!in_long_line_) ++line_number_;
        in_long_line_ = false;
        begin_ = scan_ = pos + 1;
        return true;
      }
      scan_ = end_;
    }
    size_t pending = end_ - begin_;
    if (eof_) {
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

void LineReader::fill() {
  if (begin_ > 0) {
    size_t pending = end_ - begin_;
    std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
    scan_ -= begin_;
    end_ = pending;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) {
    size_t grown = std::min(std::max(buffer_.size() * 2, size_t{64}), max_line_);
    buffer_.resize(std::max(grown, end_ + 1));
  }
  size_t n = stream_.read(buffer_.data() + end_, buffer_.size() - end_);
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
