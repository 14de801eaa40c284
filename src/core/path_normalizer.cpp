#include "opsktl/path_normalizer.hpp"

namespace opsktl {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

bool is_id(std::string_view s) {
  if (s.empty()) return false;
  bool all_digits = true, all_hex = true, any_digit = false;
  for (char c : s) {
    bool digit = c >= '0' && c <= '9';
    all_digits &= digit;
    any_digit |= digit;
    all_hex &= is_hex(c);
  }
  return all_digits || is_uuid(s) || (all_hex && any_digit && s.size() >= 8);
}

}  // namespace

std::string_view normalize_path(std::string_view path, std::string& scratch) {
  if (size_t cut = path.find_first_of("?#"); cut != std::string_view::npos) path = path.substr(0, cut);
  // Fast path: no segment to replace.
  bool any = false;
  for (size_t pos = 0; pos <= path.size() && !any;) {
    size_t slash = path.find('/', pos);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    any = is_id(path.substr(pos, end - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (!any) return path;
  scratch.clear();
  for (size_t pos = 0;;) {
    size_t slash = path.find('/', pos);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    std::string_view segment = path.substr(pos, end - pos);
    scratch.append(is_id(segment) ? std::string_view("{id}") : segment);
    if (slash == std::string_view::npos) break;
    scratch.push_back('/');
    pos = slash + 1;
  }
  return scratch;
}

}  // namespace opsktl
