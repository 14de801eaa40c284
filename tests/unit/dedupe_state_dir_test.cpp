// The directory that holds dedupe's state files: every directory dedupe makes for it is
// private (0700) whatever the umask allows, and a directory that exists keeps its mode.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>

#include "dedupe_journal.hpp"
#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"
#include "test_helpers.hpp"

namespace opsktl {
namespace {

using test::TempDir;
using test::write_file;

// Sets an environment variable (or unsets it) for the life of the object.
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvVar() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The usual umask of a login shell, which lets mkdir make 0755 directories.
class Umask {
 public:
  explicit Umask(mode_t mask) : old_(::umask(mask)) {}
  ~Umask() { ::umask(old_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t old_;
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

DedupeResult dry_run(const TempDir& dir) {
  std::string root = dir.file("root");
  ::mkdir(root.c_str(), 0755);
  write_file(root + "/a", "same bytes\n");
  write_file(root + "/b", "same bytes\n");
  DedupeOptions options;
  options.roots = {root};
  return run_dedupe(options);
}

TEST(DedupeStateDirectory, DefaultUnderXdgStateHomeIsMadePrivate) {
  TempDir dir;
  Umask umask(022);
  EnvVar xdg("XDG_STATE_HOME", dir.file("state"));  // does not exist yet
  DedupeResult result = dry_run(dir);
  EXPECT_EQ(result.state_path.rfind(dir.file("state/opsktl/dedupe-"), 0), 0u) << result.state_path;
  EXPECT_EQ(mode_of(dir.file("state")), 0700u);
  EXPECT_EQ(mode_of(dir.file("state/opsktl")), 0700u);
  EXPECT_EQ(mode_of(result.state_path), 0600u);
}

TEST(DedupeStateDirectory, DefaultUnderHomeMakesEachMissingDirectoryPrivate) {
  TempDir dir;
  Umask umask(022);
  std::string home = dir.file("home");
  ASSERT_EQ(::mkdir(home.c_str(), 0755), 0);
  EnvVar xdg("XDG_STATE_HOME", std::nullopt);
  EnvVar home_var("HOME", home);
  DedupeResult result = dry_run(dir);
  EXPECT_EQ(result.state_path.rfind(home + "/.local/state/opsktl/dedupe-", 0), 0u) << result.state_path;
  EXPECT_EQ(mode_of(home), 0755u);  // it existed: left as it was
  EXPECT_EQ(mode_of(home + "/.local"), 0700u);
  EXPECT_EQ(mode_of(home + "/.local/state"), 0700u);
  EXPECT_EQ(mode_of(home + "/.local/state/opsktl"), 0700u);
}

TEST(DedupeStateDirectory, ExistingDirectoryKeepsItsMode) {
  TempDir dir;
  Umask umask(022);
  std::string state = dir.file("state");
  ASSERT_EQ(::mkdir(state.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((state + "/opsktl").c_str(), 0750), 0);
  EnvVar xdg("XDG_STATE_HOME", state);
  DedupeResult result = dry_run(dir);
  EXPECT_EQ(mode_of(state), 0755u);
  EXPECT_EQ(mode_of(state + "/opsktl"), 0750u);
  EXPECT_EQ(mode_of(result.state_path), 0600u);
}

TEST(DedupeStateDirectory, ExplicitStateFileInNewDirectoriesIsPrivateToo) {
  TempDir dir;
  Umask umask(0);  // mkdir would make 0777 directories
  create_state_directory(dir.file("x/y/"));
  EXPECT_EQ(mode_of(dir.file("x")), 0700u);
  EXPECT_EQ(mode_of(dir.file("x/y")), 0700u);
  create_state_directory(dir.file("x/y"));  // exists: nothing to do
  EXPECT_EQ(mode_of(dir.file("x/y")), 0700u);
}

TEST(DedupeStateDirectory, AFileInTheWayIsAnError) {
  TempDir dir;
  write_file(dir.file("file"), "not a directory\n");
  try {
    create_state_directory(dir.file("file/opsktl"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.file("file/opsktl") + ": cannot create state directory: " + errno_message(ENOTDIR));
  }
  try {
    create_state_directory(dir.file("file"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create state directory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace opsktl
