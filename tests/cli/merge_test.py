"""End-to-end tests of `opsktl merge` (SPEC §5) against a simple independent reference:
a stable sort of all records by instant, orphan lines attached to the record above."""
import calendar
import gzip
import os
import random
import re
import subprocess
from datetime import datetime, timedelta, timezone

from clitest import BIN, TESTDATA, CliTestCase, main

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
BASE = 1766138400  # 2025-12-19T10:00:00Z


def stamp(micros, form, rng):
    """micros (multiple of 1000) since the epoch in one of the SPEC §2 forms."""
    secs, frac = divmod(micros, 1_000_000)
    ms = frac // 1000
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    if form == "epoch":
        return f"{secs}" if ms == 0 else f"{secs}.{ms:03d}"
    if form == "millis":
        return f"{secs * 1000 + ms}"
    if form == "iso":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "") + "Z"
    if form == "offset":
        off = rng.choice([-5, 1, 2])
        local = dt + timedelta(hours=off)
        sign = "+" if off >= 0 else "-"
        return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}{sign}{abs(off):02d}:00"
    if form == "log4j":
        return dt.strftime("%Y-%m-%d %H:%M:%S") + f",{ms:03d}"
    if form == "clf":
        return f"{dt.day:02d}/{MONTHS[dt.month - 1]}/{dt.year}:{dt.strftime('%H:%M:%S')} +0000"
    if form == "syslog":
        return f"{MONTHS[dt.month - 1]} {dt.day:2d} {dt.strftime('%H:%M:%S')}"
    raise ValueError(form)


def random_input(rng, name_index):
    """(bytes, records) where records = [(instant or None, [line bytes...])]; the first
    record may be None: orphans before any timestamp."""
    records = []
    t = BASE * 1_000_000 + rng.randrange(0, 5) * 1_000_000
    lines = []
    if rng.random() < 0.3:
        lines.append((None, b"leading orphan %d" % name_index))
    for _ in range(rng.randrange(0, 25)):
        t += rng.choice([0, 0, 1_000_000, 2_000_000, 500_000])
        if t % 1_000_000:
            form = rng.choice(["epoch", "millis", "iso", "offset", "log4j"])
        else:
            form = rng.choice(["epoch", "millis", "iso", "offset", "log4j", "clf", "syslog"])
        lines.append((t, f"{stamp(t, form, rng)} in{name_index} msg{rng.randrange(1000)}".encode()))
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            lines.append((None, rng.choice([b"\tat com.example.Foo(Foo.java:12)", b"", b"  wrapped text",
                                            b"Caused by: boom"])))
    data = b""
    for i, (_, text) in enumerate(lines):
        end = b"\r\n" if rng.random() < 0.1 else b"\n"
        if i == len(lines) - 1 and text and rng.random() < 0.3:
            end = b""
        data += text + end
    # The reference: group lines into records.
    current = None
    for instant, text in lines:
        line_bytes = text
        if instant is None:
            if current is None:
                current = [None, []]
                records.append(current)
            current[1].append(line_bytes)
        else:
            if current is not None and current[0] is None:
                current[0] = instant  # leading orphans travel with the first record
            else:
                current = [instant, []]
                records.append(current)
            current[1].append(line_bytes)
    return data, records


def reference_merge(inputs_records, raw_inputs, label_names=None):
    """Stable sort of every record by instant (records without one first)."""
    keyed = []
    for index, (records, raw) in enumerate(zip(inputs_records, raw_inputs)):
        # Recover each line's exact bytes (CRLF kept) from the raw input.
        raw_lines = raw.split(b"\n")
        if raw_lines and raw_lines[-1] == b"":
            raw_lines.pop()
        pos = 0
        for seq, (instant, lines) in enumerate(records):
            out = b""
            for _ in lines:
                line = raw_lines[pos]
                pos += 1
                if label_names:
                    line = label_names[index].encode() + b"\t" + line
                out += line + b"\n"
            keyed.append(((float("-inf") if instant is None else instant), index, seq, out))
    keyed.sort(key=lambda r: (r[0], r[1], r[2]))
    return b"".join(r[3] for r in keyed)


def untimed_message(path, records, raw):
    """merge's complaint about an input whose non-blank lines all lack a timestamp (the
    reference records hold only the leading-orphan record), else None. The first
    non-blank line is shown as at most 60 bytes, control bytes as \\xHH (ASCII here)."""
    if any(instant is not None for instant, _ in records):
        return None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    first = next((l for l in lines if l.strip(b" \t\r")), None)
    if first is None:
        return None
    first = first.removesuffix(b"\r").decode("ascii")
    shown = "".join("\\\\" if c == "\\" else c if 0x20 <= ord(c) < 0x7f else f"\\x{ord(c):02X}"
                    for c in first[:60])
    if len(first) > 60:
        shown += "..."
    n = len(lines)
    return f'opsktl: merge: {path}: no timestamp found in its {n} line{"" if n == 1 else "s"}; the first reads "{shown}"'


def clf_instant(line):
    m = re.search(rb"\[(\d\d)/(\w\w\w)/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\]", line)
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    t = calendar.timegm((int(year), MONTHS.index(mon.decode()) + 1, int(day), int(hh), int(mm), int(ss)))
    off = (int(oh) * 3600 + int(om) * 60) * (1 if sign == b"+" else -1)
    return t - off


class MergeTest(CliTestCase):
    def test_random_inputs_match_a_stable_sort_of_records(self):
        rng = random.Random(5)
        for round_ in range(40):
            count = rng.randrange(1, 7)
            raws, recs, paths = [], [], []
            for i in range(count):
                data, records = random_input(rng, i)
                raws.append(data)
                recs.append(records)
                paths.append(self.write(f"r{round_}_{i}.log", data))
            label = rng.random() < 0.3
            args = ["merge", "--year", "2025"] + (["--label"] if label else []) + paths
            r = self.run_opsktl(*args)
            # An input of leading orphans only is named (SPEC §5), and the exit says so.
            untimed = [m for m in (untimed_message(p, rec, raw) for p, rec, raw in zip(paths, recs, raws)) if m]
            with self.subTest(round=round_):
                self.assertEqual(r.code, 1 if untimed else 0, r.errtext)
                self.assertEqual(r.errtext, "".join(m + "\n" for m in untimed))
                self.assertEqual(r.out, reference_merge(recs, raws, paths if label else None))

    def test_ties_keep_command_line_order_then_line_order(self):
        a = self.write("a.log", "5 a1\n5 a2\n")
        b = self.write("b.log", "5 b1\n")
        self.assertEqual(self.run_opsktl("merge", b, a).out, b"5 b1\n5 a1\n5 a2\n")
        self.assertEqual(self.run_opsktl("merge", a, b).out, b"5 a1\n5 a2\n5 b1\n")

    def test_label_prefixes_name_as_given_and_dash_for_stdin(self):
        self.write("a.log", "1 a\n  trace\n3 c\n")
        r = self.run_opsktl("merge", "--label", "a.log", "-", stdin="2 b\n")
        self.assertEqual(r.out, b"a.log\t1 a\na.log\t  trace\n-\t2 b\na.log\t3 c\n")

    def test_orphans_skip_drops_lines_without_timestamp(self):
        a = self.write("a.log", "lead\n1 a\n  trace\n\n3 c\n")
        b = self.write("b.log", "2 b\nwrapped\n")
        self.assertEqual(self.run_opsktl("merge", "--orphans", "skip", a, b).out, b"1 a\n2 b\n3 c\n")
        self.assertEqual(self.run_opsktl("merge", a, b).out,
                         b"lead\n1 a\n  trace\n\n2 b\nwrapped\n3 c\n")

    def test_unsorted_input_is_reported_once_and_merged(self):
        a = self.write("a.log", "1 a\n4 d\n2 late\n1 later\n")
        b = self.write("b.log", "3 c\n")
        r = self.run_opsktl("merge", a, b)
        self.assertEqual(r.code, 0)
        self.assertEqual(r.out, b"1 a\n3 c\n4 d\n2 late\n1 later\n")
        self.assertEqual(r.errtext, f"opsktl: merge: {a}:3: not sorted: earlier than line 2; "
                                    "merged as it comes\n")

    def test_check_exit_codes(self):
        good = self.write("good.log", "1 a\n1 b\n2 c\n")
        bad = self.write("bad.log", "2 a\n1 b\n0 c\n")
        r = self.run_opsktl("merge", "--check", good)
        self.assertEqual((r.code, r.out, r.err), (0, b"", b""))
        r = self.run_opsktl("merge", "--check", good, bad)
        self.assertEqual((r.code, r.out), (1, b""))
        self.assertEqual(r.errtext, f"opsktl: merge: {bad}:2: not sorted: earlier than line 1\n")
        r = self.run_opsktl("merge", "--check", good, "missing.log")
        self.assertEqual(r.code, 2)
        self.assertIn("missing.log: No such file or directory", r.errtext)

    def test_reorder_sorts_a_real_apache_log_written_at_request_end(self):
        path = TESTDATA / "realdata" / "apache_access.log"
        raw = path.read_bytes()
        lines = raw.split(b"\n")[:-1]
        expected = b"".join(l + b"\n" for l in sorted(lines, key=clf_instant))  # stable
        self.assertNotEqual(expected, raw)
        # Without --reorder: reported once, with file:line.
        r = self.run_opsktl("merge", "--field", "ts=4", str(path))
        self.assertEqual(r.code, 0)
        first_late = next(i for i in range(1, len(lines))
                          if clf_instant(lines[i]) < max(clf_instant(l) for l in lines[:i]))
        self.assertRegex(r.errtext, rf"^opsktl: merge: {re.escape(str(path))}:{first_late + 1}: not sorted")
        self.assertEqual(r.errtext.count("\n"), 1)
        # With it: every line in place, nothing reported.
        r = self.run_opsktl("merge", "--field", "ts=4", "--reorder", "2m", str(path))
        self.assertEqual((r.code, r.errtext), (0, ""))
        self.assertEqual(r.out, expected)
        r = self.run_opsktl("merge", "--check", "--field", "ts=4", "--reorder", "2m", str(path))
        self.assertEqual(r.code, 0)
        # --log-format auto recognises the combined format and reads the bracketed time.
        r = self.run_opsktl("merge", "--reorder", "2m", str(path))
        self.assertEqual((r.code, r.errtext, r.out), (0, "", expected))

    def test_auto_reads_json_and_logfmt_timestamps(self):
        j = self.write("j.log", '{"ts":"2025-12-19T10:00:02Z","msg":"b"}\n{"time":"2025-12-19T10:00:04Z"}\n')
        l = self.write("l.log", "ts=2025-12-19T10:00:03Z msg=c\nts=1766138405 msg=e\n")
        p = self.write("p.log", "2025-12-19T10:00:01Z a x=1\n")
        r = self.run_opsktl("merge", j, l, p)
        self.assertEqual(r.out, b'2025-12-19T10:00:01Z a x=1\n{"ts":"2025-12-19T10:00:02Z","msg":"b"}\n'
                                b'ts=2025-12-19T10:00:03Z msg=c\n{"time":"2025-12-19T10:00:04Z"}\n'
                                b"ts=1766138405 msg=e\n")

    def test_field_ts_reads_a_timestamp_spanning_fields(self):
        a = self.write("a.log", "web1 Dec 19 10:00:03 c\nweb1 Dec 19 10:00:05 e\n")
        b = self.write("b.log", "db Dec 19 10:00:04 d\n")
        r = self.run_opsktl("merge", "--field", "ts=2", "--year", "2025", a, b)
        self.assertEqual(r.out, b"web1 Dec 19 10:00:03 c\ndb Dec 19 10:00:04 d\nweb1 Dec 19 10:00:05 e\n")

    def test_since_until_keep_records_in_range_with_their_orphans(self):
        a = self.write("a.log", "2025-12-19T10:00:00Z a\n x\n2025-12-19T10:05:00Z b\n y\n"
                                "2025-12-19T10:10:00Z c\n")
        r = self.run_opsktl("merge", "--since", "2025-12-19T10:01:00Z", "--until", "2025-12-19T10:06:00Z", a)
        self.assertEqual(r.out, b"2025-12-19T10:05:00Z b\n y\n")

    def test_output_file_is_replaced_atomically(self):
        a = self.write("a.log", "1 a\n3 c\n")
        b = self.write("b.log", "2 b\n")
        out = self.write("out.log", "old content\n")
        os.chmod(out, 0o640)
        r = self.run_opsktl("merge", "-o", out, a, b)
        self.assertEqual((r.code, r.out, r.err), (0, b"", b""))
        self.assertEqual(open(out, "rb").read(), b"1 a\n2 b\n3 c\n")
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o640)
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.log", "b.log", "out.log"])
        # A fatal error leaves the old file and no temporary file.
        bad = self.write("bad.log", "1 a\nno timestamp\n")
        r = self.run_opsktl("merge", "--strict", "-o", out, bad)
        self.assertEqual(r.code, 2)
        self.assertEqual(open(out, "rb").read(), b"1 a\n2 b\n3 c\n")
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.log", "b.log", "bad.log", "out.log"])
        # An input may be the output too.
        r = self.run_opsktl("merge", "-o", a, a, b)
        self.assertEqual((r.code, open(a, "rb").read()), (0, b"1 a\n2 b\n3 c\n"))

    def test_gzip_and_stdin_inputs(self):
        a = self.write("a.log.gz", "1 a\n4 d\n", compress=True)
        r = self.run_opsktl("merge", a, "-", stdin=gzip.compress(b"2 b\n3 c\n"))
        self.assertEqual((r.code, r.out), (0, b"1 a\n2 b\n3 c\n4 d\n"))
        r = self.run_opsktl("merge", stdin="2 b\n1 a\n")  # no file: standard input
        self.assertEqual(r.out, b"2 b\n1 a\n")

    def test_crlf_kept_and_last_line_ended(self):
        a = self.write("a.log", b"1 a\r\n3 c\r\n")
        b = self.write("b.log", b"2 b\r\n4 d")
        self.assertEqual(self.run_opsktl("merge", a, b).out, b"1 a\r\n2 b\r\n3 c\r\n4 d\n")

    def test_unreadable_input_is_named_and_the_rest_merged(self):
        a = self.write("a.log", "1 a\n")
        r = self.run_opsktl("merge", a, "missing.log", self.dir)
        self.assertEqual((r.code, r.out), (1, b"1 a\n"))
        self.assertIn("opsktl: merge: missing.log: No such file or directory\n", r.errtext)
        self.assertIn(f"opsktl: merge: {self.dir}: Is a directory\n", r.errtext)

    def test_empty_and_garbage_inputs(self):
        empty = self.write("empty.log", b"")
        garbage = self.write("garbage.bin", bytes(range(256)) * 4)
        a = self.write("a.log", "1 a\n")
        r = self.run_opsktl("merge", empty, a)
        self.assertEqual((r.code, r.out), (0, b"1 a\n"))
        r = self.run_opsktl("merge", a, garbage)
        # Lines without any timestamp come first, byte for byte, the last one ended; the
        # input is named with its first line (control bytes escaped), and the exit
        # status says an input had a problem.
        self.assertEqual(r.out, bytes(range(256)) * 4 + b"\n" + b"1 a\n")
        self.assertEqual(r.errtext, f"opsktl: merge: {garbage}: no timestamp found in its 5 lines; the first "
                                    'reads "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09"\n')
        self.assertEqual(r.code, 1)
        r = self.run_opsktl("merge", a, self.write("blank.log", "\n \n"))
        self.assertEqual((r.code, r.out, r.err), (0, b"\n \n1 a\n", b""))

    def test_input_without_timestamps_is_named(self):
        a = self.write("a.log", "2025-12-19T10:00:01Z a\n2025-12-19T10:00:03Z c\n")
        plain = self.write("plain.log", "\nGET /index.html 200 \"Mozilla/5.0\" " + "x" * 80 + "\nGET /b 404\n")
        r = self.run_opsktl("merge", a, plain)
        self.assertEqual(r.code, 1)
        first = ('GET /index.html 200 "Mozilla/5.0" ' + "x" * 80)[:60] + "..."  # 60 bytes at most
        self.assertEqual(r.errtext, f"opsktl: merge: {plain}: no timestamp found in its 3 lines; the first reads "
                                    f'"{first}"\n')
        # Still merged, first, without a word lost.
        self.assertEqual(r.out, b"\nGET /index.html 200 \"Mozilla/5.0\" " + b"x" * 80 + b"\nGET /b 404\n"
                                b"2025-12-19T10:00:01Z a\n2025-12-19T10:00:03Z c\n")
        # --check never calls it sorted.
        r = self.run_opsktl("merge", "--check", a, plain)
        self.assertEqual((r.code, r.out), (1, b""))
        self.assertEqual(r.errtext.count("no timestamp found in its 3 lines"), 1)
        r = self.run_opsktl("merge", "--check", a)
        self.assertEqual((r.code, r.err), (0, b""))
        # -q keeps it: it changes the exit status.
        r = self.run_opsktl("merge", "-q", a, plain)
        self.assertIn("no timestamp found", r.errtext)

    def test_input_whose_first_lines_have_no_timestamp_is_named_early(self):
        # 16 non-blank lines without a timestamp: reported as soon as they are read, once.
        header = "".join(f"# header line {i}\n" for i in range(1, 17))
        a = self.write("a.log", "1 a\n")
        b = self.write("b.log", header + "2 b\n")
        c = self.write("c.log", header[: header.index("# header line 16")] + "3 c\n")  # 15 lines: fine
        r = self.run_opsktl("merge", a, b, c)
        self.assertEqual(r.code, 1)
        self.assertEqual(r.errtext, f"opsktl: merge: {b}: no timestamp found in its first 16 lines; "
                                    'the first reads "# header line 1"\n')
        self.assertEqual(r.out.decode(), "1 a\n" + header + "2 b\n" + header[: header.index("# header line 16")]
                         + "3 c\n")
        r = self.run_opsktl("merge", "--check", a, c)
        self.assertEqual((r.code, r.err), (0, b""))

    def test_long_last_line_without_newline_gets_one(self):
        # Several hundred KiB, longer than merge's read buffers (16 to 32 KiB), the last
        # line of its input without a newline: its bytes and a newline, also when its
        # length is a multiple of the buffer size.
        for size in (320 << 10, (320 << 10) + 5, 600 << 10):
            last = b"3 " + bytes(ord("a") + i % 26 for i in range(size - 2))
            a = self.write("a.log", b"1 a\n" + last)
            b = self.write("b.log", b"2 b\n")
            r = self.run_opsktl("merge", a, b)
            self.assertEqual((r.code, r.err), (0, b""), size)
            self.assertTrue(r.out == b"1 a\n2 b\n" + last + b"\n", size)
            r = self.run_opsktl("merge", "--label", b, a)
            self.assertTrue(r.out == f"{a}\t1 a\n{b}\t2 b\n{a}\t".encode() + last + b"\n", size)

    def test_options_merge_cannot_use_are_refused(self):
        a = self.write("a.log", "1 a\n")
        r = self.run_opsktl("merge", "--service", "web", a)
        self.assertEqual((r.code, r.out), (2, b""))
        self.assertEqual(r.errtext, "opsktl: merge: --service: merge reads only the timestamp of each line; it has "
                                    "no service to name, got 'web'\nRun with --help for more information.\n")
        r = self.run_opsktl("merge", "--regex", r"^(?P<service>\S+) ", a)
        self.assertEqual((r.code, r.out), (2, b""))
        self.assertEqual(r.errtext, "opsktl: merge: --regex: the pattern has no named group (?P<ts>...), which merge "
                                    "needs\nRun with --help for more information.\n")
        r = self.run_opsktl("merge", "--regex", r"^(?P<ts>\d+) ", a)
        self.assertEqual((r.code, r.out, r.err), (0, b"1 a\n", b""))

    def test_since_that_leaves_nothing_says_so(self):
        a = self.write("a.log", "1703000000 a\n  trace\n1703000005 b\n")
        r = self.run_opsktl("merge", "--until", "1702999999", a)
        self.assertEqual((r.code, r.out), (0, b""))
        self.assertEqual(r.errtext, "opsktl: merge: --until 1702999999: all 2 records are outside the time range\n")
        r = self.run_opsktl("merge", "--since", "1703000005", a)
        self.assertEqual((r.code, r.out, r.err), (0, b"1703000005 b\n", b""))

    def test_usage_errors_exit_2(self):
        a = self.write("a.log", "1 a\n")
        for args, needle in [(["--orphans", "keep"], "--orphans"),
                             (["--reorder", "soon"], "--reorder: expected"),
                             (["--field", "service=2"], "--field: merge reads only the timestamp"),
                             (["--check", "-o", "x"], "--check"),
                             (["--bogus"], "--bogus")]:
            r = self.run_opsktl("merge", *args, a)
            self.assertEqual(r.code, 2, args)
            self.assertIn(needle, r.errtext)
            self.assertEqual(r.out, b"")

    def test_pipe_to_head_ends_quietly(self):
        lines = "".join(f"{1703000000 + i} line {i} " + "x" * 60 + "\n" for i in range(100000))
        a = self.write("a.log", lines)
        b = self.write("b.log", lines)
        code, err = self.run_pipe_head(["merge", a, b], lines=3)
        self.assertEqual((code, err), (0, b""))

    def test_two_thousand_inputs_under_a_low_open_file_limit(self):
        rng = random.Random(7)
        names, raws, recs = [], [], []
        for i in range(2000):
            t = BASE + rng.randrange(0, 50)
            text = b""
            records = []
            if i % 7 == 0:
                text += b"orphan %d\n" % i
                records.append([None, [b""]])
            for _ in range(rng.randrange(0, 4)):
                t += rng.randrange(0, 3)
                line = b"%d f%d" % (t, i)
                text += line + b"\n"
                if records and records[-1][0] is None:
                    records[-1][0] = t
                    records[-1][1].append(line)
                else:
                    records.append([t, [line]])
            name = f"in/f{i:04d}.log"
            self.write(name, text)
            names.append(name)
            raws.append(text)
            recs.append(records)
        expected = reference_merge(recs, raws, names)
        tmp = self.dir / "tmp"
        tmp.mkdir()
        script = f'ulimit -n 256 && exec "$OPSKTL" merge --label -v in/f*.log > out.log'
        proc = subprocess.run(["bash", "-c", script], cwd=self.dir, capture_output=True, timeout=300,
                              env={**os.environ, "OPSKTL": BIN, "TMPDIR": str(tmp)})
        # Inputs that hold only "orphan N" are named; that is the exit status 1.
        untimed = [untimed_message(n, rec, raw) for n, rec, raw in zip(names, recs, raws)]
        untimed = [m for m in untimed if m]
        self.assertTrue(untimed)
        self.assertEqual(proc.returncode, 1, proc.stderr[-2000:])
        told = [l for l in proc.stderr.decode().splitlines() if "no timestamp" in l]
        self.assertEqual(told, untimed)
        self.assertRegex(proc.stderr.decode(), r"[1-9]\d* temporary runs")
        self.assertEqual((self.dir / "out.log").read_bytes(), expected)
        self.assertEqual(os.listdir(tmp), [])


if __name__ == "__main__":
    main()
