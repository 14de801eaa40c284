// --log-format regex: RE2 guarantees time linear in the line length whatever the pattern,
// so a user's pattern cannot make a run hang on hostile input (std::regex and PCRE
// backtrack). The pattern is searched, unanchored, like grep: anchor it with ^ and $ to
// match whole lines. A line it does not match is malformed; a group that did not take
// part in the match leaves its field empty. Groups with other names are allowed, for
// structure, and ignored.
#include "regex_parser.hpp"

#include <re2/re2.h>

#include <vector>

#include "opsktl/error.hpp"

namespace opsktl {

struct RegexParser::Impl {
  explicit Impl(const std::string& pattern) : re(pattern, options()) {}
  static RE2::Options options() {
    RE2::Options o;
    o.set_log_errors(false);
    return o;
  }
  RE2 re;
  std::vector<re2::StringPiece> groups;     // index 0: the whole match
  std::array<int, kFieldCount> group_of{};  // field -> group number, 0 when absent
};

RegexParser::RegexParser(const std::string& pattern) : impl_(std::make_unique<Impl>(pattern)) {
  if (!impl_->re.ok()) throw Error("--regex: " + impl_->re.error());
  for (const auto& [name, index] : impl_->re.NamedCapturingGroups()) {
    if (auto id = field_from_name(name)) impl_->group_of[static_cast<size_t>(*id)] = index;
  }
  impl_->groups.resize(static_cast<size_t>(impl_->re.NumberOfCapturingGroups()) + 1);
}

RegexParser::~RegexParser() = default;

bool RegexParser::provides(FieldId id) const { return impl_->group_of[static_cast<size_t>(id)] != 0; }

ParseResult RegexParser::parse(std::string_view line, Record& record) {
  record = Record{};
  Impl& impl = *impl_;
  if (!impl.re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                     impl.groups.data(), static_cast<int>(impl.groups.size()))) {
    return ParseStatus::kNoRegexMatch;
  }
  for (size_t f = 0; f < kFieldCount; ++f) {
    if (int g = impl.group_of[f]; g != 0) {
      const re2::StringPiece& piece = impl.groups[static_cast<size_t>(g)];
      if (piece.data() != nullptr) record.fields[f] = std::string_view(piece.data(), piece.size());
    }
  }
  return ParseStatus::kOk;
}

}  // namespace opsktl
