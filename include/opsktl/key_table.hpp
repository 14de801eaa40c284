// A hash table from byte-string keys to values, for aggregating per key (endpoint,
// service) at millions of lookups a second.
//
// Keys are copied once, on first insertion, into an arena of large blocks, and looked up
// by string_view: no std::string per line. Open addressing with linear probing over a
// power-of-two array of slots, hashed with hash_bytes. A slot holds the entry's index and
// the upper half of its hash, so a probe that meets another key rarely reads that entry.
// A stored key is followed by zeros up to kShortKeyBytes, so that find_or_insert_padded
// compares a short key with three 16-byte comparisons.
// std::unordered_map was rejected: a node allocation per key and a pointer chase per
// probe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "opsktl/text.hpp"

namespace opsktl {

template <typename Value>
class KeyTable {
 public:
  struct Entry {
    std::string_view key;  // points into the table's arena, valid for its lifetime
    uint64_t hash = 0;
    Value value;
  };

  KeyTable() { slots_.assign(kInitialSlots, kEmpty); }
  KeyTable(KeyTable&&) noexcept = default;
  KeyTable& operator=(KeyTable&&) noexcept = default;

  // The value for `key`, default-constructed on first sight.
  __attribute__((always_inline)) Value& find_or_insert(std::string_view key) {
    return find_or_insert(key, hash_bytes(key));
  }

  // Inline: the probe of a key already present runs once per log line.
  __attribute__((always_inline)) Value& find_or_insert(std::string_view key, uint64_t hash) {
    const size_t mask = slots_.size() - 1;
    const uint64_t tag = hash & kTagMask;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint64_t slot = slots_[i];
      if (slot == kEmpty) return insert(i, key, hash);
      if ((slot & kTagMask) == tag) {
        Entry& e = entries_[slot & ~kTagMask];
        if (e.key.size() == key.size() && same_bytes(e.key.data(), key.data(), key.size())) return e.value;
      }
    }
  }

  // The same for a key with kShortKeyBytes readable bytes at key.data() (a span of a
  // padded buffer): hashed and compared without branching on its length.
  __attribute__((always_inline)) Value& find_or_insert_padded(std::string_view key) {
    return find_or_insert_padded(key, hash_padded(key));
  }

  // hash_bytes(key) for a key with kShortKeyBytes readable bytes at key.data().
  static uint64_t hash_padded(std::string_view key) {
    if (key.size() > kShortKeyBytes) [[unlikely]]
      return hash_bytes(key);
    return ShortKey::load_padded(key.data(), key.size()).hash(key.size());
  }

  // With the hash from hash_padded, computed apart from the probe (a caller can hash a
  // batch of keys first and probe them after, so that the probes overlap).
  __attribute__((always_inline)) Value& find_or_insert_padded(std::string_view key, uint64_t hash) {
    if (key.size() > kShortKeyBytes) [[unlikely]]
      return find_or_insert(key, hash);
    const ShortKey padded = ShortKey::load_padded(key.data(), key.size());
    const size_t mask = slots_.size() - 1;
    const uint64_t tag = hash & kTagMask;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint64_t slot = slots_[i];
      if (slot == kEmpty) return insert(i, key, hash);
      if ((slot & kTagMask) == tag) {
        Entry& e = entries_[slot & ~kTagMask];
        if (e.key.size() == key.size() && padded.same_as(e.key.data())) return e.value;
      }
    }
  }

  size_t size() const { return entries_.size(); }
  std::vector<Entry>& entries() { return entries_; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  static constexpr uint64_t kTagMask = ~uint64_t{0} << 32;  // a slot: tag | entry index
  static constexpr uint64_t kEmpty = ~uint64_t{0};          // index UINT32_MAX is never used
  static constexpr size_t kInitialSlots = 64;
  static constexpr size_t kBlockBytes = size_t{256} * 1024;

  // Into the empty slot `i` that the probe for `key` reached.
  __attribute__((noinline)) Value& insert(size_t i, std::string_view key, uint64_t hash) {
    if ((entries_.size() + 1) * 2 > slots_.size()) {
      grow();
      return find_or_insert(key, hash);
    }
    slots_[i] = (hash & kTagMask) | entries_.size();
    entries_.push_back(Entry{store(key), hash, Value{}});
    return entries_.back().value;
  }

  // A copy of `key` in the arena, followed by zeros up to kShortKeyBytes.
  std::string_view store(std::string_view key) {
    const size_t room = std::max(key.size(), kShortKeyBytes);
    if (room > block_left_) {
      size_t size = std::max(kBlockBytes, room);
      // Not zero-filled: pages that no key reaches are never touched.
      blocks_.push_back(std::unique_ptr<char[]>(new char[size]));
      block_pos_ = blocks_.back().get();
      block_left_ = size;
    }
    if (!key.empty()) std::memcpy(block_pos_, key.data(), key.size());
    std::memset(block_pos_ + key.size(), 0, room - key.size());
    std::string_view stored(block_pos_, key.size());
    block_pos_ += room;
    block_left_ -= room;
    return stored;
  }

  void grow() {
    std::vector<uint64_t> slots(slots_.size() * 2, kEmpty);
    size_t mask = slots.size() - 1;
    for (uint64_t index = 0; index < entries_.size(); ++index) {
      size_t i = entries_[index].hash & mask;
      while (slots[i] != kEmpty) i = (i + 1) & mask;
      slots[i] = (entries_[index].hash & kTagMask) | index;
    }
    slots_ = std::move(slots);
  }

  std::vector<uint64_t> slots_;
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* block_pos_ = nullptr;
  size_t block_left_ = 0;
};

}  // namespace opsktl
