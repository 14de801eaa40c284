// Output for subcommands whose results are lines copied from the input (merge): large
// buffered writes to a file descriptor, flushed per line only on a terminal. Like
// OutputWriter, a closed pipe throws BrokenPipe (the run ends quietly with exit 0).
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace opsktl::cli {

class LineWriter {
 public:
  // `name` names the destination in error messages ("standard output", a path).
  LineWriter(int fd, std::string name, size_t capacity = size_t{256} << 10);
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Appends `prefix`, `text`, then '\n' when `newline`.
  void write(std::string_view prefix, std::string_view text, bool newline) {
    size_t size = prefix.size() + text.size() + 1;
    if (size > buffer_.size() - used_) {
      write_slow(prefix, text, newline);
      return;
    }
    char* out = buffer_.data() + used_;
    if (!prefix.empty()) std::memcpy(out, prefix.data(), prefix.size());
    if (!text.empty()) std::memcpy(out + prefix.size(), text.data(), text.size());
    used_ += prefix.size() + text.size();
    if (newline) {
      buffer_[used_++] = '\n';
      if (line_buffered_) flush();
    }
  }
  // Writes out everything buffered. Throws BrokenPipe or opsktl::Error.
  void flush();

 private:
  void write_slow(std::string_view prefix, std::string_view text, bool newline);
  void write_all(const char* data, size_t size);

  int fd_;
  std::string name_;
  bool line_buffered_;
  std::vector<char> buffer_;
  size_t used_ = 0;
};

// A file written under a temporary name beside `path` and renamed over it by commit(),
// so that `path` is always either the old file or the complete new one. Without commit
// (an error, an exception), the temporary file is removed; SIGINT, SIGTERM and SIGHUP
// remove it too.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws opsktl::Error "PATH: reason"
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const { return fd_; }
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

}  // namespace opsktl::cli
