#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "opsktl/error.hpp"
#include "opsktl/input.hpp"
#include "opsktl/read_progress.hpp"
#include "output_writer.hpp"
#include "progress_line.hpp"

namespace opsktl::cli {
namespace {

constexpr auto kFirstShow = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr std::string_view kErase = "\r\x1b[K";

// Guards stderr between the progress line and diagnostics, which may come from other
// threads (walker workers, the poller).
std::mutex g_mutex;
bool g_shown = false;  // a progress line is on the terminal now

void write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(STDERR_FILENO, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report to
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void erase_locked() {
  if (g_shown) write_all(kErase);
  g_shown = false;
}

// The first `room` columns of `text` (UTF-8 code points, none split).
std::string fit(std::string text, size_t room) {
  size_t columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (columns++ == room) {
      text.resize(i);
      break;
    }
  }
  return text;
}

}  // namespace

ProgressLine::ProgressLine(bool quiet)
    : enabled_(!quiet && isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() { finish(); }

size_t ProgressLine::columns() {
  winsize ws{};
  return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

void ProgressLine::update(const std::function<std::string()>& text) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(g_mutex);
  if (finished_ || now - start_ < kFirstShow || now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  draw(text());
}

void ProgressLine::draw(const std::string& text) {
  // One row, or '\r' would not get back to its start.
  std::string line(kErase);
  line += fit(text, columns() - 1);
  write_all(line);
  g_shown = true;
}

void ProgressLine::poll(std::function<std::string()> text) {
  if (!enabled_ || poller_.joinable()) return;
  poller_ = std::thread([this, text = std::move(text)] {
    std::unique_lock lock(poll_mutex_);
    if (poll_wake_.wait_until(lock, start_ + kFirstShow, [this] { return stop_polling_; })) return;
    do {
      update(text);
    } while (!poll_wake_.wait_for(lock, kRedrawEvery, [this] { return stop_polling_; }));
  });
}

void ProgressLine::finish() {
  if (!enabled_) return;
  if (poller_.joinable()) {
    {
      std::lock_guard lock(poll_mutex_);
      stop_polling_ = true;
    }
    poll_wake_.notify_all();
    poller_.join();
  }
  std::lock_guard lock(g_mutex);
  finished_ = true;
  erase_locked();
}

void write_diagnostic(std::string_view message) {
  std::lock_guard lock(g_mutex);
  erase_locked();
  write_all(message);
}

std::string log_progress_text(std::optional<uint64_t> total) {
  const ReadProgress& progress = read_progress();
  uint64_t bytes = progress.bytes.load(std::memory_order_relaxed);
  uint64_t lines = progress.lines.load(std::memory_order_relaxed);
  std::string text = "read " + human_bytes(static_cast<int64_t>(bytes));
  if (total && *total > 0) {
    double percent = std::min(100.0, 100.0 * static_cast<double>(bytes) / static_cast<double>(*total));
    text += fmt::format(" of {} ({:.0f}%)", human_bytes(static_cast<int64_t>(*total)), percent);
  }
  return text + fmt::format(", {} lines", lines);
}

namespace {
// The summed size of `inputs` when every one is a plain regular file; nullopt otherwise.
std::optional<uint64_t> plain_input_bytes(const std::vector<std::string>& inputs) {
  uint64_t total = 0;
  for (const std::string& name : inputs) {
    struct stat st {};
    if (name == "-" || ::stat(name.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    try {
      Input input = Input::open(name);  // a regular file: reads two bytes for the gzip magic
      if (input.regular_fd() < 0) return std::nullopt;
      total += input.size();
    } catch (const Error&) {
      return std::nullopt;  // reported when the work itself opens it
    }
  }
  return total;
}

}  // namespace

void poll_log_progress(ProgressLine& progress, const std::vector<std::string>& inputs) {
  if (!progress.enabled()) return;
  // Lines typed at the terminal: a progress line would only get in the way.
  bool typed = isatty(STDIN_FILENO) != 0 && std::find(inputs.begin(), inputs.end(), "-") != inputs.end();
  if (typed) return;
  progress.poll([total = plain_input_bytes(inputs)] { return log_progress_text(total); });
}

}  // namespace opsktl::cli
