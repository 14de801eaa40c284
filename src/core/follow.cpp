#include "opsktl/follow.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "opsktl/error.hpp"

namespace opsktl {
namespace {
constexpr size_t kReadBytes = size_t{256} * 1024;
}

FileFollower::FileFollower(std::string name, size_t max_line_bytes)
    : name_(std::move(name)), max_line_(max_line_bytes == 0 ? 1 : max_line_bytes) {
  if (name_ == "-") {
    stdin_ = true;
    fd_ = STDIN_FILENO;
    opened_ = true;
    struct stat st {};
    pipe_ = ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode);
  }
}

FileFollower::~FileFollower() { close_file(); }

void FileFollower::close_file() {
  if (fd_ >= 0 && !stdin_) ::close(fd_);
  if (!stdin_) fd_ = -1;
}

bool FileFollower::open_file(const NoticeFn& on_notice) {
  int fd = ::open(name_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (!missing_reported_) {
      on_notice(name_ + ": " + errno_message(errno) + "; waiting for it to appear");
      missing_reported_ = true;
    }
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    if (!missing_reported_) {
      on_notice(name_ + ": " + errno_message(err));
      missing_reported_ = true;
    }
    return false;
  }
  if (missing_reported_) on_notice(name_ + ": has appeared; following it");
  missing_reported_ = false;
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  pipe_ = !S_ISREG(st.st_mode);
  offset_ = 0;
  line_number_ = 0;
  opened_ = true;
  return true;
}

void FileFollower::split(const char* data, size_t size, const LineFn& on_line) {
  const char* end = data + size;
  while (data < end) {
    const char* nl = static_cast<const char*>(std::memchr(data, '\n', static_cast<size_t>(end - data)));
    if (nl == nullptr) {
      if (!skipping_) {
        pending_.append(data, end);
        if (pending_.size() >= max_line_) {
          on_line(pending_, ++line_number_, false);
          pending_.clear();
          skipping_ = true;
        }
      }
      return;
    }
    if (skipping_) {
      skipping_ = false;
    } else if (pending_.empty()) {
      on_line(std::string_view(data, static_cast<size_t>(nl - data)), ++line_number_, true);
    } else {
      pending_.append(data, nl);
      on_line(pending_, ++line_number_, true);
      pending_.clear();
    }
    data = nl + 1;
  }
}

bool FileFollower::drain(const LineFn& on_line) {
  static thread_local std::vector<char> buffer(kReadBytes);
  bool any = false;
  for (;;) {
    if (pipe_) {
      // Read a pipe only when it has data, so that an idle writer never blocks us.
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return any;
    }
    ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return any;
      throw Error(errno_message(errno));
    }
    if (n == 0) {
      if (pipe_) finished_ = true;
      return any;
    }
    any = true;
    offset_ += static_cast<uint64_t>(n);
    split(buffer.data(), static_cast<size_t>(n), on_line);
  }
}

bool FileFollower::poll(const LineFn& on_line, const NoticeFn& on_notice) {
  if (finished_) return false;
  if (fd_ < 0 && !open_file(on_notice)) return false;
  bool any = false;
  if (!pipe_) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_) {
      on_notice(name_ + ": file truncated; reading from its start");
      ::lseek(fd_, 0, SEEK_SET);
      offset_ = 0;
      line_number_ = 0;
      pending_.clear();
      skipping_ = false;
    }
  }
  any |= drain(on_line);
  if (stdin_ || pipe_) return any;
  struct stat st {};
  if (::stat(name_.c_str(), &st) == 0 && (st.st_dev != dev_ || st.st_ino != ino_)) {
    // Rotated: finish the old file (a writer may have appended after our last read),
    // then start on the new one.
    any |= drain(on_line);
    flush(on_line);
    close_file();
    on_notice(name_ + ": file replaced; following the new file");
    if (open_file(on_notice)) any |= drain(on_line);
  }
  return any;
}

void FileFollower::flush(const LineFn& on_line) {
  if (!pending_.empty()) on_line(pending_, ++line_number_, true);
  pending_.clear();
  skipping_ = false;
}

}  // namespace opsktl
