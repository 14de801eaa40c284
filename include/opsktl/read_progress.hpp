// How much log data the line readers of this process have consumed so far, for a
// progress display. LineReader adds to the counters once per buffer it fills, never per
// line, with relaxed atomics: a reader on another thread sees a recent value, which is
// all a progress line needs, and the hot loop pays one add per buffer (1 MiB by default).
#pragma once

#include <atomic>
#include <cstdint>

namespace opsktl {

struct ReadProgress {
  // Bytes handed to line readers (decompressed bytes for gzip input).
  std::atomic<uint64_t> bytes{0};
  // Lines handed out, counted when the next buffer is read (so a little behind).
  std::atomic<uint64_t> lines{0};
};

// The process-wide counters; they only grow.
inline ReadProgress& read_progress() {
  static ReadProgress progress;
  return progress;
}

}  // namespace opsktl
