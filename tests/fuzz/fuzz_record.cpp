// Fuzzes one log format's record parser (OPSKTL_FUZZ_FORMAT), fed line by line (comment
// lines through comment(), as the analysers feed them), and the
// auto sniffer on the whole input: no crash, no UB, and every field a view into the line
// or the parser's storage that can be read.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "opsktl/record.hpp"

#define OPSKTL_STR2(x) #x
#define OPSKTL_STR(x) OPSKTL_STR2(x)

namespace {

std::unique_ptr<opsktl::RecordParser> make_parser() {
  opsktl::LogFormatConfig config;
  config.format = *opsktl::log_format_from_name(OPSKTL_STR(OPSKTL_FUZZ_FORMAT));
  config.positions = {1, 2, 3, 4, 5, 6, 7, 8};
  config.keys[static_cast<size_t>(opsktl::FieldId::kStatus)] = "http.status";
  config.regex =
      R"(^(?P<ts>\S+) (?P<service>[\w.-]+) (?:(?P<method>[A-Z]+) )?(?P<path>/\S*) (?P<status>\d{3})(?: (?P<latency>[\d.]+\w*))?)";
  return make_record_parser(config);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto parser = make_parser();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)opsktl::sniff_log_format(input);
  parser->begin_input(input.substr(0, input.find('\n')));
  opsktl::Record record;
  size_t sum = 0;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    if (opsktl::is_comment_line(line)) {
      parser->comment(line);  // as the analysers do: w3c reads its #Fields: here
      continue;
    }
    if (parser->parse(line, record)) {
      for (std::string_view field : record.fields) {
        for (char c : field) sum += static_cast<unsigned char>(c);  // ASan checks each read
      }
    }
  }
  return sum == SIZE_MAX ? 1 : 0;
}
