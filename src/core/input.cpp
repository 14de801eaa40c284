#include "opsktl/input.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "opsktl/error.hpp"

namespace opsktl {
namespace {

size_t read_retrying(int fd, char* buffer, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) throw Error(errno_message(errno));
  }
}

size_t pread_retrying(int fd, char* buffer, size_t size, uint64_t offset) {
  for (;;) {
    ssize_t n = ::pread(fd, buffer, size, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) throw Error(errno_message(errno));
  }
}

class FdStream final : public ByteStream {
 public:
  FdStream(int fd, bool owns) : fd_(fd), owns_(owns) {}
  FdStream(const FdStream&) = delete;  // a copy would close the fd twice
  FdStream& operator=(const FdStream&) = delete;
  ~FdStream() override {
    if (owns_) ::close(fd_);
  }
  size_t read(char* buffer, size_t size) override { return read_retrying(fd_, buffer, size); }

 private:
  int fd_;
  bool owns_;
};

class RangeStream final : public ByteStream {
 public:
  RangeStream(int fd, uint64_t begin, uint64_t end) : fd_(fd), pos_(begin), end_(end) {}
  size_t read(char* buffer, size_t size) override {
    if (pos_ >= end_) return 0;
    size = static_cast<size_t>(std::min<uint64_t>(size, end_ - pos_));
    size_t n = pread_retrying(fd_, buffer, size, pos_);
    pos_ += n;
    if (n == 0) pos_ = end_;  // the file shrank under us: its end is here now
    return n;
  }

 private:
  int fd_;
  uint64_t pos_;
  uint64_t end_;
};

class StringStream final : public ByteStream {
 public:
  explicit StringStream(std::string data) : data_(std::move(data)) {}
  size_t read(char* buffer, size_t size) override {
    size = std::min(size, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, size);
    pos_ += size;
    return size;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

class PrefixedStream final : public ByteStream {
 public:
  PrefixedStream(std::string prefix, std::unique_ptr<ByteStream> rest)
      : prefix_(std::move(prefix)), rest_(std::move(rest)) {}
  size_t read(char* buffer, size_t size) override {
    if (pos_ < prefix_.size()) {
      size = std::min(size, prefix_.size() - pos_);
      std::memcpy(buffer, prefix_.data() + pos_, size);
      pos_ += size;
      return size;
    }
    return rest_->read(buffer, size);
  }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<ByteStream> rest_;
};

// Streams through zlib; a new member may follow the end of one (gzip -c a b > c.gz).
class GzipStream final : public ByteStream {
 public:
  explicit GzipStream(std::unique_ptr<ByteStream> source) : source_(std::move(source)), in_(kInBytes) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw Error("cannot initialise zlib");
  }
  ~GzipStream() override { inflateEnd(&z_); }
  GzipStream(const GzipStream&) = delete;  // a copy would end the same zlib stream twice
  GzipStream& operator=(const GzipStream&) = delete;

  size_t read(char* buffer, size_t size) override {
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    while (z_.avail_out == static_cast<uInt>(std::min<size_t>(size, 1u << 30))) {
      if (z_.avail_in == 0) {
        if (source_eof_) {
          if (in_member_) throw Error("unexpected end of gzip data (truncated file?)");
          break;
        }
        size_t n = source_->read(reinterpret_cast<char*>(in_.data()), in_.size());
        if (n == 0) {
          source_eof_ = true;
          continue;
        }
        z_.next_in = in_.data();
        z_.avail_in = static_cast<uInt>(n);
      }
      if (!in_member_) {
        // Bytes after a member: another member, unless it is padding of zeros.
        if (*z_.next_in == 0) {
          ++z_.next_in;
          --z_.avail_in;
          continue;
        }
        inflateReset(&z_);
        in_member_ = true;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw Error(std::string("invalid gzip data: ") + (z_.msg ? z_.msg : "corrupt stream"));
      }
    }
    return static_cast<size_t>(z_.next_out - reinterpret_cast<Bytef*>(buffer));
  }

 private:
  static constexpr size_t kInBytes = size_t{256} * 1024;
  std::unique_ptr<ByteStream> source_;
  std::vector<Bytef> in_;
  z_stream z_{};  // zeroed: zalloc, zfree and opaque Z_NULL select zlib's allocator
  bool source_eof_ = false;
  bool in_member_ = true;
};

bool has_gzip_magic(const char* data, size_t size) {
  return size >= 2 && static_cast<unsigned char>(data[0]) == kGzipMagic[0] &&
         static_cast<unsigned char>(data[1]) == kGzipMagic[1];
}

}  // namespace

std::string errno_message(int err) { return std::strerror(err); }

std::unique_ptr<ByteStream> make_fd_stream(int fd, bool owns_fd) {
  return std::make_unique<FdStream>(fd, owns_fd);
}
std::unique_ptr<ByteStream> make_range_stream(int fd, uint64_t begin, uint64_t end) {
  return std::make_unique<RangeStream>(fd, begin, end);
}
std::unique_ptr<ByteStream> make_string_stream(std::string data) {
  return std::make_unique<StringStream>(std::move(data));
}
std::unique_ptr<ByteStream> make_prefixed_stream(std::string prefix, std::unique_ptr<ByteStream> rest) {
  return std::make_unique<PrefixedStream>(std::move(prefix), std::move(rest));
}
std::unique_ptr<ByteStream> make_gzip_stream(std::unique_ptr<ByteStream> compressed) {
  return std::make_unique<GzipStream>(std::move(compressed));
}

Input::Input(Input&& other) noexcept { *this = std::move(other); }

Input& Input::operator=(Input&& other) noexcept {
  if (this != &other) {
    stream_.reset();
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    name_ = std::move(other.name_);
    stream_ = std::move(other.stream_);
    fd_ = std::exchange(other.fd_, -1);
    owns_fd_ = std::exchange(other.owns_fd_, false);
    regular_ = other.regular_;
    gzip_ = other.gzip_;
    size_ = other.size_;
    head_ = std::move(other.head_);
    head_read_ = other.head_read_;
  }
  return *this;
}

std::string_view Input::head(size_t max_bytes) {
  if (!head_read_) {
    head_.resize(max_bytes);
    size_t got = 0;
    // A regular file is read up to max_bytes; a pipe until kHeadLines non-blank lines
    // are in, or kHeadWaitMs after the first one came.
    const bool slow = !regular_ && fd_ >= 0 && !(gzip_ && size_ > 0);
    std::optional<std::chrono::steady_clock::time_point> deadline;
    size_t lines = 0;
    size_t scanned = 0;
    bool blank = true;
    while (got < max_bytes) {
      if (slow) {
        for (; scanned < got; ++scanned) {
          char c = head_[scanned];
          if (c == '\n') {
            lines += blank ? 0 : 1;
            blank = true;
          } else if (c != ' ' && c != '\t' && c != '\r') {
            blank = false;
          }
        }
        if (lines >= kHeadLines) break;
        auto now = std::chrono::steady_clock::now();
        if (lines > 0 && !deadline) deadline = now + std::chrono::milliseconds(kHeadWaitMs);
        int timeout_ms = -1;  // no line yet: wait for one
        if (deadline) {
          timeout_ms = static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now).count());
          if (timeout_ms <= 0) break;
        }
        struct pollfd pfd {
          fd_, POLLIN, 0
        };
        int ready = ::poll(&pfd, 1, timeout_ms);
        if (ready == 0 || (ready < 0 && errno != EINTR)) break;
        if (ready < 0) continue;
      }
      size_t n = stream_->read(head_.data() + got, max_bytes - got);
      if (n == 0) break;
      got += n;
    }
    head_.resize(got);
    stream_ = make_prefixed_stream(head_, std::move(stream_));
    head_read_ = true;
  }
  return head_;
}

Input::~Input() {
  stream_.reset();
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

Input Input::open(const std::string& name) {
  Input input;
  input.name_ = name;
  try {
    if (name == "-") {
      input.fd_ = STDIN_FILENO;
    } else {
      int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) throw Error(errno_message(errno));
      input.fd_ = fd;
      input.owns_fd_ = true;
    }
    struct stat st {};
    if (::fstat(input.fd_, &st) != 0) throw Error(errno_message(errno));
    if (S_ISDIR(st.st_mode)) throw Error(errno_message(EISDIR));

    if (S_ISREG(st.st_mode) && input.fd_ != STDIN_FILENO) {
      char magic[2];
      size_t n = pread_retrying(input.fd_, magic, 2, 0);
      input.size_ = static_cast<uint64_t>(st.st_size);
      if (has_gzip_magic(magic, n)) {
        input.gzip_ = true;
        input.stream_ = make_gzip_stream(make_fd_stream(input.fd_, false));
      } else {
        input.regular_ = true;
        ::posix_fadvise(input.fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
        input.stream_ = make_range_stream(input.fd_, 0, input.size_);
      }
      return input;
    }
    // A pipe, terminal or device: sniff the first bytes for the gzip magic, then keep
    // them in front of the rest.
    std::string head(2, '\0');
    size_t got = 0;
    while (got < 2) {
      size_t n = read_retrying(input.fd_, head.data() + got, 2 - got);
      if (n == 0) break;
      got += n;
    }
    head.resize(got);
    auto raw = make_prefixed_stream(head, make_fd_stream(input.fd_, false));
    if (has_gzip_magic(head.data(), head.size())) {
      input.gzip_ = true;
      input.stream_ = make_gzip_stream(std::move(raw));
    } else {
      input.stream_ = std::move(raw);
    }
    return input;
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
}

std::vector<ByteRange> split_at_lines(int fd, uint64_t size, int parts) {
  std::vector<ByteRange> ranges;
  if (parts < 1) parts = 1;
  uint64_t begin = 0;
  char window[4096];
  for (int i = 1; i < parts && begin < size; ++i) {
    uint64_t target = size / static_cast<uint64_t>(parts) * static_cast<uint64_t>(i);
    if (target <= begin) continue;
    // The range boundary is just after the first '\n' at or after target - 1.
    uint64_t pos = target - 1;
    uint64_t boundary = size;
    while (pos < size) {
      size_t n = pread_retrying(fd, window, std::min<uint64_t>(sizeof window, size - pos), pos);
      if (n == 0) break;
      if (const void* nl = std::memchr(window, '\n', n)) {
        boundary = pos + static_cast<uint64_t>(static_cast<const char*>(nl) - window) + 1;
        break;
      }
      pos += n;
    }
    if (boundary >= size) break;
    ranges.push_back({begin, boundary});
    begin = boundary;
  }
  ranges.push_back({begin, size});
  return ranges;
}

}  // namespace opsktl
