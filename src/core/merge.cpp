// k-way merge of time-sorted logs.
//
// Problem: N inputs, each sorted by time, must become one time-sorted stream whose lines
// are the input bytes unchanged, in memory that does not grow with the input, for N
// from 2 to many thousands, and faster than `sort -m`.
//
// Approach: every input is a RecordSource that holds its next record's instant (the
// "head"); a tree of losers keyed by (instant, input index) picks the source to emit
// next, so ties come out in command-line order and, within one input, in line order.
// A record is a line with a timestamp plus the timestamp-less lines (orphans) after it;
// the source writes the head line straight from the LineReader's buffer into the sink
// and then streams the orphans that follow until it meets the next timestamped line,
// which stays in the reader's buffer as the new head. So each byte is copied once
// (reader buffer -> sink buffer) and only one line per input is held. Orphans before an
// input's first record are the only lines that must wait; they are kept in memory and
// spill to an unlinked temporary file past 1 MiB.
//
// More inputs than can be open at once are merged in passes: consecutive groups of
// inputs are merged into unlinked temporary files ("runs"), which the final pass merges
// with the remaining inputs. Because groups are consecutive and each merge is stable,
// the result equals a single stable merge. Runs store each record's instant in a small
// framing (tag 'R' + instant, tag 'D' + length + bytes), so later passes neither
// re-parse timestamps nor depend on the input format or on --label.
//
// --reorder DUR wraps a source in a ReorderSource that holds records in a small heap
// until a record DUR newer has been read: memory O(records within DUR).
//
// Rejected: sorting chunks in memory (unbounded
// memory); re-parsing intermediate runs (labels and formats would get in the way).
#include "opsktl/merge.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <queue>
#include <utility>

#include "opsktl/error.hpp"
#include "opsktl/input.hpp"
#include "opsktl/line_reader.hpp"
#include "opsktl/text.hpp"

namespace opsktl {
namespace {

constexpr Micros kEarliest = std::numeric_limits<Micros>::min();
constexpr size_t kSpillBytes = size_t{1} << 20;
constexpr size_t kMinReadBuffer = size_t{16} << 10;
// Small read buffers keep every open input's unread lines in the CPU cache between the
// kernel's copy and the line search: with 16 inputs, 256 KiB buffers (4 MiB in all) made
// the newline search wait on memory and took twice the CPU time of 32 KiB ones.
constexpr size_t kMaxReadBuffer = size_t{32} << 10;
constexpr size_t kMaxFanIn = 1024;
// Enough for the 16 lines sniff_log_format looks at, small enough for 1000 open inputs.
constexpr size_t kSniffBytesPerInput = size_t{16} << 10;

// --- Timestamp extractors ---------------------------------------------------------

class PrefixExtractor final : public TimestampExtractor {
 public:
  explicit PrefixExtractor(const TimeContext& context) : context_(context) {}
  bool extract(std::string_view line, Micros& out) override {
    return read_timestamp_prefix(line, context_, out) != 0;
  }

 private:
  TimeContext context_;
};

// The timestamp starts at whitespace field `position`; it may run over the fields after.
class FieldExtractor final : public TimestampExtractor {
 public:
  FieldExtractor(int position, const TimeContext& context) : position_(position), context_(context) {}
  bool extract(std::string_view line, Micros& out) override {
    size_t pos = 0;
    auto space = [&](size_t i) { return line[i] == ' ' || line[i] == '\t' || line[i] == '\r'; };
    for (int field = 1;; ++field) {
      while (pos < line.size() && space(pos)) ++pos;
      if (pos == line.size()) return false;
      if (field == position_) break;
      while (pos < line.size() && !space(pos)) ++pos;
    }
    FieldTimestamp ts = read_field_timestamp(line.substr(pos), context_);
    out = ts.instant;
    return ts.bytes != 0;
  }

 private:
  int position_;
  TimeContext context_;
};

// NCSA common/combined: the bracketed time after the client, ident and user fields. Only
// the time is needed, so a line whose request or status the full parser would reject
// still has its place in the timeline.
class CombinedExtractor final : public TimestampExtractor {
 public:
  explicit CombinedExtractor(const TimeContext& context) : context_(context) {}
  bool extract(std::string_view line, Micros& out) override {
    size_t open = line.find('[');
    return open != std::string_view::npos && read_timestamp_prefix(line.substr(open), context_, out) != 0;
  }

 private:
  TimeContext context_;
};

// Any RecordParser: the instant of its ts field.
class RecordParserExtractor final : public TimestampExtractor {
 public:
  RecordParserExtractor(std::unique_ptr<RecordParser> parser, const TimeContext& context,
                        std::string_view input)
      : parser_(std::move(parser)), context_(context) {
    parser_->begin_input(input);
  }
  bool extract(std::string_view line, Micros& out) override {
    if (!parser_->parse(line, record_)) return false;
    std::string_view ts = record_[FieldId::kTs];
    if (ts.empty()) return false;
    std::optional<Micros> instant = read_timestamp(ts, context_);
    if (instant) out = *instant;
    return instant.has_value();
  }

 private:
  std::unique_ptr<RecordParser> parser_;
  Record record_;
  TimeContext context_;
};

// --log-format auto on an input sniffed as combined, logfmt or json: a timestamp at the
// start of the line still wins, so that a plain log mistaken for logfmt (its messages
// hold key=value pairs) keeps its records.
class SniffedExtractor final : public TimestampExtractor {
 public:
  SniffedExtractor(std::unique_ptr<TimestampExtractor> format, const TimeContext& context)
      : prefix_(context), format_(std::move(format)) {}
  bool extract(std::string_view line, Micros& out) override {
    return prefix_.extract(line, out) || format_->extract(line, out);
  }

 private:
  PrefixExtractor prefix_;
  std::unique_ptr<TimestampExtractor> format_;
};

// --- Temporary files -----------------------------------------------------------------

// An unlinked temporary file: it vanishes when closed, whatever way the process ends.
class TempFile {
 public:
  explicit TempFile(const std::string& dir) {
    fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      std::string pattern = dir + "/.opsktl-merge-XXXXXX";
      fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
      if (fd_ < 0) throw Error(dir + ": cannot create a temporary file: " + errno_message(errno));
      ::unlink(pattern.c_str());
    }
  }
  ~TempFile() { ::close(fd_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  void append(const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw Error("temporary file: " + errno_message(errno));
      }
      data += n;
      size -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Buffered appends to a TempFile.
class TempWriter {
 public:
  explicit TempWriter(TempFile& file, size_t capacity = size_t{256} << 10) : file_(file) {
    buffer_.reserve(capacity);
  }
  void append(std::string_view bytes) {
    if (buffer_.size() + bytes.size() > buffer_.capacity()) {
      flush();
      if (bytes.size() >= buffer_.capacity()) {
        file_.append(bytes.data(), bytes.size());
        return;
      }
    }
    buffer_.append(bytes);
  }
  void flush() {
    file_.append(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

 private:
  TempFile& file_;
  std::string buffer_;
};

// --- Sinks used inside the merge ----------------------------------------------------

class NullSink final : public MergeSink {
 public:
  void begin_record(Micros) override {}
  void write(std::string_view, std::string_view, bool) override {}
};

// Collects one record's bytes (for the reorder buffer).
class StringSink final : public MergeSink {
 public:
  void begin_record(Micros) override {}
  void write(std::string_view prefix, std::string_view text, bool newline) override {
    bytes.append(prefix);
    bytes.append(text);
    if (newline) bytes.push_back('\n');
  }
  std::string bytes;
};

// Writes a run: 'R' + instant before each record, 'D' + length + bytes for its data.
class RunSink final : public MergeSink {
 public:
  explicit RunSink(TempFile& file) : writer_(file) {}
  void begin_record(Micros instant) override {
    char header[1 + sizeof instant];
    header[0] = 'R';
    std::memcpy(header + 1, &instant, sizeof instant);
    writer_.append(std::string_view(header, sizeof header));
  }
  void write(std::string_view prefix, std::string_view text, bool newline) override {
    uint64_t size = prefix.size() + text.size() + (newline ? 1 : 0);
    if (size == 0) return;
    char header[1 + sizeof size];
    header[0] = 'D';
    std::memcpy(header + 1, &size, sizeof size);
    writer_.append(std::string_view(header, sizeof header));
    writer_.append(prefix);
    writer_.append(text);
    if (newline) writer_.append("\n");
  }
  void finish() { writer_.flush(); }

 private:
  TempWriter writer_;
};

// Lines waiting for a record to travel with: memory first, then an unlinked file.
class SpillBuffer {
 public:
  explicit SpillBuffer(const std::string& temp_dir) : temp_dir_(temp_dir) {}
  bool empty() const { return memory_.empty() && !file_; }
  void clear() {
    memory_.clear();
    file_.reset();
  }
  void append(std::string_view prefix, std::string_view text, bool newline) {
    memory_.append(prefix);
    memory_.append(text);
    if (newline) memory_.push_back('\n');
    if (memory_.size() >= kSpillBytes && !no_file_) {
      try {
        if (!file_) file_ = std::make_unique<TempFile>(temp_dir_);
        file_->append(memory_.data(), memory_.size());
        memory_.clear();
      } catch (const Error&) {
        no_file_ = true;  // keep it in memory rather than fail
      }
    }
  }
  void replay(MergeSink& sink) {
    if (file_) {
      std::vector<char> chunk(std::min<uint64_t>(file_->size(), kSpillBytes));
      uint64_t offset = 0;
      while (offset < file_->size()) {
        ssize_t n = ::pread(file_->fd(), chunk.data(), chunk.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error("temporary file: " + errno_message(n < 0 ? errno : EIO));
        sink.write({}, std::string_view(chunk.data(), static_cast<size_t>(n)), false);
        offset += static_cast<uint64_t>(n);
      }
      file_.reset();
    }
    sink.write({}, memory_, false);
    memory_.clear();
    memory_.shrink_to_fit();
  }

 private:
  const std::string& temp_dir_;
  std::string memory_;
  std::unique_ptr<TempFile> file_;
  bool no_file_ = false;
};

// --- Record sources -------------------------------------------------------------------

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  bool has_head() const { return has_head_; }
  Micros head() const { return head_; }
  // Writes the head record to `sink` and reads up to the next one.
  virtual void emit(MergeSink& sink) = 0;

 protected:
  bool has_head_ = false;
  Micros head_ = 0;
};

// What every LogSource of one merge shares.
struct SourceContext {
  const MergeOptions& options;
  LineReaderOptions reader;
  MergeListener& listener;
  MergeResult& result;
  bool collect_leading = true;  // false when checking: nothing is written
};

// One input read line by line.
class LogSource final : public RecordSource {
 public:
  LogSource(const std::string& name, const SourceContext& context)
      : context_(context), name_(name), leading_(context.options.temp_dir) {
    try {
      input_.emplace(Input::open(name));
    } catch (const Error& e) {
      fail(e.what());
      return;
    }
    try {
      extractor_ = make_extractor(*input_);
    } catch (const Error& e) {
      fail(name_ + ": " + e.what());
      input_.reset();
      return;
    }
    reader_.emplace(input_->stream(), context.reader);
    if (context.options.label) prefix_ = name + "\t";
    read_to_next_record(nullptr);
  }

  void emit(MergeSink& sink) override {
    sink.begin_record(head_);
    if (!leading_.empty()) leading_.replay(sink);
    if (pending_line_) {
      sink.write(prefix_, pending_.text, !pending_.continues);
      last_ = Disposition::kWrite;
    }
    read_to_next_record(&sink);
  }

  bool unsorted() const { return unsorted_; }

 private:
  enum class Disposition { kWrite, kSkip, kLeading };

  void fail(const std::string& message) {
    ++context_.result.failed_inputs;
    context_.listener.input_failed(message);
  }

  // Reads lines until the next kept record's head line (left in pending_) or the end.
  // Lines on the way belong to the current record: written to `sink` (null before the
  // first record), kept for the first record, or dropped.
  void read_to_next_record(MergeSink* sink) {
    has_head_ = false;
    pending_line_ = false;
    if (!reader_) return;
    const MergeOptions& options = context_.options;
    Line& line = pending_;
    while (next_line(line)) {
      if (line.continuation) {
        dispose(last_, sink, {}, line);
        continue;
      }
      ++context_.result.lines;
      Micros instant = 0;
      if (!(epoch_first_ && read_epoch_seconds10(line.text, instant)) &&
          !extractor_->extract(line.text, instant)) {
        if (!seen_record_) no_timestamp_yet(line);
        Disposition d = orphan_disposition(sink, line);
        dispose(d, sink, prefix_, line);
        last_ = d;
        continue;
      }
      ++context_.result.records;
      check_order(instant);
      if ((options.since && instant < *options.since) || (options.until && instant > *options.until)) {
        ++context_.result.filtered_out;
        if (!seen_record_) leading_.clear();  // they travel with it
        seen_record_ = true;
        dropping_ = true;
        last_ = Disposition::kSkip;
        continue;
      }
      seen_record_ = true;
      dropping_ = false;
      has_head_ = true;
      head_ = instant;
      pending_line_ = true;
      return;
    }
    if (!seen_record_ && untimed_lines_ > 0 && !told_untimed_) {
      told_untimed_ = true;
      ++context_.result.inputs_without_timestamps;
      context_.listener.input_without_timestamps(name_, true, reader_->line_number(), first_line_);
    }
    reader_.reset();
    input_.reset();
    // Lines of an input without any record come out first, as one record.
    if (!leading_.empty() && !seen_record_ && !options.since && !options.until) {
      has_head_ = true;
      head_ = kEarliest;
    }
  }

  // A line before the input's first timestamp: after kTimestampSearchLines non-blank
  // ones, the input is reported (SPEC §5: never merged first without a word).
  void no_timestamp_yet(const Line& line) {
    if (line.continuation || is_blank(line.text) || told_untimed_) return;
    if (untimed_lines_++ == 0) first_line_ = printable_excerpt(strip_cr(line.text));
    if (untimed_lines_ == kTimestampSearchLines) {
      told_untimed_ = true;
      ++context_.result.inputs_without_timestamps;
      context_.listener.input_without_timestamps(name_, false, untimed_lines_, first_line_);
    }
  }

  // The extractor for this input: with --log-format auto, by the format its first lines
  // show (throws opsktl::Error when they cannot be read).
  std::unique_ptr<TimestampExtractor> make_extractor(Input& input) {
    const MergeOptions& options = context_.options;
    LogFormatConfig config = options.log_format;
    // Every extractor that reads a timestamp at the start of the line first.
    epoch_first_ =
        config.format == LogFormat::kAuto ||
        (config.format == LogFormat::kFields && config.positions[static_cast<size_t>(FieldId::kTs)] <= 1);
    if (config.format != LogFormat::kAuto) {
      return make_timestamp_extractor(config, options.time_context, name_);
    }
    FormatGuess guess = sniff_log_format(input.head(kSniffBytesPerInput));
    context_.listener.input_format(name_, guess);
    if (guess.format == LogFormat::kFields)
      return make_timestamp_extractor(config, options.time_context, name_);
    config.format = guess.format;
    // A w3c stamp is two columns, which CloudFront separates by a tab: only the format
    // joins them (the date alone would read as midnight).
    if (guess.format == LogFormat::kW3c) return make_timestamp_extractor(config, options.time_context, name_);
    return std::make_unique<SniffedExtractor>(make_timestamp_extractor(config, options.time_context, name_),
                                              options.time_context);
  }

  // The next line from the reader; false at the end or when reading fails (reported).
  bool next_line(Line& line) {
    try {
      return reader_->next(line);
    } catch (const Error& e) {
      fail(name_ + ": " + e.what());
      return false;
    }
  }

  Disposition orphan_disposition(MergeSink* sink, const Line& line) {
    const MergeOptions& options = context_.options;
    bool blank = is_blank(line.text);
    if (options.strict && !blank) {
      throw Error(name_ + ":" + std::to_string(reader_->line_number()) +
                  ": line has no timestamp (--strict)");
    }
    if (options.orphans == OrphanMode::kSkip) {
      if (!blank) {
        if (context_.result.orphans_skipped++ == 0) {
          context_.result.first_orphan_skipped = name_ + ":" + std::to_string(reader_->line_number());
        }
      }
      return Disposition::kSkip;
    }
    if (dropping_) return Disposition::kSkip;
    if (sink != nullptr) return Disposition::kWrite;
    return context_.collect_leading ? Disposition::kLeading : Disposition::kSkip;
  }

  void dispose(Disposition d, MergeSink* sink, std::string_view prefix, const Line& line) {
    bool newline = !line.continues;
    switch (d) {
      case Disposition::kWrite: sink->write(prefix, line.text, newline); break;
      case Disposition::kLeading: leading_.append(prefix, line.text, newline); break;
      case Disposition::kSkip: break;
    }
  }

  void check_order(Micros instant) {
    if (has_newest_ && instant < newest_ && newest_ - instant > context_.options.reorder_us && !unsorted_) {
      unsorted_ = true;
      ++context_.result.unsorted_inputs;
      context_.listener.input_unsorted(name_, reader_->line_number(), newest_line_);
    }
    if (!has_newest_ || instant > newest_) {
      has_newest_ = true;
      newest_ = instant;
      newest_line_ = reader_->line_number();
    }
  }

  const SourceContext& context_;
  std::string name_;
  std::string prefix_;
  std::optional<Input> input_;
  std::optional<LineReader> reader_;
  std::unique_ptr<TimestampExtractor> extractor_;
  bool epoch_first_ = false;  // try read_epoch_seconds10 before the extractor
  Line pending_;
  bool pending_line_ = false;              // pending_ holds the head line
  Disposition last_ = Disposition::kSkip;  // where the current line's pieces go
  SpillBuffer leading_;
  bool seen_record_ = false;
  uint64_t untimed_lines_ = 0;  // non-blank lines before the first record
  std::string first_line_;      // the first of them, printable
  bool told_untimed_ = false;   // input_without_timestamps was called
  bool dropping_ = false;       // the current record is outside --since/--until
  bool has_newest_ = false;
  Micros newest_ = 0;
  uint64_t newest_line_ = 0;
  bool unsorted_ = false;
};

// Holds records back until one `tolerance` newer has been read, then releases them in
// order: inputs up to `tolerance` out of order come out sorted.
class ReorderSource final : public RecordSource {
 public:
  ReorderSource(std::unique_ptr<RecordSource> inner, int64_t tolerance)
      : inner_(std::move(inner)), tolerance_(tolerance) {
    fill();
  }

  void emit(MergeSink& sink) override {
    Held held = std::move(const_cast<Held&>(held_.top()));
    held_.pop();
    sink.begin_record(held.instant);
    sink.write({}, held.bytes, false);
    fill();
  }

 private:
  struct Held {
    Micros instant;
    uint64_t sequence;
    std::string bytes;
    bool operator>(const Held& other) const {
      return instant != other.instant ? instant > other.instant : sequence > other.sequence;
    }
  };

  void fill() {
    while (inner_->has_head()) {
      Micros next = inner_->head();
      if (!has_newest_ || next > newest_) {
        has_newest_ = true;
        newest_ = next;
      }
      if (!held_.empty()) {
        Micros first = held_.top().instant;
        if (first <= next && newest_ - first >= tolerance_) break;
      }
      StringSink capture;
      inner_->emit(capture);
      held_.push(Held{next, sequence_++, std::move(capture.bytes)});
    }
    has_head_ = !held_.empty();
    if (has_head_) head_ = held_.top().instant;
  }

  std::unique_ptr<RecordSource> inner_;
  int64_t tolerance_;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held_;
  uint64_t sequence_ = 0;
  bool has_newest_ = false;
  Micros newest_ = 0;
};

// A run written by RunSink, read back.
class RunSource final : public RecordSource {
 public:
  RunSource(std::unique_ptr<TempFile> file, size_t buffer_bytes)
      : file_(std::move(file)),
        stream_(make_range_stream(file_->fd(), 0, file_->size())),
        buffer_(std::max<size_t>(buffer_bytes, 64)) {
    read_header();
  }

  void emit(MergeSink& sink) override {
    sink.begin_record(head_);
    for (;;) {
      if (!fill(1)) {
        has_head_ = false;
        file_.reset();
        return;
      }
      char tag = buffer_[begin_];
      if (tag == 'R') break;
      if (tag != 'D' || !fill(1 + sizeof(uint64_t))) throw Error("temporary file: corrupt run");
      uint64_t size = 0;
      std::memcpy(&size, buffer_.data() + begin_ + 1, sizeof size);
      begin_ += 1 + sizeof size;
      while (size > 0) {
        if (!fill(1)) throw Error("temporary file: truncated run");
        size_t n = static_cast<size_t>(std::min<uint64_t>(size, end_ - begin_));
        sink.write({}, std::string_view(buffer_.data() + begin_, n), false);
        begin_ += n;
        size -= n;
      }
    }
    read_header();
  }

 private:
  void read_header() {
    has_head_ = false;
    if (!fill(1 + sizeof(Micros))) return;
    if (buffer_[begin_] != 'R') throw Error("temporary file: corrupt run");
    std::memcpy(&head_, buffer_.data() + begin_ + 1, sizeof head_);
    begin_ += 1 + sizeof head_;
    has_head_ = true;
  }

  // At least `n` bytes buffered; false at the end of the run.
  bool fill(size_t n) {
    while (end_ - begin_ < n) {
      if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      size_t got = stream_->read(buffer_.data() + end_, buffer_.size() - end_);
      if (got == 0) return false;
      end_ += got;
    }
    return true;
  }

  std::unique_ptr<TempFile> file_;
  std::unique_ptr<ByteStream> stream_;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// --- The merge ------------------------------------------------------------------------

// Emits every record of `sources` in (instant, source index) order, with a tree of
// losers: after the winner emits, only the path from its leaf to the root is replayed,
// one comparison per level. The tree's nodes hold the losers' keys themselves (instant
// and index as two plain integers), so that a level is a load that does not depend on
// the previous level plus a comparison whose outcome selects with conditional moves.
// Which input wins is random: with a binary heap of indices (two mispredicted branches
// and two dependent loads per level) the selection took 21% of the run time on 16
// generated inputs (bench/merge.sh); the tree with keys packed into one 128-bit integer
// took about 15% (the compiler spills 128-bit values to the stack); with two 64-bit
// fields it is a quarter fewer instructions again.
void merge_sources(std::vector<std::unique_ptr<RecordSource>>& sources, MergeSink& sink) {
  const size_t k = sources.size();
  if (k == 0) return;
  // An exhausted source's instant: later than any the parser can produce.
  constexpr Micros kDone = std::numeric_limits<Micros>::max();
  struct Key {
    Micros instant;
    uint64_t index;
  };
  auto before = [](const Key& a, const Key& b) {
    return (a.instant < b.instant) | ((a.instant == b.instant) & (a.index < b.index));
  };
  auto key_of = [&](size_t i) {
    return Key{sources[i]->has_head() ? sources[i]->head() : kDone, static_cast<uint64_t>(i)};
  };

  // Node p (1..k-1) has children 2p and 2p+1; node k+i is the leaf of source i.
  std::vector<Key> loser(k);
  std::vector<Key> winner(k);
  for (size_t p = k - 1; p >= 1; --p) {
    Key a = 2 * p >= k ? key_of(2 * p - k) : winner[2 * p];
    Key b = 2 * p + 1 >= k ? key_of(2 * p + 1 - k) : winner[2 * p + 1];
    bool a_first = before(a, b);
    winner[p] = a_first ? a : b;
    loser[p] = a_first ? b : a;
  }
  Key top = k == 1 ? key_of(0) : winner[1];
  while (top.instant != kDone) {
    size_t index = static_cast<size_t>(top.index);
    RecordSource& source = *sources[index];
    source.emit(sink);
    Micros instant = source.has_head() ? source.head() : kDone;
    Micros top_instant = instant;
    uint64_t top_index = index;
    for (size_t p = (index + k) >> 1; p >= 1; p >>= 1) {
      Micros other_instant = loser[p].instant;
      uint64_t other_index = loser[p].index;
      bool other_first =
          (other_instant < top_instant) | ((other_instant == top_instant) & (other_index < top_index));
      loser[p].instant = other_first ? top_instant : other_instant;
      loser[p].index = other_first ? top_index : other_index;
      top_instant = other_first ? other_instant : top_instant;
      top_index = other_first ? other_index : top_index;
    }
    top = Key{top_instant, top_index};
  }
}

LineReaderOptions reader_options(const MergeOptions& options, size_t open_inputs) {
  size_t per_input = options.buffer_budget_bytes / std::max<size_t>(open_inputs, 1);
  per_input = std::clamp(per_input, kMinReadBuffer, kMaxReadBuffer);
  // Lines longer than the buffer pass through in pieces instead of growing it.
  return LineReaderOptions{per_input, per_input};
}

std::unique_ptr<RecordSource> make_log_source(const std::string& name, const SourceContext& context) {
  auto source = std::make_unique<LogSource>(name, context);
  if (context.options.reorder_us > 0) {
    return std::make_unique<ReorderSource>(std::move(source), context.options.reorder_us);
  }
  return source;
}

MergeResult check_inputs(const MergeOptions& options, MergeListener& listener) {
  MergeResult result;
  SourceContext context{options, reader_options(options, 1), listener, result, false};
  NullSink sink;
  for (const std::string& name : options.inputs) {
    LogSource source(name, context);
    while (source.has_head() && !source.unsorted()) source.emit(sink);
  }
  return result;
}

}  // namespace

std::unique_ptr<TimestampExtractor> make_timestamp_extractor(const LogFormatConfig& config,
                                                             const TimeContext& context,
                                                             std::string_view input) {
  if (config.format == LogFormat::kAuto) return std::make_unique<PrefixExtractor>(context);
  if (config.format == LogFormat::kFields) {
    int position = config.positions[static_cast<size_t>(FieldId::kTs)];
    return std::make_unique<FieldExtractor>(std::max(position, 1), context);
  }
  if (config.format == LogFormat::kCombined) return std::make_unique<CombinedExtractor>(context);
  return std::make_unique<RecordParserExtractor>(make_record_parser(config), context, input);
}

MergeResult merge_logs(const MergeOptions& options, MergeSink& sink, MergeListener& listener) {
  if (options.mode == MergeMode::kCheck) return check_inputs(options, listener);

  MergeResult result;
  const size_t fan_in = std::max<size_t>(options.max_open_inputs, 2);
  const std::vector<std::string>& inputs = options.inputs;
  std::vector<std::unique_ptr<TempFile>> runs;  // each covers the inputs before the rest
  size_t next = 0;

  auto merge_into_run = [&](std::vector<std::unique_ptr<RecordSource>>& sources) {
    auto file = std::make_unique<TempFile>(options.temp_dir);
    RunSink run(*file);
    merge_sources(sources, run);
    run.finish();
    ++result.temporary_runs;
    return file;
  };
  auto run_sources = [&](size_t open) {
    std::vector<std::unique_ptr<RecordSource>> sources;
    size_t buffer = reader_options(options, open).buffer_bytes;
    sources.reserve(runs.size());
    for (auto& file : runs) sources.push_back(std::make_unique<RunSource>(std::move(file), buffer));
    runs.clear();
    return sources;
  };

  for (;;) {
    size_t remaining = inputs.size() - next;
    if (runs.size() + remaining <= fan_in) {
      size_t open = runs.size() + remaining;
      SourceContext context{options, reader_options(options, open), listener, result};
      std::vector<std::unique_ptr<RecordSource>> sources = run_sources(open);
      for (; next < inputs.size(); ++next) sources.push_back(make_log_source(inputs[next], context));
      merge_sources(sources, sink);
      break;
    }
    size_t group = std::min(fan_in, remaining);
    {
      SourceContext context{options, reader_options(options, group), listener, result};
      std::vector<std::unique_ptr<RecordSource>> sources;
      for (size_t end = next + group; next < end; ++next) {
        sources.push_back(make_log_source(inputs[next], context));
      }
      auto file = merge_into_run(sources);
      runs.push_back(std::move(file));
    }
    if (runs.size() >= fan_in) {
      std::vector<std::unique_ptr<RecordSource>> sources = run_sources(runs.size());
      runs.push_back(merge_into_run(sources));
    }
  }
  return result;
}

size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 16;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  uint64_t open_files = limit.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : limit.rlim_cur;
  // Room for stdio, the output, spill files and libraries; a pass holds its inputs and
  // up to as many runs, hence the half.
  constexpr uint64_t kReserved = 32;
  uint64_t usable = open_files > kReserved + 4 ? (open_files - kReserved) / 2 : 2;
  return static_cast<size_t>(std::min<uint64_t>(usable, kMaxFanIn));
}

}  // namespace opsktl
