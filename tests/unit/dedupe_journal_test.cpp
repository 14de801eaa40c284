// The dedupe state file as untrusted input: the strict line parser, the replay's checks
// of intents, what opening a file that is not a state file leaves, and compaction.
#include "dedupe_journal.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

std::string header(const std::string& root) { return R"({"t":"roots","v":1,"roots":[")" + root + "\"]}\n"; }

std::string hash_record(uint64_t ino, int64_t mtime, const std::string& edge = "00000000000000aa") {
  return R"({"t":"h","dev":1,"ino":)" + std::to_string(ino) + R"(,"size":10,"mtime":)" +
         std::to_string(mtime) + R"(,"ctime":5,"edge":")" + edge + "\"}\n";
}

std::string why_not(std::string_view line) {
  StateRecord r;
  return parse_state_record(line, r);
}

TEST(StateRecord, AcceptsWhatTheWriterWritesInAnyKeyOrder) {
  StateRecord r;
  ASSERT_EQ(parse_state_record(
                R"({"t":"h","dev":1,"ino":2,"size":3,"mtime":-4,"ctime":5,"edge":"00000000000000ff",)"
                R"("full":"0123456789abcdef0123456789abcdef"})",
                r),
            "");
  EXPECT_EQ(r.type, StateRecord::Type::kHash);
  EXPECT_EQ(r.hash.stamp, (FileStamp{1, 2, 3, -4, 5}));
  EXPECT_EQ(*r.hash.edge, 0xffu);
  EXPECT_EQ(r.hash.full->high, 0x0123456789abcdefu);
  // nlohmann, which wrote intents before, sorts keys.
  ASSERT_EQ(
      parse_state_record(R"({"dir":"a/b%20c","kind":"hardlink","n":7,"root":"/r","t":"i","tdev":1,"tino":2,)"
                         R"("tmp":".opsktl-dedupe.1.a.0.tmp"})",
                         r),
      "");
  EXPECT_EQ(r.type, StateRecord::Type::kIntent);
  EXPECT_EQ(r.intent.dir, "a/b c");
  EXPECT_EQ(r.intent.id, 7u);
  ASSERT_EQ(parse_state_record(R"({"roots":["/a","/b%FF"],"t":"roots","v":1})", r), "");
  EXPECT_EQ(r.roots, (std::vector<std::string>{"/a", "/b\xff"}));
  ASSERT_EQ(parse_state_record(R"({"t":"c","n":3,"dev":4,"ino":5})", r), "");
  EXPECT_EQ(r.type, StateRecord::Type::kMade);
  ASSERT_EQ(parse_state_record(R"({"t":"d","n":18446744073709551615})", r), "");
  EXPECT_EQ(r.id, UINT64_MAX);
}

TEST(StateRecord, RejectsDamagedRecords) {
  const std::string h = R"({"t":"h","dev":1,"ino":2,"size":3,"mtime":4,"ctime":5)";
  EXPECT_EQ(why_not(h + R"(,"edge":"00000000000000fg"})"), "edge is not 16 lowercase hex digits");
  EXPECT_EQ(why_not(h + R"(,"edge":"00000000000000FF"})"), "edge is not 16 lowercase hex digits");
  EXPECT_EQ(why_not(h + R"(,"edge":"000000000000000ff"})"), "edge is not 16 lowercase hex digits");
  EXPECT_EQ(why_not(h + R"(,"full":"0123"})"), "full is not 32 lowercase hex digits");
  EXPECT_EQ(why_not(R"({"t":"h","dev":1,"ino":123456789012345678901,"size":3,"mtime":4,"ctime":5})"),
            "number out of range: ino");
  EXPECT_EQ(why_not(R"({"t":"h","dev":1,"ino":2,"size":3,"mtime":99999999999999999999,"ctime":5})"),
            "number out of range: mtime");
  EXPECT_EQ(why_not(R"({"t":"h","dev":01,"ino":2,"size":3,"mtime":4,"ctime":5})"), "bad number dev");
  EXPECT_EQ(why_not(R"({"t":"h","dev":-1,"ino":2,"size":3,"mtime":4,"ctime":5})"), "bad number dev");
  EXPECT_EQ(why_not(R"({"t":"h","dev":1,"ino":2,"size":-3,"mtime":4,"ctime":5})"), "negative size");
  EXPECT_EQ(why_not(R"({"t":"h","dev":1.5,"ino":2,"size":3,"mtime":4,"ctime":5})"), "malformed object");
  EXPECT_EQ(why_not(R"({"t":"h","dev":"1","ino":2,"size":3,"mtime":4,"ctime":5})"),
            "missing or non-numeric dev");
  EXPECT_EQ(why_not(h + R"(,"x":1})"), "unknown field");
  EXPECT_EQ(why_not(h + R"(,"dev":1})"), "repeated field dev");
  EXPECT_EQ(why_not(R"({"t": "d","n":1})"), "malformed object");
  EXPECT_EQ(why_not(R"({"t":"d","n":1} )"), "not a JSON object");
  EXPECT_EQ(why_not(R"({"t":"d","n":1,})"), "malformed object");
  EXPECT_EQ(why_not(R"({"t":"x","n":1})"), "unknown record type");
  EXPECT_EQ(why_not(""), "not a JSON object");
  EXPECT_EQ(why_not("{}"), "no fields");
  const std::string i =
      R"({"t":"i","n":1,"root":"/r","tmp":".opsktl-dedupe.1.a.0.tmp","kind":"hardlink","tdev":1,"tino":2,)";
  EXPECT_EQ(why_not(i + R"("dir":"a%2"})"), "bad escape in dir");
  EXPECT_EQ(why_not(i + R"("dir":"a%ZZb"})"), "bad escape in dir");
  EXPECT_EQ(why_not(i + R"("dir":"a%00b"})"), "bad escape in dir");
  EXPECT_EQ(why_not(i + R"("dir":"a\"b"})"), "malformed string");
  EXPECT_EQ(why_not(i + R"("dir":"a","kind":"copy"})"), "repeated field kind");
  EXPECT_EQ(why_not(R"({"t":"roots","v":2,"roots":["/a"]})"), "version 2, not 1");
  EXPECT_EQ(why_not(R"({"t":"roots","v":1,"roots":["/a",]})"), "malformed roots");
}

TEST(StateRecord, EscapeRoundTripsEveryByte) {
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  std::string back;
  ASSERT_TRUE(unescape_path(escape_path(all), back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(unescape_path("%", back));
  EXPECT_FALSE(unescape_path("a b", back));
}

TEST(StateRecord, TempNamePattern) {
  EXPECT_TRUE(is_dedupe_temp_name(".opsktl-dedupe.123.1a2b.0.tmp"));
  EXPECT_FALSE(is_dedupe_temp_name(".opsktl-dedupe.123.1a2b.tmp"));
  EXPECT_FALSE(is_dedupe_temp_name(".opsktl-dedupe.x.1a2b.0.tmp"));
  EXPECT_FALSE(is_dedupe_temp_name(".opsktl-dedupe.1.1A.0.tmp"));
  EXPECT_FALSE(is_dedupe_temp_name(".opsktl-dedupe.1.1.0.tmp/x"));
  EXPECT_FALSE(is_dedupe_temp_name("../.opsktl-dedupe.1.1.0.tmp"));
  EXPECT_FALSE(is_dedupe_temp_name("important"));
  // Never candidates: the loose form.
  EXPECT_TRUE(looks_like_dedupe_temp_name(".opsktl-dedupe.x.tmp"));
  EXPECT_TRUE(looks_like_dedupe_temp_name(".opsktl-dedupe.123.1a2b.0.tmp"));
  EXPECT_FALSE(looks_like_dedupe_temp_name(".opsktl-dedupe.tmp"));
  EXPECT_FALSE(looks_like_dedupe_temp_name("opsktl-dedupe.x.tmp"));
}

TEST(StateReplay, IntentsThatCannotBeOursAreIgnoredWithAWarning) {
  StateReplay replay("state", {"/srv/a"});
  replay.header(R"({"t":"roots","v":1,"roots":["/srv/a"]})");
  auto intent = [](const std::string& root, const std::string& dir, const std::string& tmp, uint64_t n) {
    return R"({"t":"i","n":)" + std::to_string(n) + R"(,"root":")" + root + R"(","dir":")" + dir +
           R"(","tmp":")" + tmp + R"(","kind":"hardlink","tdev":1,"tino":2})";
  };
  const std::string ours = ".opsktl-dedupe.1.a.0.tmp";
  replay.record(intent("/etc", "", ours, 1), 2);            // another root
  replay.record(intent("/srv/a", "..", ours, 2), 3);        // up and out
  replay.record(intent("/srv/a", "x/../..", ours, 3), 4);   // up and out, deeper
  replay.record(intent("/srv/a", "x//y", ours, 4), 5);      // an empty component
  replay.record(intent("/srv/a", "", "passwd", 5), 6);      // not our name
  replay.record(intent("/srv/a", "", "../" + ours, 6), 7);  // a path, not a name
  replay.record(intent("/srv/a", "x/y", ours, 7), 8);       // fine
  replay.record(intent("/srv", "", ours, 8), 9);            // beside a root given as a file
  replay.finish();
  ASSERT_EQ(replay.pending.size(), 2u);
  EXPECT_EQ(replay.pending.begin()->second.dir, "x/y");
  EXPECT_EQ(replay.next_id, 9u);
  ASSERT_EQ(replay.warnings.size(), 6u);
  EXPECT_EQ(replay.warnings[0].path, "state:2");
  EXPECT_EQ(replay.warnings[0].what,
            "intent ignored, nothing removed: /etc/.opsktl-dedupe.1.a.0.tmp: not inside this run's roots");
  EXPECT_EQ(
      replay.warnings[1].what,
      "intent ignored, nothing removed: /srv/a/../.opsktl-dedupe.1.a.0.tmp: directory is not a plain relative path");
  EXPECT_EQ(replay.warnings[4].what,
            "intent ignored, nothing removed: /srv/a/passwd: not a temporary name of dedupe");
}

TEST(StateReplay, DamagedRecordsAreSkippedAndTheRestKept) {
  StateReplay replay("state", {"/r"});
  replay.header(R"({"t":"roots","v":1,"roots":["/r"]})");
  replay.record(hash_record(1, 100, "zzzzzzzzzzzzzzzz").substr(0, hash_record(1, 100).size() - 1), 2);
  replay.record(hash_record(2, 100).substr(0, hash_record(2, 100).size() - 1), 3);
  for (uint64_t n = 0; n < 20; ++n) replay.record("garbage", 4 + n);
  replay.finish();
  EXPECT_EQ(replay.cache.count(1), 0u);
  EXPECT_EQ(replay.cache.count(2), 1u);
  EXPECT_EQ(replay.records, 22u);
  ASSERT_EQ(replay.warnings.size(), 11u);  // ten, then how many more
  EXPECT_EQ(replay.warnings[0].path, "state:2");
  EXPECT_EQ(replay.warnings[0].what, "damaged record skipped (edge is not 16 lowercase hex digits)");
  EXPECT_EQ(replay.warnings[10].what, "11 more records skipped or ignored");
}

TEST(StateReplay, HeaderOfAnotherKindOrOtherRootsThrows) {
  StateReplay replay("state", {"/r"});
  EXPECT_THROW(replay.header("line one"), Error);
  EXPECT_THROW(replay.header(R"({"t":"roots","v":1,"roots":["/other"]})"), Error);
  EXPECT_THROW(replay.header(R"({"t":"d","n":1})"), Error);
}

// Opening a file that is not a state file (or not ours) must change nothing in it.
void expect_refused_and_unchanged(const std::string& path, const std::string& root,
                                  const std::string& message) {
  std::string before = read_file(path);
  unsigned mode = mode_of(path);
  try {
    DedupeJournal journal(path, {root});
    ADD_FAILURE() << "opened " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.what(), message);
  }
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(mode_of(path), mode);
}

TEST(DedupeJournal, FileThatIsNotAStateFileIsLeftByteForByte) {
  TempDir dir;
  std::string f = dir.file("notes");
  write_file(f, "no newline here");
  ::chmod(f.c_str(), 0644);
  expect_refused_and_unchanged(
      f, "/r",
      f + ": not a dedupe state file (no complete line); left unchanged (a new state file is "
          "made only where no file exists)");
  write_file(f, "line one\nline two\nlast");
  expect_refused_and_unchanged(
      f, "/r", f + ": not a dedupe state file (first line: not a JSON object); left unchanged");
  write_file(f, "");
  expect_refused_and_unchanged(
      f, "/r",
      f + ": empty file, not a dedupe state file; left unchanged (a new state file is made only where no file exists)");
  // A state file of other roots with a torn tail: refused before the repair.
  write_file(f, header("/other") + R"({"t":"h","dev")");
  expect_refused_and_unchanged(f, "/r",
                               f + ": state file belongs to other roots (/other); use another --state FILE");
}

TEST(DedupeJournal, StateFileOfAnotherUserOrWritableByOthersIsRefused) {
  TempDir dir;
  std::string f = dir.file("state");
  write_file(f, header("/r"));
  ::chmod(f.c_str(), 0620);
  expect_refused_and_unchanged(
      f, "/r",
      f + ": state file is writable by group or others (mode 0620); refusing to use it (chmod go-w it if it is yours)");
  ::chmod(f.c_str(), 0602);
  expect_refused_and_unchanged(
      f, "/r",
      f + ": state file is writable by group or others (mode 0602); refusing to use it (chmod go-w it if it is yours)");
  ::chmod(f.c_str(), 0600);
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  ASSERT_EQ(::chown(f.c_str(), 4242, 4242), 0);
  expect_refused_and_unchanged(
      f, "/r", f + ": state file is owned by uid 4242, not by the running user (uid 0); refusing to use it");
}

TEST(DedupeJournal, SymlinkAndDirectoryAreRefused) {
  TempDir dir;
  write_file(dir.file("target"), header("/r"));
  ::chmod(dir.file("target").c_str(), 0600);
  ASSERT_EQ(::symlink(dir.file("target").c_str(), dir.file("link").c_str()), 0);
  EXPECT_THROW(DedupeJournal(dir.file("link"), {"/r"}), Error);
  EXPECT_THROW(DedupeJournal(dir.path().string(), {"/r"}), Error);
}

TEST(DedupeJournal, NewFileIsCreatedWholeWithMode0600) {
  TempDir dir;
  std::string f = dir.file("state");
  mode_t old = ::umask(0);
  { DedupeJournal journal(f, {"/r s"}); }
  ::umask(old);
  EXPECT_EQ(read_file(f), R"({"t":"roots","v":1,"roots":["/r%20s"]})"
                          "\n");
  EXPECT_EQ(mode_of(f), 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);  // no temporary left
}

TEST(DedupeJournal, RootsWithBracketsCommasAndOddBytesRoundTrip) {
  TempDir dir;
  std::string f = dir.file("state");
  std::vector<std::string> roots = {"/srv/a],b", "/srv/[x]", "/srv/\xff \"%\\"};
  { DedupeJournal journal(f, roots); }
  DedupeJournal again(f, roots);  // the same roots: no error
  EXPECT_TRUE(again.warnings().empty());
  EXPECT_THROW(DedupeJournal(f, {"/srv/a]"}), Error);
}

TEST(DedupeJournal, TornTailOfOurStateFileIsCutAndModeTightened) {
  TempDir dir;
  std::string f = dir.file("state");
  write_file(f, header("/r") + hash_record(1, 1) + R"({"t":"h","dev")");
  ::chmod(f.c_str(), 0640);
  {
    DedupeJournal journal(f, {"/r"});
    EXPECT_NE(journal.find({1, 1, 10, 1, 5}), nullptr);
  }
  EXPECT_EQ(read_file(f), header("/r") + hash_record(1, 1));
  EXPECT_EQ(mode_of(f), 0600u);
}

TEST(DedupeJournal, ReplayStreamsLinesAcrossChunkBoundaries) {
  TempDir dir;
  std::string f = dir.file("state");
  std::string content = header("/r");
  for (uint64_t ino = 1; ino <= 5000; ++ino) content += hash_record(ino, static_cast<int64_t>(ino));
  content += R"({"t":"d","n":1,"x":")" + std::string(300000, 'a') + "\"}\n";  // damaged, longer than a chunk
  content += hash_record(9999, 1);
  write_file(f, content);
  ::chmod(f.c_str(), 0600);
  DedupeJournal journal(f, {"/r"});
  for (uint64_t ino = 1; ino <= 5000; ++ino) {
    ASSERT_NE(journal.find({1, ino, 10, static_cast<int64_t>(ino), 5}), nullptr) << ino;
  }
  EXPECT_NE(journal.find({1, 9999, 10, 1, 5}), nullptr);
  ASSERT_EQ(journal.warnings().size(), 1u);
  EXPECT_EQ(journal.warnings()[0].path, f + ":5002");
}

TEST(DedupeJournal, CompactionKeepsOnlyLiveRecordsAndLosesNothing) {
  TempDir dir;
  std::string f = dir.file("state");
  std::string content = header("/r");
  // Inode 1 restamped 50 times (49 dead), inode 2 never looked up (dead), inode 3 live.
  for (int64_t m = 1; m <= 50; ++m) content += hash_record(1, m);
  content += hash_record(2, 1) + hash_record(3, 1);
  content +=
      R"({"t":"i","n":4,"root":"/r","dir":"","tmp":".opsktl-dedupe.1.a.0.tmp","kind":"hardlink","tdev":1,"tino":1})"
      "\n";
  write_file(f, content);
  ::chmod(f.c_str(), 0600);
  {
    DedupeJournal journal(f, {"/r"});
    EXPECT_EQ(journal.records(), 53u);
    ASSERT_NE(journal.find({1, 1, 10, 50, 5}), nullptr);
    ASSERT_NE(journal.find({1, 3, 10, 1, 5}), nullptr);
    journal.record_hash({1, 4, 10, 1, 5}, 7, std::nullopt);
    EXPECT_TRUE(journal.compact());
    EXPECT_FALSE(journal.compact());                         // nothing dead any more
    journal.record_hash({1, 5, 10, 1, 5}, 8, std::nullopt);  // appended to the new file
  }
  EXPECT_EQ(mode_of(f), 0600u);
  DedupeJournal again(f, {"/r"});
  EXPECT_EQ(again.records(), 5u);  // inodes 1, 3, 4, the open intent, then inode 5
  EXPECT_NE(again.find({1, 1, 10, 50, 5}), nullptr);
  EXPECT_NE(again.find({1, 3, 10, 1, 5}), nullptr);
  EXPECT_NE(again.find({1, 4, 10, 1, 5}), nullptr);
  EXPECT_NE(again.find({1, 5, 10, 1, 5}), nullptr);
  EXPECT_EQ(again.find({1, 2, 10, 1, 5}), nullptr);
  ASSERT_EQ(again.pending().size(), 1u);
  EXPECT_EQ(again.pending()[0].id, 4u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(DedupeJournal, FewDeadRecordsAreNotCompacted) {
  TempDir dir;
  std::string f = dir.file("state");
  write_file(f, header("/r") + hash_record(1, 1) + hash_record(1, 2) + hash_record(2, 1));
  ::chmod(f.c_str(), 0600);
  DedupeJournal journal(f, {"/r"});
  ASSERT_NE(journal.find({1, 1, 10, 2, 5}), nullptr);
  ASSERT_NE(journal.find({1, 2, 10, 1, 5}), nullptr);
  EXPECT_FALSE(journal.compact());  // one dead record, two live
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

std::string intent_record(uint64_t n, const std::string& root, const std::string& dir, const std::string& tmp,
                          const std::string& kind, const std::string& identity_of) {
  struct stat st {};
  ::stat(identity_of.c_str(), &st);  // follows a symlink: the kept file it points at
  return R"({"t":"i","n":)" + std::to_string(n) + R"(,"root":")" + escape_path(root) + R"(","dir":")" + dir +
         R"(","tmp":")" + tmp + R"(","kind":")" + kind + R"(","tdev":)" + std::to_string(st.st_dev) +
         R"(,"tino":)" + std::to_string(st.st_ino) + "}\n";
}

TEST(RemoveLeftoverTemps, RemovesOnlyWhatTheIntentRecorded) {
  TempDir dir;
  std::string root = dir.file("root");
  std::filesystem::create_directories(root);
  std::filesystem::create_directories(dir.file("outside"));
  write_file(root + "/a", "kept");
  write_file(root + "/b", "other");
  write_file(dir.file("outside/victim"), "precious");
  auto tmp = [](int n) { return ".opsktl-dedupe.1.a." + std::to_string(n) + ".tmp"; };
  auto at = [&](int n) { return root + "/" + tmp(n); };
  ASSERT_EQ(::link((root + "/a").c_str(), at(1).c_str()), 0);     // ours: removed
  write_file(at(2), "a user's file");                             // its only name
  ASSERT_EQ(::link((root + "/b").c_str(), at(3).c_str()), 0);     // another inode
  ASSERT_EQ(::symlink((root + "/a").c_str(), at(4).c_str()), 0);  // ours: removed
  ASSERT_EQ(::symlink("a", at(5).c_str()), 0);                    // other text
  ASSERT_EQ(::symlink((root + "/b").c_str(), at(6).c_str()), 0);  // other target
  write_file(at(7), "clone");                                     // clone never recorded
  write_file(at(8), "clone");                                     // the recorded clone: removed
  ASSERT_EQ(::symlink(dir.file("outside").c_str(), (root + "/sub").c_str()), 0);
  ASSERT_EQ(::link(dir.file("outside/victim").c_str(), dir.file("outside/" + tmp(9)).c_str()), 0);
  struct stat clone = stat_of(at(8));
  std::string content = header(root) + intent_record(1, root, "", tmp(1), "hardlink", root + "/a") +
                        intent_record(2, root, "", tmp(2), "hardlink", at(2)) +
                        intent_record(3, root, "", tmp(3), "hardlink", root + "/a") +
                        intent_record(4, root, "", tmp(4), "symlink", root + "/a") +
                        R"({"t":"i","n":5,"root":")" + root + R"(","dir":"","tmp":")" + tmp(5) +
                        R"(","kind":"symlink","tdev":)" + std::to_string(stat_of(root + "/a").st_dev) +
                        R"(,"tino":)" + std::to_string(stat_of(root + "/a").st_ino) + R"(,"target":")" +
                        root + "/a\"}\n" + intent_record(6, root, "", tmp(6), "symlink", root + "/a") +
                        intent_record(7, root, "", tmp(7), "reflink", root + "/a") +
                        intent_record(8, root, "", tmp(8), "reflink", root + "/a") +
                        R"({"t":"c","n":8,"dev":)" + std::to_string(clone.st_dev) + R"(,"ino":)" +
                        std::to_string(clone.st_ino) + "}\n" +
                        intent_record(9, root, "sub", tmp(9), "hardlink", dir.file("outside/victim"));
  write_file(dir.file("state"), content);
  ::chmod(dir.file("state").c_str(), 0600);
  DedupeResult result;
  {
    DedupeJournal journal(dir.file("state"), {root});
    ASSERT_EQ(journal.pending().size(), 9u);
    remove_leftover_temps(journal, result);
  }
  EXPECT_EQ(result.temp_links_removed, 3u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(at(1))));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(at(4))));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(at(8))));
  for (int n : {2, 3, 5, 6, 7})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::symlink_status(at(n)))) << n;
  EXPECT_EQ(read_file(dir.file("outside/" + tmp(9))), "precious");
  EXPECT_EQ(read_file(root + "/a"), "kept");
  std::vector<std::string> whats;
  for (const DedupeProblem& w : result.warnings) whats.push_back(w.path + ": " + w.what);
  const std::string prefix = ": temporary name of an interrupted run not removed: ";
  EXPECT_EQ(whats,
            (std::vector<std::string>{
                at(2) + prefix + "it is the only name of its file",
                at(3) + prefix + "not the recorded file",
                at(5) + prefix + "not the recorded symlink",
                at(6) + prefix + "not the recorded symlink",
                at(7) + prefix + "its clone was never recorded as made",
                root + "/sub/" + tmp(9) + prefix + "cannot open its directory: " + errno_message(ENOTDIR),
            }));
  // Every intent is closed: a second run finds none pending.
  DedupeJournal again(dir.file("state"), {root});
  EXPECT_TRUE(again.pending().empty());
}

TEST(RemoveLeftoverTemps, NameBesideARootGivenAsAFile) {
  TempDir dir;
  std::string base = dir.path().string();
  write_file(dir.file("file"), "kept");
  std::string tmp = ".opsktl-dedupe.1.a.0.tmp";
  ASSERT_EQ(::link(dir.file("file").c_str(), dir.file(tmp).c_str()), 0);
  write_file(dir.file("state"),
             header(dir.file("file")) + intent_record(1, base, "", tmp, "hardlink", dir.file("file")));
  ::chmod(dir.file("state").c_str(), 0600);
  DedupeResult result;
  DedupeJournal journal(dir.file("state"), {dir.file("file")});
  remove_leftover_temps(journal, result);
  EXPECT_EQ(result.temp_links_removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.file(tmp)));
  EXPECT_TRUE(result.warnings.empty());
}

}  // namespace
}  // namespace opsktl
