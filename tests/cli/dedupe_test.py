"""End-to-end tests of `opsktl dedupe` against an independent reference (SPEC §7).

The reference hashes every regular file's full content (hashlib), ignores empty files and
collapses names of one inode, and groups inodes with equal content: what opsktl reports
must be exactly those groups.
"""
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import unittest
from pathlib import Path

from clitest import BIN, CliTestCase

SETPRIV = shutil.which("setpriv")


def reference_groups(root, skip=()):
    """Sets of paths (every name) per group of distinct inodes with equal non-empty content."""
    by_inode = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or path in skip:
                continue
            by_inode.setdefault((st.st_dev, st.st_ino), []).append(path)
    by_content = {}
    for names in by_inode.values():
        with open(names[0], "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        by_content.setdefault(digest, []).append(names)
    return {frozenset(p for names in inodes for p in names)
            for inodes in by_content.values() if len(inodes) >= 2}


def snapshot(root):
    """Every entry: type, inode, mode, owner, size, mtime and content digest."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            snap[path] = (stat.S_IFMT(st.st_mode), st.st_ino, st.st_mode, st.st_uid, st.st_size,
                          st.st_mtime_ns, digest)
    return snap


def groups_of(rows):
    """tsv rows -> set of frozensets of paths, plus the rows per group."""
    by_group = {}
    for group, size, action, path in rows:
        by_group.setdefault(group, []).append((int(size), action, path))
    return {frozenset(p for _, _, p in rows) for rows in by_group.values()}, by_group


class DedupeTest(CliTestCase):
    def setUp(self):
        super().setUp()
        self.tree = self.dir / "tree"
        self.tree.mkdir()
        self.state = self.dir / "state" / "dedupe.state"

    def dedupe(self, *args, root=None, timeout=120):
        return self.run_opsktl("dedupe", "--format", "tsv", "--state", self.state, *args,
                               root or self.tree, timeout=timeout)

    def make_mixed_tree(self):
        big = bytes(range(256)) * 64  # 16 KiB: edge hashes cannot tell middle bytes apart
        self.write("tree/a/same1", big)
        self.write("tree/b/same2", big)
        self.write("tree/c/same3", big)
        for where, offset in (("first", 0), ("middle", len(big) // 2), ("last", len(big) - 1)):
            changed = bytearray(big)
            changed[offset] ^= 0xFF
            self.write(f"tree/diff/{where}", bytes(changed))
            self.write(f"tree/diff2/{where}", bytes(changed))  # a pair for each variant
        self.write("tree/small1", b"hello\n")
        self.write("tree/small2", b"hello\n")
        self.write("tree/small3", b"hellp\n")
        self.write("tree/empty1", b"")
        self.write("tree/empty2", b"")
        self.write("tree/unique", b"only me")
        os.link(self.tree / "small1", self.tree / "a" / "small1-link")
        os.link(self.tree / "unique", self.tree / "unique-link")  # siblings only: not a group
        os.symlink("small1", self.tree / "small-symlink")
        os.symlink("/dev/zero", self.tree / "devzero")
        os.mkfifo(self.tree / "fifo")
        self.write("tree/names/\xe9t\xe9", b"latin")
        with open(os.fsencode(self.tree / "names") + b"/bad\xff", "wb") as f:
            f.write(b"latin")

    def test_groups_equal_reference_and_no_fifo_hang(self):
        self.make_mixed_tree()
        result = self.dedupe(timeout=60)
        self.assertEqual(result.code, 0, result.errtext)
        rows = [line.split(b"\t") for line in result.out.split(b"\n") if line]
        rows = [(g.decode(), s.decode(), a.decode(), os.fsdecode(p)) for g, s, a, p in rows]
        found, by_group = groups_of(rows)
        self.assertEqual(found, reference_groups(str(self.tree)))
        for members in by_group.values():
            # The kept inode's names first (keep), then every name of the others (dup).
            actions = [a for _, a, _ in members]
            keeps = actions.count("keep")
            self.assertGreaterEqual(keeps, 1)
            self.assertEqual(actions, ["keep"] * keeps + ["dup"] * (len(actions) - keeps))
            self.assertEqual(len({os.lstat(p).st_ino for _, _, p in members[:keeps]}), 1)
            for size, _, path in members:
                self.assertEqual(size, os.lstat(path).st_size)

    def test_keep_first_is_first_path_in_byte_order(self):
        self.write("tree/z", b"data")
        self.write("tree/a", b"data")
        self.write("tree/m", b"data")
        rows = self.dedupe().rows()
        self.assertEqual(rows[0][2:], ["keep", str(self.tree / "a")])

    def test_keep_oldest_and_newest(self):
        for name, mtime in (("a", 3000), ("b", 1000), ("c", 2000)):
            os.utime(self.write(f"tree/{name}", b"data"), (mtime, mtime))
        rows = self.run_opsktl("dedupe", "--keep", "oldest", "--state", self.state, self.tree).rows()
        self.assertEqual(rows[0][2:], ["keep", str(self.tree / "b")])
        rows = self.run_opsktl("dedupe", "--keep", "newest", "--state", self.state, self.tree).rows()
        self.assertEqual(rows[0][2:], ["keep", str(self.tree / "a")])

    def test_dry_run_changes_nothing(self):
        self.make_mixed_tree()
        before = snapshot(str(self.tree))
        result = self.dedupe()
        self.assertEqual(result.code, 0, result.errtext)
        self.assertTrue(result.rows())
        self.assertEqual(snapshot(str(self.tree)), before)

    def test_apply_links_every_name_and_second_run_finds_nothing(self):
        self.make_mixed_tree()
        before = snapshot(str(self.tree))
        expected = reference_groups(str(self.tree))
        result = self.dedupe("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        actions = {row[3]: row[2] for row in result.rows()}
        after = snapshot(str(self.tree))
        self.assertEqual(set(after), set(before), "no name may appear or vanish")
        for path, entry in before.items():
            self.assertEqual(after[path][6], entry[6], f"content of {path} changed")
        for group in expected:
            inodes = {os.lstat(p).st_ino for p in group}
            self.assertEqual(len(inodes), 1, f"{sorted(group)} not one inode")
            self.assertTrue(all(actions[p] in ("keep", "linked") for p in group))
        again = self.dedupe("--apply")
        self.assertEqual(again.code, 0, again.errtext)
        self.assertEqual(again.rows(), [])

    def test_existing_hard_link_group_ends_on_kept_inode(self):
        self.write("tree/a", b"payload")
        self.write("tree/b1", b"payload")
        os.link(self.tree / "b1", self.tree / "b2")
        os.link(self.tree / "b1", self.tree / "sub-b3")
        rows = self.dedupe("--apply").rows()
        self.assertEqual([r[2] for r in rows], ["keep", "linked", "linked", "linked"])
        inode = os.lstat(self.tree / "a").st_ino
        for name in ("b1", "b2", "sub-b3"):
            self.assertEqual(os.lstat(self.tree / name).st_ino, inode)

    def test_metadata_rule(self):
        a = self.write("tree/a", b"payload")
        b = self.write("tree/b", b"payload")
        os.chmod(a, 0o644)
        os.chmod(b, 0o600)
        result = self.run_opsktl("dedupe", "--apply", "--format", "json", "--state", self.state, self.tree)
        self.assertEqual(result.code, 0, result.errtext)
        doc = json.loads(result.out)
        self.assertEqual([r["action"] for r in doc["groups"]], ["keep", "skipped"])
        self.assertEqual(doc["summary"]["skipped_reasons"], {"metadata": 1})
        self.assertEqual(doc["summary"]["reclaimable_bytes"], 0)
        self.assertNotEqual(os.lstat(a).st_ino, os.lstat(b).st_ino)
        result = self.dedupe("--apply", "--ignore-metadata")
        self.assertEqual([r[2] for r in result.rows()], ["keep", "linked"])
        self.assertEqual(os.lstat(a).st_ino, os.lstat(b).st_ino)

    def test_symlink_mode(self):
        self.write("tree/a", b"payload")
        self.write("tree/d/b", b"payload")
        result = self.dedupe("--apply", "--link", "symlink")
        self.assertEqual(result.code, 0, result.errtext)
        link = self.tree / "d" / "b"
        self.assertTrue(link.is_symlink())
        self.assertEqual(link.read_bytes(), b"payload")
        self.assertEqual(os.path.realpath(link), str(self.tree / "a"))
        self.assertEqual(self.dedupe("--apply", "--link", "symlink").rows(), [])

    def test_reflink_unsupported_is_reported_per_file(self):
        self.write("tree/a", b"payload")
        self.write("tree/b", b"payload")
        before = snapshot(str(self.tree))
        result = self.dedupe("--apply", "--link", "reflink")
        rows = result.rows()
        if rows[1][2] == "linked":
            self.skipTest("this file system supports reflinks")
        self.assertEqual(result.code, 1)
        self.assertIn("clone", result.errtext)
        self.assertEqual(rows[1][2], "skipped")
        self.assertEqual(snapshot(str(self.tree)), before)

    def test_rerun_reuses_hashes(self):
        self.make_mixed_tree()
        first = json.loads(self.run_opsktl("dedupe", "--format", "json", "--state", self.state,
                                           self.tree).out)
        self.assertGreater(first["summary"]["bytes_hashed"], 0)
        second = json.loads(self.run_opsktl("dedupe", "--format", "json", "--state", self.state,
                                            self.tree).out)
        self.assertEqual(second["summary"]["bytes_hashed"], 0)
        self.assertEqual(second["groups"], first["groups"])
        self.assertEqual(stat.S_IMODE(os.stat(self.state).st_mode), 0o600)

    def test_state_for_other_roots_is_refused(self):
        self.write("tree/a", b"x")
        other = self.dir / "other"
        other.mkdir()
        self.assertEqual(self.dedupe().code, 0)
        result = self.dedupe(root=other)
        self.assertEqual(result.code, 2)
        self.assertIn("other roots", result.errtext)

    def test_state_file_inside_tree_is_never_a_candidate(self):
        self.state = self.tree / "dedupe.state"
        self.write("tree/a", b"x")
        self.dedupe()
        shutil.copy(self.state, self.tree / "copy-of-state")
        rows = self.dedupe().rows()
        self.assertNotIn(str(self.state), [r[3] for r in rows])

    def test_default_state_path_under_xdg_state_home(self):
        self.write("tree/a", b"x")
        env = {**os.environ, "XDG_STATE_HOME": str(self.dir / "xdg")}
        proc = subprocess.run([BIN, "dedupe", str(self.tree)], capture_output=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        states = list((self.dir / "xdg" / "opsktl").glob("dedupe-*.state"))
        self.assertEqual(len(states), 1)
        self.assertEqual(stat.S_IMODE(states[0].stat().st_mode), 0o600)

    def test_min_size_and_exclude(self):
        self.write("tree/a", b"tiny")
        self.write("tree/b", b"tiny")
        self.write("tree/c.bak", b"big enough")
        self.write("tree/d", b"big enough")
        self.write("tree/e", b"big enough")
        found, _ = groups_of(self.dedupe("--min-size", "5", "--exclude", "*.bak").rows())
        self.assertEqual(found, {frozenset({str(self.tree / "d"), str(self.tree / "e")})})

    def test_min_size_takes_1024_based_suffixes(self):
        self.write("tree/small1", b"s" * 1023)
        self.write("tree/small2", b"s" * 1023)
        self.write("tree/edge1", b"e" * 1024)
        self.write("tree/edge2", b"e" * 1024)
        found, _ = groups_of(self.dedupe("--min-size", "1K").rows())
        self.assertEqual(found, {frozenset({str(self.tree / "edge1"), str(self.tree / "edge2")})})
        found, _ = groups_of(self.dedupe("--min-size", "1M").rows())
        self.assertEqual(found, set())
        self.assertEqual(self.dedupe("--min-size", "1X").code, 2)

    def test_null_terminated(self):
        self.write("tree/a", b"x")
        self.write("tree/b", b"x")
        out = self.dedupe("-0").out
        self.assertEqual(out.count(b"\0"), 2)
        self.assertNotIn(b"\n", out)

    def test_bad_option_value(self):
        result = self.dedupe("--link", "copy")
        self.assertEqual(result.code, 2)
        self.assertIn("--link", result.errtext)

    @unittest.skipUnless(SETPRIV, "needs setpriv")
    def test_unreadable_file_is_named_and_exit_1(self):
        # Root reads a mode-000 file anyway: run opsktl as nobody instead.
        if os.geteuid() != 0:
            self.skipTest("needs root to switch to nobody")
        self.write("tree/a", b"secret")
        self.write("tree/b", b"secret")
        locked = self.write("tree/c", b"secret")
        os.chmod(locked, 0)
        for p in [self.dir, self.tree]:
            os.chmod(p, 0o755)
        for p in ("a", "b"):
            os.chmod(self.tree / p, 0o644)
        self.state.parent.mkdir()
        os.chmod(self.state.parent, 0o777)
        proc = subprocess.run([SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "dedupe",
                               "--state", str(self.state), str(self.tree)], capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(b"tree/c", proc.stderr)
        rows = [line.split(b"\t") for line in proc.stdout.split(b"\n") if line]
        self.assertEqual({os.fsdecode(r[3]) for r in rows}, {str(self.tree / "a"), str(self.tree / "b")})

    # The state file is untrusted input (dedupe runs as root from cron).

    def assert_refused_unchanged(self, path, message):
        before = (Path(path).read_bytes(), stat.S_IMODE(os.stat(path).st_mode), os.stat(path).st_uid)
        result = self.run_opsktl("dedupe", "--format", "tsv", "--state", path, self.tree)
        self.assertEqual(result.code, 2, result.errtext)
        self.assertEqual(result.errtext, f"opsktl: dedupe: {path}: {message}\n")
        self.assertEqual((Path(path).read_bytes(), stat.S_IMODE(os.stat(path).st_mode), os.stat(path).st_uid),
                         before)

    def test_state_option_never_damages_a_file_that_is_not_a_state_file(self):
        self.write("tree/a", b"x")
        notes = self.write("notes", b"no newline here")
        os.chmod(notes, 0o644)
        self.assert_refused_unchanged(
            notes, "not a dedupe state file (no complete line); left unchanged "
                   "(a new state file is made only where no file exists)")
        lines = self.write("lines", b"line one\nline two\nlast")
        os.chmod(lines, 0o644)
        self.assert_refused_unchanged(lines, "not a dedupe state file (first line: not a JSON object); left unchanged")
        empty = self.write("empty", b"")
        self.assert_refused_unchanged(
            empty, "empty file, not a dedupe state file; left unchanged "
                   "(a new state file is made only where no file exists)")

    def test_state_file_of_another_user_or_writable_by_others_is_refused(self):
        self.write("tree/a", b"x")
        self.assertEqual(self.dedupe().code, 0)
        os.chmod(self.state, 0o660)
        self.assert_refused_unchanged(
            str(self.state), "state file is writable by group or others (mode 0660); refusing to use it "
                             "(chmod go-w it if it is yours)")
        os.chmod(self.state, 0o600)
        if os.geteuid() != 0:
            self.skipTest("chown to another user needs root")
        os.chown(self.state, 4242, 4242)
        self.assert_refused_unchanged(
            str(self.state), "state file is owned by uid 4242, not by the running user (uid 0); refusing to use it")

    def test_damaged_state_records_are_skipped_with_a_warning_and_rehashed(self):
        self.write("tree/a", b"same")
        self.write("tree/b", b"same")
        first = json.loads(self.run_opsktl("dedupe", "--format", "json", "--state", self.state, self.tree).out)
        lines = self.state.read_bytes().split(b"\n")
        self.assertEqual(len(lines), 4)  # header, two hashes, ""
        # A non-hex hash, a 21-digit inode, a bad escape in an intent.
        lines[1] = lines[1].replace(b'"edge":"', b'"edge":"zz')[:-1].replace(b'"full":"', b'"full":"x') + b"}"
        lines[2] = re.sub(rb'"ino":\d+', b'"ino":123456789012345678901', lines[2])
        lines[3] = (b'{"t":"i","n":1,"root":"/r%ZZ","dir":"","tmp":".opsktl-dedupe.1.a.0.tmp",'
                    b'"kind":"hardlink","tdev":1,"tino":2}')
        self.state.write_bytes(b"\n".join(lines) + b"\n")
        result = self.run_opsktl("dedupe", "--format", "json", "--state", self.state, self.tree)
        self.assertEqual(result.code, 0, result.errtext)
        second = json.loads(result.out)
        self.assertEqual(second["groups"], first["groups"])
        self.assertEqual(second["summary"]["hashes_reused"], 0)
        self.assertEqual(second["summary"]["bytes_hashed"], first["summary"]["bytes_hashed"])
        self.assertEqual(result.errtext, "".join(
            f"opsktl: dedupe: {self.state}:{n}: damaged record skipped ({why})\n" for n, why in (
                (2, "edge is not 16 lowercase hex digits"), (3, "number out of range: ino"),
                (4, "bad escape in root"))))

    def append_state(self, *records):
        with open(self.state, "ab") as f:
            for r in records:
                f.write(json.dumps(r, separators=(",", ":")).encode() + b"\n")

    @staticmethod
    def intent(n, root, directory, tmp, path):
        st = os.lstat(path)
        return {"t": "i", "n": n, "root": str(root), "dir": directory, "tmp": tmp, "kind": "hardlink",
                "tdev": st.st_dev, "tino": st.st_ino}

    def test_journal_intents_cannot_delete_anything(self):
        self.write("tree/a", b"same")
        self.write("tree/b", b"same")
        victim = self.write("outside/victim", b"precious")
        ours = ".opsktl-dedupe.5.a.0.tmp"
        outside_tmp = self.dir / "outside" / ours
        os.link(victim, outside_tmp)  # our kind of name, and not the only name of its file
        important = self.write("tree/important", b"keep me")
        lookalike = self.write("tree/.opsktl-dedupe.1.a.0.tmp", b"a user's file with our kind of name")
        self.assertEqual(self.dedupe().code, 1)  # the look-alike is named
        first = len(self.state.read_bytes().split(b"\n"))  # the line number of the first intent
        self.append_state(
            self.intent(101, self.dir / "outside", "", ours, outside_tmp),     # another root
            self.intent(102, self.tree, "../outside", ours, outside_tmp),      # up and out
            self.intent(103, self.tree, "", "important", important),           # not our name
            self.intent(104, self.tree, "", "../outside/victim", victim),      # a path
            self.intent(105, self.tree, "", ".opsktl-dedupe.1.a.0.tmp", lookalike))  # its only name
        before = {p: Path(p).read_bytes() for p in (victim, outside_tmp, important, lookalike)}
        result = self.dedupe("--apply")
        self.assertEqual({p: Path(p).read_bytes() for p in before}, before, result.errtext)
        self.assertEqual(Path(self.tree / "a").stat().st_ino, Path(self.tree / "b").stat().st_ino)
        # The look-alike is never a candidate and, not being accounted for, is a problem.
        self.assertEqual(result.code, 1, result.errtext)
        err = result.errtext
        for n, where, why in ((first, f"{outside_tmp}", "not inside this run's roots"),
                              (first + 1, f"{self.tree}/../outside/{ours}", "directory is not a plain relative path"),
                              (first + 2, f"{self.tree}/important", "not a temporary name of dedupe"),
                              (first + 3, f"{self.tree}/../outside/victim", "not a temporary name of dedupe")):
            self.assertIn(f"{self.state}:{n}: intent ignored, nothing removed: {where}: {why}\n", err)
        self.assertIn(f"{lookalike}: temporary name of an interrupted run not removed: "
                      "it is the only name of its file\n", err)
        self.assertIn(f"{lookalike}: temporary name of an interrupted dedupe run that the state file does not "
                      "account for: not removed; check it and remove it by hand\n", err)

    def test_leftover_temp_names_are_never_candidates(self):
        self.write("tree/a", b"same")
        self.write("tree/b", b"same")
        stray = self.write("tree/.opsktl-dedupe.9.a.0.tmp", b"same")  # sorts first: would be kept
        odd = self.write("tree/.opsktl-dedupe.not-ours.tmp", b"same")  # the glob's form, not the exact one
        result = self.dedupe()
        self.assertEqual(result.code, 1, result.errtext)
        found, _ = groups_of(result.rows())
        self.assertEqual(found, {frozenset({str(self.tree / "a"), str(self.tree / "b")})})
        self.assertIn(f"{odd}: temporary name of an interrupted dedupe run", result.errtext)
        self.assertIn(f"{stray}: temporary name of an interrupted dedupe run that the state file does not account "
                      "for: not removed", result.errtext)
        result = self.dedupe("--apply")
        self.assertEqual(result.code, 1, result.errtext)
        self.assertEqual(Path(stray).read_bytes(), b"same")
        self.assertEqual(os.stat(stray).st_nlink, 1)
        self.assertEqual(os.stat(self.tree / "a").st_nlink, 2)

    def test_leftover_with_its_intent_is_named_by_a_dry_run_and_removed_by_apply(self):
        self.write("tree/a", b"same")
        self.write("tree/b", b"same")
        self.assertEqual(self.dedupe().code, 0)
        # What a run killed between link and rename leaves: the intent, and a second name of a.
        tmp = self.tree / ".opsktl-dedupe.9.a.1.tmp"
        os.link(self.tree / "a", tmp)
        self.append_state(self.intent(1, self.tree, "", tmp.name, tmp))
        result = self.dedupe()
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual([r[3] for r in result.rows()], [str(self.tree / "a"), str(self.tree / "b")])
        self.assertIn(f"{tmp}: temporary name left by an interrupted run; the next --apply removes it\n",
                      result.errtext)
        result = self.dedupe("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        self.assertFalse(os.path.lexists(tmp))
        self.assertEqual(os.stat(self.tree / "a").st_ino, os.stat(self.tree / "b").st_ino)

    def test_state_file_stays_small_on_a_changing_tree(self):
        # Ten pairs; every run rewrites two files (same size, new bytes): without compaction
        # the file gains two hash records a run for ever.
        for i in range(10):
            self.write(f"tree/p{i}a", b"%08d" % i)
            self.write(f"tree/p{i}b", b"%08d" % i)
        sizes = []
        for run in range(30):
            for k in (2 * run % 10, (2 * run + 1) % 10):
                self.write(f"tree/p{k}b", b"%08d" % (run * 100 + k))
            result = self.dedupe()
            self.assertEqual(result.code, 0, result.errtext)
            sizes.append(len(self.state.read_bytes().split(b"\n")) - 2)  # records after the header
        # 20 live hashes; compacted when more than half are dead, plus one run's appends.
        self.assertLessEqual(max(sizes), 2 * 20 + 2, sizes)
        self.assertEqual(stat.S_IMODE(os.stat(self.state).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(self.state.parent)), ["dedupe.state"])

    def test_every_exit_2_has_a_message(self):
        self.write("tree/a", b"x")
        self.assertEqual(self.dedupe().code, 0)
        good = self.state.read_bytes()
        header_end = good.index(b"\n") + 1
        for damage in (b'{"t":"roots","v":1,"roots":["/r%ZZ"]}\n',
                       b'{"t":"roots","v":1,"roots":["' + b"a" * 100 + b'"]',
                       b'{"t":"h","dev":1,"ino":2,"size":3,"mtime":4,"ctime":5,"edge":"zz"}\n',
                       good[:header_end] + b'{"t":"h","dev":1,"ino":2,"size":3,"mtime":4,"ctime":5,"edge":"zz"}\n'):
            with self.subTest(damage=damage):
                self.state.write_bytes(damage)
                result = self.dedupe()
                self.assertIn(result.code, (0, 2))
                self.assertNotEqual(result.errtext, "")
                if result.code == 2:
                    self.assertEqual(result.errtext.count("\n"), 1, result.errtext)
                    self.assertTrue(result.errtext.startswith(f"opsktl: dedupe: {self.state}: "), result.errtext)
        # A relative root while the working directory is gone: std::filesystem throws.
        gone = self.dir / "gone"
        gone.mkdir()
        proc = subprocess.run(["sh", "-c", 'cd "$1" && rmdir "$1" && exec "$2" dedupe --state "$3" x', "sh",
                               str(gone), BIN, str(self.state)], capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr.count(b"\n"), 1, proc.stderr)
        self.assertTrue(proc.stderr.startswith(b"opsktl: dedupe: "), proc.stderr)


def deep_dir(base, total_len):
    """Makes directories under `base` until the path is longer than total_len bytes (past
    PATH_MAX); returns the relative components. Built with dir_fd, as no full path works."""
    parts = []
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    length = len(os.fsencode(base))
    try:
        while length <= total_len:
            name = "d" * 200
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            parts.append(name)
            length += len(name) + 1
    finally:
        os.close(fd)
    return parts


def open_deep(base, parts):
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for name in parts:
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


class DedupePathsTest(CliTestCase):
    """Paths are resolved, not spelled; odd trees get a word, not silence."""

    def setUp(self):
        super().setUp()
        self.tree = self.dir / "tree"
        self.tree.mkdir()
        self.state = self.dir / "state" / "dedupe.state"

    def dedupe(self, *args, root=None):
        return self.run_opsktl("dedupe", "--format", "tsv", "--state", self.state, *args, root or self.tree)

    def test_root_through_symlink_and_dotdot_links_to_the_file_actually_found(self):
        # tree/link/.. is the directory "other", not "tree": lexically it would be tree.
        self.write("other/x", b"payload")
        self.write("other/y", b"payload")
        (self.dir / "other" / "sub").mkdir()
        self.write("tree/x", b"not the payload")  # where a lexical path would point
        os.symlink(self.dir / "other" / "sub", self.tree / "link")
        root = f"{self.tree}/link/.."
        result = self.dedupe("--apply", "--link", "symlink", root=root)
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual([r[2] for r in result.rows()], ["keep", "linked"])
        y = self.dir / "other" / "y"
        self.assertTrue(y.is_symlink())
        self.assertEqual(y.read_bytes(), b"payload")
        self.assertEqual(os.path.realpath(y), os.path.realpath(self.dir / "other" / "x"))
        self.assertEqual((self.tree / "x").read_bytes(), b"not the payload")
        with open(self.state) as f:
            roots = json.loads(f.readline())["roots"]
        self.assertEqual(roots, [os.path.realpath(self.dir / "other")])

    def test_path_longer_than_path_max_is_hashed_and_linked(self):
        parts = deep_dir(str(self.tree), 4096 + 200)
        fd = open_deep(str(self.tree), parts)
        try:
            for name in ("a", "b"):
                with open(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
                    f.write(b"deep payload")
        finally:
            os.close(fd)
        result = self.dedupe()
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual([r[2] for r in result.rows()], ["keep", "dup"])
        result = self.dedupe("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual([r[2] for r in result.rows()], ["keep", "linked"])
        fd = open_deep(str(self.tree), parts)
        try:
            a, b = (os.stat(n, dir_fd=fd, follow_symlinks=False) for n in ("a", "b"))
            self.assertEqual(a.st_ino, b.st_ino)
            with open(os.open("b", os.O_RDONLY, dir_fd=fd), "rb") as f:
                self.assertEqual(f.read(), b"deep payload")
        finally:
            os.close(fd)

    def test_root_that_is_a_symlink_to_a_directory_is_followed(self):
        self.write("tree/a", b"payload")
        self.write("tree/b", b"payload")
        link = self.dir / "tree-link"
        os.symlink(self.tree, link)
        result = self.dedupe(root=link)
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual(sorted(r[3] for r in result.rows()), [f"{link}/a", f"{link}/b"])
        result = self.dedupe("--apply", root=link)
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual(os.lstat(self.tree / "a").st_ino, os.lstat(self.tree / "b").st_ino)

    def test_root_that_is_a_symlink_to_a_file_is_named(self):
        self.write("tree/a", b"payload")
        link = self.dir / "file-link"
        os.symlink(self.tree / "a", link)
        result = self.dedupe(root=link)
        self.assertEqual(result.code, 1)
        self.assertIn("file-link", result.errtext)
        self.assertIn("symlink", result.errtext)

    def test_duplicate_with_a_hard_link_outside_the_roots_frees_nothing(self):
        self.write("tree/a", b"payload")
        self.write("tree/b", b"payload")
        (self.dir / "outside").mkdir()
        os.link(self.tree / "b", self.dir / "outside" / "b")  # keeps b's blocks whatever we link
        self.write("tree/c", b"second group")
        self.write("tree/d1", b"second group")
        os.link(self.tree / "d1", self.tree / "d2")  # both names inside: linking frees d's blocks
        args = ("dedupe", "--format", "json", "--state", self.state, self.tree)
        result = self.run_opsktl(*args)
        self.assertEqual(result.code, 0, result.errtext)
        doc = json.loads(result.out)
        actions = {r["path"]: r["action"] for r in doc["groups"]}
        self.assertEqual(actions[str(self.tree / "b")], "dup")
        self.assertEqual(doc["summary"]["held_outside"], 1)
        self.assertEqual(doc["summary"]["reclaimable_bytes"], len(b"second group"))
        result = self.run_opsktl("dedupe", "--state", self.state, self.tree)
        self.assertIn("held by hard links outside the roots", result.errtext)
        doc = json.loads(self.run_opsktl(args[0], "--apply", *args[1:]).out)
        self.assertEqual(doc["summary"]["linked"], 3)
        self.assertEqual(doc["summary"]["reclaimed_bytes"], len(b"second group"))
        self.assertEqual((self.dir / "outside" / "b").read_bytes(), b"payload")

    def test_hard_link_across_a_bind_mount_is_skipped_for_device_and_other_names_tried(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to bind-mount")
        self.write("tree/a", b"payload")
        self.write("other/b", b"payload")
        os.link(self.dir / "other" / "b", self.tree / "z")  # a second name of the duplicate
        (self.tree / "m").mkdir()
        mounted = subprocess.run(["mount", "--bind", str(self.dir / "other"), str(self.tree / "m")],
                                 capture_output=True)
        if mounted.returncode != 0:
            self.skipTest(f"cannot bind-mount here: {mounted.stderr!r}")
        try:
            result = self.run_opsktl("dedupe", "--apply", "--format", "json", "--state", self.state,
                                     self.tree)
            self.assertEqual(result.code, 0, result.errtext)
            doc = json.loads(result.out)
            actions = {r["path"]: r["action"] for r in doc["groups"]}
            self.assertEqual(actions, {str(self.tree / "a"): "keep", str(self.tree / "m" / "b"): "skipped",
                                       str(self.tree / "z"): "linked"})
            self.assertEqual(doc["summary"]["skipped_reasons"], {"device": 1})
            self.assertEqual(doc["summary"]["problems"], 0)
            self.assertEqual(os.lstat(self.tree / "z").st_ino, os.lstat(self.tree / "a").st_ino)
            self.assertEqual((self.tree / "m" / "b").read_bytes(), b"payload")
        finally:
            subprocess.run(["umount", str(self.tree / "m")], check=True)


def acl_xattr(entries):
    """The system.posix_acl_access value (Linux xattr format, version 2) of (tag, perm, id)
    entries; tags: 1 user_obj, 2 user, 4 group_obj, 8 group, 0x10 mask, 0x20 other."""
    out = struct.pack("<I", 2)
    for tag, perm, ident in entries:
        out += struct.pack("<HHI", tag, perm, ident)
    return out


NO_ID = 0xFFFFFFFF


class DedupeMetadataTest(CliTestCase):
    """The ACL and user.* extended attributes are metadata, like owner and mode."""

    def setUp(self):
        super().setUp()
        self.tree = self.dir / "tree"
        self.tree.mkdir()
        self.state = self.dir / "state" / "dedupe.state"

    def run_json(self, *args):
        result = self.run_opsktl("dedupe", "--format", "json", "--state", self.state, *args, self.tree)
        return result, json.loads(result.out)

    def test_kept_file_with_an_acl_granting_write_is_not_linked_to_one_without(self):
        a = self.write("tree/a", b"payload")
        b = self.write("tree/b", b"payload")
        # a: user_obj rw, user nobody rw, group_obj r, mask rw, other r.
        try:
            os.setxattr(a, "system.posix_acl_access",
                        acl_xattr([(1, 6, NO_ID), (2, 6, 65534), (4, 4, NO_ID), (0x10, 6, NO_ID),
                                   (0x20, 4, NO_ID)]))
        except OSError as e:
            self.skipTest(f"no POSIX ACLs here: {e}")
        os.chmod(b, stat.S_IMODE(os.stat(a).st_mode))  # same mode bits: only the ACL differs
        os.chown(b, os.stat(a).st_uid, os.stat(a).st_gid)
        result, doc = self.run_json("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual([r["action"] for r in doc["groups"]], ["keep", "skipped"])
        self.assertEqual(doc["summary"]["skipped_reasons"], {"metadata": 1})
        self.assertEqual(doc["summary"]["reclaimable_bytes"], 0)
        self.assertNotEqual(os.lstat(a).st_ino, os.lstat(b).st_ino)
        with self.assertRaises(OSError):
            os.getxattr(b, "system.posix_acl_access")  # b still grants nobody nothing
        result, doc = self.run_json("--apply", "--ignore-metadata")
        self.assertEqual([r["action"] for r in doc["groups"]], ["keep", "linked"])

    def test_duplicate_with_user_xattrs_is_not_linked_to_one_without(self):
        a = self.write("tree/a", b"payload")
        b = self.write("tree/b", b"payload")
        c = self.write("tree/c", b"payload")
        try:
            os.setxattr(b, "user.origin", b"backup-2024")
        except OSError as e:
            self.skipTest(f"no user xattrs here: {e}")
        result, doc = self.run_json()
        self.assertEqual(result.code, 0, result.errtext)
        actions = {r["path"]: r["action"] for r in doc["groups"]}
        self.assertEqual(actions, {a: "keep", b: "skipped", c: "dup"})
        self.assertEqual(doc["summary"]["skipped_reasons"], {"metadata": 1})
        result, doc = self.run_json("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual(os.getxattr(b, "user.origin"), b"backup-2024")
        self.assertNotEqual(os.lstat(a).st_ino, os.lstat(b).st_ino)
        self.assertEqual(os.lstat(a).st_ino, os.lstat(c).st_ino)
        # Equal attributes are no obstacle.
        os.setxattr(a, "user.origin", b"backup-2024")
        result, doc = self.run_json("--apply")
        self.assertEqual(result.code, 0, result.errtext)
        self.assertEqual(os.lstat(a).st_ino, os.lstat(b).st_ino)


MKFS_XFS = shutil.which("mkfs.xfs")


class DedupeReflinkTest(CliTestCase):
    """End to end on a loop-mounted xfs (needs root, mkfs.xfs and loop devices; skipped
    otherwise): a clone made by an earlier run is recognised by its shared extents."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or not MKFS_XFS:
            self.skipTest("needs root and mkfs.xfs (xfsprogs) for a reflink-capable file system")
        image = self.dir / "xfs.img"
        with open(image, "wb") as f:
            f.truncate(320 << 20)  # sparse; xfs wants at least 300 MiB
        made = subprocess.run([MKFS_XFS, "-q", "-f", str(image)], capture_output=True)
        self.mnt = self.dir / "mnt"
        self.mnt.mkdir()
        mounted = made.returncode == 0 and subprocess.run(
            ["mount", "-o", "loop", str(image), str(self.mnt)], capture_output=True).returncode == 0
        if not mounted:
            self.skipTest("cannot loop-mount an xfs image here")
        self.addCleanup(subprocess.run, ["umount", str(self.mnt)], check=True)
        self.state = self.dir / "dedupe.state"

    def run_json(self, *args):
        result = self.run_opsktl("dedupe", "--format", "json", "--state", self.state, *args, self.mnt)
        self.assertEqual(result.code, 0, result.errtext)
        return json.loads(result.out)

    def test_second_run_reports_clones_as_already_shared(self):
        data = os.urandom(256 << 10)
        for name in ("a", "b", "c"):
            (self.mnt / name).write_bytes(data)
        doc = self.run_json("--apply", "--link", "reflink")
        self.assertEqual([r["action"] for r in doc["groups"]], ["keep", "linked", "linked"])
        self.assertEqual(doc["summary"]["reclaimable_bytes"], 2 * len(data))
        subprocess.run(["sync"], check=True)
        doc = self.run_json()
        self.assertEqual([r["action"] for r in doc["groups"]], ["keep", "shared", "shared"])
        self.assertEqual(doc["summary"]["reclaimable_bytes"], 0)
        self.assertEqual(doc["summary"]["already_shared"], 2)
        doc = self.run_json("--apply", "--link", "reflink")
        self.assertEqual(doc["summary"]["linked"], 0)
        for name in ("a", "b", "c"):
            self.assertEqual((self.mnt / name).read_bytes(), data)
        # A copy with equal bytes but its own extents is a duplicate as before.
        (self.mnt / "d").write_bytes(data)
        subprocess.run(["sync"], check=True)
        doc = self.run_json()
        actions = {r["path"]: r["action"] for r in doc["groups"]}
        self.assertEqual(actions[str(self.mnt / "d")], "dup")
        self.assertEqual(doc["summary"]["reclaimable_bytes"], len(data))


if __name__ == "__main__":
    unittest.main()
