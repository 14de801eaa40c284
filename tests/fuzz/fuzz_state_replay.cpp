// Fuzzes the dedupe state file's replay: the first line as a header, every later line as
// a record. No crash, no UB, and what the replay keeps obeys its rules: every pending
// intent names a temp-pattern file in the root or a plain relative directory below it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dedupe_journal.hpp"
#include "opsktl/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  opsktl::StateReplay replay("state", {"/r", "/s/t"});
  uint64_t number = 0;
  bool header_ok = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (++number == 1) {
      try {
        replay.header(line);
        header_ok = true;
      } catch (const opsktl::Error&) {
        // Not a state file of these roots: the journal stops here.
      }
      // Records are replayed either way, so that every input reaches the record parser.
      continue;
    }
    replay.record(line, number);
    opsktl::StateRecord record;
    if (opsktl::parse_state_record(line, record).empty() && record.type == opsktl::StateRecord::Type::kHash &&
        record.hash.stamp.size < 0)
      std::abort();
  }
  replay.finish();
  (void)header_ok;
  if (replay.warnings.size() > 11) std::abort();
  for (const auto& [id, p] : replay.pending) {
    if (id != p.id || !opsktl::is_dedupe_temp_name(p.tmp)) std::abort();
    if (p.dir.find("..") != std::string::npos &&
        (p.dir == ".." || p.dir.starts_with("../") || p.dir.ends_with("/..") ||
         p.dir.find("/../") != std::string::npos))
      std::abort();
    if (p.root != "/r" && p.root != "/s/t" && !(p.root == "/s" && p.dir.empty())) std::abort();
  }
  // Escaping round-trips every byte string.
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string back;
  if (!opsktl::unescape_path(opsktl::escape_path(raw), back) && raw.find('\0') == std::string_view::npos)
    std::abort();
  if (raw.find('\0') == std::string_view::npos && back != raw) std::abort();
  return 0;
}
