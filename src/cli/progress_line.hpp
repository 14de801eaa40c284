// The progress line of long work (SPEC §1): one line on stderr, rewritten in place, and
// only when stderr is a terminal. Every subcommand uses this one class, so they all show
// it the same way: first after about a second (short runs never flash one), at most ten
// times a second, cut to the terminal's width, erased before any diagnostic
// (diagnostics.cpp calls write_diagnostic) and at the end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace opsktl::cli {

class ProgressLine {
 public:
  // Shows nothing unless stderr is a terminal and `quiet` (-q) is false.
  explicit ProgressLine(bool quiet);
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine();  // finish()

  bool enabled() const { return enabled_; }

  // For work that reports its own progress: call as often as convenient, from any
  // thread. `text` is called only when a redraw is due.
  void update(const std::function<std::string()>& text);
  // For work that reports nothing: a thread of its own calls `text` ten times a second
  // (from about a second on) until finish().
  void poll(std::function<std::string()> text);
  // Stops polling and erases the line; later updates show nothing.
  void finish();

  // The terminal's width in columns (80 when unknown).
  static size_t columns();

 private:
  void draw(const std::string& text);  // with g_mutex held

  bool enabled_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  std::thread poller_;
  std::mutex poll_mutex_;
  std::condition_variable poll_wake_;
  bool stop_polling_ = false;
};

// Writes one diagnostic to stderr, erasing a progress line first (it is drawn again on
// its next update).
void write_diagnostic(std::string_view message);

// For the log subcommands: polls the core's read_progress() counters into
// "read 1.2 GiB of 3.0 GiB (40%), 5230000 lines". The total and percentage are shown
// when every input is a plain (not gzip) regular file, whose size the bytes read reach.
void poll_log_progress(ProgressLine& progress, const std::vector<std::string>& inputs);
std::string log_progress_text(std::optional<uint64_t> total);

}  // namespace opsktl::cli
