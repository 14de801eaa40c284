// Following a growing log like `tail -F`: read what is there, then what is appended,
// across rotation.
//
// The follower is polled: each poll() reads everything available now and returns.
// Rotation by rename (logrotate's default) is seen when the name leads to another
// inode: the old file is read to its end first, then the new one from its start.
// Truncation in place (copytruncate) is seen when the file is shorter than what was
// read: reading restarts at 0. A name that does not exist yet is retried on each poll.
// inotify was rejected: it needs the same stat-based checks for rotation anyway, and
// a poll every few hundred milliseconds costs nothing measurable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace opsktl {

class FileFollower {
 public:
  // text: one line without its '\n' (a '\r' is kept). whole: false for the first piece
  // of a line longer than max_line_bytes (the rest of that line is dropped).
  using LineFn = std::function<void(std::string_view text, uint64_t line_number, bool whole)>;
  using NoticeFn = std::function<void(const std::string& message)>;

  // `name` "-" is standard input, which is read until its end (a pipe is not rotated).
  FileFollower(std::string name, size_t max_line_bytes);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Reads every complete line available now. True when any byte was read.
  bool poll(const LineFn& on_line, const NoticeFn& on_notice);
  // Hands out a last line that has no '\n' yet (at shutdown).
  void flush(const LineFn& on_line);

  const std::string& name() const { return name_; }
  bool opened() const { return opened_; }      // the input was open at some point
  bool finished() const { return finished_; }  // a pipe that reached its end
  // A pipe to wait on with poll(2) when idle, or -1.
  int wait_fd() const { return pipe_ && !finished_ ? fd_ : -1; }

 private:
  bool open_file(const NoticeFn& on_notice);
  void close_file();
  bool drain(const LineFn& on_line);
  void split(const char* data, size_t size, const LineFn& on_line);

  std::string name_;
  size_t max_line_;
  int fd_ = -1;
  bool stdin_ = false;
  bool pipe_ = false;
  bool opened_ = false;
  bool finished_ = false;
  bool missing_reported_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t offset_ = 0;
  uint64_t line_number_ = 0;
  std::string pending_;    // bytes of a line whose '\n' has not arrived
  bool skipping_ = false;  // dropping the rest of an overlong line
};

}  // namespace opsktl
