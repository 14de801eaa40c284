// Byte sources for every input: plain files, standard input and gzip streams.
//
// Files are read with read(2)/pread(2) into large buffers rather than mmap: a log that
// is truncated while we read it (copytruncate rotation) would raise SIGBUS under mmap,
// while read simply sees a shorter file. Large regular files can still be split into
// line-aligned byte ranges that threads read independently (split_at_lines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace opsktl {

// A forward-only stream of bytes. read() returns 0 only at the end of the input and
// throws opsktl::Error (message without the input's name) when reading fails.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual size_t read(char* buffer, size_t size) = 0;
};

// Reads `fd` from its current position, or with pread over [begin, end) when a range is
// given. Closes the fd on destruction only when `owns_fd`.
std::unique_ptr<ByteStream> make_fd_stream(int fd, bool owns_fd);
std::unique_ptr<ByteStream> make_range_stream(int fd, uint64_t begin, uint64_t end);
// Serves `data` (for tests and for bytes already read while sniffing).
std::unique_ptr<ByteStream> make_string_stream(std::string data);
// Serves `prefix`, then the rest of `rest`.
std::unique_ptr<ByteStream> make_prefixed_stream(std::string prefix, std::unique_ptr<ByteStream> rest);
// Decompresses gzip data (one or more concatenated members) from `compressed`.
std::unique_ptr<ByteStream> make_gzip_stream(std::unique_ptr<ByteStream> compressed);

inline constexpr unsigned char kGzipMagic[2] = {0x1f, 0x8b};

// An opened input, named as on the command line ("-" is standard input). Data that
// starts with the gzip magic is decompressed transparently, whatever the name.
class Input {
 public:
  // Throws opsktl::Error "NAME: reason" when the input cannot be opened.
  static Input open(const std::string& name);

  Input(Input&&) noexcept;
  Input& operator=(Input&&) noexcept;
  ~Input();

  const std::string& name() const { return name_; }
  ByteStream& stream() { return *stream_; }
  bool is_gzip() const { return gzip_; }
  // A plain (not compressed) regular file: its size, and the fd that may be read with
  // pread by several threads at once. -1 otherwise.
  int regular_fd() const { return regular_ ? fd_ : -1; }
  uint64_t size() const { return size_; }
  // The first `max_bytes` bytes of the (decompressed) data, or all of it when shorter,
  // for sniffing its format. On a pipe or terminal it stops early, after kHeadLines
  // non-blank lines or kHeadWaitMs after the first line (SPEC §2: `auto` decides at once
  // on a slow pipe), so a follower or a progress line never waits for 64 KiB.
  // stream() still delivers every byte from the start. Reads once: later calls return
  // the same bytes. Throws opsktl::Error like stream().read.
  std::string_view head(size_t max_bytes);
  static constexpr size_t kHeadLines = 16;
  static constexpr int kHeadWaitMs = 500;

 private:
  Input() = default;
  std::string name_;
  std::unique_ptr<ByteStream> stream_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool regular_ = false;
  bool gzip_ = false;
  uint64_t size_ = 0;
  std::string head_;
  bool head_read_ = false;
};

struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Splits the first `size` bytes of `fd` into at most `parts` ranges that each start at
// the beginning of a line, so that every line lies in exactly one range.
std::vector<ByteRange> split_at_lines(int fd, uint64_t size, int parts);

}  // namespace opsktl
