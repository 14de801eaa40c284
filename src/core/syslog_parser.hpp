// syslog records: RFC 3164, rsyslog's ISO-stamped file format and RFC 5424 (SPEC §2);
// see syslog_parser.cpp.
#pragma once

#include "opsktl/record.hpp"

namespace opsktl {

class SyslogParser final : public RecordParser {
 public:
  ParseResult parse(std::string_view line, Record& record) override;
  bool provides(FieldId id) const override {
    return id == FieldId::kTs || id == FieldId::kService || id == FieldId::kEvent;
  }
};

// The unit a systemd message is about: "foo.service" for "foo.service: Scheduled restart
// job, ..."; empty when the message does not start with a unit name and ": ".
std::string_view systemd_unit_of(std::string_view message);

}  // namespace opsktl
