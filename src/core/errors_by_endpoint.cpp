// Counting errors per endpoint is a group-by over lines. Each worker thread owns a
// KeyTable of endpoint statistics and takes work units (a whole input, or one
// line-aligned byte range of a large plain file) from a shared counter; the tables are
// merged at the end, so the inner loop takes no lock. The key of an endpoint is its
// `--by` fields, each prefixed with its length, so that no byte inside a field can make
// two different endpoints collide.
//
// The fields format (the default) has a faster path: scan_fields_lines finds the lines
// and fields of a whole buffer in one pass, and the key is the `--by` fields joined by
// single spaces (a field holds no whitespace), which is usually a span of the line
// itself, hashed in place. Those endpoints go to a table of their own, recoded to the
// length-prefixed keys when the worker finishes. --normalize, --since/--until and
// --strict take the per-line path, as do the other formats.
#include "opsktl/errors_by_endpoint.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <thread>

#include "opsktl/error.hpp"
#include "opsktl/fields_scan.hpp"
#include "opsktl/input.hpp"
#include "opsktl/key_table.hpp"
#include "opsktl/latency_histogram.hpp"
#include "opsktl/path_normalizer.hpp"
#include "opsktl/read_progress.hpp"

namespace opsktl {
namespace {

struct EndpointStats {
  uint64_t errors = 0;
  uint64_t requests = 0;
  LatencyHistogram latency;
};

void merge_stats(EndpointStats& into, EndpointStats& from) {
  if (into.requests == 0) {
    into = std::move(from);
    return;
  }
  into.errors += from.errors;
  into.requests += from.requests;
  into.latency.merge(from.latency);
}

struct WorkUnit {
  size_t input = 0;
  bool ranged = false;  // read `range` with pread instead of the input's stream
  ByteRange range;
  // Filled in by the worker:
  uint64_t lines = 0;
  uint64_t first_malformed = 0;  // line number within the unit, 0 if none
  ParseStatus first_reason = ParseStatus::kOk;
  std::string problem;
};

struct Worker {
  KeyTable<EndpointStats> table;
  uint64_t lines = 0, comments = 0, filtered_out = 0, error_lines = 0;
  MalformedCounts malformed;
};

constexpr size_t kStopNone = SIZE_MAX;

class Counter {
 public:
  explicit Counter(const ErrorsByEndpointOptions& options)
      : options_(options), layout_(options.log_format.positions) {
    filter_time_ = options.since.has_value() || options.until.has_value();
    // --service replaces the service field: the per-line path's parser does that.
    fast_ = options.fields_fast_path && !options.normalize && !filter_time_ && !options.strict &&
            options.latency_unit_us > 0 &&  // parse_latency_padded: not for ns
            options.log_format.service.empty();
    status_slot_ = static_cast<int>(layout_.slot[static_cast<size_t>(FieldId::kStatus)]);
    latency_slot_ = static_cast<int>(layout_.slot[static_cast<size_t>(FieldId::kLatency)]);
    fields_latency_ = options.log_format.positions[static_cast<size_t>(FieldId::kLatency)] > 0;
    latency_last_ = fields_latency_ && latency_slot_ == layout_.last - 1;
    key_in_place_ = true;
    for (size_t i = 0; i < options.by.size(); ++i) {
      int slot = static_cast<int>(layout_.slot[static_cast<size_t>(options.by[i])]);
      by_slots_.push_back(slot);
      key_slots_.push_back(static_cast<size_t>(std::max(slot, 0)));
      if (slot < 0 || (i > 0 && slot != by_slots_[i - 1] + 1)) key_in_place_ = false;
    }
  }

  // Moves what the fields path counted into `worker`'s table, under the keys the
  // per-line path uses.
  void finish(Worker& worker) {
    std::string key;
    for (auto& entry : fast_table_.entries()) {
      key.clear();
      std::string_view rest = entry.key;
      for (size_t i = 0; i < key_slots_.size(); ++i) {
        size_t size = i + 1 < key_slots_.size() ? rest.find(' ') : rest.size();
        auto size32 = static_cast<uint32_t>(size);
        key.append(reinterpret_cast<const char*>(&size32), sizeof size32);
        key.append(rest.substr(0, size));
        rest.remove_prefix(std::min(size + 1, rest.size()));
      }
      merge_stats(worker.table.find_or_insert(key), entry.value);
    }
    fast_table_ = {};
  }

  // Counts one unit of an input read as `format` into `worker`; stops early when `stop`
  // falls below `unit_index`.
  void run(ByteStream& stream, LogFormat format, WorkUnit& unit, size_t unit_index, Worker& worker,
           std::atomic<size_t>& stop) {
    if (format == LogFormat::kFields && fast_) return run_fields(stream, unit, worker);
    auto& parser = parsers_[static_cast<size_t>(format)];
    if (!parser) {
      LogFormatConfig config = options_.log_format;
      config.format = format;
      // Without --since/--until no timestamp is read, and lines are judged as the
      // fields scan judges them.
      if (!filter_time_) config.ts_fields = TsFields::kFirst;
      parser = make_record_parser(config);
    }
    parser_ = parser.get();
    parser_->begin_input(options_.inputs[unit.input]);
    has_latency_ = parser_->provides(FieldId::kLatency);
    LineReader reader(stream, options_.reader);
    Line line;
    Record record;
    bool malformed_seen = false;
    auto malformed = [&](ParseStatus reason) {
      worker.malformed.add(reason);
      malformed_seen = true;
      if (unit.first_malformed == 0) {
        unit.first_malformed = reader.line_number();
        unit.first_reason = reason;
      }
    };
    while (reader.next(line)) {
      if (line.continuation) continue;
      ++unit.lines;
      if ((unit.lines & 4095) == 0 && stop.load(std::memory_order_relaxed) < unit_index) break;
      if (!line.whole()) {
        malformed(ParseStatus::kLineTooLong);
      } else {
        count_line(strip_cr(line.text), record, worker, malformed);
      }
      if (options_.strict && malformed_seen) {
        size_t current = stop.load();
        while (unit_index < current && !stop.compare_exchange_weak(current, unit_index)) {
        }
        break;
      }
    }
    worker.lines += unit.lines;
  }

 private:
  // The fields format, a buffer at a time; counts exactly as run() with FieldsParser.
  //
  // Lines are counted in two passes over batches of kBatch lines: the first splits and
  // parses each line and hashes its key, the second finds each key's stats and updates
  // them. Done line by line, each line's chain of dependent loads (hash, slot, entry,
  // histogram bucket) waited for the one before it to retire; the second pass is short
  // enough per line that the CPU overlaps the chains of several lines.
  void run_fields(ByteStream& stream, WorkUnit& unit, Worker& worker) {
    LineBlockReader reader(stream, options_.reader);
    LineBlock block;
    uint64_t lines = 0, comments = 0, error_lines = 0;
    MalformedCounts malformed;    // rare: touched only on a malformed line
    uint64_t lines_reported = 0;  // to read_progress(), once per block
    auto note_malformed = [&](ParseStatus reason) {
      malformed.add(reason);
      if (unit.first_malformed == 0) {
        unit.first_malformed = lines;
        unit.first_reason = reason;
      }
    };
    struct Pending {
      const char* key;  // in the block, which stays valid until the batch is counted
      uint32_t size;
      uint8_t error;        // 1 when the status counts as an error
      uint8_t has_latency;  // 0 when the latency is "-" or unreadable
      uint64_t hash;
      uint64_t micros;
    };
    constexpr size_t kBatch = 32;
    std::array<Pending, kBatch> batch{};  // once per input: entries are written before use
    size_t pending = 0;
    auto count_batch = [&] {
      for (size_t i = 0; i < pending; ++i) {
        const Pending& p = batch[i];
        EndpointStats& stats = fast_table_.find_or_insert_padded({p.key, p.size}, p.hash);
        ++stats.requests;
        stats.errors += p.error;
        if (p.has_latency) stats.latency.add(p.micros);
      }
      pending = 0;
    };
    const int last = layout_.last;
    auto count_line = [&](const FieldsLine& line) __attribute__((always_inline)) {
      ++lines;
      // One byte per line: a blank line's begin is its '\n', readable too.
      if (*line.begin == '#') [[unlikely]] {
        ++comments;
        return;
      }
      if (line.fields < last) {
        if (line.fields != 0)
          note_malformed(fields_shortage(line.fields, last, latency_last_));  // else blank
        return;
      }
      int status = parse_status(line.field(status_slot_));
      if (status < 0) return note_malformed(ParseStatus::kBadStatus);
      const uint8_t error = options_.error_statuses.contains(status) ? 1 : 0;
      error_lines += error;
      std::optional<uint64_t> us;
      if (fields_latency_) us = parse_latency_padded(line.field(latency_slot_), options_.latency_unit_us);
      std::string_view key = key_in_line(line);
      if (key.data() == nullptr) {  // not a span of the line: counted at once
        EndpointStats& stats = fast_table_.find_or_insert(built_key(line));
        ++stats.requests;
        stats.errors += error;
        if (us) stats.latency.add(*us);
        return;
      }
      batch[pending++] = Pending{key.data(),
                                 static_cast<uint32_t>(key.size()),
                                 error,
                                 static_cast<uint8_t>(us.has_value()),
                                 KeyTable<EndpointStats>::hash_padded(key),
                                 us.value_or(0)};
      if (pending == kBatch) count_batch();
    };
    try {
      while (reader.next(block)) {
        if (block.overlong) {
          ++lines;
          note_malformed(ParseStatus::kLineTooLong);
          continue;
        }
        scan_fields_lines(block.text, layout_, count_line);
        count_batch();  // before the next block replaces this one
        read_progress().lines.fetch_add(lines - lines_reported, std::memory_order_relaxed);
        lines_reported = lines;
      }
    } catch (...) {
      unit.lines += lines;
      worker.malformed.add(malformed);
      worker.comments += comments;
      worker.error_lines += error_lines;
      throw;
    }
    unit.lines += lines;
    worker.lines += lines;
    worker.malformed.add(malformed);
    worker.comments += comments;
    worker.error_lines += error_lines;
  }

  // The `--by` fields joined by single spaces, as a span of the line when they are
  // consecutive fields with single spaces between them; else a null view, and the key
  // is built_key(line).
  std::string_view key_in_line(const FieldsLine& line) const {
    if (!key_in_place_) return {};
    const size_t n = key_slots_.size();
    bool single_spaces = true;
    if (n == 2) {  // the default, --by service,path
      const char* end = line.ends[key_slots_[0]];
      single_spaces = (line.before[key_slots_[1]] == end) & (*end == ' ');
    } else {
      for (size_t i = 0; i + 1 < n; ++i) {
        const char* end = line.ends[key_slots_[i]];
        single_spaces &= (line.before[key_slots_[i + 1]] == end) & (*end == ' ');
      }
    }
    if (!single_spaces) return {};
    const char* begin = line.before[key_slots_[0]] + 1;
    return {begin, static_cast<size_t>(line.ends[key_slots_[n - 1]] - begin)};
  }

  // The `--by` fields joined by single spaces, built in key_.
  std::string_view built_key(const FieldsLine& line) {
    key_.clear();
    for (size_t i = 0; i < key_slots_.size(); ++i) {
      if (i > 0) key_ += ' ';
      key_ += line.field(by_slots_[i]);
    }
    return key_;
  }

  template <typename Malformed>
  void count_line(std::string_view text, Record& record, Worker& worker, Malformed&& malformed) {
    if (is_blank(text)) return;
    if (is_comment_line(text)) {
      ++worker.comments;
      parser_->comment(text);
      return;
    }
    if (ParseResult parsed = parser_->parse(text, record); !parsed) return malformed(parsed.status);
    int status = parse_status(record[FieldId::kStatus]);
    if (status < 0) {
      return malformed(record[FieldId::kStatus].empty() ? missing_field(FieldId::kStatus)
                                                        : ParseStatus::kBadStatus);
    }
    if (filter_time_) {
      auto ts = read_timestamp(record[FieldId::kTs], options_.time_context);
      if (!ts)
        return malformed(record[FieldId::kTs].empty() ? missing_field(FieldId::kTs)
                                                      : ParseStatus::kBadTimestamp);
      if ((options_.since && *ts < *options_.since) || (options_.until && *ts > *options_.until)) {
        ++worker.filtered_out;
        return;
      }
    }
    // The key: each field's length, then its bytes, written straight into a buffer that
    // only grows (std::string::append per piece cost more than the hashing).
    std::array<std::string_view, kFieldCount> values;
    size_t key_size = 0;
    for (size_t i = 0; i < options_.by.size(); ++i) {
      FieldId id = options_.by[i];
      values[i] = record[id];
      if (id == FieldId::kPath && options_.normalize) values[i] = normalize_path(values[i], scratch_);
      key_size += sizeof(uint32_t) + values[i].size();
    }
    if (key_.size() < key_size) key_.resize(std::max(key_size, 2 * key_.size()));
    char* out = key_.data();
    for (size_t i = 0; i < options_.by.size(); ++i) {
      auto size = static_cast<uint32_t>(values[i].size());
      std::memcpy(out, &size, sizeof size);
      if (size != 0) std::memcpy(out + sizeof size, values[i].data(), size);
      out += sizeof size + size;
    }
    EndpointStats& stats = worker.table.find_or_insert(std::string_view(key_.data(), key_size));
    ++stats.requests;
    if (options_.error_statuses.contains(status)) {
      ++stats.errors;
      ++worker.error_lines;
    }
    if (has_latency_) {
      int64_t unit = record.latency_unit_us != 0 ? record.latency_unit_us : options_.latency_unit_us;
      if (auto us = parse_latency(record[FieldId::kLatency], unit)) {
        stats.latency.add(*us);
      }
    }
  }

  const ErrorsByEndpointOptions& options_;
  // The fields path.
  FieldsLayout layout_;
  bool fast_ = false;
  int status_slot_ = -1;
  int latency_slot_ = -1;
  bool fields_latency_ = false;         // the layout has a latency position
  bool latency_last_ = false;           // ... and it is the highest
  std::vector<int> by_slots_;           // of the --by fields, -1 when lines have none
  std::vector<size_t> key_slots_;       // the same, valid when key_in_place_
  bool key_in_place_ = false;           // the --by fields are consecutive, in order
  KeyTable<EndpointStats> fast_table_;  // keys: the --by fields joined by spaces
  // The per-line path.
  std::array<std::unique_ptr<RecordParser>, kLogFormatCount> parsers_;  // by LogFormat, made on first use
  RecordParser* parser_ = nullptr;
  bool has_latency_ = false;
  bool filter_time_ = false;
  std::string key_;
  std::string scratch_;
};

std::vector<std::string_view> decode_key(std::string_view key, size_t fields) {
  std::vector<std::string_view> out;
  out.reserve(fields);
  size_t pos = 0;
  for (size_t i = 0; i < fields; ++i) {
    uint32_t size = 0;
    std::memcpy(&size, key.data() + pos, sizeof size);
    pos += sizeof size;
    out.push_back(key.substr(pos, size));
    pos += size;
  }
  return out;
}

}  // namespace

std::vector<FieldNeed> errors_by_endpoint_needs(const ErrorsByEndpointOptions& options) {
  std::vector<FieldNeed> needs = {{FieldId::kStatus, "errors-by-endpoint"}};
  for (FieldId id : options.by) needs.push_back({id, "--by"});
  if (options.since || options.until) needs.push_back({FieldId::kTs, options.since ? "--since" : "--until"});
  return needs;
}

ErrorsByEndpointResult count_errors(const ErrorsByEndpointOptions& options) {
  ErrorsByEndpointResult result;
  const int threads = std::max(1, options.threads);

  // Open every input and cut the work into units.
  std::vector<std::optional<Input>> inputs(options.inputs.size());
  std::vector<LogFormat> formats(options.inputs.size(), LogFormat::kFields);
  std::vector<WorkUnit> units;
  for (size_t i = 0; i < options.inputs.size(); ++i) {
    try {
      inputs[i].emplace(Input::open(options.inputs[i]));
    } catch (const Error& e) {
      result.problems.push_back({options.inputs[i], e.what()});
      continue;
    }
    Input& input = *inputs[i];
    // The format (sniffed for auto), which must carry every field the options need.
    try {
      FormatGuess guess = resolve_log_format(options.log_format, input);
      formats[i] = guess.format;
      result.formats.push_back({options.inputs[i], guess});
      // A fixed --log-format was checked before the run (a usage error).
      std::string missing = options.log_format.format != LogFormat::kAuto
                                ? std::string()
                                : missing_field_message(options.log_format, guess.format,
                                                        errors_by_endpoint_needs(options), &guess);
      if (!missing.empty()) {
        result.problems.push_back({options.inputs[i], options.inputs[i] + ": " + missing});
        inputs[i].reset();
        continue;
      }
      // The timestamp is read with --since/--until only (SPEC §3).
      if (guess.format == LogFormat::kFields && (options.since || options.until)) {
        std::string problem =
            timestamp_position_problem(input.head(kSniffBytes), options.log_format.positions);
        if (!problem.empty()) {
          result.problems.push_back({options.inputs[i], options.inputs[i] + ":" + problem});
          inputs[i].reset();
          continue;
        }
      }
    } catch (const Error& e) {
      result.problems.push_back({options.inputs[i], options.inputs[i] + ": " + e.what()});
      inputs[i].reset();
      continue;
    }
    // A w3c range needs the #Fields: directive above it: w3c inputs are read whole.
    if (input.regular_fd() >= 0 && threads > 1 && input.size() >= options.split_min_bytes &&
        formats[i] != LogFormat::kW3c) {
      for (ByteRange range : split_at_lines(input.regular_fd(), input.size(), threads)) {
        units.push_back(WorkUnit{i, true, range, 0, 0, ParseStatus::kOk, {}});
      }
    } else {
      units.push_back(WorkUnit{i, false, {}, 0, 0, ParseStatus::kOk, {}});
    }
  }

  std::vector<Worker> workers(
      static_cast<size_t>(std::min<size_t>(static_cast<size_t>(threads), std::max<size_t>(units.size(), 1))));
  std::atomic<size_t> next{0};
  std::atomic<size_t> stop{kStopNone};
  auto work = [&](Worker& worker) {
    Counter counter(options);
    for (size_t u; (u = next.fetch_add(1)) < units.size();) {
      if (stop.load() < u) break;
      WorkUnit& unit = units[u];
      Input& input = *inputs[unit.input];
      try {
        if (unit.ranged) {
          auto stream = make_range_stream(input.regular_fd(), unit.range.begin, unit.range.end);
          counter.run(*stream, formats[unit.input], unit, u, worker, stop);
        } else {
          counter.run(input.stream(), formats[unit.input], unit, u, worker, stop);
        }
      } catch (const Error& e) {
        unit.problem = input.name() + ": " + e.what();
      }
    }
    counter.finish(worker);
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers.size(); ++w) pool.emplace_back(work, std::ref(workers[w]));
  work(workers[0]);
  for (auto& t : pool) t.join();

  // Line numbers of a split input continue from one unit to the next.
  std::vector<uint64_t> lines_before(units.size(), 0);
  for (size_t u = 1; u < units.size(); ++u) {
    if (units[u].input == units[u - 1].input) lines_before[u] = lines_before[u - 1] + units[u - 1].lines;
  }
  for (size_t u = 0; u < units.size(); ++u) {
    const WorkUnit& unit = units[u];
    if (unit.first_malformed != 0 && result.first_malformed.empty()) {
      result.first_malformed =
          options.inputs[unit.input] + ":" + std::to_string(lines_before[u] + unit.first_malformed);
      result.first_malformed_reason = unit.first_reason;
    }
    if (!unit.problem.empty()) result.problems.push_back({options.inputs[unit.input], unit.problem});
  }
  if (stop.load() != kStopNone) {
    throw Error(result.first_malformed + ": malformed line (--strict): " +
                std::string(parse_status_text(result.first_malformed_reason)));
  }

  // Merge the workers' tables into the first.
  KeyTable<EndpointStats>& table = workers[0].table;
  for (Worker& worker : workers) {
    result.lines += worker.lines;
    result.malformed_reasons.add(worker.malformed);
    result.comments += worker.comments;
    result.filtered_out += worker.filtered_out;
    result.error_lines += worker.error_lines;
    if (&worker == workers.data()) continue;
    for (auto& entry : worker.table.entries())
      merge_stats(table.find_or_insert(entry.key, entry.hash), entry.value);
  }
  result.malformed = result.malformed_reasons.total();
  result.endpoints = table.size();

  // Rank the endpoints that saw at least one error.
  struct Ranked {
    const KeyTable<EndpointStats>::Entry* entry;
    std::vector<std::string_view> keys;
  };
  std::vector<Ranked> ranked;
  for (const auto& entry : table.entries()) {
    if (entry.value.errors > 0) ranked.push_back({&entry, decode_key(entry.key, options.by.size())});
  }
  auto before = [](const Ranked& a, const Ranked& b) {
    if (a.entry->value.errors != b.entry->value.errors) return a.entry->value.errors > b.entry->value.errors;
    if (a.entry->value.requests != b.entry->value.requests)
      return a.entry->value.requests > b.entry->value.requests;
    return a.keys < b.keys;  // string_view compares bytes as unsigned char
  };
  size_t shown = options.top == 0 ? ranked.size() : std::min(options.top, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(shown), ranked.end(), before);
  for (size_t i = 0; i < shown; ++i) {
    const EndpointStats& stats = ranked[i].entry->value;
    EndpointRow row;
    for (std::string_view key : ranked[i].keys) row.keys.emplace_back(key);
    row.errors = stats.errors;
    row.requests = stats.requests;
    if (stats.latency.count() > 0) {
      row.p50_ms = stats.latency.quantile(0.50) / 1000.0;
      row.p99_ms = stats.latency.quantile(0.99) / 1000.0;
    }
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace opsktl
