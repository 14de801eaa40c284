"""End-to-end tests of the progress line (SPEC §1, docs/decisions.md "Progress line") for
space-hogs, dedupe and merge: drawn on a terminal's stderr during long work (first after
about a second, at most ten times a second, cut to the terminal's width, erased at the
end), never with -q, never when stderr is not a terminal, never for a short run, and
never when merge writes its lines to the terminal. stdout is the same with or without it.

A walk of a small tree is made long by strace, which delays every getdents64 call by
25 ms (about 1.5 s for the tree); those tests are skipped where strace cannot run. One
space-hogs test needs no strace: its --compare scan comes from a FIFO that the test
closes only after 1.2 s, and the walk starts after that. merge reads a FIFO that the test writes slowly, as in
progress_test.py. The variants of each subcommand run at the same time, once per class,
so the file takes about two seconds per subcommand.
"""
import fcntl
import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest
from pathlib import Path

import clitest
from progress_test import ERASE, SlowFifo, draws

COLUMNS = 80
FIRST_SHOW = 1.0  # seconds before the first draw
REDRAW_EVERY = 0.1  # seconds between draws, at least
DELAY_US = 25000  # per getdents64 call under strace
WALK_PROGRESS = re.compile(r"scanned (\d+) entries in (\d+) dirs, (\d+(?:\.\d)?) (B|KiB|MiB): (.+)")
DEDUPE_PROGRESS = re.compile(r"(scanning|hashing|linking): (\d+) files, (\d+(?:\.\d)?) (B|KiB|MiB) hashed, (\d+) groups")
LOG_PROGRESS = re.compile(r"read (\d+(?:\.\d)?) (B|KiB|MiB), (\d+) lines")


def strace_problem():
    """Why strace cannot delay system calls here; None when it can."""
    if shutil.which("strace") is None:
        return "strace is not installed"
    try:
        r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=getdents64", "-e",
                            "inject=getdents64:delay_enter=1", "ls", "/"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"strace does not run: {e}"
    return None if r.returncode == 0 else f"strace does not run (exit {r.returncode}): {r.stderr.decode(errors='replace')}"


STRACE_PROBLEM = strace_problem()


def slowed(args):
    """`args` under strace, every getdents64 (reading a directory) delayed by DELAY_US."""
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=getdents64", "-e",
            f"inject=getdents64:delay_enter={DELAY_US}", *args]


def slowed_env():
    # LeakSanitizer cannot work under ptrace; the sanitizer build's other tests check leaks.
    options = os.environ.get("ASAN_OPTIONS", "")
    return {**os.environ, "ASAN_OPTIONS": (options + ":" if options else "") + "detect_leaks=0"}


def open_terminal():
    """A pseudo-terminal of COLUMNS columns passing bytes as written: (master, slave)."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": the bytes as written
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    return master, slave


class Started:
    """opsktl ARGS started in `cwd` (under strace when `slow`), its stdout and stderr each
    going to "pty" (one terminal shared by both), "pipe" or "file" (cwd/NAME.out, .err)."""

    def __init__(self, name, args, cwd, stdout="file", stderr="pty", slow=False):
        self.args = [str(a) for a in args]
        self.cwd = str(cwd)
        self.out_path = os.path.join(self.cwd, f"{name}.out")
        self.err_path = os.path.join(self.cwd, f"{name}.err")
        self.terminal = b""
        self.pipe = b""
        self.first_draw_after = None  # seconds from start to the first erase sequence read
        master = slave = None
        if "pty" in (stdout, stderr):
            master, slave = open_terminal()
        files = []

        def target(kind, path):
            if kind == "pty":
                return slave
            if kind == "pipe":
                return subprocess.PIPE
            f = open(path, "wb")
            files.append(f)
            return f

        command = [clitest.BIN, *self.args]
        self.start = time.monotonic()
        self.proc = subprocess.Popen(slowed(command) if slow else command, cwd=self.cwd,
                                     env=slowed_env() if slow else None, stdin=subprocess.DEVNULL,
                                     stdout=target(stdout, self.out_path), stderr=target(stderr, self.err_path))
        for f in files:
            f.close()
        self.readers = []
        if slave is not None:
            os.close(slave)
            self.readers.append(threading.Thread(target=self._read_terminal, args=(master,), daemon=True))
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                self.readers.append(threading.Thread(target=self._read_pipe, args=(stream,), daemon=True))
        for reader in self.readers:
            reader.start()

    def _read_terminal(self, master):
        try:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not data:
                    break
                if self.first_draw_after is None and ERASE in self.terminal[-len(ERASE):] + data:
                    self.first_draw_after = time.monotonic() - self.start
                self.terminal += data
        finally:
            os.close(master)

    def _read_pipe(self, stream):
        self.pipe += stream.read()

    def wait(self, timeout=60):
        """Waits for the exit; returns self with code, elapsed (an upper bound of the run's
        length), terminal, pipe, out and err (the files' bytes, when written)."""
        try:
            self.code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.elapsed = time.monotonic() - self.start
        for reader in self.readers:
            reader.join(timeout=timeout)
            if reader.is_alive():
                raise AssertionError(f"opsktl {' '.join(self.args)}: its terminal or pipe is still open")
        self.out = read_if_exists(self.out_path)
        self.err = read_if_exists(self.err_path)
        return self

    def describe(self):
        return f"opsktl {' '.join(self.args)}: exit {self.code}, terminal {self.terminal[-300:]!r}, pipe {self.pipe[-300:]!r}"


def read_if_exists(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class TerminalCase(clitest.CliTestCase):
    """Shared checks on what a run left on its terminal."""

    def assert_drawn_by_the_rules(self, run, pattern):
        """Progress lines were drawn, each matching `pattern` and fitting one row; the first
        after about a second, at most ten a second, and the last one erased."""
        shown = draws(run.terminal)
        self.assertTrue(shown, f"no progress line drawn: {run.describe()}")
        texts = []
        for part in shown:
            text = part.decode("utf-8")  # never cut inside a character
            self.assertLess(len(text), COLUMNS, f"progress line wider than the terminal: {text!r}")
            self.assertRegex(text, pattern)
            texts.append(text)
        self.assertGreaterEqual(run.first_draw_after, FIRST_SHOW, "progress line drawn before a second")
        # Draws at least REDRAW_EVERY apart, the first after FIRST_SHOW, all before the exit.
        most = int((run.elapsed - FIRST_SHOW) / REDRAW_EVERY + 1e-9) + 1
        self.assertLessEqual(len(shown), most, f"{len(shown)} draws in {run.elapsed:.2f} s: {texts}")
        rest = run.terminal.rsplit(ERASE, 1)[-1]
        self.assertTrue(rest == b"" or (rest.startswith(b"opsktl: ") and rest.endswith(b"\n")),
                        f"progress line not erased at the end: {run.terminal[-200:]!r}")
        return texts

    def assert_no_progress(self, data, what):
        self.assertNotIn(ERASE, data, f"a progress line in {what}: {data[-300:]!r}")
        self.assertNotIn(b"\r", data, f"a progress line in {what}: {data[-300:]!r}")


def make_space_hogs_tree(root):
    """30 directories with long UTF-8 names (wider than a terminal row), one file each of a
    distinct size; returns {path: apparent size}."""
    sizes = {}
    for i in range(30):
        d = os.path.join(root, f"d{i:02}-" + "é" * 40)
        os.makedirs(d)
        path = os.path.join(d, "f")
        with open(path, "wb") as f:
            f.write(b"x" * (1000 + 37 * i))
        sizes[path] = 1000 + 37 * i
    return sizes


class SpaceHogsTerminalTest(TerminalCase):
    ARGS = ["space-hogs", "--apparent-size", "--format", "tsv", "--threads", "1", "-k", "5", "t"]

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="opsktl-cli-"))
        cls.sizes = make_space_hogs_tree(str(cls.root / "t"))
        # A saved scan of the tree, handed to --compare through a FIFO.
        subprocess.run([clitest.BIN, "space-hogs", "--apparent-size", "-q", "--save", "scan", "t"],
                       cwd=cls.root, check=True, capture_output=True, timeout=60)
        scan = (cls.root / "scan").read_bytes()
        # Opened at once, written after 0.6 s, closed after 1.2 s.
        cls.fifo = SlowFifo(cls.root / "scan.fifo", [b"", scan], 0.6)
        runs = {
            "compare": Started("compare", ["space-hogs", "--apparent-size", "--format", "tsv", "--compare",
                                           "scan.fifo", "t"], cls.root),
            "short": Started("short", cls.ARGS, cls.root),
        }
        if STRACE_PROBLEM is None:
            runs["terminal"] = Started("terminal", cls.ARGS, cls.root, slow=True)
            runs["quiet"] = Started("quiet", ["space-hogs", "-q", *cls.ARGS[1:]], cls.root, slow=True)
            runs["pipe"] = Started("pipe", cls.ARGS, cls.root, stderr="pipe", slow=True)
        cls.runs = {name: run.wait() for name, run in runs.items()}

    @classmethod
    def tearDownClass(cls):
        cls.fifo.release()
        shutil.rmtree(cls.root, ignore_errors=True)

    def slow_run(self, name):
        if STRACE_PROBLEM is not None:
            self.skipTest(STRACE_PROBLEM)
        run = self.runs[name]
        self.assertEqual(run.code, 0, run.describe())
        return run

    def test_progress_line_drawn_during_a_long_walk_and_erased(self):
        run = self.slow_run("terminal")
        texts = self.assert_drawn_by_the_rules(run, WALK_PROGRESS)
        self.assertGreaterEqual(len(texts), 2, f"the progress line was not redrawn: {texts}")
        for text in texts:
            m = WALK_PROGRESS.fullmatch(text)
            self.assertLessEqual(int(m.group(1)), 2 * len(self.sizes), text)  # a directory and a file each
            self.assertLessEqual(int(m.group(2)), 1 + len(self.sizes), text)
            self.assertTrue(m.group(5) == "t" or m.group(5).startswith("..."), text)
        # Below t every path is wider than the row: cut from the left.
        self.assertTrue(any(WALK_PROGRESS.fullmatch(text).group(5).startswith("...") for text in texts), texts)
        self.assertEqual(run.terminal[-len(ERASE):], ERASE)

    def test_stdout_is_the_same_as_without_a_terminal(self):
        run = self.slow_run("terminal")
        pipe = self.slow_run("pipe")
        self.assertEqual(run.out, pipe.out)
        # The five largest files by the independent sizes, then the directories.
        top = sorted(self.sizes.items(), key=lambda kv: -kv[1])[:5]
        lines = run.out.decode().splitlines()
        self.assertEqual(lines[:5], [f"file\t{size}\t{os.path.relpath(path, self.root)}" for path, size in top])
        kind, size, path = lines[5].split("\t")
        self.assertEqual((kind, path), ("dir", "t"))
        self.assertGreaterEqual(int(size), sum(self.sizes.values()))

    def test_no_progress_line_with_quiet(self):
        run = self.slow_run("quiet")
        self.assertEqual(run.terminal, b"")
        self.assertEqual(run.out, self.slow_run("pipe").out)

    def test_no_progress_line_when_stderr_is_a_pipe(self):
        run = self.slow_run("pipe")
        self.assertEqual(run.pipe, b"")

    def test_no_progress_line_for_a_short_walk(self):
        run = self.runs["short"]
        self.assertEqual(run.code, 0, run.describe())
        self.assertEqual(run.terminal, b"")
        self.assertEqual(len(run.out.splitlines()), 10)

    def test_progress_line_drawn_while_the_compared_scan_arrives_late(self):
        # No strace needed: the walk starts after a second, and its first report draws.
        run = self.runs["compare"]
        self.assertEqual(run.code, 0, run.describe())
        self.assert_drawn_by_the_rules(run, WALK_PROGRESS)
        self.assertEqual(run.out, b"")  # nothing grew


def make_dedupe_tree(root):
    """30 directories with a file each; equal contents in threes (10 groups). Returns the
    expected tsv rows, computed from the files' contents."""
    by_hash = {}
    for i in range(30):
        d = os.path.join(root, f"d{i:02}")
        os.makedirs(d)
        data = f"content {i % 10}\n".encode() * (50 + i % 10)
        with open(os.path.join(d, "f"), "wb") as f:
            f.write(data)
        by_hash.setdefault(hashlib.sha256(data).digest(), []).append((os.path.relpath(d, os.path.dirname(root)) + "/f", len(data)))
    rows = []
    groups = sorted(sorted(g) for g in by_hash.values() if len(g) > 1)
    for number, group in enumerate(groups, 1):
        for k, (path, size) in enumerate(group):
            rows.append(f"{number}\t{size}\t{'keep' if k == 0 else 'dup'}\t{path}")
    return rows


class DedupeTerminalTest(TerminalCase):
    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="opsktl-cli-"))
        cls.expected = make_dedupe_tree(str(cls.root / "t"))
        runs = {"short": Started("short", cls.args("short"), cls.root)}
        if STRACE_PROBLEM is None:
            runs["terminal"] = Started("terminal", cls.args("terminal"), cls.root, slow=True)
            runs["quiet"] = Started("quiet", ["dedupe", "-q", *cls.args("quiet")[1:]], cls.root, slow=True)
            runs["pipe"] = Started("pipe", cls.args("pipe"), cls.root, stderr="pipe", slow=True)
        cls.runs = {name: run.wait() for name, run in runs.items()}

    @classmethod
    def args(cls, name):
        # A state file each: runs on the same roots at once would share the default one.
        return ["dedupe", "--format", "tsv", "--threads", "1", "--state", f"{name}.state", "t"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def slow_run(self, name):
        if STRACE_PROBLEM is not None:
            self.skipTest(STRACE_PROBLEM)
        run = self.runs[name]
        self.assertEqual(run.code, 0, run.describe())
        return run

    def test_progress_line_drawn_during_a_long_dry_run_and_erased_before_the_summary(self):
        run = self.slow_run("terminal")
        texts = self.assert_drawn_by_the_rules(run, DEDUPE_PROGRESS)
        self.assertGreaterEqual(len(texts), 2, f"the progress line was not redrawn: {texts}")
        counts = [int(DEDUPE_PROGRESS.fullmatch(text).group(2)) for text in texts]
        self.assertEqual(counts, sorted(counts), f"the file count went down: {texts}")
        # The summary for people comes after the erased line, on a line of its own.
        summary = run.terminal.rsplit(ERASE, 1)[1]
        self.assertEqual(summary, self.slow_run("pipe").pipe)
        self.assertRegex(summary, rb"^opsktl: dedupe: 10 groups, 20 duplicate files, [^\n]*\n$")

    def test_progress_line_counts_files_not_directories(self):
        # The tree has 30 files in 31 directories: while walking, the directories must not
        # be counted as files (the walker's own count has them all).
        run = self.slow_run("terminal")
        for text in draws(run.terminal):
            self.assertLessEqual(int(DEDUPE_PROGRESS.fullmatch(text.decode()).group(2)), 30, text)

    def test_stdout_is_the_same_as_without_a_terminal(self):
        run = self.slow_run("terminal")
        self.assertEqual(run.out.decode().splitlines(), self.expected)
        self.assertEqual(run.out, self.slow_run("pipe").out)

    def test_no_progress_line_with_quiet(self):
        run = self.slow_run("quiet")
        self.assertEqual(run.terminal, b"")
        self.assertEqual(run.out.decode().splitlines(), self.expected)

    def test_no_progress_line_when_stderr_is_a_pipe(self):
        run = self.slow_run("pipe")
        self.assert_no_progress(run.pipe, "stderr")
        self.assertRegex(run.pipe, rb"^opsktl: dedupe: 10 groups, 20 duplicate files, [^\n]*\n$")

    def test_no_progress_line_for_a_short_dry_run(self):
        run = self.runs["short"]
        self.assertEqual(run.code, 0, run.describe())
        self.assertEqual(run.out.decode().splitlines(), self.expected)
        self.assert_no_progress(run.terminal, "the terminal")
        self.assertRegex(run.terminal, rb"^opsktl: dedupe: 10 groups, 20 duplicate files, [^\n]*\n$")


class MergeTerminalTest(TerminalCase):
    """docs/decisions.md: merge shows no progress line when its output goes to the terminal."""
    CHUNKS = 15  # one every 0.1 s: about 1.5 s of input
    PER_CHUNK = 20

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="opsktl-cli-"))
        # a.fifo has the even seconds, slowly; b.log the odd ones.
        a = [f"{1703000000 + 2 * i} a {i}\n".encode() for i in range(cls.CHUNKS * cls.PER_CHUNK)]
        b = [f"{1703000001 + 2 * i} b {i}\n".encode() for i in range(cls.CHUNKS * cls.PER_CHUNK)]
        (cls.root / "b.log").write_bytes(b"".join(b))
        cls.expected = b"".join(line for pair in zip(a, b) for line in pair)
        cls.fifos = []
        variants = {
            # name: (stdout, stderr, extra arguments)
            "both": ("pty", "pty", []),
            "stdout_file": ("file", "pty", []),
            "output_option": ("pty", "pty", ["-o", "merged.log"]),
            "stderr_file": ("file", "file", []),
            "quiet": ("file", "pty", ["-q"]),
        }
        runs = {}
        for name, (stdout, stderr, extra) in variants.items():
            chunks = [b"".join(a[i:i + cls.PER_CHUNK]) for i in range(0, len(a), cls.PER_CHUNK)]
            cls.fifos.append(SlowFifo(cls.root / f"{name}.fifo", chunks, 0.1))
            runs[name] = Started(name, ["merge", "--log-format", "fields", *extra, f"{name}.fifo", "b.log"],
                                 cls.root, stdout=stdout, stderr=stderr)
        cls.runs = {name: run.wait() for name, run in runs.items()}

    @classmethod
    def tearDownClass(cls):
        for fifo in cls.fifos:
            fifo.release()
        shutil.rmtree(cls.root, ignore_errors=True)

    def run_named(self, name):
        run = self.runs[name]
        self.assertEqual(run.code, 0, run.describe())
        self.assertGreaterEqual(run.elapsed, 1.2, "the input did not take long: the test proves nothing")
        return run

    def test_no_progress_line_when_stdout_and_stderr_are_the_terminal(self):
        run = self.run_named("both")
        # The terminal holds the merged lines and nothing else.
        self.assertEqual(run.terminal, self.expected)

    def test_progress_line_drawn_when_stdout_is_a_file(self):
        run = self.run_named("stdout_file")
        self.assert_drawn_by_the_rules(run, LOG_PROGRESS)
        self.assertEqual(run.terminal[-len(ERASE):], ERASE)
        self.assertNotIn(b"\n", run.terminal)
        self.assertEqual(run.out, self.expected)

    def test_progress_line_drawn_with_output_option_and_stdout_on_the_terminal(self):
        # -o: the merged lines go to a file, not to the terminal.
        run = self.run_named("output_option")
        self.assert_drawn_by_the_rules(run, LOG_PROGRESS)
        self.assertEqual(run.terminal[-len(ERASE):], ERASE)
        self.assertNotIn(b"\n", run.terminal)
        self.assertEqual((self.root / "merged.log").read_bytes(), self.expected)

    def test_no_progress_line_when_stderr_is_a_file(self):
        run = self.run_named("stderr_file")
        self.assertEqual(run.err, b"")
        self.assertEqual(run.out, self.expected)

    def test_no_progress_line_with_quiet(self):
        run = self.run_named("quiet")
        self.assertEqual(run.terminal, b"")
        self.assertEqual(run.out, self.expected)


if __name__ == "__main__":
    clitest.main()
