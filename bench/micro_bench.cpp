// Per-line costs of the hot paths, to see which one a change moved.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "opsktl/fields_scan.hpp"
#include "opsktl/latency_histogram.hpp"
#include "opsktl/line_reader.hpp"
#include "opsktl/record.hpp"
#include "opsktl/timestamp.hpp"

namespace opsktl {
namespace {

std::vector<std::string> sample_lines() {
  std::vector<std::string> lines;
  std::mt19937 rng(1);
  for (int i = 0; i < 4096; ++i) {
    lines.push_back("2025-12-19T10:01:" + std::to_string(10 + i % 50) + "Z service" +
                    static_cast<char>('A' + rng() % 20) + " /api/v1/orders/" + std::to_string(rng() % 100) +
                    " " + (rng() % 25 == 0 ? "500" : "200") + " " + std::to_string(rng() % 3000));
  }
  return lines;
}

void BM_FieldsParser(benchmark::State& state) {
  auto lines = sample_lines();
  FieldsParser parser({1, 2, 3, 4, 5, 0, 0, 0});
  Record record;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.parse(lines[i++ & 4095], record));
  }
}
BENCHMARK(BM_FieldsParser);

// The json benchmark's lines (tests/cli/logconv.py --to json), default keys.
void BM_JsonParser(benchmark::State& state) {
  std::vector<std::string> lines;
  for (const std::string& fields : sample_lines()) {
    std::vector<std::string> f;
    for (size_t pos = 0; pos < fields.size();) {
      size_t space = std::min(fields.find(' ', pos), fields.size());
      f.push_back(fields.substr(pos, space - pos));
      pos = space + 1;
    }
    lines.push_back(R"({"ts":")" + f[0] + R"(","level":"info","service":")" + f[1] + R"(","path":")" + f[2] +
                    R"(","status":)" + f[3] + R"(,"latency_ms":)" + f[4] + R"(,"msg":"GET )" + f[2] + " -> " +
                    f[3] + R"( \"done\" \\ ok"})");
  }
  LogFormatConfig config;
  config.format = LogFormat::kJson;
  auto parser = make_record_parser(config);
  Record record;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines[i++ & 4095];
    bytes += static_cast<int64_t>(line.size());
    benchmark::DoNotOptimize(parser->parse(line, record));
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_JsonParser);

void BM_ParseTimestampRfc3339(benchmark::State& state) {
  TimeContext context{2025, 0};
  for (auto _ : state) benchmark::DoNotOptimize(parse_timestamp("2025-12-19T10:01:02.123Z", context));
}
BENCHMARK(BM_ParseTimestampRfc3339);

void BM_LatencyHistogramAdd(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(10.8, 1.2);
  std::vector<uint64_t> values(4096);
  for (auto& v : values) v = static_cast<uint64_t>(dist(rng));
  LatencyHistogram h;
  size_t i = 0;
  for (auto _ : state) h.add(values[i++ & 4095]);
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_LatencyHistogramAdd);

void BM_LineReader(benchmark::State& state) {
  std::string data;
  for (const auto& line : sample_lines()) data += line + "\n";
  for (auto _ : state) {
    auto stream = make_string_stream(data);
    LineReader reader(*stream);
    Line line;
    size_t n = 0;
    while (reader.next(line)) ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_LineReader);

// The buffer scan of the fields format alone (finding the lines and their fields, no
// counting), in memory: the part of errors-by-endpoint and flapping that every line
// pays before any per-line work. Its bytes per second bound what those commands can
// reach per core (docs/benchmarks.md, "What the log targets ask of this machine").
void BM_ScanFieldsLines(benchmark::State& state) {
  std::string data;
  for (const auto& line : sample_lines()) data += line + "\n";
  data.append(LineBlock::kPadding, '\0');
  const std::string_view text(data.data(), data.size() - LineBlock::kPadding);
  const FieldsLayout layout({1, 2, 3, 4, 5, 0, 0, 0});
  for (auto _ : state) {
    uint64_t fields = 0;
    scan_fields_lines(text, layout,
                      [&](const FieldsLine& line) { fields += static_cast<uint64_t>(line.fields); });
    benchmark::DoNotOptimize(fields);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ScanFieldsLines);

}  // namespace
}  // namespace opsktl
