// Flapping detection is a sliding window per service: at each restart at time t, the
// restarts of that service in [t - window, t] are counted, and the restart alerts when
// the count exceeds N. Because a service's restarts arrive in time order (late ones are
// refused), the window is a queue: push t at the back, pop what fell out at the front.
// The queue lives in a per-service ring buffer that is released as soon as only the
// newest restart is inside the window (the newest is kept apart, so the common quiet
// service never allocates). Memory is O(services + restarts inside the windows).
//
// A global sweep (dropping every service whose newest restart is older than the
// newest time seen minus the window) was rejected: it is only right when the input is
// in time order across services, and `opsktl flapping nginx.log redis.log` with one
// log per service is not. A service that goes quiet keeps at most its last window.
//
// Out-of-order input: a restart earlier than its service's newest is refused and
// counted as late. --reorder DUR puts restarts through a min-heap on (time, arrival)
// and releases those at least DUR older than the newest time seen, so a restart up to
// DUR late still arrives in order; the heap holds O(restarts in DUR).
//
// Reading: an input in the fields format (the default) is scanned a buffer at a time
// with scan_fields_lines (fields_scan.hpp), which finds lines and fields in one pass;
// the event word is compared as two words, a ten-digit epoch is converted eight digits
// at a time, and the service is found in a table keyed by its first 16 bytes
// (ServiceIndex). Other formats, --event-regex and --follow read a line at a time.
//
// Episodes: consecutive alerting restarts of one service. The first alert's window
// supplies start (its earliest restart) and every later alert in the run adds one
// restart, so restarts = first count + alerts - 1.
#include "opsktl/flapping.hpp"

#include <fcntl.h>
#include <poll.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <queue>
#include <thread>
#include <utility>

#include "opsktl/error.hpp"
#include "opsktl/fields_scan.hpp"
#include "opsktl/follow.hpp"
#include "opsktl/input.hpp"
#include "opsktl/read_progress.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace opsktl {

// ---- FlappingDetector ----------------------------------------------------------

struct FlappingDetector::ServiceState {
  // Restarts in the window older than `newest`, oldest first: in `inline_ring` while
  // they fit, else in `heap`. A quiet service's window that fills and empties again then
  // costs no allocation (malloc and free were 3% of the run on the generated events).
  static constexpr uint32_t kInline = 3;
  std::unique_ptr<Micros[]> heap;
  Micros inline_ring[kInline] = {};
  uint32_t head = 0, size = 0, capacity = kInline;
  Micros newest = 0;
  bool seen = false;
  bool open = false;  // an episode is running
  Micros episode_start = 0, episode_end = 0;
  uint64_t episode_restarts = 0, episode_peak = 0;

  Micros* ring() { return heap ? heap.get() : inline_ring; }
  Micros front() const { return heap ? heap[head] : inline_ring[head]; }
  void pop_front() {
    head = head + 1 == capacity ? 0 : head + 1;
    --size;
  }
  // To max(new_capacity, kInline) slots, keeping the contents.
  void resize(uint32_t new_capacity) {
    new_capacity = std::max(new_capacity, kInline);
    if (new_capacity == capacity) return;
    std::unique_ptr<Micros[]> grown = std::make_unique_for_overwrite<Micros[]>(std::max(size, 1u));
    const Micros* from = ring();
    for (uint32_t i = 0; i < size; ++i) grown[i] = from[(head + i) % capacity];
    if (new_capacity == kInline) {
      std::copy(grown.get(), grown.get() + size, inline_ring);
      heap.reset();
    } else {
      std::unique_ptr<Micros[]> bigger = std::make_unique_for_overwrite<Micros[]>(new_capacity);
      std::copy(grown.get(), grown.get() + size, bigger.get());
      heap = std::move(bigger);
    }
    capacity = new_capacity;
    head = 0;
  }
  void push_back(Micros ts) {
    if (size == capacity) resize(capacity * 2);
    uint32_t tail = head + size;
    if (tail >= capacity) tail -= capacity;
    ring()[tail] = ts;
    ++size;
  }
};

FlappingDetector::FlappingDetector(uint64_t max_restarts, Micros window, AlertMode mode, bool sorted_episodes,
                                   FlappingSink& sink)
    : max_restarts_(max_restarts),
      window_(window),
      mode_(mode),
      sorted_episodes_(sorted_episodes),
      sink_(sink) {}

FlappingDetector::~FlappingDetector() = default;

uint32_t FlappingDetector::intern(std::string_view service) {
  uint32_t& id = ids_.find_or_insert(service);
  if (id == 0) {
    states_.emplace_back();
    names_.push_back(ids_.entries().back().key);
    id = static_cast<uint32_t>(states_.size());
  }
  return id - 1;
}

bool FlappingDetector::add_restart(uint32_t service, Micros ts) {
  ServiceState& s = states_[service];
  uint64_t count = 1;
  if (s.seen) {
    if (ts < s.newest) return false;
    // Saturate: a window reaching before the earliest representable time holds all.
    Micros low = ts >= std::numeric_limits<Micros>::min() + window_ ? ts - window_
                                                                    : std::numeric_limits<Micros>::min();
    while (s.size > 0 && s.front() < low) s.pop_front();
    if (s.newest >= low) s.push_back(s.newest);
    if (s.size == 0 && s.heap) {
      s.resize(0);
    } else if (s.capacity > 16 && s.size * 4 <= s.capacity) {
      s.resize(s.capacity / 2);
    }
    count += s.size;
  }
  s.newest = ts;
  s.seen = true;
  ++restarts_;
  if (count <= max_restarts_) {
    if (s.open) end_episode(service);
    return true;
  }
  ++alerts_;
  if (mode_ == AlertMode::kEvery) {
    sink_.alert(FlappingAlert{ts, names_[service], count});
  } else if (!s.open) {
    s.open = true;
    s.episode_start = s.size > 0 ? s.front() : ts;
    s.episode_end = ts;
    s.episode_restarts = count;
    s.episode_peak = count;
    open_episodes_.push_back(service);
  } else {
    s.episode_end = ts;
    ++s.episode_restarts;
    s.episode_peak = std::max(s.episode_peak, count);
  }
  return true;
}

void FlappingDetector::end_episode(uint32_t service) {
  ServiceState& s = states_[service];
  s.open = false;
  ++episodes_;
  auto it = std::find(open_episodes_.begin(), open_episodes_.end(), service);
  if (it != open_episodes_.end()) {
    *it = open_episodes_.back();
    open_episodes_.pop_back();
  }
  FlappingEpisode episode{names_[service], s.episode_start, s.episode_end, s.episode_restarts,
                          s.episode_peak};
  if (sorted_episodes_) {
    held_.push_back(episode);
  } else {
    sink_.episode(episode);
  }
}

void FlappingDetector::close_episodes_before(Micros now) {
  if (max_restarts_ == 0 || open_episodes_.empty()) return;
  std::vector<uint32_t> ending;
  for (uint32_t service : open_episodes_) {
    // A later restart at `now` or after has only itself in its window: count 1 <= N.
    if (states_[service].episode_end < now - window_) ending.push_back(service);
  }
  std::sort(ending.begin(), ending.end(), [&](uint32_t a, uint32_t b) {
    if (states_[a].episode_end != states_[b].episode_end)
      return states_[a].episode_end < states_[b].episode_end;
    return names_[a] < names_[b];
  });
  for (uint32_t service : ending) end_episode(service);
}

void FlappingDetector::finish() {
  std::vector<uint32_t> open = open_episodes_;
  std::sort(open.begin(), open.end(), [&](uint32_t a, uint32_t b) {
    if (states_[a].episode_end != states_[b].episode_end)
      return states_[a].episode_end < states_[b].episode_end;
    return names_[a] < names_[b];
  });
  for (uint32_t service : open) end_episode(service);
  std::stable_sort(held_.begin(), held_.end(), [](const FlappingEpisode& a, const FlappingEpisode& b) {
    if (a.end != b.end) return a.end < b.end;
    return a.service < b.service;
  });
  for (const FlappingEpisode& episode : held_) sink_.episode(episode);
  held_.clear();
  held_.shrink_to_fit();
}

size_t FlappingDetector::stored_restarts() const {
  size_t total = 0;
  for (const ServiceState& s : states_) total += s.size;
  return total;
}

// ---- Reading the inputs ----------------------------------------------------------

namespace {

struct Held {
  Micros ts;
  uint64_t seq;  // arrival order: equal times stay in input order
  uint32_t service;
  uint32_t input;
  uint64_t line;
  bool operator>(const Held& other) const { return ts != other.ts ? ts > other.ts : seq > other.seq; }
};

// The first malformed line under --strict: ends the run, unlike a read error.
class StrictStop : public Error {
 public:
  using Error::Error;
};

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Whitespace fields of a line shorter than kLineReadAhead, found from one bit mask of its
// separators (space, tab, '\r', as FieldsParser splits): the default `TS SERVICE EVENT`
// lines take a few dozen instructions instead of the general parser's few hundred.
class ShortLineFields {
 public:
  // `positions[i]`: 1-based field number to fetch into `out[i]`. False when the line has
  // fewer fields than the largest position (FieldsParser: malformed). Only for
  // text.size() < kLineReadAhead, with kLineReadAhead bytes readable from text.data().
  template <size_t N>
  static bool split(std::string_view text, const std::array<int, N>& positions, int last,
                    std::array<std::string_view, N>& out) {
    uint64_t separators = separator_mask(text.data());
    separators |= ~uint64_t{0} << text.size();  // the bytes after the line end fields too
    uint64_t starts = ~separators & ((separators << 1) | 1);
    uint64_t ends = separators & ~((separators << 1) | 1);
    for (int field = 1; field <= last; ++field) {
      if (starts == 0) return false;
      auto start = static_cast<size_t>(__builtin_ctzll(starts));
      auto end = static_cast<size_t>(__builtin_ctzll(ends));
      starts &= starts - 1;
      ends &= ends - 1;
      for (size_t i = 0; i < N; ++i) {
        if (positions[i] == field) out[i] = std::string_view(text.data() + start, end - start);
      }
    }
    return true;
  }

 private:
  static uint64_t separator_mask(const char* data) {
    uint64_t mask = 0;
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i cr = _mm_set1_epi8('\r');
    for (size_t i = 0; i < kLineReadAhead; i += 16) {
      __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      __m128i sep = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, space), _mm_cmpeq_epi8(block, tab)),
                                 _mm_cmpeq_epi8(block, cr));
      mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(sep))) << i;
    }
#else
    for (size_t i = 0; i < kLineReadAhead; ++i) {
      char c = data[i];
      mask |= static_cast<uint64_t>(c == ' ' || c == '\t' || c == '\r') << i;
    }
#endif
    return mask;
  }
};

// The `size` <= 16 bytes at `data` as two little-endian words, zero past `size`.
// `limit`: the bytes before it are readable from `data` (16 of them take the fast way).
struct ShortMask {
  uint64_t lo, hi;
};
// kShortMasks[size]: the bits of the first `size` bytes of two little-endian words.
constexpr std::array<ShortMask, 17> kShortMasks = [] {
  std::array<ShortMask, 17> masks{};
  for (size_t size = 0; size <= 16; ++size) {
    masks[size].lo = size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
    masks[size].hi = size >= 16 ? ~uint64_t{0} : size <= 8 ? 0 : (uint64_t{1} << (8 * (size - 8))) - 1;
  }
  return masks;
}();

__attribute__((always_inline)) inline void load_short(const char* data, size_t size, const char* limit,
                                                      uint64_t& lo, uint64_t& hi) {
  if constexpr (std::endian::native == std::endian::little) {
    if (limit - data >= 16) [[likely]] {
      std::memcpy(&lo, data, 8);
      std::memcpy(&hi, data + 8, 8);
      lo &= kShortMasks[size].lo;
      hi &= kShortMasks[size].hi;
      return;
    }
  }
  unsigned char bytes[16] = {};
  std::memcpy(bytes, data, size);
  lo = hi = 0;
  for (int i = 7; i >= 0; --i) {
    lo = lo << 8 | bytes[i];
    hi = hi << 8 | bytes[8 + i];
  }
}

// Service names to small ids for the block scan. Nearly every name is at most 16 bytes:
// such a name sits in its slot as two words, so a lookup is two loads, a multiply and
// one compare of the slot, with no hashing of bytes and no pointer to follow (XXH3
// through KeyTable, with its entry compare, took about a fifth of a line's time on the
// generated events). Longer names go to a KeyTable.
class ServiceIndex {
 public:
  ServiceIndex() { slots_.resize(size_t{1} << (64 - shift_)); }

  // The id of `name`, or new_id(name) remembered on first sight. Bytes up to `limit`
  // are readable from name.data().
  template <typename NewId>
  uint32_t find_or_add(std::string_view name, const char* limit, NewId&& new_id) {
    if (name.size() > 16) [[unlikely]] {
      uint32_t& id = long_.find_or_insert(name);
      if (id == 0) id = new_id(name) + 1;
      return id - 1;
    }
    uint64_t lo = 0, hi = 0;
    load_short(name.data(), name.size(), limit, lo, hi);
    const auto size = static_cast<uint32_t>(name.size());
    const size_t mask = slots_.size() - 1;
    for (size_t i = slot_of(lo, hi, size);; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.lo == lo && slot.hi == hi && slot.size == size) return slot.id;
      if (slot.size == kEmpty) return insert(i, lo, hi, size, new_id(name));
    }
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t lo = 0, hi = 0;
    uint32_t size = kEmpty;
    uint32_t id = 0;
  };

  // Fibonacci hashing: the top bits of a multiply, which every byte of the name reaches.
  size_t slot_of(uint64_t lo, uint64_t hi, uint32_t size) const {
    uint64_t h = (lo ^ std::rotl(hi, 29) ^ size) * 0x9E3779B97F4A7C15u;
    return static_cast<size_t>(h >> shift_);
  }

  uint32_t insert(size_t i, uint64_t lo, uint64_t hi, uint32_t size, uint32_t id) {
    if ((used_ + 1) * 2 > slots_.size()) {
      std::vector<Slot> old = std::move(slots_);
      --shift_;
      slots_.assign(old.size() * 2, Slot{});
      for (const Slot& slot : old) {
        if (slot.size != kEmpty) place(slot);
      }
      place(Slot{lo, hi, size, id});
    } else {
      slots_[i] = Slot{lo, hi, size, id};
    }
    ++used_;
    return id;
  }

  void place(const Slot& slot) {
    const size_t mask = slots_.size() - 1;
    size_t i = slot_of(slot.lo, slot.hi, slot.size);
    while (slots_[i].size != kEmpty) i = (i + 1) & mask;
    slots_[i] = slot;
  }

  int shift_ = 64 - 6;
  std::vector<Slot> slots_;
  size_t used_ = 0;
  KeyTable<uint32_t> long_;  // id + 1
};

// The --event word, compared whole and case-insensitively (ASCII). A word of at most 16
// bytes is compared as two words: OR-ing 0x20 into the bytes where the word has a letter
// folds exactly 'A'-'Z' onto 'a'-'z' there, and the other bytes must be equal.
class EventWord {
 public:
  explicit EventWord(std::string lower) : word_(std::move(lower)) {
    if (word_.size() <= 16) {
      std::string letters;
      for (char c : word_) letters += c >= 'a' && c <= 'z' ? ' ' : '\0';
      load_short(word_.data(), word_.size(), word_.data(), lo_, hi_);
      load_short(letters.data(), letters.size(), letters.data(), fold_lo_, fold_hi_);
    }
  }

  bool matches(std::string_view field, const char* limit) const {
    if (field.size() != word_.size()) return false;
    if (word_.size() <= 16) {
      uint64_t lo = 0, hi = 0;
      load_short(field.data(), field.size(), limit, lo, hi);
      return ((lo | fold_lo_) == lo_) & ((hi | fold_hi_) == hi_);
    }
    for (size_t i = 0; i < field.size(); ++i) {
      if (ascii_lower(field[i]) != word_[i]) return false;
    }
    return true;
  }

 private:
  std::string word_;
  uint64_t lo_ = 0, hi_ = 0, fold_lo_ = 0, fold_hi_ = 0;
};

std::unique_ptr<RE2> compile(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  return std::make_unique<RE2>(pattern, options);
}

constexpr const char* kDefaultEvent = "restarted";

class Detection {
 public:
  Detection(const FlappingOptions& options, FlappingSink& sink)
      : options_(options),
        sink_(sink),
        detector_(options.max_restarts, options.window, options.alerts, !options.follow, sink),
        parsers_(options.inputs.size()),
        event_(lowered(options.event.empty() ? kDefaultEvent : options.event)),
        event_word_(event_),
        layout_(options.log_format.positions) {
    if (!options.event_regex.empty()) {
      regex_ = compile(options.event_regex);
      if (!regex_->ok()) throw Error("--event-regex: " + regex_->error());
    }
    late_reported_.assign(options.inputs.size(), false);
    const FieldPositions& positions = options.log_format.positions;
    short_positions_ = {positions[static_cast<size_t>(FieldId::kTs)],
                        positions[static_cast<size_t>(FieldId::kService)],
                        positions[static_cast<size_t>(FieldId::kEvent)]};
    int configured = 0;
    for (int position : positions) configured += position > 0;
    int last = std::max({short_positions_[0], short_positions_[1], short_positions_[2]});
    bool distinct = short_positions_[0] != short_positions_[1] &&
                    short_positions_[0] != short_positions_[2] && short_positions_[1] != short_positions_[2];
    bool usable = !regex_ && configured == 3 && distinct && short_positions_[0] > 0 &&
                  short_positions_[1] > 0 && short_positions_[2] > 0 && last <= 16;
    short_last_ = usable ? last : 0;
    ts_slot_ = layout_.slot[static_cast<size_t>(FieldId::kTs)];
    service_slot_ = layout_.slot[static_cast<size_t>(FieldId::kService)];
    event_slot_ = layout_.slot[static_cast<size_t>(FieldId::kEvent)];
    block_usable_ = options.block_scan && !regex_ && ts_slot_ >= 0 && service_slot_ >= 0 && event_slot_ >= 0;
    ts_position_ = short_positions_[0];
    for (size_t i = 0; i < kFieldCount; ++i) {
      int p = positions[i];
      if (p > 0 && p < 64 && p != ts_position_) other_positions_ |= uint64_t{1} << p;
    }
  }

  // The timestamp of a fields-format line from its ts field on (`from` runs to the end
  // of the line), read as FieldsParser reads it: over as many fields as its form needs,
  // and malformed when another configured position falls inside it.
  ParseStatus fields_timestamp(std::string_view from, Micros& out) const {
    FieldTimestamp ts = read_field_timestamp(from, options_.time_context);
    if (ts.bytes == 0) return ParseStatus::kBadTimestamp;
    for (int p = ts_position_ + 1; p < ts_position_ + ts.fields && p < 64; ++p) {
      if ((other_positions_ >> p) & 1u) return ParseStatus::kFieldInTimestamp;
    }
    out = ts.instant;
    return ParseStatus::kOk;
  }

  FlappingResult run() {
    if (options_.follow) {
      follow_all();
    } else {
      for (uint32_t i = 0; i < options_.inputs.size(); ++i) read_once(i);
    }
    release(std::numeric_limits<Micros>::max());
    detector_.finish();
    result_.restarts = detector_.restarts();
    result_.services = detector_.services();
    result_.alerts = detector_.alerts();
    result_.episodes = detector_.episodes();
    return std::move(result_);
  }

 private:
  // One line (or the first piece of an overlong one, `whole` false) of input `input`.
  // `read_ahead`: kLineReadAhead bytes are readable from text.data() (a LineReader's).
  void line(std::string_view text, uint32_t input, uint64_t number, bool whole, bool read_ahead = false) {
    InputParser& in = parsers_[input];
    if (in.refused) return;
    ++result_.lines;
    if (!whole) return malformed(input, number, ParseStatus::kLineTooLong);
    text = strip_cr(text);
    if (is_blank(text)) return;
    if (is_comment_line(text)) {
      ++result_.comments;
      if (in.parser) in.parser->comment(text);
      return;
    }
    if (!in.parser) {
      // Follow mode sniffs `auto` on the first line rather than wait for a full head.
      if (!choose_parser(input,
                         options_.log_format.format == LogFormat::kAuto
                             ? sniff_log_format(text)
                             : FormatGuess{options_.log_format.format, true, "--log-format"},
                         text)) {
        return;
      }
    }
    std::optional<Micros> ts;
    std::string_view service;
    if (read_ahead && in.short_fields && text.size() < kLineReadAhead) {
      std::array<std::string_view, 3> fields;  // ts, service, event
      if (!ShortLineFields::split(text, short_positions_, short_last_, fields))
        return malformed(input, number, ParseStatus::kTooFewFields);
      if (!is_restart(fields[2], text, false)) return;
      service = fields[1];
      Micros instant = 0;
      if (!read_epoch_seconds10(fields[0], instant)) {
        ParseStatus status =
            fields_timestamp(text.substr(static_cast<size_t>(fields[0].data() - text.data())), instant);
        if (status != ParseStatus::kOk) return malformed(input, number, status);
      }
      ts = instant;
    } else {
      if (ParseResult parsed = in.parser->parse(text, record_); !parsed)
        return malformed(input, number, parsed.status);
      std::string_view event = record_[FieldId::kEvent];
      if (in.systemd_restarts ? !is_systemd_restart(record_) : !is_restart(event, text, in.event_to_end))
        return;
      service = record_[FieldId::kService];
      if (service.empty()) return malformed(input, number, missing_field(FieldId::kService));
      std::string_view ts_text = record_[FieldId::kTs];
      ts = read_timestamp(ts_text, options_.time_context);
      if (!ts && ts_text.empty()) return malformed(input, number, missing_field(FieldId::kTs));
    }
    if (!ts) return malformed(input, number, ParseStatus::kBadTimestamp);
    if ((options_.since && *ts < *options_.since) || (options_.until && *ts > *options_.until)) {
      ++result_.filtered_out;
      return;
    }
    restart(detector_.intern(service), *ts, input, number);
  }

  // A restart within --since/--until, in input order.
  void restart(uint32_t id, Micros ts, uint32_t input, uint64_t number) {
    newest_ = std::max(newest_, ts);
    if (options_.reorder > 0) {
      held_.push(Held{ts, seq_++, id, input, number});
      release(newest_ - options_.reorder);
    } else {
      count(id, ts, input, number);
    }
  }

  static std::string lowered(const std::string& word) {
    std::string out;
    for (char c : word) out += ascii_lower(c);
    return out;
  }

  struct ScanCounts {
    uint64_t lines = 0;
    uint64_t comments = 0;
    uint64_t filtered_out = 0;
  };

  // Reads `stream` a buffer of whole lines at a time (the fields format, block_usable_)
  // and calls on_restart(service, ts, line, limit) for each restart within
  // --since/--until and on_malformed(line) for each malformed line, with 1-based line
  // numbers counted on from counts.lines; bytes up to `limit` are readable from the
  // service's data. Judges every line as line() does. Safe to call from several threads.
  template <typename OnRestart, typename OnMalformed>
  void scan_restarts(ByteStream& stream, ScanCounts& counts, OnRestart&& on_restart,
                     OnMalformed&& on_malformed) const {
    LineBlockReader reader(stream, options_.reader);
    scan_restarts(reader, counts, on_restart, on_malformed);
  }

  // The same over `blocks` (a LineBlockReader or a WholeLines).
  template <typename Blocks, typename OnRestart, typename OnMalformed>
  void scan_restarts(Blocks& blocks, ScanCounts& counts, OnRestart&& on_restart,
                     OnMalformed&& on_malformed) const {
    LineBlock block;
    const int last = layout_.last;
    const bool bounded = options_.since.has_value() || options_.until.has_value();
    const Micros since = options_.since.value_or(std::numeric_limits<Micros>::min());
    const Micros until = options_.until.value_or(std::numeric_limits<Micros>::max());
    uint64_t lines = counts.lines;
    uint64_t comments = 0;
    uint64_t filtered_out = 0;
    uint64_t lines_reported = lines;
    const char* limit = nullptr;
    const auto ts_slot = static_cast<size_t>(ts_slot_);
    const auto service_slot = static_cast<size_t>(service_slot_);
    const auto event_slot = static_cast<size_t>(event_slot_);
    auto field = [](const FieldsLine& line, size_t i) {
      return std::string_view(line.before[i] + 1, static_cast<size_t>(line.ends[i] - line.before[i] - 1));
    };
    auto on_line = [&](const FieldsLine& line) __attribute__((always_inline)) {
      ++lines;
      // One byte per line: a blank line's begin is its '\n', readable too.
      if (*line.begin == '#') [[unlikely]] {
        ++comments;
        return;
      }
      if (line.fields < last) {
        if (line.fields != 0) on_malformed(lines, ParseStatus::kTooFewFields);  // else blank
        return;
      }
      if (!event_word_.matches(field(line, event_slot), limit)) return;
      std::string_view ts_text = field(line, ts_slot);
      Micros ts = 0;
      if (!read_epoch_seconds10(ts_text, ts)) {
        ParseStatus status = fields_timestamp(
            std::string_view(ts_text.data(), static_cast<size_t>(line.end - ts_text.data())), ts);
        if (status != ParseStatus::kOk) return on_malformed(lines, status);
      }
      if (bounded && (ts < since || ts > until)) {
        ++filtered_out;
        return;
      }
      on_restart(field(line, service_slot), ts, lines, limit);
    };
    try {
      while (blocks.next(block)) {
        if (block.overlong) {
          ++lines;
          on_malformed(lines, ParseStatus::kLineTooLong);
          continue;
        }
        limit = block.text.data() + block.text.size();
        scan_fields_lines(block.text, layout_, on_line);
        read_progress().lines.fetch_add(lines - lines_reported, std::memory_order_relaxed);
        lines_reported = lines;
      }
    } catch (...) {
      counts.lines = lines;
      counts.comments += comments;
      counts.filtered_out += filtered_out;
      throw;
    }
    counts.lines = lines;
    counts.comments += comments;
    counts.filtered_out += filtered_out;
  }

  // One input on this thread, through scan_restarts.
  void read_blocks(ByteStream& stream, uint32_t input) {
    ScanCounts counts;
    auto on_restart = [&](std::string_view service, Micros ts, uint64_t number, const char* limit) {
      uint32_t id = services_.find_or_add(service, limit,
                                          [&](std::string_view name) { return detector_.intern(name); });
      restart(id, ts, input, number);
    };
    auto on_malformed = [&](uint64_t number, ParseStatus reason) { malformed(input, number, reason); };
    try {
      scan_restarts(stream, counts, on_restart, on_malformed);
    } catch (...) {
      result_.lines += counts.lines;
      result_.comments += counts.comments;
      result_.filtered_out += counts.filtered_out;
      throw;
    }
    result_.lines += counts.lines;
    result_.comments += counts.comments;
    result_.filtered_out += counts.filtered_out;
  }

  // ---- A large plain file across threads ----
  //
  // The file is cut into line-aligned ranges of about chunk_bytes (split_at_lines).
  // Threads take the ranges in order and scan each into a Chunk: its restarts as
  // (instant, line within the chunk, service id of that thread), its counts, and the
  // first malformed line. This thread, between scans of its own, hands the chunks to the
  // window strictly in input order, so alerts, late reports and the first malformed
  // line are those of read_blocks. At most kChunksAhead chunks past the one the window
  // waits for are scanned ahead, which bounds memory whatever the file size.
  struct ChunkRestart {
    Micros ts;
    uint32_t line;  // 1-based within the chunk (a chunk holds at most chunk_bytes + 1 lines)
    uint32_t service;
  };
  struct Chunk {
    ByteRange range;
    size_t worker = 0;
    std::vector<ChunkRestart> restarts;
    std::vector<std::string> new_services;  // the worker's next ids, first seen here
    ScanCounts counts;
    MalformedCounts malformed;
    uint64_t first_malformed = 0;  // within the chunk, 0 if none
    ParseStatus first_reason = ParseStatus::kOk;
    std::string problem;  // a read error ends the chunk (and the input)
    bool ready = false;
  };
  struct ChunkWorker {
    ServiceIndex services;  // name -> this worker's id
    uint32_t next_id = 0;
    std::vector<uint32_t> detector_ids;  // by this worker's id; filled in input order
    std::unique_ptr<char[]> buffer;      // a chunk's bytes, reused from chunk to chunk
    size_t capacity = 0;
  };

  // A buffer of whole lines handed out as one block, as LineBlockReader would (a missing
  // last newline added): for a chunk shorter than max_line_bytes, which therefore holds
  // no overlong line.
  struct WholeLines {
    std::string_view text;
    bool next(LineBlock& block) {
      block.overlong = false;
      block.text = text;
      text = {};
      return !block.text.empty();
    }
  };

  void scan_chunk(int fd, Chunk& chunk, ChunkWorker& worker) const {
    auto on_restart = [&](std::string_view service, Micros ts, uint64_t number, const char* limit) {
      uint32_t id = worker.services.find_or_add(service, limit, [&](std::string_view name) {
        chunk.new_services.emplace_back(name);
        return worker.next_id++;
      });
      chunk.restarts.push_back(ChunkRestart{ts, static_cast<uint32_t>(number), id});
    };
    auto on_malformed = [&](uint64_t number, ParseStatus reason) {
      if (chunk.first_malformed == 0) {
        chunk.first_malformed = number;
        chunk.first_reason = reason;
      }
      chunk.malformed.add(reason);
    };
    try {
      auto stream = make_range_stream(fd, chunk.range.begin, chunk.range.end);
      const uint64_t size = chunk.range.end - chunk.range.begin;
      if (size >= options_.reader.max_line_bytes)
        return scan_restarts(*stream, chunk.counts, on_restart, on_malformed);
      // Read the chunk whole into the worker's buffer: a LineBlockReader per chunk would
      // allocate and clear a fresh buffer each time (page faults: 40% of the run).
      if (worker.capacity < size + 1) {
        worker.capacity = std::max<size_t>(size + 1, 2 * worker.capacity);
        worker.buffer = std::make_unique_for_overwrite<char[]>(worker.capacity);
      }
      char* data = worker.buffer.get();
      size_t got = 0;
      while (got < size) {
        size_t n = stream->read(data + got, size - got);
        if (n == 0) break;
        got += n;
      }
      read_progress().bytes.fetch_add(got, std::memory_order_relaxed);
      if (got > 0 && data[got - 1] != '\n') data[got++] = '\n';
      WholeLines blocks{std::string_view(data, got)};
      scan_restarts(blocks, chunk.counts, on_restart, on_malformed);
    } catch (const std::exception& e) {
      chunk.problem = e.what();
    }
  }

  // Hands one scanned chunk, whose first line is line `base` + 1 of the input, to the
  // window. False when the chunk ended in a read error (the input ends there).
  bool count_chunk(Chunk& chunk, uint32_t input, uint64_t base, std::vector<ChunkWorker>& workers) {
    ChunkWorker& worker = workers[chunk.worker];
    for (const std::string& name : chunk.new_services) worker.detector_ids.push_back(detector_.intern(name));
    bool malformed_pending = chunk.first_malformed > 0;
    auto count_malformed = [&] {
      malformed_pending = false;
      malformed(input, base + chunk.first_malformed, chunk.first_reason);  // throws under --strict
      MalformedCounts rest = chunk.malformed;
      --rest.by_reason[static_cast<size_t>(chunk.first_reason)];  // counted just now
      result_.malformed_reasons.add(rest);
      result_.malformed += rest.total();
    };
    for (const ChunkRestart& r : chunk.restarts) {
      if (malformed_pending && r.line > chunk.first_malformed) count_malformed();
      restart(worker.detector_ids[r.service], r.ts, input, base + r.line);
    }
    if (malformed_pending) count_malformed();
    result_.lines += chunk.counts.lines;
    result_.comments += chunk.counts.comments;
    result_.filtered_out += chunk.counts.filtered_out;
    if (chunk.problem.empty()) return true;
    result_.problems.push_back({options_.inputs[input], options_.inputs[input] + ": " + chunk.problem});
    return false;
  }

  void read_chunks(Input& opened, uint32_t input) {
    constexpr size_t kChunksAhead = 6;
    const int fd = opened.regular_fd();
    const uint64_t chunk_bytes = std::clamp<uint64_t>(options_.chunk_bytes, 1, uint64_t{1} << 30);
    const uint64_t parts = std::min<uint64_t>((opened.size() + chunk_bytes - 1) / chunk_bytes,
                                              static_cast<uint64_t>(std::numeric_limits<int>::max()));
    std::vector<ByteRange> ranges =
        split_at_lines(fd, opened.size(), static_cast<int>(std::max<uint64_t>(parts, 1)));
    std::vector<Chunk> chunks(ranges.size());
    for (size_t c = 0; c < ranges.size(); ++c) chunks[c].range = ranges[c];
    const auto threads = static_cast<size_t>(std::max(1, options_.threads));
    std::vector<ChunkWorker> workers(threads);

    std::mutex mutex;
    std::condition_variable changed;
    size_t next = 0;     // the next chunk to scan
    size_t counted = 0;  // chunks handed to the window
    bool stop = false;   // the window needs no more chunks
    auto may_take = [&] { return !stop && next < chunks.size() && next < counted + kChunksAhead; };
    // Scans chunk `c` with `worker`; called and returns with `lock` held.
    std::vector<std::vector<ChunkRestart>> spare;  // restart arrays of counted chunks, for reuse
    auto scan = [&](std::unique_lock<std::mutex>& lock, size_t c, size_t worker) {
      if (!spare.empty()) {
        chunks[c].restarts = std::move(spare.back());
        spare.pop_back();
      } else {
        chunks[c].restarts.reserve((chunks[c].range.end - chunks[c].range.begin) / 32);
      }
      lock.unlock();
      chunks[c].worker = worker;
      scan_chunk(fd, chunks[c], workers[worker]);
      lock.lock();
      chunks[c].ready = true;
      changed.notify_all();
    };
    std::vector<std::thread> pool;
    struct Joiner {
      std::mutex& mutex;
      std::condition_variable& changed;
      bool& stop;
      std::vector<std::thread>& pool;
      ~Joiner() {
        {
          std::lock_guard<std::mutex> lock(mutex);
          stop = true;
        }
        changed.notify_all();
        for (std::thread& t : pool) t.join();
      }
    } joiner{mutex, changed, stop, pool};
    for (size_t w = 1; w < threads && w < chunks.size(); ++w) {
      pool.emplace_back([&, w] {
        std::unique_lock<std::mutex> lock(mutex);
        for (;;) {
          changed.wait(lock, [&] { return stop || next >= chunks.size() || may_take(); });
          if (!may_take()) return;
          scan(lock, next++, w);
        }
      });
    }
    uint64_t base = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        while (!chunks[c].ready) {
          if (may_take()) {
            scan(lock, next++, 0);
          } else {
            changed.wait(lock);
          }
        }
      }
      bool more = count_chunk(chunks[c], input, base, workers);
      base += chunks[c].counts.lines;
      std::vector<ChunkRestart> restarts = std::move(chunks[c].restarts);
      restarts.clear();
      chunks[c] = Chunk{};
      std::lock_guard<std::mutex> lock(mutex);
      spare.push_back(std::move(restarts));
      counted = c + 1;
      if (!more) stop = true;
      changed.notify_all();
      if (!more) break;
    }
  }

  // The default restart event of syslog input: systemd's line about a unit it restarts
  // (the syslog parser made that unit the service).
  static bool is_systemd_restart(const Record& record) {
    std::string_view event = record[FieldId::kEvent];
    std::string_view service = record[FieldId::kService];
    return !service.empty() && event.size() > service.size() + 2 && event.starts_with(service) &&
           event.substr(service.size()).starts_with(": Scheduled restart job");
  }

  bool is_restart(std::string_view event, std::string_view text, bool event_to_end) const {
    if (regex_) {
      if (event.data() == nullptr) return false;
      std::string_view subject = event;
      if (event_to_end)
        subject =
            std::string_view(event.data(), static_cast<size_t>(text.data() + text.size() - event.data()));
      return RE2::PartialMatch(subject, *regex_);
    }
    if (event.size() != event_.size()) return false;
    if (std::memcmp(event.data(), event_.data(), event.size()) == 0) return true;  // already lower case
    for (size_t i = 0; i < event.size(); ++i) {
      if (ascii_lower(event[i]) != event_[i]) return false;
    }
    return true;
  }

  void count(uint32_t service, Micros ts, uint32_t input, uint64_t number) {
    if (detector_.add_restart(service, ts)) return;
    ++result_.late;
    std::string where = options_.inputs[input] + ":" + std::to_string(number);
    if (result_.first_late.empty()) result_.first_late = where;
    if (!late_reported_[input]) {
      late_reported_[input] = true;
      sink_.late(where);
    }
  }

  // Counts the held restarts at or before `upto`, oldest first.
  void release(Micros upto) {
    while (!held_.empty() && held_.top().ts <= upto) {
      Held h = held_.top();
      held_.pop();
      count(h.service, h.ts, h.input, h.line);
    }
  }

  void malformed(uint32_t input, uint64_t number, ParseStatus reason) {
    ++result_.malformed;
    result_.malformed_reasons.add(reason);
    if (result_.first_malformed.empty()) {
      result_.first_malformed = options_.inputs[input] + ":" + std::to_string(number);
      result_.first_malformed_reason = reason;
    }
    if (options_.strict) {
      throw StrictStop(options_.inputs[input] + ":" + std::to_string(number) +
                       ": malformed line (--strict): " + std::string(parse_status_text(reason)));
    }
  }

  // Sets up the parser of `input` for `guess`. False (and a problem) when that format
  // lacks a field flapping needs: the input is then skipped.
  // The parser for `input`, read as `guess` says; false (the input refused, its problem
  // recorded) when the format lacks a needed field or, in the fields format, a position
  // falls inside the timestamp of the first lines, `head`.
  bool choose_parser(uint32_t input, const FormatGuess& guess, std::string_view head) {
    const std::string& name = options_.inputs[input];
    InputParser& in = parsers_[input];
    sink_.format_chosen(name, guess);
    LogFormatConfig config = options_.log_format;
    config.format = guess.format;
    in.parser = make_record_parser(config);
    in.parser->begin_input(name);
    // In positional fields a message is the rest of the line from the event field.
    in.event_to_end = guess.format == LogFormat::kFields;
    in.systemd_restarts = guess.format == LogFormat::kSyslog && options_.event.empty() && !regex_;
    in.short_fields = guess.format == LogFormat::kFields && short_last_ > 0 && config.service.empty();
    in.block_fields = guess.format == LogFormat::kFields && block_usable_ && config.service.empty();
    std::string missing =
        missing_field_message(*in.parser, guess.format, flapping_needs(),
                              options_.log_format.format == LogFormat::kAuto ? &guess : nullptr);
    if (!missing.empty()) {
      result_.problems.push_back({name, name + ": " + missing});
      in.refused = true;
      return false;
    }
    if (guess.format == LogFormat::kFields) {
      std::string problem = timestamp_position_problem(head, options_.log_format.positions);
      if (!problem.empty()) {
        result_.problems.push_back({name, name + ":" + problem});
        in.refused = true;
        return false;
      }
    }
    return true;
  }

  void read_once(uint32_t input) {
    const std::string& name = options_.inputs[input];
    std::optional<Input> opened;
    try {
      opened.emplace(Input::open(name));
    } catch (const Error& e) {
      result_.problems.push_back({name, e.what()});
      return;
    }
    try {
      if (!choose_parser(input, resolve_log_format(options_.log_format, *opened),
                         opened->head(kSniffBytes))) {
        return;
      }
      if (parsers_[input].block_fields) {
        if (options_.threads > 1 && opened->regular_fd() >= 0 && opened->size() > 0 &&
            opened->size() >= options_.split_min_bytes) {
          return read_chunks(*opened, input);
        }
        return read_blocks(opened->stream(), input);
      }
      LineReader reader(opened->stream(), options_.reader);
      Line piece;
      while (reader.next(piece)) {
        if (piece.continuation) continue;
        line(piece.text, input, reader.line_number(), piece.whole(), true);
      }
    } catch (const StrictStop&) {
      throw;
    } catch (const Error& e) {
      result_.problems.push_back({name, name + ": " + e.what()});
    }
  }

  static bool starts_with_gzip(const std::string& name) {
    if (name == "-") return false;
    int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    unsigned char magic[2] = {0, 0};
    ssize_t n = ::pread(fd, magic, 2, 0);
    ::close(fd);
    return n == 2 && magic[0] == kGzipMagic[0] && magic[1] == kGzipMagic[1];
  }

  void follow_all() {
    struct Followed {
      uint32_t input;
      std::unique_ptr<FileFollower> follower;
    };
    std::vector<Followed> followed;
    for (uint32_t i = 0; i < options_.inputs.size(); ++i) {
      // Compressed files do not grow: read them once.
      if (starts_with_gzip(options_.inputs[i])) {
        read_once(i);
      } else {
        followed.push_back(
            {i, std::make_unique<FileFollower>(options_.inputs[i], options_.reader.max_line_bytes)});
      }
    }
    auto notice = [&](const std::string& message) { sink_.notice(message); };
    auto stopped = [&] { return options_.stop != nullptr && options_.stop->load(); };
    while (!stopped()) {
      bool any = false;
      bool active = false;
      for (Followed& f : followed) {
        uint32_t input = f.input;
        auto on_line = [&, input](std::string_view text, uint64_t number, bool whole) {
          line(text, input, number, whole);
        };
        try {
          any |= f.follower->poll(on_line, notice);
        } catch (const StrictStop&) {
          throw;
        } catch (const Error& e) {
          sink_.notice(f.follower->name() + ": " + e.what());
        }
        if (!f.follower->finished()) active = true;
        if (stopped()) break;
      }
      if (newest_ != std::numeric_limits<Micros>::min()) {
        detector_.close_episodes_before(newest_ - options_.reorder);
      }
      if (!active) break;
      if (any) continue;
      std::vector<pollfd> fds;
      for (Followed& f : followed) {
        if (f.follower->wait_fd() >= 0) fds.push_back({f.follower->wait_fd(), POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), options_.poll_interval_ms);  // EINTR on a signal: fine
    }
    for (Followed& f : followed) {
      uint32_t input = f.input;
      f.follower->flush([&, input](std::string_view text, uint64_t number, bool whole) {
        line(text, input, number, whole);
      });
      if (!f.follower->opened()) {
        result_.problems.push_back(
            {options_.inputs[input], options_.inputs[input] + ": could not be opened"});
      }
    }
  }

  const FlappingOptions& options_;
  FlappingSink& sink_;
  FlappingDetector detector_;
  struct InputParser {
    std::unique_ptr<RecordParser> parser;  // made when the input's format is known
    bool event_to_end = false;             // --event-regex sees the rest of the line
    bool refused = false;                  // the format lacks a needed field
    bool short_fields = false;             // short lines may go through ShortLineFields
    bool block_fields = false;             // read with scan_restarts
    bool systemd_restarts = false;         // syslog's default event: is_systemd_restart
  };
  std::vector<InputParser> parsers_;
  std::unique_ptr<RE2> regex_;
  std::string event_;  // lower case
  EventWord event_word_;
  // The block scan: where ts, service and event sit (-1: not in the layout, then
  // block_usable_ is false).
  FieldsLayout layout_;
  int ts_slot_ = -1, service_slot_ = -1, event_slot_ = -1;
  int ts_position_ = 0;           // 1-based position of the ts field
  uint64_t other_positions_ = 0;  // bit p: position p names a field other than ts
  bool block_usable_ = false;
  ServiceIndex services_;  // name -> detector id, for the block scan
  // Positions of ts, service and event for ShortLineFields; short_last_ is 0 when the
  // general parser must decide (--event-regex, other fields configured, equal or large
  // positions).
  std::array<int, 3> short_positions_{};
  int short_last_ = 0;
  Record record_;
  std::priority_queue<Held, std::vector<Held>, std::greater<Held>> held_;
  uint64_t seq_ = 0;
  Micros newest_ = std::numeric_limits<Micros>::min();
  std::vector<bool> late_reported_;
  FlappingResult result_;
};

}  // namespace

FlappingResult detect_flapping(const FlappingOptions& options, FlappingSink& sink) {
  Detection detection(options, sink);
  return detection.run();
}

std::string check_event_regex(const std::string& pattern) {
  auto re = compile(pattern);
  return re->ok() ? std::string() : re->error();
}

std::vector<FieldNeed> flapping_needs() {
  return {{FieldId::kTs, "flapping"}, {FieldId::kService, "flapping"}, {FieldId::kEvent, "flapping"}};
}

std::string format_epoch_seconds(Micros ts) {
  std::string out;
  if (ts < 0 && ts % kMicrosPerSecond != 0) {
    out += '-';
    ts = -ts;
  }
  Micros seconds = ts / kMicrosPerSecond;
  Micros fraction = ts % kMicrosPerSecond;
  out += std::to_string(seconds);
  if (fraction == 0) return out;
  char digits[8];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  int length = 6;
  while (digits[length - 1] == '0') --length;
  out += '.';
  out.append(digits, static_cast<size_t>(length));
  return out;
}

}  // namespace opsktl
