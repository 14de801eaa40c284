#include "opsktl/input.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::gzip;
using test::read_lines;
using test::TempDir;
using test::write_file;
using Lines = std::vector<std::string>;

TEST(Input, ReadsAPlainFile) {
  TempDir dir;
  write_file(dir.file("a.log"), "one\ntwo\n");
  Input input = Input::open(dir.file("a.log"));
  EXPECT_FALSE(input.is_gzip());
  EXPECT_GE(input.regular_fd(), 0);
  EXPECT_EQ(read_lines(input.stream()), (Lines{"one", "two"}));
}

TEST(Input, DecompressesGzipByMagicBytes) {
  TempDir dir;
  write_file(dir.file("a.log.gz"), gzip("one\ntwo\n"));
  write_file(dir.file("renamed.log"), gzip("x\n"));
  Input input = Input::open(dir.file("a.log.gz"));
  EXPECT_TRUE(input.is_gzip());
  EXPECT_EQ(input.regular_fd(), -1);
  EXPECT_EQ(read_lines(input.stream(), {3, 1 << 20}), (Lines{"one", "two"}));
  Input renamed = Input::open(dir.file("renamed.log"));
  EXPECT_EQ(read_lines(renamed.stream()), (Lines{"x"}));
}

TEST(Input, DecompressesConcatenatedGzipMembers) {
  auto stream = make_gzip_stream(make_string_stream(gzip("a\nb\n") + gzip("c\n")));
  EXPECT_EQ(read_lines(*stream), (Lines{"a", "b", "c"}));
}

TEST(Input, TruncatedGzipIsAnError) {
  std::string data = gzip(std::string(10000, 'z') + "\n");
  data.resize(data.size() / 2);
  auto stream = make_gzip_stream(make_string_stream(data));
  EXPECT_THROW(read_lines(*stream), Error);
}

TEST(Input, CorruptGzipIsAnError) {
  std::string data = gzip("hello world\n");
  for (size_t i = 10; i < data.size(); ++i) data[i] = static_cast<char>(data[i] ^ 0x5A);
  auto stream = make_gzip_stream(make_string_stream(data));
  EXPECT_THROW(read_lines(*stream), Error);
}

TEST(Input, MissingFileNamesThePath) {
  try {
    Input::open("/nonexistent/x.log");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/x.log: No such file or directory");
  }
}

TEST(Input, DirectoryIsAnError) {
  TempDir dir;
  try {
    Input::open(dir.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.path().string() + ": Is a directory");
  }
}

TEST(Input, ReadsGzipFromAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string data = gzip("p\nq\n");
  ASSERT_EQ(write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fds[1]);
  int saved = dup(STDIN_FILENO);
  dup2(fds[0], STDIN_FILENO);
  close(fds[0]);
  {
    Input input = Input::open("-");
    EXPECT_TRUE(input.is_gzip());
    EXPECT_EQ(read_lines(input.stream()), (Lines{"p", "q"}));
  }
  dup2(saved, STDIN_FILENO);
  close(saved);
}

// A pipe whose writer keeps it open: head() must decide from what came (SPEC §2), not
// wait for 64 KiB or the end of the input. The writer sends `first`, waits `pause`, then
// sends `late` and closes; head() returns before `late` arrives.
std::string head_of_slow_pipe(const std::string& first, std::chrono::milliseconds pause) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  std::thread writer([&] {
    (void)!write(fds[1], first.data(), first.size());
    std::this_thread::sleep_for(pause);
    (void)!write(fds[1], "late\n", 5);
    close(fds[1]);
  });
  int saved = dup(STDIN_FILENO);
  dup2(fds[0], STDIN_FILENO);
  close(fds[0]);
  std::string head;
  {
    Input input = Input::open("-");
    head = std::string(input.head(size_t{64} << 10));
    // Every byte is still delivered after the head.
    Lines all = read_lines(input.stream());
    if (all.empty() || all.back() != "late") head = "late line lost";
  }
  writer.join();
  dup2(saved, STDIN_FILENO);
  close(saved);
  return head;
}

TEST(InputHead, StopsAfterSixteenLinesOnAPipe) {
  std::string lines;
  for (int i = 0; i < 20; ++i) lines += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(head_of_slow_pipe(lines, std::chrono::milliseconds(1500)), lines);
}

TEST(InputHead, StopsHalfASecondAfterTheFirstLineOnAPipe) {
  EXPECT_EQ(head_of_slow_pipe("only\n", std::chrono::milliseconds(1500)), "only\n");
}

TEST(InputHead, WaitsForTheFirstLineOnAPipe) {
  // Nothing for longer than the half second: the head is the first line, not empty.
  EXPECT_EQ(head_of_slow_pipe("", std::chrono::milliseconds(800)), "late\n");
}

TEST(SplitAtLines, EveryLineLandsInExactlyOneRange) {
  TempDir dir;
  std::string data;
  for (int i = 0; i < 1000; ++i)
    data += "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 37), 'x') + "\n";
  data += "no newline at end";
  write_file(dir.file("a"), data);
  Input input = Input::open(dir.file("a"));
  for (int parts : {1, 2, 3, 7, 64}) {
    auto ranges = split_at_lines(input.regular_fd(), input.size(), parts);
    Lines all;
    uint64_t expected_begin = 0;
    for (ByteRange r : ranges) {
      EXPECT_EQ(r.begin, expected_begin);
      if (r.begin > 0) {
        EXPECT_EQ(data[r.begin - 1], '\n');
      }
      expected_begin = r.end;
      auto stream = make_range_stream(input.regular_fd(), r.begin, r.end);
      for (auto& l : read_lines(*stream, {5, 1 << 20})) all.push_back(l);
    }
    EXPECT_EQ(expected_begin, data.size());
    auto whole = make_string_stream(data);
    EXPECT_EQ(all, read_lines(*whole)) << parts << " parts";
  }
}

TEST(SplitAtLines, OneLongLineStaysWhole) {
  TempDir dir;
  write_file(dir.file("a"), std::string(100000, 'x') + "\nshort\n");
  Input input = Input::open(dir.file("a"));
  auto ranges = split_at_lines(input.regular_fd(), input.size(), 4);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].end, 100001u);
  EXPECT_EQ(ranges[1].end, 100007u);
}

}  // namespace
}  // namespace opsktl
