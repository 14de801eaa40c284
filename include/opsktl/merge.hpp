// merge: a streaming k-way merge of inputs that are each sorted by time into one
// time-sorted stream, whole records at a time (a record is a line with a timestamp and
// the lines without one that follow it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"

namespace opsktl {

// Finds the instant of the record a line starts. One per input: an extractor may keep
// state (a format sniffed from the first lines).
class TimestampExtractor {
 public:
  virtual ~TimestampExtractor() = default;
  // False when `line` (without its newline; may end in '\r') carries no timestamp.
  virtual bool extract(std::string_view line, Micros& out) = 0;
};

// The extractor for `config` and the input named `input`: kAuto reads a timestamp in
// any form at the start of the line (merge_logs first sniffs each input and, for
// combined, logfmt or json, falls back on that format's ts field); kFields reads it at
// the start of whitespace field positions[ts] (a form may span several fields, e.g.
// syslog `Dec 19 10:01:02`); kCombined reads the bracketed time; any other format takes
// the ts field of its RecordParser.
std::unique_ptr<TimestampExtractor> make_timestamp_extractor(const LogFormatConfig& config,
                                                             const TimeContext& context,
                                                             std::string_view input = "-");

// Receives the merged bytes. Every record starts with begin_record; its bytes follow in
// one or more write calls. Implementations may throw (a closed pipe, a full disk).
class MergeSink {
 public:
  virtual ~MergeSink() = default;
  virtual void begin_record(Micros instant) = 0;
  // Appends `prefix`, then `text`, then '\n' when `newline`.
  virtual void write(std::string_view prefix, std::string_view text, bool newline) = 0;
};

// Told about problems as they happen, so they reach the user before a long merge ends.
class MergeListener {
 public:
  virtual ~MergeListener() = default;
  // An input that could not be opened or read to its end ("NAME: reason"). The other
  // inputs are still merged.
  virtual void input_failed(const std::string& message) = 0;
  // The first record of `input` that is earlier than a record before it (by more than
  // the --reorder tolerance); called at most once per input.
  virtual void input_unsorted(const std::string& input, uint64_t line, uint64_t newest_line) = 0;
  // An input in which no timestamp was found: not in its first kTimestampSearchLines
  // non-blank lines (`whole` false, told as soon as they are read), or in none of its
  // `lines` lines (`whole` true, at its end; not after the first call). `first_line`:
  // its first non-blank line as printable_excerpt gives it.
  virtual void input_without_timestamps(const std::string& input, bool whole, uint64_t lines,
                                        const std::string& first_line) = 0;
  // The format --log-format auto picked for `input`.
  virtual void input_format(const std::string& input, const FormatGuess& guess) {
    (void)input;
    (void)guess;
  }
};

// Non-blank lines without a timestamp at the start of an input before merge reports it
// (as --log-format auto sniffs 16 lines).
inline constexpr uint64_t kTimestampSearchLines = 16;

enum class OrphanMode {
  kAttach,  // a line without a timestamp travels with the record above it
  kSkip,    // such lines are dropped
};

enum class MergeMode {
  kMerge,  // write the merged stream to the sink
  kCheck,  // only verify that every input is sorted; nothing is written
};

struct MergeOptions {
  std::vector<std::string> inputs;  // "-" is standard input
  LogFormatConfig log_format;
  TimeContext time_context;
  OrphanMode orphans = OrphanMode::kAttach;
  MergeMode mode = MergeMode::kMerge;
  bool label = false;           // prefix each line with its input's name and a tab
  int64_t reorder_us = 0;       // records up to this much late are put in place
  bool strict = false;          // a line without a timestamp is a fatal error
  std::optional<Micros> since;  // records outside [since, until] are dropped
  std::optional<Micros> until;
  // Inputs read at once (open files). More inputs are merged in passes through
  // temporary files in temp_dir. At least 2.
  size_t max_open_inputs = 1000;
  std::string temp_dir = "/tmp";
  size_t buffer_budget_bytes = size_t{64} << 20;  // read buffers of all open inputs together
};

struct MergeResult {
  uint64_t lines = 0;                // lines read from the inputs
  uint64_t records = 0;              // records (lines with a timestamp) read
  uint64_t orphans_skipped = 0;      // non-blank lines dropped by --orphans skip
  std::string first_orphan_skipped;  // "input:line", or empty
  uint64_t filtered_out = 0;         // records outside --since/--until
  uint64_t failed_inputs = 0;
  uint64_t unsorted_inputs = 0;
  uint64_t inputs_without_timestamps = 0;  // told to MergeListener::input_without_timestamps
  uint64_t temporary_runs = 0;             // runs written when inputs exceed max_open_inputs
};

// Merges (or checks) the inputs; see MergeOptions. Unreadable inputs, unsorted inputs
// and inputs without timestamps go to `listener` and are counted; merging continues. Throws opsktl::Error on
// a fatal problem (temporary files cannot be written, --strict) and lets exceptions
// from the sink pass.
MergeResult merge_logs(const MergeOptions& options, MergeSink& sink, MergeListener& listener);

// Raises the soft limit on open files as far as the hard limit allows and returns the
// number of inputs that can then be open at once, leaving room for other descriptors.
size_t raise_open_file_limit();

}  // namespace opsktl
