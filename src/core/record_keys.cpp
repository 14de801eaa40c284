#include "record_keys.hpp"

#include <array>

#include "opsktl/latency_histogram.hpp"

namespace opsktl {
namespace {

// SPEC §2, first present wins. UNIT and USER_UNIT come before _SYSTEMD_UNIT: systemd
// logs what it does to a unit (restarts, failures) from init.scope, naming the unit in
// UNIT (USER_UNIT for a user manager's units). method and client are not named there: these are the
// names nginx ($request_method, $remote_addr) and common JSON loggers use.
const std::array<std::vector<std::string_view>, kFieldCount>& default_keys() {
  static const std::array<std::vector<std::string_view>, kFieldCount> kKeys = {{
      {"ts", "time", "timestamp", "@timestamp", "__REALTIME_TIMESTAMP"},
      {"service", "app", "unit", "UNIT", "USER_UNIT", "_SYSTEMD_UNIT"},
      {"path", "uri", "url", "request_uri"},
      {"status", "code", "status_code"},
      {"latency", "latency_ms", "duration_ms", "request_time"},
      {"event", "msg", "message", "MESSAGE"},
      {"method", "request_method", "http_method"},
      {"client", "remote_addr", "client_ip", "remote_ip"},
  }};
  return kKeys;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

int64_t latency_unit_for_key(std::string_view key) {
  if (key == "request_time" || ends_with(key, "_s") || ends_with(key, "_sec") || ends_with(key, "_seconds")) {
    return 1'000'000;
  }
  if (ends_with(key, "_ms") || ends_with(key, "_msec") || ends_with(key, "_millis")) return 1000;
  if (ends_with(key, "_us") || ends_with(key, "_usec") || ends_with(key, "_micros")) return 1;
  if (ends_with(key, "_ns") || ends_with(key, "_nsec") || ends_with(key, "_nanos")) return kLatencyUnitNanos;
  return 0;
}

std::vector<RecordKey> record_keys(const FieldKeys& keys) {
  std::vector<RecordKey> out;
  for (size_t f = 0; f < kFieldCount; ++f) {
    auto field = static_cast<FieldId>(f);
    if (!keys[f].empty()) {
      out.push_back({keys[f], field, 0, latency_unit_for_key(keys[f])});
      continue;
    }
    uint8_t rank = 0;
    for (std::string_view name : default_keys()[f]) {
      out.push_back({std::string(name), field, rank++, latency_unit_for_key(name)});
    }
  }
  return out;
}

}  // namespace opsktl
