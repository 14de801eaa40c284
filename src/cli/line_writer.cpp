#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "line_writer.hpp"
#include "opsktl/error.hpp"
#include "output_writer.hpp"

namespace opsktl::cli {

LineWriter::LineWriter(int fd, std::string name, size_t capacity)
    : fd_(fd), name_(std::move(name)), line_buffered_(isatty(fd) != 0), buffer_(capacity) {}

void LineWriter::write_slow(std::string_view prefix, std::string_view text, bool newline) {
  flush();
  if (prefix.size() + text.size() + 1 <= buffer_.size()) {
    write(prefix, text, newline);
    return;
  }
  // A piece larger than the buffer goes out directly.
  write_all(prefix.data(), prefix.size());
  write_all(text.data(), text.size());
  if (newline) write_all("\n", 1);
}

void LineWriter::flush() {
  size_t used = used_;
  used_ = 0;
  write_all(buffer_.data(), used);
}

void LineWriter::write_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw BrokenPipe{};
      throw Error(name_ + ": " + errno_message(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

namespace {

// The temporary file to remove if a signal ends the run (one at a time).
char g_temp_path[4096];

extern "C" void remove_temp_and_reraise(int signal) {
  if (g_temp_path[0] != '\0') ::unlink(g_temp_path);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_path_ = directory_of(path_) + "/." + base_name(path_) + ".opsktl-XXXXXX";
  fd_ = ::mkostemp(temp_path_.data(), O_CLOEXEC);
  if (fd_ < 0) throw Error(path_ + ": cannot create a temporary file: " + errno_message(errno));
  // The new file gets the old one's permission bits, or the usual 0666 less the umask.
  struct stat st {};
  mode_t mode;
  if (::stat(path_.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
  } else {
    mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  ::fchmod(fd_, mode);
  if (temp_path_.size() < sizeof g_temp_path) {
    std::memcpy(g_temp_path, temp_path_.c_str(), temp_path_.size() + 1);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, remove_temp_and_reraise);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
  g_temp_path[0] = '\0';
}

void AtomicFile::commit() {
  int fd = fd_;
  fd_ = -1;
  bool ok = ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp_path_.c_str());
    throw Error(path_ + ": " + errno_message(err));
  }
}

}  // namespace opsktl::cli
