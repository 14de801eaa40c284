// Removes the temporary names a dedupe run that was killed left behind.
//
// The state file names each temporary link before it is made (an intent); an intent
// without its done record is a name that may still exist. The names come from an
// untrusted file, so a name is removed only when it still is what its intent recorded,
// reached from one of this run's roots one directory at a time without following a
// symlink; anything else is left alone with a warning.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dedupe_internal.hpp"
#include "dedupe_journal.hpp"
#include "opsktl/dedupe.hpp"
#include "opsktl/error.hpp"

namespace opsktl {

using dedupe_detail::Fd;
using dedupe_detail::kDirFlags;

void remove_leftover_temps(DedupeJournal& journal, DedupeResult& result) {
  const std::vector<std::string>& roots = journal.roots();
  for (const PendingTemp& p : journal.pending()) {
    std::string where = p.root + (p.dir.empty() ? "" : "/" + p.dir) + "/" + p.tmp;
    auto ignore = [&](const std::string& why) {
      result.warnings.push_back({where, "temporary name of an interrupted run not removed: " + why});
      journal.record_done(p.id);
    };
    // The root itself, or the directory of a root that is a file (its names lie beside it).
    bool is_root = std::find(roots.begin(), roots.end(), p.root) != roots.end();
    if (!is_root) {
      bool beside_file =
          p.dir.empty() && std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
            struct stat rst {};
            return parent_directory(r) == p.root && ::lstat(r.c_str(), &rst) == 0 && !S_ISDIR(rst.st_mode);
          });
      if (!beside_file) {
        ignore("not inside this run's roots");
        continue;
      }
    }
    Fd fd(::open(p.root.c_str(), kDirFlags));
    size_t start = 0;
    while (fd.ok() && start < p.dir.size()) {
      size_t slash = p.dir.find('/', start);
      if (slash == std::string::npos) slash = p.dir.size();
      std::string part = p.dir.substr(start, slash - start);
      if (part.empty() || part == "." || part == "..") {
        fd.reset();
        errno = EINVAL;
        break;
      }
      fd = Fd(::openat(fd.get(), part.c_str(), kDirFlags));
      start = slash + 1;
    }
    if (!fd.ok()) {
      if (errno == ENOENT) {
        journal.record_done(p.id);  // the directory is gone, and the name with it
      } else {
        ignore("cannot open its directory: " + errno_message(errno));
      }
      continue;
    }
    struct stat st {};
    if (::fstatat(fd.get(), p.tmp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      journal.record_done(p.id);  // renamed into place, or never made
      continue;
    }
    std::string mismatch;
    switch (p.kind) {
      case TempKind::kHardlink:
        if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_dev) != p.target_dev ||
            static_cast<uint64_t>(st.st_ino) != p.target_ino) {
          mismatch = "not the recorded file";
        } else if (st.st_nlink < 2) {
          mismatch = "it is the only name of its file";
        }
        break;
      case TempKind::kSymlink: {
        // A symlink to the recorded kept inode, with the recorded text when there is one
        // (intents journaled ahead in a batch do not know it yet).
        std::string text(4096, '\0');
        ssize_t n =
            S_ISLNK(st.st_mode) ? ::readlinkat(fd.get(), p.tmp.c_str(), text.data(), text.size()) : -1;
        struct stat target {};
        if (n < 0 || static_cast<size_t>(n) >= text.size() ||
            (!p.target.empty() && std::string_view(text.data(), static_cast<size_t>(n)) != p.target) ||
            ::fstatat(fd.get(), p.tmp.c_str(), &target, 0) != 0 ||
            static_cast<uint64_t>(target.st_dev) != p.target_dev ||
            static_cast<uint64_t>(target.st_ino) != p.target_ino)
          mismatch = "not the recorded symlink";
        break;
      }
      case TempKind::kReflink:
        if (!p.made) {
          mismatch = "its clone was never recorded as made";
        } else if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_dev) != p.made_dev ||
                   static_cast<uint64_t>(st.st_ino) != p.made_ino || st.st_nlink != 1) {
          mismatch = "not the recorded clone";
        }
        break;
    }
    if (!mismatch.empty()) {
      ignore(mismatch);
      continue;
    }
    if (::unlinkat(fd.get(), p.tmp.c_str(), 0) != 0) {
      ignore("cannot remove it: " + errno_message(errno));
      continue;
    }
    ++result.temp_links_removed;
    journal.record_done(p.id);
  }
  journal.sync();
}

}  // namespace opsktl
