// Saved space-hogs scans (--save / --compare): every directory's total in a compact,
// versioned, gzip-compressed JSON document:
//   {"format":"opsktl-space-hogs-scan","version":1,"size":"disk"|"apparent",
//    "links":"once"|"every","dirs":[[-1,"/var",123],[0,"log",45],...]}
// Each directory is [parent index or -1, base name (the root as given for -1), bytes];
// parents come before their children. A name that is not valid UTF-8 is written as
// {"b64":"..."} so its bytes survive exactly. Base names instead of full paths keep a
// million-directory scan to a few MB before compression.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <optional>

#include "opsktl/error.hpp"
#include "opsktl/space_hogs.hpp"
#include "opsktl/text.hpp"

namespace opsktl {
namespace {

constexpr const char* kFormatName = "opsktl-space-hogs-scan";
constexpr int kFormatVersion = 1;

std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    std::array<int, 4> v{};
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else if (pad > 0 || (v[j] = value(c)) < 0) {
        return std::nullopt;
      }
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

std::string gzip_compress(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::bad_alloc();
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::bad_alloc();
  return out;
}

void write_all(int fd, const std::string& data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

std::vector<std::string> saved_scan_paths(const SavedScan& scan) {
  std::vector<std::string> paths(scan.dirs.size());
  for (size_t i = 0; i < scan.dirs.size(); ++i) {
    const SavedDir& d = scan.dirs[i];
    if (d.parent < 0) {
      paths[i] = d.name;
      continue;
    }
    paths[i] = paths[static_cast<size_t>(d.parent)];
    if (paths[i].empty() || paths[i].back() != '/') paths[i] += '/';
    paths[i] += d.name;
  }
  return paths;
}

void save_scan(const std::string& path, const SavedScan& scan) {
  std::string json = "{\"format\":\"";
  json += kFormatName;
  json += "\",\"version\":" + std::to_string(kFormatVersion);
  json += scan.size_mode == SizeMode::kApparent ? ",\"size\":\"apparent\"" : ",\"size\":\"disk\"";
  json += scan.link_mode == LinkMode::kCountEvery ? ",\"links\":\"every\"" : ",\"links\":\"once\"";
  json += ",\"dirs\":[";
  for (size_t i = 0; i < scan.dirs.size(); ++i) {
    const SavedDir& d = scan.dirs[i];
    if (i > 0) json += ",\n";
    json += '[';
    json += std::to_string(d.parent);
    json += ',';
    if (is_valid_utf8(d.name)) {
      json += nlohmann::json(d.name).dump();
    } else {
      json += "{\"b64\":\"" + base64_encode(d.name) + "\"}";
    }
    json += ',';
    json += std::to_string(d.bytes);
    json += ']';
  }
  json += "]}\n";
  std::string compressed = gzip_compress(json);

  std::string temp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) throw Error(path + ": cannot write the scan: " + errno_message(errno));
  try {
    write_all(fd, compressed);
    if (::fsync(fd) != 0) throw errno;
    if (::close(fd) != 0) {
      fd = -1;
      throw errno;
    }
    fd = -1;
    if (::rename(temp.c_str(), path.c_str()) != 0) throw errno;
  } catch (int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw Error(path + ": cannot write the scan: " + errno_message(err));
  }
}

SavedScan load_scan(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot read the scan: " + errno_message(errno));
  gzFile gz = gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);
    throw Error(path + ": cannot read the scan: out of memory");
  }
  std::string text;
  std::array<char, 1 << 16> buffer{};
  for (;;) {
    int n = gzread(gz, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) {
      gzclose(gz);
      throw Error(path + ": cannot read the scan: not a valid gzip file");
    }
    if (n == 0) break;
    text.append(buffer.data(), static_cast<size_t>(n));
  }
  gzclose(gz);

  auto bad = [&](const std::string& why) {
    return Error(path + ": not a space-hogs scan (" + why + "); write one with --save");
  };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw bad("not JSON");
  if (doc.value("format", "") != kFormatName) throw bad("unknown format");
  if (!doc.contains("version") || !doc["version"].is_number_integer()) throw bad("no version");
  if (doc["version"].get<int>() != kFormatVersion) {
    throw Error(path + ": scan format version " + doc["version"].dump() + " is not supported (expected " +
                std::to_string(kFormatVersion) + ")");
  }
  SavedScan scan;
  scan.size_mode = doc.value("size", "") == "apparent" ? SizeMode::kApparent : SizeMode::kDiskUsage;
  scan.link_mode = doc.value("links", "") == "every" ? LinkMode::kCountEvery : LinkMode::kCountOnce;
  if (!doc.contains("dirs") || !doc["dirs"].is_array()) throw bad("no dirs");
  const nlohmann::json& dirs = doc["dirs"];
  scan.dirs.reserve(dirs.size());
  for (const nlohmann::json& entry : dirs) {
    if (!entry.is_array() || entry.size() != 3 || !entry[0].is_number_integer() ||
        !entry[2].is_number_integer()) {
      throw bad("bad directory entry");
    }
    SavedDir d;
    d.parent = entry[0].get<int64_t>();
    if (d.parent < -1 || d.parent >= static_cast<int64_t>(scan.dirs.size())) throw bad("bad parent index");
    if (entry[1].is_string()) {
      d.name = entry[1].get<std::string>();
    } else if (entry[1].is_object() && entry[1].contains("b64") && entry[1]["b64"].is_string()) {
      auto bytes = base64_decode(entry[1]["b64"].get<std::string>());
      if (!bytes) throw bad("bad base64 name");
      d.name = std::move(*bytes);
    } else {
      throw bad("bad directory name");
    }
    d.bytes = entry[2].get<int64_t>();
    scan.dirs.push_back(std::move(d));
  }
  return scan;
}

}  // namespace opsktl
