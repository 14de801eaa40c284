// flapping: services that restarted more than N times within a sliding time window.
//
// Two layers: FlappingDetector is the pure window algorithm (restarts in, alerts and
// episodes out, through a FlappingSink), and detect_flapping reads the inputs (once,
// or following them like `tail -F`), picks out the restart events and feeds them to a
// detector, optionally through a bounded reorder buffer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "opsktl/key_table.hpp"
#include "opsktl/line_reader.hpp"
#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"

namespace opsktl {

enum class AlertMode { kEvery, kEpisode };

// One restart whose window [ts - window, ts] holds more than max_restarts restarts.
struct FlappingAlert {
  Micros ts = 0;
  std::string_view service;  // valid until the detector is destroyed
  uint64_t count = 0;        // restarts in the window, this one included
};

// A maximal run of a service's consecutive alerting restarts.
struct FlappingEpisode {
  std::string_view service;  // valid until the detector is destroyed
  Micros start = 0;          // earliest restart in the window of the first alert
  Micros end = 0;            // last alerting restart
  uint64_t restarts = 0;     // restarts in [start, end]
  uint64_t peak = 0;         // largest window count among the alerts
};

// Receives results as soon as they are decided. The default methods ignore them.
class FlappingSink {
 public:
  virtual ~FlappingSink() = default;
  virtual void alert(const FlappingAlert&) {}
  virtual void episode(const FlappingEpisode&) {}
  // The first late restart of an input ("input:line"): reported once per input.
  virtual void late(const std::string& /*where*/) {}
  // Follow-mode events worth a line on stderr: "NAME: file truncated", ...
  virtual void notice(const std::string& /*message*/) {}
  // The format an input is read with (for -v; an uncertain guess deserves a warning).
  virtual void format_chosen(const std::string& /*input*/, const FormatGuess& /*guess*/) {}
};

// The sliding window, service by service. Each service keeps the times of its restarts
// inside the window ending at its newest restart, in a ring buffer that is released
// when only the newest restart remains, so memory is O(services + restarts in windows).
class FlappingDetector {
 public:
  // `sorted_episodes`: hold episodes back and hand them out from finish() ordered by
  // end, then service (batch); otherwise hand each out as soon as it ends (follow).
  FlappingDetector(uint64_t max_restarts, Micros window, AlertMode mode, bool sorted_episodes,
                   FlappingSink& sink);
  ~FlappingDetector();
  FlappingDetector(const FlappingDetector&) = delete;
  FlappingDetector& operator=(const FlappingDetector&) = delete;

  // A stable id for the service (its name is copied once).
  uint32_t intern(std::string_view service);
  // Counts a restart. False (and nothing counted) when it is late: earlier than the
  // service's newest restart. Equal times are in order.
  bool add_restart(uint32_t service, Micros ts);
  bool add_restart(std::string_view service, Micros ts) { return add_restart(intern(service), ts); }
  // Ends the open episodes that no later restart can continue, given that every later
  // restart is at `now` or after (follow mode, time-ordered input). No-op when N = 0.
  void close_episodes_before(Micros now);
  // Ends every open episode and hands out the held-back ones.
  void finish();

  size_t services() const { return names_.size(); }
  uint64_t restarts() const { return restarts_; }
  uint64_t alerts() const { return alerts_; }
  uint64_t episodes() const { return episodes_; }
  // Restart times currently held in ring buffers (for memory tests).
  size_t stored_restarts() const;

 private:
  struct ServiceState;
  void end_episode(uint32_t service);

  uint64_t max_restarts_;
  Micros window_;
  AlertMode mode_;
  bool sorted_episodes_;
  FlappingSink& sink_;
  KeyTable<uint32_t> ids_;  // name -> id + 1
  std::vector<std::string_view> names_;
  std::vector<ServiceState> states_;
  std::vector<uint32_t> open_episodes_;  // services with an open episode (follow mode)
  std::vector<FlappingEpisode> held_;    // ended episodes, when sorted
  uint64_t restarts_ = 0, alerts_ = 0, episodes_ = 0;
};

struct FlappingOptions {
  std::vector<std::string> inputs;  // "-" is standard input
  LogFormatConfig log_format;
  uint64_t max_restarts = 3;
  Micros window = 600 * kMicrosPerSecond;
  // Whole event field, case-insensitive. Empty: `restarted`, and for syslog input
  // systemd's "UNIT: Scheduled restart job, ..." lines (one per automatic restart).
  std::string event;
  std::string event_regex;  // RE2, searched in the event; overrides `event`
  AlertMode alerts = AlertMode::kEpisode;
  Micros reorder = 0;           // hold restarts back this long and sort them
  bool strict = false;          // first malformed line is fatal
  std::optional<Micros> since;  // inclusive bounds on restart times
  std::optional<Micros> until;
  TimeContext time_context;
  LineReaderOptions reader;
  // Inputs in the fields format (ts, service and event at distinct positions, no
  // --event-regex or --service) are scanned a buffer at a time rather than a line at a
  // time (same results); false forces the per-line path, so that tests can compare.
  bool block_scan = true;
  // A plain regular file of at least split_min_bytes read with block_scan is cut into
  // line-aligned ranges of about chunk_bytes, parsed by `threads` threads; the window
  // still sees the restarts in input order, so the results equal one thread's.
  int threads = 1;
  uint64_t split_min_bytes = uint64_t{4} << 20;
  uint64_t chunk_bytes = uint64_t{256} << 10;
  // Follow mode: keep reading appended data, surviving rotation, until *stop is true.
  bool follow = false;
  const std::atomic<bool>* stop = nullptr;
  int poll_interval_ms = 200;
};

// An input that could not be opened or read ("NAME: reason").
struct FlappingProblem {
  std::string input;
  std::string message;
};

struct FlappingResult {
  uint64_t lines = 0;  // every line read, blank ones included
  uint64_t malformed = 0;
  uint64_t comments = 0;      // lines starting with '#', skipped
  uint64_t late = 0;          // restarts earlier than their service's newest restart
  uint64_t filtered_out = 0;  // restarts outside --since/--until
  uint64_t restarts = 0;      // restarts counted
  uint64_t services = 0;      // distinct services with a restart
  uint64_t alerts = 0;        // alerting restarts (every row count)
  uint64_t episodes = 0;
  std::string first_malformed;                            // "input:line", or empty
  ParseStatus first_malformed_reason = ParseStatus::kOk;  // why that line is malformed
  MalformedCounts malformed_reasons;                      // adds up to `malformed`
  std::string first_late;                                 // "input:line", or empty
  std::vector<FlappingProblem> problems;
};

// Reads every input in order (its format resolved per input when `auto`: from its head,
// or under --follow from its first non-blank line) and hands alerts (kEvery) or episodes (kEpisode) to `sink`
// as they are decided. Throws opsktl::Error for a bad --event-regex, and naming
// input:line on the first malformed line when `strict`.
FlappingResult detect_flapping(const FlappingOptions& options, FlappingSink& sink);

// The fields flapping needs from every line: ts, service and event.
std::vector<FieldNeed> flapping_needs();

// Empty when `pattern` is a valid --event-regex, else RE2's complaint.
std::string check_event_regex(const std::string& pattern);

// Epoch seconds for output: "1703000000", or "1703000000.25" when there is a fraction.
std::string format_epoch_seconds(Micros ts);

}  // namespace opsktl
