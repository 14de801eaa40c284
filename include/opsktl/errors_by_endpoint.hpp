// errors-by-endpoint: count error responses per endpoint and rank the endpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "opsktl/line_reader.hpp"
#include "opsktl/record.hpp"
#include "opsktl/status_spec.hpp"
#include "opsktl/timestamp.hpp"

namespace opsktl {

struct ErrorsByEndpointOptions {
  std::vector<std::string> inputs;  // "-" is standard input
  LogFormatConfig log_format;
  StatusSet error_statuses;
  std::vector<FieldId> by;      // key fields, in output order
  bool normalize = false;       // --normalize: ids in paths become {id}
  size_t top = 5;               // 0 = every endpoint with an error
  bool strict = false;          // first malformed line is fatal
  std::optional<Micros> since;  // inclusive bounds on the ts field
  std::optional<Micros> until;
  TimeContext time_context;
  int64_t latency_unit_us = 1000;  // unit of a bare latency number when the format has none
  int threads = 1;
  uint64_t split_min_bytes = uint64_t{4} << 20;  // larger plain files are split across threads
  LineReaderOptions reader;
  // Inputs in the fields format without --normalize, --since/--until or --strict are
  // counted by a scan over whole buffers (same results); false forces the per-line
  // path, so that tests can compare the two.
  bool fields_fast_path = true;
};

struct EndpointRow {
  std::vector<std::string> keys;  // one per `by` field
  uint64_t errors = 0;
  uint64_t requests = 0;
  std::optional<double> p50_ms;  // nullopt when no request of the endpoint had a latency
  std::optional<double> p99_ms;
};

// An input that could not be opened or read to its end ("NAME: reason").
struct InputProblem {
  std::string input;
  std::string message;
};

// The format an input was read with (for -v; `guess.certain` false deserves a warning).
struct InputFormat {
  std::string input;
  FormatGuess guess;
};

struct ErrorsByEndpointResult {
  std::vector<EndpointRow> rows;  // ranked, at most `top`
  uint64_t lines = 0;             // every line read, blank ones included
  uint64_t malformed = 0;
  uint64_t comments = 0;      // lines starting with '#', skipped
  uint64_t filtered_out = 0;  // outside --since/--until
  uint64_t error_lines = 0;
  uint64_t endpoints = 0;       // distinct endpoints with at least one request
  std::string first_malformed;  // "input:line" of the first malformed line, or empty
  ParseStatus first_malformed_reason = ParseStatus::kOk;  // why that line is malformed
  MalformedCounts malformed_reasons;                      // adds up to `malformed`
  std::vector<InputProblem> problems;
  std::vector<InputFormat> formats;  // one per input that could be opened
};

// The fields `options` need from every line, and which option needs each.
std::vector<FieldNeed> errors_by_endpoint_needs(const ErrorsByEndpointOptions& options);

// Reads every input and ranks endpoints by errors (descending), then requests
// (descending), then key fields as bytes (ascending). Inputs that cannot be read are
// listed in `problems`; the others still count. Throws opsktl::Error naming input:line
// on the first malformed line when `strict`.
ErrorsByEndpointResult count_errors(const ErrorsByEndpointOptions& options);

}  // namespace opsktl
