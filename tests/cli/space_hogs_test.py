"""End-to-end tests of opsktl space-hogs: directory totals against GNU du (the independent
truth), the hard-link rule against a small Python reference, and the output contract."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from clitest import CliTestCase, main

SEED_FILES = {  # relative path -> bytes
    b"a/one.bin": 100_000,
    b"a/b/two.bin": 5_000,
    b"a/b/c/three.bin": 70_000,
    b"a/b/c/tiny": 1,
    b"a/empty": 0,
    b"d/log.1": 12_345,
    b"d/log.2": 8_192,
    b"new\nline/file": 3,
    b"bad\xff\xfename/x\x80y": 4_097,
    b"top.dat": 33_000,
}


def build_tree(root):
    """A tree with hard links (within and across directories), a sparse file, symlinks
    (to a file, to a directory, dangling, a loop), empty directories, a FIFO and names
    with a newline and invalid UTF-8. Returns root as bytes."""
    root = os.fsencode(root)
    for rel, size in SEED_FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(bytes((i * 7 + size) % 251 for i in range(size)))
    os.makedirs(os.path.join(root, b"empty1/empty2"))
    os.makedirs(os.path.join(root, b"links"))
    os.link(os.path.join(root, b"a/one.bin"), os.path.join(root, b"links/one-again"))   # across dirs
    os.link(os.path.join(root, b"a/one.bin"), os.path.join(root, b"d/one-third"))       # three names
    os.link(os.path.join(root, b"d/log.1"), os.path.join(root, b"d/log.1.hard"))       # same dir
    with open(os.path.join(root, b"sparse"), "wb") as f:
        f.truncate(50 * 1024 * 1024)
        f.seek(1024 * 1024)
        f.write(b"x" * 10_000)
    os.symlink(b"../a/one.bin", os.path.join(root, b"links/to-file"))
    os.symlink(b"../a", os.path.join(root, b"links/to-dir"))
    os.symlink(b"nowhere", os.path.join(root, b"links/dangling"))
    os.symlink(b"loop_b", os.path.join(root, b"links/loop_a"))
    os.symlink(b"loop_a", os.path.join(root, b"links/loop_b"))
    os.symlink(b"..", os.path.join(root, b"links/cycle_up"))
    os.mkfifo(os.path.join(root, b"d/fifo"))
    return root


def entry_size(st, apparent):
    return st.st_size if apparent else st.st_blocks * 512


def reference(root, apparent, count_links):
    """Python reference of SPEC §6: (dir totals, regular files) keyed by byte paths; a
    multi-link file counts once, at its first path in byte order."""
    entries = []  # (path, lstat)

    def walk(path):
        st = os.lstat(path)
        entries.append((path, st))
        if stat.S_ISDIR(st.st_mode):
            for name in os.listdir(path):
                walk(os.path.join(path, name))

    walk(root)
    first = {}
    for path, st in sorted(entries):
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first.setdefault((st.st_dev, st.st_ino), path)
    dirs, files = {}, {}
    for path, st in entries:
        if not count_links and not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1 \
                and first[(st.st_dev, st.st_ino)] != path:
            continue
        size = entry_size(st, apparent)
        if stat.S_ISREG(st.st_mode):
            files[path] = size
        if stat.S_ISDIR(st.st_mode):
            dirs.setdefault(path, 0)
        p = path if stat.S_ISDIR(st.st_mode) else os.path.dirname(path)
        while True:
            dirs[p] = dirs.get(p, 0) + size
            if p == root:
                break
            p = os.path.dirname(p)
    return dirs, files


def parse_null(out):
    """-0 tsv output: {(kind, path): bytes}."""
    rows = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        kind, size, path = record.split(b"\t", 2)
        rows[(kind, path)] = int(size)
    return rows


def du_dirs(*args, cwd):
    proc = subprocess.run(["du", "-0", *args], capture_output=True, cwd=cwd)
    totals = {}
    for record in proc.stdout.split(b"\0"):
        if record:
            size, path = record.split(b"\t", 1)
            totals[path] = int(size)
    return proc.returncode, totals


def dirs_of(rows):
    return {path: size for (kind, path), size in rows.items() if kind == b"dir"}


class SpaceHogsTest(CliTestCase):
    def space_hogs(self, *args, **kw):
        return self.run_opsktl("space-hogs", *args, **kw)

    def test_dir_totals_equal_du_apparent_count_links(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "--dirs-only", "--apparent-size", "--count-links", "-0", "t")
        self.assertEqual(r.code, 0, r.errtext)
        _, du = du_dirs("-B1", "--apparent-size", "-l", "t", cwd=self.dir)
        self.assertEqual(dirs_of(parse_null(r.out)), du)

    def test_dir_totals_equal_du_disk_usage_count_links(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "--dirs-only", "--count-links", "-0", "t")
        self.assertEqual(r.code, 0, r.errtext)
        _, du = du_dirs("-B1", "-l", "t", cwd=self.dir)
        self.assertEqual(dirs_of(parse_null(r.out)), du)

    def test_hard_links_counted_once_at_first_path_in_byte_order(self):
        root = build_tree(self.dir / "t")
        for apparent in (False, True):
            args = ["-k", "0", "-0", "t"] + (["--apparent-size"] if apparent else [])
            r = self.space_hogs(*args)
            self.assertEqual(r.code, 0, r.errtext)
            got = parse_null(r.out)
            os.chdir(self.dir)
            ref_dirs, ref_files = reference(b"t", apparent, count_links=False)
            self.assertEqual(dirs_of(got), ref_dirs)
            self.assertEqual({p: s for (k, p), s in got.items() if k == b"file"}, ref_files)
            # du counts each inode once too, at whichever name it meets first: equal on
            # every directory whose total does not depend on that order.
            du_args = ["-B1"] + (["--apparent-size"] if apparent else [])
            _, du = du_dirs(*du_args, "t", cwd=self.dir)
            self.assertEqual(du[b"t"], ref_dirs[b"t"])
            for d in (b"t/a/b", b"t/a/b/c", b"t/empty1", b"t/d", b"t/new\nline"):
                self.assertEqual(du[d], ref_dirs[d], d)
        self.assertTrue(os.path.exists(os.path.join(root, b"links/one-again")))

    def test_one_link_name_listed_under_first_path(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "--files-only", "--apparent-size", "-0", "t")
        files = [p for (k, p) in parse_null(r.out)]
        self.assertIn(b"t/a/one.bin", files)
        self.assertNotIn(b"t/links/one-again", files)
        self.assertNotIn(b"t/d/one-third", files)
        r = self.space_hogs("-k", "0", "--files-only", "--apparent-size", "--count-links", "-0", "t")
        files = [p for (k, p) in parse_null(r.out)]
        self.assertIn(b"t/links/one-again", files)
        self.assertIn(b"t/d/one-third", files)

    def test_files_are_regular_only_sorted_by_bytes_then_path(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "--files-only", "--apparent-size", "--count-links", "-0", "t")
        records = [rec.split(b"\t", 2) for rec in r.out.split(b"\0") if rec]
        os.chdir(self.dir)
        _, ref_files = reference(b"t", True, count_links=True)
        expected = sorted(ref_files.items(), key=lambda kv: (-kv[1], kv[0]))
        self.assertEqual([(p, int(s)) for _, s, p in records], expected)
        self.assertTrue(all(k == b"file" for k, _, _ in records))

    def test_threads_1_and_8_give_identical_output(self):
        build_tree(self.dir / "t")
        for extra in ([], ["--count-links"], ["--apparent-size"]):
            one = self.space_hogs("-k", "0", "--threads", "1", "-0", *extra, "t")
            eight = self.space_hogs("-k", "0", "--threads", "8", "-0", *extra, "t")
            self.assertEqual(one.code, 0)
            self.assertEqual(one.out, eight.out)

    def test_top_k_keeps_the_largest_files_and_dirs(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "2", "--apparent-size", "--count-links", "t")
        os.chdir(self.dir)
        ref_dirs, ref_files = reference(b"t", True, count_links=True)
        top_dirs = sorted(ref_dirs.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        top_files = sorted(ref_files.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        self.assertEqual(top_files[1], (b"t/a/one.bin", 100000))  # ties with t/d/one-third: path order
        self.assertEqual(r.rows(), [["file", str(size), path.decode()] for path, size in top_files] +
                         [["dir", str(size), path.decode()] for path, size in top_dirs])

    def test_exclude_matches_base_names_like_du(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "-0", "--count-links", "--exclude", "*.bin", "--exclude", "c", "t")
        got = parse_null(r.out)
        _, du = du_dirs("-B1", "-l", "--exclude=*.bin", "--exclude=c", "t", cwd=self.dir)
        self.assertEqual(dirs_of(got), du)
        self.assertFalse(any(p.endswith(b".bin") for (k, p) in got))
        self.assertNotIn((b"dir", b"t/a/b/c"), got)

    def test_deep_tree_of_10000_levels(self):
        depth = 10_000
        # tmpfs when there is one: removing 10,000 directories on a disk mounted with
        # `discard` takes half a minute.
        shm = "/dev/shm"
        base = tempfile.mkdtemp(prefix="opsktl-deep-", dir=shm if os.access(shm, os.W_OK) else self.dir)
        fd = os.open(base, os.O_DIRECTORY)
        os.mkdir("deep", dir_fd=fd)
        for _ in range(depth):
            nfd = os.open("deep" if _ == 0 else "d", os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            os.mkdir("d", dir_fd=fd)
        wfd = os.open("big", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.write(wfd, b"z" * 123_456)
        os.close(wfd)
        os.close(fd)
        try:
            r = self.space_hogs("-k", "1", "--apparent-size", "deep", timeout=300, cwd=base)
            self.assertEqual(r.code, 0, r.errtext[:500])
            rows = r.rows()
            self.assertEqual(rows[0][:2], ["file", "123456"])
            self.assertEqual(rows[0][2], "deep/" + "d/" * (depth - 1) + "big")
            _, du = du_dirs("-B1", "--apparent-size", "-s", "deep", cwd=base)
            self.assertEqual(rows[1], ["dir", str(du[b"deep"]), "deep"])
        finally:
            subprocess.run(["rm", "-rf", base])

    @unittest.skipUnless(os.geteuid() != 0 or shutil.which("setpriv"),
                         "running as root without setpriv: cannot make a directory unreadable")
    def test_unreadable_directory_is_warned_and_rest_printed_exit_1(self):
        build_tree(self.dir / "t")
        os.makedirs(self.dir / "t/locked/inner")
        (self.dir / "t/locked/inner/secret").write_bytes(b"s" * 50_000)
        os.chmod(self.dir / "t/locked", 0)
        prefix = []
        if os.geteuid() == 0:
            # root reads any directory: run as nobody, who may read everything but t/locked.
            for p in [self.dir] + [q for q in (self.dir / "t").rglob("*") if q.is_dir() and not q.is_symlink()
                                   and "locked" not in q.parts]:
                os.chmod(p, 0o755)
            os.chmod(self.dir.parent, os.stat(self.dir.parent).st_mode | 0o005)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        try:
            proc = subprocess.run(prefix + [os.environ["OPSKTL_BIN"], "space-hogs", "-k", "0", "-0",
                                            "--apparent-size", "--count-links", "--dirs-only", "t"],
                                  capture_output=True, cwd=self.dir)
            du = subprocess.run(prefix + ["du", "-0", "-B1", "--apparent-size", "-l", "t"],
                                capture_output=True, cwd=self.dir)
        finally:
            os.chmod(self.dir / "t/locked", 0o755)
        self.assertEqual(du.returncode, 1, "du could read t/locked: the test did not lock it")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(b"opsktl: space-hogs: t/locked: cannot read directory: Permission denied", proc.stderr)
        du_totals = {}
        for record in du.stdout.split(b"\0"):
            if record:
                size, path = record.split(b"\t", 1)
                du_totals[path] = int(size)
        self.assertEqual(dirs_of(parse_null(proc.stdout)), du_totals)

    def test_missing_root_is_named_exit_1(self):
        os.makedirs(self.dir / "t/x")
        r = self.space_hogs("t", "nope")
        self.assertEqual(r.code, 1)
        self.assertIn("opsktl: space-hogs: nope: cannot access: No such file or directory", r.errtext)
        self.assertEqual([row[0] for row in r.rows()], ["dir", "dir"])

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.space_hogs("--top", "many").code, 2)
        self.assertEqual(self.space_hogs("--files-only", "--dirs-only").code, 2)
        r = self.space_hogs("--shrunk")
        self.assertEqual(r.code, 2)
        self.assertIn("--shrunk: only with --compare SCAN", r.errtext)
        self.write("not-a-scan", "hello\n")
        r = self.space_hogs("--compare", "not-a-scan")
        self.assertEqual(r.code, 2)
        self.assertIn("not-a-scan: not a space-hogs scan", r.errtext)

    def test_json_has_files_dirs_summary_and_b64_for_invalid_utf8(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "0", "--format", "json", "--apparent-size", "t")
        doc = json.loads(r.out)
        self.assertEqual(list(doc), ["files", "dirs", "summary"])
        bad = [f for f in doc["files"] if "path_b64" in f]
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0]["path"], "t/bad\\xFF\\xFEname/x\\x80y")
        import base64
        self.assertEqual(base64.b64decode(bad[0]["path_b64"]), b"t/bad\xff\xfename/x\x80y")
        self.assertEqual(set(doc["dirs"][0]), {"kind", "bytes", "path"})
        s = doc["summary"]
        self.assertEqual(s["unreadable"], 0)
        # regular files, each name (hard links included); directories with the root
        self.assertEqual(s["files"], len(SEED_FILES) + 1 + 3)
        self.assertEqual(s["dirs"], 10)
        os.chdir(self.dir)
        self.assertEqual(s["bytes"], reference(b"t", True, False)[0][b"t"])

    def test_table_shows_human_sizes(self):
        build_tree(self.dir / "t")
        r = self.space_hogs("-k", "1", "--format", "table", "--apparent-size", "t")
        self.assertEqual(r.code, 0)
        self.assertIn("50.0 MiB", r.text)
        self.assertIn("KIND", r.text)

    def test_pipe_to_head_ends_quietly(self):
        build_tree(self.dir / "t")
        code, err = self.run_pipe_head(["space-hogs", "-k", "0", "t"], lines=1)
        self.assertEqual(code, 0)
        self.assertEqual(err, b"")

    def test_compare_ranks_growth_and_shrunk_lists_vanished(self):
        t = self.dir / "t"
        for d in ("keep", "grow", "gone/sub", "static"):
            os.makedirs(t / d)
        (t / "grow/f").write_bytes(b"g" * 1000)
        (t / "gone/sub/f").write_bytes(b"x" * 7000)
        (t / "static/f").write_bytes(b"s" * 10)
        r = self.space_hogs("--save", "scan.gz", "--apparent-size", "t")
        self.assertEqual(r.code, 0, r.errtext)
        _, before = du_dirs("-B1", "--apparent-size", "t", cwd=self.dir)
        with open(self.dir / "scan.gz", "rb") as f:
            self.assertEqual(f.read(2), b"\x1f\x8b")

        with open(t / "grow/f", "ab") as f:
            f.write(b"g" * 5000)
        (t / "keep/added").write_bytes(b"a" * 300)
        os.makedirs(t / "fresh")
        (t / "fresh/new").write_bytes(b"n" * 20000)
        shutil.rmtree(t / "gone")
        _, after = du_dirs("-B1", "--apparent-size", "t", cwd=self.dir)

        deltas = {p: after[p] - before.get(p, 0) for p in after}
        for p in before:
            if p not in after:
                deltas[p] = -before[p]
        grew = sorted(((d, p) for p, d in deltas.items() if d > 0), key=lambda x: (-x[0], x[1]))
        shrank = sorted(((d, p) for p, d in deltas.items() if d < 0), key=lambda x: (x[0], x[1]))

        r = self.space_hogs("--compare", "scan.gz", "--apparent-size", "-k", "0", "t")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [["dir", str(d), str(after[p]), p.decode()] for d, p in grew])
        r = self.space_hogs("--compare", "scan.gz", "--shrunk", "--apparent-size", "-k", "0", "t")
        self.assertEqual(r.rows(), [["dir", str(d), str(after.get(p, 0)), p.decode()] for d, p in shrank])
        self.assertIn(["dir", str(-before[b"t/gone/sub"]), "0", "t/gone/sub"], r.rows())

    def test_compare_refuses_a_scan_of_another_size_mode(self):
        os.makedirs(self.dir / "t")
        self.assertEqual(self.space_hogs("--save", "s.gz", "t").code, 0)
        r = self.space_hogs("--compare", "s.gz", "--apparent-size", "t")
        self.assertEqual(r.code, 2)
        self.assertIn("s.gz: the scan was saved with disk usage", r.errtext)

    def test_save_keeps_names_with_invalid_utf8(self):
        build_tree(self.dir / "t")
        self.assertEqual(self.space_hogs("--save", "s.gz", "t").code, 0)
        r = self.space_hogs("--compare", "s.gz", "-k", "0", "t")
        self.assertEqual((r.code, r.rows()), (0, []))  # nothing grew: every directory matched


if __name__ == "__main__":
    main()
