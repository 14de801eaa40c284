"""End-to-end tests of the progress line (SPEC §1): shown on a terminal's stderr during
long work, erased at the end and before any diagnostic, never shown on a pipe or with -q.

Long work is made by a FIFO that the test writes slowly (a few seconds), not by a huge
file. The tests name the log format: sniffing it (--log-format auto) waits for the first
64 KiB of a pipe, which these small inputs reach only at their end. stderr is the slave side of a pseudo-terminal; the test reads the master side.
"""
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import threading
import time

import clitest

ERASE = b"\r\x1b[K"
LOG_PROGRESS = re.compile(rb"read (\d+(?:\.\d)?) (B|KiB|MiB), (\d+) lines")


class SlowFifo:
    """A FIFO at `path` fed `chunks` one every `pause` seconds by a thread."""

    def __init__(self, path, chunks, pause):
        self.path = str(path)
        os.mkfifo(self.path)
        self.thread = threading.Thread(target=self._feed, args=(chunks, pause), daemon=True)
        self.thread.start()

    def _feed(self, chunks, pause):
        try:
            fd = os.open(self.path, os.O_WRONLY)  # blocks until opsktl opens it
        except OSError:
            return
        try:
            for chunk in chunks:
                os.write(fd, chunk)
                time.sleep(pause)
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    def release(self):
        """Unblocks the feeder if opsktl never opened the FIFO."""
        if self.thread.is_alive():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                self.thread.join(timeout=30)
                os.close(fd)
            except OSError:
                pass


def run_with_stderr_on_pty(args, cwd, typed=None, pause=0.1, timeout=120):
    """Runs opsktl with stdout to a file and stderr on a pseudo-terminal (80 columns).
    With `typed` (a list of lines), stdin is that terminal too, and the lines are typed
    one every `pause` seconds, then end-of-file (Ctrl-D).
    Returns (exit code, stdout bytes, everything written to the terminal)."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n" translation: the bytes as written
    attrs[3] &= ~termios.ECHO  # typed lines are not shown back
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out_path = os.path.join(cwd, "stdout.bin")
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([clitest.BIN, *map(str, args)], stdin=slave if typed else subprocess.DEVNULL,
                                stdout=out, stderr=slave, cwd=cwd)
    os.close(slave)
    if typed:
        def type_lines():
            for line in typed:
                os.write(master, line)
                time.sleep(pause)
            os.write(master, b"\x04")
        threading.Thread(target=type_lines, daemon=True).start()
    terminal = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the slave side is closed, opsktl has exited
                    break
                if not data:
                    break
                terminal += data
            elif proc.poll() is not None:
                # Exited: drain what is left.
                continue
        code = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    with open(out_path, "rb") as f:
        return code, f.read(), terminal


def draws(terminal):
    """The progress lines drawn: the text after each erase sequence up to the next one
    (diagnostics excluded: they end with a newline)."""
    return [part for part in terminal.split(ERASE)[1:] if part and b"\n" not in part]


def fields_log(lines):
    return [f"2025-12-19T10:{i // 60 % 60:02}:{i % 60:02}Z svc{i % 3} /api/x 500 {i % 90 + 10}\n".encode()
            for i in range(lines)]


class ProgressLineTest(clitest.CliTestCase):
    LINES = 300
    # 30 chunks of 10 lines, one every 0.1 s: about three seconds of work.
    PAUSE = 0.1

    def slow_input(self, name, lines, per_chunk=10):
        chunks = [b"".join(lines[i:i + per_chunk]) for i in range(0, len(lines), per_chunk)]
        fifo = SlowFifo(self.dir / name, chunks, self.PAUSE)
        self.addCleanup(fifo.release)
        return fifo.path

    def assert_log_progress_shown_and_erased(self, terminal, total_lines, total_bytes):
        shown = draws(terminal)
        self.assertTrue(shown, f"no progress line drawn on the terminal: {terminal!r}")
        units = {b"B": 1, b"KiB": 1024, b"MiB": 1024 ** 2}
        for text in shown:
            m = LOG_PROGRESS.fullmatch(text)
            self.assertIsNotNone(m, f"unexpected progress text {text!r}")
            # What was read so far is never more than the input holds.
            self.assertLessEqual(float(m.group(1)) * units[m.group(2)], total_bytes * 1.05)
            self.assertLessEqual(int(m.group(3)), total_lines)
            self.assertLess(len(text), 80, "the progress line must fit one terminal row")
        self.assertTrue(any(int(LOG_PROGRESS.fullmatch(t).group(3)) > 0 for t in shown),
                        f"every progress line showed 0 lines: {shown!r}")
        self.assert_erased_at_the_end(terminal)

    def assert_erased_at_the_end(self, terminal):
        """After the last erase sequence comes nothing, or only whole diagnostic lines."""
        rest = terminal.rsplit(ERASE, 1)[-1]
        self.assertTrue(rest == b"" or (rest.endswith(b"\n") and rest.startswith(b"opsktl: ")),
                        f"progress line not erased at the end: {terminal[-160:]!r}")

    def test_errors_by_endpoint_shows_bytes_and_lines_on_a_terminal_and_erases_them(self):
        lines = fields_log(self.LINES)
        path = self.slow_input("in.fifo", lines)
        code, out, terminal = run_with_stderr_on_pty(["errors-by-endpoint", "--log-format", "fields", "--format", "tsv", path], self.dir)
        self.assertEqual(code, 0, terminal)
        # Every line is a 500 of one of three services: 100 errors each.
        rows = [line.split("\t") for line in out.decode().splitlines()]
        self.assertEqual(sorted(row[:3] + row[5:] for row in rows),
                         [["100", "100", "100.00", f"svc{i}", "/api/x"] for i in range(3)])
        self.assert_log_progress_shown_and_erased(terminal, self.LINES, sum(map(len, lines)))

    def test_flapping_shows_progress_on_a_terminal(self):
        lines = [f"{1703000000 + i} svc{i % 2} restarted\n".encode() for i in range(self.LINES)]
        path = self.slow_input("events.fifo", lines)
        code, out, terminal = run_with_stderr_on_pty(["flapping", "--log-format", "fields", "--format", "tsv", "-n", "3", "-w", "10", path],
                                                     self.dir)
        self.assertEqual(code, 0, terminal)
        # Each service restarts every 2 s: 5 in any 10 s window, one episode per service.
        self.assertEqual(sorted(row.split("\t")[0] for row in out.decode().splitlines()), ["svc0", "svc1"])
        self.assert_log_progress_shown_and_erased(terminal, self.LINES, sum(map(len, lines)))

    def test_merge_erases_the_progress_line_before_a_warning(self):
        # Sorted until the last chunk, which goes back in time: merge warns mid-run.
        lines = [f"{1703000000 + i} line {i}\n".encode() for i in range(self.LINES)]
        lines[-5] = b"1600000000 late line\n"
        path = self.slow_input("a.fifo", lines)
        other = self.write("b.log", "1703000000 from b\n")
        code, out, terminal = run_with_stderr_on_pty(["merge", "--log-format", "fields", path, other, "-o", self.dir / "merged.log"], self.dir)
        self.assertEqual(code, 0, terminal)
        self.assertEqual(len((self.dir / "merged.log").read_bytes().splitlines()), self.LINES + 1)
        warning = terminal.find(b"opsktl: merge: ")
        self.assertGreater(warning, 0, f"no progress line before the warning: {terminal!r}")
        self.assertTrue(terminal[:warning].endswith(ERASE), f"warning written over the progress line: {terminal!r}")
        self.assertIn(b"not sorted", terminal[warning:])
        self.assertTrue(draws(terminal[:warning]), terminal)
        self.assert_erased_at_the_end(terminal)

    def test_no_progress_when_stderr_is_a_pipe(self):
        lines = fields_log(self.LINES)
        path = self.slow_input("in.fifo", lines)
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "fields", "--format", "tsv", path)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.err, b"")
        self.assertEqual(len(r.rows()), 3)

    def test_no_progress_while_reading_lines_typed_at_the_terminal(self):
        lines = fields_log(30)  # three seconds of typing
        code, out, terminal = run_with_stderr_on_pty(["errors-by-endpoint", "--log-format", "fields", "--format",
                                                      "tsv"], self.dir, typed=lines)
        self.assertEqual(code, 0, terminal)
        self.assertEqual(terminal, b"")
        rows = [line.split("\t") for line in out.decode().splitlines()]
        self.assertEqual(sorted(row[:3] + row[5:] for row in rows),
                         [["10", "10", "100.00", f"svc{i}", "/api/x"] for i in range(3)])

    def test_no_progress_on_a_terminal_with_quiet(self):
        lines = fields_log(self.LINES)
        path = self.slow_input("in.fifo", lines)
        code, out, terminal = run_with_stderr_on_pty(["errors-by-endpoint", "--log-format", "fields", "-q", "--format", "tsv", path],
                                                     self.dir)
        self.assertEqual(code, 0, terminal)
        self.assertEqual(terminal, b"")
        self.assertEqual(len(out.decode().splitlines()), 3)


if __name__ == "__main__":
    clitest.main()
