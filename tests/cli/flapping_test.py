"""End-to-end tests of `opsktl flapping` (SPEC §4), against flapping_reference.py."""
import json
import os
import queue
import random
import select
import signal
import subprocess
import threading
import time
import unittest

import clitest
import flapping_reference as ref

EVENTS = """\
1703000000 nginx restarted
1703000100 nginx restarted
1703000100 redis started
1703000200 nginx Restarted
1703000300 nginx restarted
1703000350 nginx RESTARTED
1703002000 nginx restarted
1703002000 redis restarted
"""


def random_stream(rng, lines):
    """Events of a few services, each in time order, interleaved at random."""
    services = [f"svc{i}" for i in range(rng.randint(1, 6))] + ["ünïcode"]
    clocks = {s: 1703000000 + rng.randint(0, 3000) for s in services}
    out = []
    for _ in range(lines):
        s = rng.choice(services)
        clocks[s] += rng.choice([0, 0, 1, 5, 30, 100, 200, 300, 600, 601, 2000])
        ev = rng.choice(["restarted"] * 6 + ["Restarted", "started", "stopped", "failed"])
        out.append(f"{clocks[s]} {s} {ev}")
    return "\n".join(out) + "\n"


class FlappingTest(clitest.CliTestCase):
    def flapping(self, *args, **kw):
        return self.run_opsktl("flapping", *args, **kw)

    # ---- results against the reference ----

    def test_every_rows_equal_reference_on_random_streams(self):
        rng = random.Random(7)
        for case in range(40):
            text = random_stream(rng, rng.randint(1, 400))
            n, window = rng.randint(0, 5), rng.choice([0, 1, 60, 300, 600, 900])
            path = self.write(f"r{case}.log", text)
            r = self.flapping("--alerts", "every", "-n", n, "-w", window, path)
            want = [[str(ts), s, str(c)] for ts, s, c in ref.every_rows(ref.parse(text), n, window)]
            self.assertEqual(r.rows(), want, f"case {case}: n={n} window={window}")
            self.assertEqual(r.code, 0 if want else 1)

    def test_episode_rows_equal_reference_on_random_streams(self):
        rng = random.Random(11)
        for case in range(40):
            text = random_stream(rng, rng.randint(1, 400))
            n, window = rng.randint(0, 5), rng.choice([0, 60, 300, 600])
            path = self.write(f"r{case}.log", text)
            r = self.flapping("--alerts", "episode", "-n", n, "-w", window, path)
            want = [[s, str(a), str(b), str(c), str(d)] for s, a, b, c, d in
                    ref.episode_rows(ref.parse(text), n, window)]
            self.assertEqual(r.rows(), want, f"case {case}: n={n} window={window}")

    def test_episodes_agree_with_every_rows(self):
        """Episodes derived from opsktl's own every rows equal its episode rows."""
        rng = random.Random(3)
        for case in range(20):
            text = random_stream(rng, 300)
            n, window = rng.randint(0, 3), rng.choice([60, 300])
            path = self.write(f"r{case}.log", text)
            every = self.flapping("--alerts", "every", "-n", n, "-w", window, path).rows()
            episodes = self.flapping("-n", n, "-w", window, path).rows()
            self.assertEqual(len(episodes) > 0, len(every) > 0)
            derived = []
            restarts = [(ts, s) for ts, s, ev in ref.parse(text) if ev.lower() == "restarted"]
            for service in sorted({s for _, s in restarts}):
                times = [ts for ts, s in restarts if s == service]
                counts = [int(c) for ts, s, c in every if s == service]
                alert_ts = [int(ts) for ts, s, c in every if s == service]
                # Restarts at one time alert last-first: each one adds to the same window.
                flags = []
                i = 0
                while i < len(times):
                    j = i
                    while j < len(times) and times[j] == times[i]:
                        j += 1
                    k = alert_ts.count(times[i])
                    flags += [False] * (j - i - k) + [True] * k
                    i = j
                self.assertEqual(sum(flags), len(counts))
                a = 0  # index into this service's every rows
                i = 0
                while i < len(times):
                    if not flags[i]:
                        i += 1
                        continue
                    first = counts[a]
                    run = []
                    while i < len(times) and flags[i]:
                        run.append(counts[a])
                        a += 1
                        i += 1
                    derived.append([service, str(times[i - len(run) - first + 1]), str(times[i - 1]),
                                    str(first + len(run) - 1), str(max(run))])
            derived.sort(key=lambda r: (int(r[2]), r[0].encode()))
            self.assertEqual(episodes, derived, f"case {case}")

    def test_generated_bench_data_equals_reference(self):
        gen = self.generator("gen_events.py")
        path = self.dir / "gen.log"
        subprocess.run([*gen, "--lines", "30000", "--services", "40", "--seed", "5", "-o", str(path)],
                       check=True, capture_output=True)
        text = path.read_text()
        # The reference skips malformed lines; keep only well-formed integer-ts lines for both.
        clean = "\n".join(f"{ts} {s} {e}" for ts, s, e in ref.parse(text)) + "\n"
        clean_path = self.write("clean.log", clean)
        r = self.flapping("--alerts", "every", clean_path)
        want = [[str(ts), s, str(c)] for ts, s, c in ref.every_rows(ref.parse(clean), 3, 600)]
        self.assertEqual(r.rows(), want)
        self.assertTrue(want)

    def test_threads_split_large_file_with_same_output(self):
        # Larger than the 4 MiB split threshold: --threads 4 cuts it into chunks parsed in
        # parallel; every output format, the stderr reports (malformed and late lines with
        # their file:line) and the exit code must equal one thread's.
        gen = self.generator("gen_events.py")
        path = self.dir / "gen.log"
        subprocess.run([*gen, "--lines", "160000", "--services", "40", "--seed", "9", "-o", str(path)],
                       check=True, capture_output=True)
        lines = path.read_text().splitlines(keepends=True)
        # Late restarts: copies of earlier restart lines, spread through the file.
        late = self.dir / "late.log"
        late.write_text("".join(line + (lines[i - 500] if i % 20000 == 0 and i else "")
                                for i, line in enumerate(lines)))
        self.assertGreater(path.stat().st_size, 4 << 20)
        for log in (path, late):
            for args in (["--alerts", "every"], ["--alerts", "episode"], ["--format", "json"],
                         ["--format", "table", "--alerts", "every"], ["--reorder", "1h"], ["-n", "1", "-w", "30"]):
                one = self.flapping("--threads", "1", *args, str(log))
                four = self.flapping("--threads", "4", *args, str(log))
                self.assertEqual(one.code, 0)
                self.assertEqual(four.out, one.out, f"{log.name} {args}")
                self.assertEqual(four.err, one.err, f"{log.name} {args}")
                self.assertEqual(four.code, one.code)
        self.assertIn("late restart", self.flapping("--threads", "4", str(late)).errtext)
        strict = self.flapping("--threads", "4", "--strict", str(path))
        self.assertEqual(strict.code, 2)
        self.assertEqual(strict.err, self.flapping("--threads", "1", "--strict", str(path)).err)
        # And against the reference, on the well-formed lines (still above the threshold).
        text = path.read_text()
        clean = "\n".join(f"{ts} {s} {e}" for ts, s, e in ref.parse(text)) + "\n"
        clean_path = self.write("clean.log", clean)
        self.assertGreater(os.path.getsize(clean_path), 4 << 20)
        r = self.flapping("--alerts", "every", "--threads", "4", clean_path)
        want = [[str(ts), s, str(c)] for ts, s, c in ref.every_rows(ref.parse(clean), 3, 600)]
        self.assertEqual(r.rows(), want)
        self.assertTrue(want)

    # ---- options ----

    def test_default_output_is_episodes(self):
        r = self.flapping(self.write("e.log", EVENTS))
        self.assertEqual(r.code, 0)
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])

    def test_max_restarts_and_window(self):
        path = self.write("e.log", EVENTS)
        self.assertEqual(self.flapping("-n", 4, path).rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])
        self.assertEqual(self.flapping("-n", 5, path).code, 1)
        r = self.flapping("--alerts", "every", "--max-restarts", 1, "--window", "1m", path)
        self.assertEqual(r.rows(), [["1703000350", "nginx", "2"]])
        r = self.flapping("--alerts", "every", "-n", 3, "-w", "200s", path)
        self.assertEqual(r.rows(), [])
        r = self.flapping("--alerts", "every", "-n", 3, "-w", "0.1h", path)  # 360 s
        self.assertEqual(r.rows(), [["1703000300", "nginx", "4"], ["1703000350", "nginx", "5"]])

    def test_event_word_and_regex(self):
        text = ("1703000000 nginx nginx.service: Scheduled restart job, restart counter is at 1.\n"
                "1703000010 nginx nginx.service: Scheduled restart job, restart counter is at 2.\n"
                "1703000020 nginx crashed\n1703000030 nginx CRASHED\n")
        path = self.write("sd.log", text)
        r = self.flapping("--alerts", "every", "-n", 1, "--event-regex", "Scheduled restart", path)
        self.assertEqual(r.rows(), [["1703000010", "nginx", "2"]])
        r = self.flapping("--alerts", "every", "-n", 1, "--event", "crashed", path)
        self.assertEqual(r.rows(), [["1703000030", "nginx", "2"]])

    def test_journal_json_with_event_regex(self):
        lines = []
        for i in range(5):
            lines.append(json.dumps({"__REALTIME_TIMESTAMP": str((1703000000 + 10 * i) * 10**6),
                                     "_SYSTEMD_UNIT": "nginx.service",
                                     "MESSAGE": f"nginx.service: Scheduled restart job, restart counter is at {i}."}))
            lines.append(json.dumps({"__REALTIME_TIMESTAMP": str((1703000001 + 10 * i) * 10**6),
                                     "MESSAGE": "kernel: something else"}))
        r = self.flapping("--log-format", "json", "--event-regex", "Scheduled restart", stdin="\n".join(lines) + "\n")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [["nginx.service", "1703000000", "1703000040", "5", "5"]])

    def test_field_positions(self):
        path = self.write("p.log", "".join(f"x restarted {1703000000 + i} api\n" for i in range(5)))
        r = self.flapping("--field", "ts=3", "--field", "service=4", "--field", "event=2", path)
        self.assertEqual(r.rows(), [["api", "1703000000", "1703000004", "5", "5"]])

    def test_since_until(self):
        path = self.write("e.log", EVENTS)
        r = self.flapping("--alerts", "every", "--since", "1703000200", path)
        self.assertEqual(r.code, 1)  # 200, 300, 350: three restarts, not more
        r = self.flapping("--alerts", "every", "-n", 2, "--until", "1703000300", "--format", "json", path)
        self.assertEqual([a["ts"] for a in json.loads(r.out)["alerts"]], [1703000200, 1703000300])
        self.assertEqual(json.loads(r.out)["summary"]["filtered_out"], 3)  # 350, 2000, 2000

    def test_fractional_and_iso_timestamps(self):
        text = ("2023-12-19T15:33:20.5Z a restarted\n1703000000.75 a restarted\n"
                "1703000001 a restarted\n1703000001 a restarted\n")
        r = self.flapping("--alerts", "every", "-n", 2, stdin=text)
        self.assertEqual(r.rows(), [["1703000001", "a", "3"], ["1703000001", "a", "4"]])
        r = self.flapping("-n", 2, stdin=text)
        self.assertEqual(r.rows(), [["a", "1703000000.5", "1703000001", "4", "4"]])

    def test_json_output(self):
        r = self.flapping("--format", "json", self.write("e.log", EVENTS))
        doc = json.loads(r.out)
        self.assertEqual(doc["episodes"], [{"service": "nginx", "start_ts": 1703000000, "end_ts": 1703000350,
                                            "restarts": 5, "peak": 5}])
        self.assertEqual(doc["summary"]["restarts"], 7)
        self.assertEqual(doc["summary"]["services"], 2)
        self.assertEqual(doc["summary"]["lines"], 8)
        r = self.flapping("--format", "json", "--alerts", "every", self.write("e.log", EVENTS))
        self.assertEqual([a["count"] for a in json.loads(r.out)["alerts"]], [4, 5])

    def test_table_output_has_header_and_iso_times(self):
        r = self.flapping("--format", "table", self.write("e.log", EVENTS))
        lines = r.text.splitlines()
        self.assertEqual(lines[0].split(), ["SERVICE", "START_TS", "END_TS", "RESTARTS", "PEAK"])
        self.assertEqual(lines[1].split(), ["nginx", "2023-12-19T15:33:20Z", "2023-12-19T15:39:10Z", "5", "5"])

    # ---- out-of-order input ----

    def test_late_restarts_are_skipped_and_reported_once_per_input(self):
        text = "100 a restarted\n200 a restarted\n150 a restarted\n120 a restarted\n300 b restarted\n"
        one, two = self.write("one.log", text), self.write("two.log", "50 b restarted\n")
        r = self.flapping("--alerts", "every", "-n", 0, "--format", "json", one, two)
        doc = json.loads(r.out)
        self.assertEqual([(a["ts"], a["service"]) for a in doc["alerts"]],
                         [(100, "a"), (200, "a"), (300, "b")])
        self.assertEqual(doc["summary"]["late"], 3)
        self.assertIn(f"{one}:3: restart earlier", r.errtext)
        self.assertNotIn(f"{one}:4: restart earlier", r.errtext)
        self.assertIn(f"{two}:1: restart earlier", r.errtext)
        self.assertIn(f"3 late restarts skipped (first at {one}:3)", r.errtext)

    def test_reorder_places_restarts_up_to_its_duration_late(self):
        text = "100 a restarted\n200 a restarted\n150 a restarted\n120 a restarted\n400 a restarted\n"
        r = self.flapping("--alerts", "every", "-n", 0, "-w", 100, "--reorder", "100s", stdin=text)
        self.assertEqual(r.rows(), [["100", "a", "1"], ["120", "a", "2"], ["150", "a", "3"], ["200", "a", "4"],
                                    ["400", "a", "1"]])
        self.assertNotIn("late", r.errtext)
        # 300 releases 100 and 200 (60 s or more older), so 150 comes after 200: late.
        text = "100 a restarted\n200 a restarted\n300 a restarted\n150 a restarted\n"
        r = self.flapping("--alerts", "every", "-n", 0, "--reorder", "60s", stdin=text)
        self.assertEqual([row[0] for row in r.rows()], ["100", "200", "300"])
        self.assertIn("1 late restart skipped", r.errtext)

    # ---- inputs ----

    def test_stdin_and_dash(self):
        self.assertEqual(self.flapping(stdin=EVENTS).rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])
        self.assertEqual(self.flapping("-", stdin=EVENTS).rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])

    def test_gzip_file_and_gzip_on_stdin(self):
        path = self.write("e.log.gz", EVENTS, compress=True)
        self.assertEqual(self.flapping(path).rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])
        import gzip
        r = self.flapping(stdin=gzip.compress(EVENTS.encode()))
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])

    def test_crlf_lines(self):
        r = self.flapping(stdin=EVENTS.replace("\n", "\r\n"))
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])

    def test_malformed_lines_counted_and_named(self):
        text = "1703000000 a restarted\n\n1703000001 a\nnot-a-time a restarted\n" + EVENTS
        path = self.write("m.log", text)
        r = self.flapping("--format", "json", path)
        self.assertEqual(r.code, 0)
        summary = json.loads(r.out)["summary"]
        self.assertEqual(summary["malformed"], 2)
        self.assertEqual(summary["first_malformed_reason"], "too_few_fields")
        self.assertEqual(summary["malformed_reasons"], {"too_few_fields": 1, "bad_timestamp": 1})
        self.assertIn("opsktl: flapping: 2 malformed lines skipped "
                      f"(first at {path}:3: fewer fields than --field asks)\n", r.errtext)
        r = self.flapping("-v", path)
        self.assertIn("opsktl: flapping: malformed lines by reason: "
                      "1 fewer fields than --field asks, 1 ts is not a timestamp\n", r.errtext)
        r = self.flapping("--strict", path)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.errtext, f"opsktl: flapping: {path}:3: malformed line (--strict): "
                                    "fewer fields than --field asks\n")

    def test_help_shows_the_real_default_format(self):
        r = self.flapping("--help")
        self.assertIn("--log-format auto, the default,", r.text)
        self.assertNotIn("default --log-format fields", r.text)

    def test_since_that_leaves_nothing_says_so(self):
        path = self.write("e.log", EVENTS)
        r = self.flapping("--since", "2030-01-01T00:00:00Z", path)
        self.assertEqual((r.code, r.out), (1, b""))
        n = sum(1 for line in EVENTS.splitlines() if line.split()[2].lower() == "restarted")  # any case
        self.assertEqual(r.errtext, f"opsktl: flapping: --since 2030-01-01T00:00:00Z: all {n} restarts are outside "
                                    "the time range\n")

    def test_format_without_a_needed_field_names_it(self):
        path = self.write("e.log", EVENTS)
        r = self.flapping("--regex", r"^(?P<ts>\d+) (?P<service>\S+)", path)
        self.assertEqual((r.code, r.out), (2, b""))
        self.assertEqual(r.errtext, "opsktl: flapping: --regex: the pattern has no named group (?P<event>...), which "
                                    "flapping needs\nRun with --help for more information.\n")
        r = self.flapping("--log-format", "fields", "--field", "service=0", path)
        self.assertEqual(r.errtext, "opsktl: flapping: the fields format has no service field, which flapping "
                                    "needs; give its position with --field service=N\n"
                                    "Run with --help for more information.\n")

    def test_malformed_reasons_when_split_across_threads(self):
        # A large file is scanned in chunks on several threads; the counts per reason
        # and the first malformed line are those of a single thread.
        body = "".join(f"{1703000000 + i} s{i % 7} restarted\n" for i in range(100000))
        text = body + "1703100000 a\n" + body + "bad-time a restarted\n1703200000 b\n"
        path = self.write("big.log", text)
        for threads in ("1", "3"):
            r = self.flapping("--threads", threads, "--format", "json", path)
            summary = json.loads(r.out)["summary"]
            self.assertEqual((summary["malformed"], summary["first_malformed"], summary["first_malformed_reason"],
                              summary["malformed_reasons"]),
                             (3, f"{path}:100001", "too_few_fields", {"too_few_fields": 2, "bad_timestamp": 1}),
                             threads)

    def test_binary_garbage_and_empty_input(self):
        r = self.flapping(self.write("g.bin", bytes(range(256)) * 50))
        self.assertEqual(r.code, 1)
        self.assertEqual(r.out, b"")
        r = self.flapping(self.write("empty.log", ""))
        self.assertEqual((r.code, r.out, r.err), (1, b"", b""))

    def test_long_line_is_malformed_not_fatal(self):
        r = self.flapping(stdin="1 a restarted " + "x" * 20_000_000 + "\n" + EVENTS)
        self.assertEqual(r.code, 0)
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])

    # ---- exit codes ----

    def test_exit_codes(self):
        path = self.write("e.log", EVENTS)
        self.assertEqual(self.flapping(path).code, 0)
        self.assertEqual(self.flapping("-n", 100, path).code, 1)
        missing = str(self.dir / "missing.log")
        r = self.flapping(missing, path)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])
        self.assertIn("missing.log", r.errtext)

    def test_usage_errors(self):
        for args, needle in [(["-w", "10 minutes"], "--window: expected"),
                             (["--reorder", "soon"], "--reorder: expected"),
                             (["--event-regex", "("], "--event-regex: not a valid RE2 pattern"),
                             (["--alerts", "some"], "--alerts"),
                             (["-n", "-1"], "max-restarts"),
                             (["--field", "event=0"], "no event field")]:
            r = self.flapping(*args, stdin=EVENTS)
            self.assertEqual(r.code, 2, args)
            self.assertIn(needle, r.errtext, args)
            self.assertEqual(r.out, b"")

    def test_pipe_to_head_is_quiet(self):
        text = "".join(f"{1703000000 + i} s{i % 7} restarted\n" for i in range(200000))
        path = self.write("many.log", text)
        code, err = self.run_pipe_head(["flapping", "--alerts", "every", "-n", "0", path])
        self.assertEqual((code, err), (0, b""))

    # ---- follow mode ----

    def test_follow_survives_rotation_and_truncation_and_ends_on_sigint(self):
        log = self.dir / "live.log"
        log.write_text("1703000000 web restarted\n")
        proc = subprocess.Popen([clitest.BIN, "flapping", "-f", "--alerts", "every", "-n", "1", "-w", "60",
                                 str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = queue.Queue()
        errors = []
        threading.Thread(target=lambda: [lines.put(l.decode().rstrip("\n")) for l in proc.stdout],
                         daemon=True).start()
        stderr_reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
        stderr_reader.start()

        def wait_stderr(needle, deadline=10.0):
            end = time.monotonic() + deadline
            while not any(needle in e for e in errors):
                if time.monotonic() > end:
                    proc.kill()
                    self.fail(f"no {needle!r} on stderr within {deadline} s")
                time.sleep(0.02)

        def expect(row, deadline=10.0):
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                try:
                    return self.assertEqual(lines.get(timeout=0.05), row)
                except queue.Empty:
                    continue
            proc.kill()
            self.fail(f"no output {row!r} within {deadline} s")

        def append(text):
            with open(log, "a") as f:
                f.write(text)

        try:
            append("1703000010 web restarted\n")
            expect("1703000010\tweb\t2")
            # logrotate: rename, then a new file under the old name.
            os.rename(log, self.dir / "live.log.1")
            with open(self.dir / "live.log.1", "a") as f:
                f.write("1703000020 web restarted\n")  # written to the old file just after the rename
            log.write_text("1703000030 web restarted\n")
            expect("1703000020\tweb\t3")
            expect("1703000030\tweb\t4")
            # copytruncate: the same file, emptied, then written again.
            with open(log, "r+") as f:
                f.truncate(0)
            wait_stderr(b"file truncated")
            append("1703000040 api restarted\n1703000041 api restarted\n")
            expect("1703000041\tapi\t2")
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
            stderr_reader.join(timeout=10)
            err = b"".join(errors)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0)
        self.assertIn(b"4 alerting restarts", err)  # web at 10, 20, 30; api at 41
        self.assertIn(b"file replaced", err)

    def test_follow_prints_episode_when_time_has_passed(self):
        log = self.dir / "live.log"
        log.write_text("100 web restarted\n110 web restarted\n")
        proc = subprocess.Popen([clitest.BIN, "flapping", "-f", "-n", "1", "-w", "60", str(log)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            with open(log, "a") as f:
                f.write("500 other started\n500 other restarted\n")
            line = proc.stdout.readline()  # blocks until flushed; the timeout below bounds it
            self.assertEqual(line, b"web\t100\t110\t2\t2\n")
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0)

    def test_follow_json_writes_each_alert_as_decided_and_one_document_at_the_end(self):
        log = self.dir / "live.log"
        log.write_text("1703000000 web restarted\n1703000010 web restarted\n")
        args = ["flapping", "-f", "--format", "json", "--alerts", "every", "-n", "1", "-w", "60", str(log)]
        proc = subprocess.Popen([clitest.BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = b""

        def read_until(needle, deadline=10.0):
            nonlocal out
            end = time.monotonic() + deadline
            while needle not in out:
                ready, _, _ = select.select([proc.stdout], [], [], 0.05)
                if ready:
                    out += os.read(proc.stdout.fileno(), 65536)
                if time.monotonic() > end:
                    proc.kill()
                    self.fail(f"no {needle!r} on stdout within {deadline} s: {out!r}")

        try:
            read_until(b'{"ts":1703000010,"service":"web","count":2}')
            with open(log, "a") as f:
                f.write("1703000020 web restarted\n")
            read_until(b'{"ts":1703000020,"service":"web","count":3}')
            proc.send_signal(signal.SIGTERM)
            rest, _ = proc.communicate(timeout=10)
            out += rest
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0)
        self.check_json_output(args, out)
        doc = json.loads(out)
        self.assertEqual(doc["alerts"], [{"ts": 1703000010, "service": "web", "count": 2},
                                         {"ts": 1703000020, "service": "web", "count": 3}])
        self.assertEqual((doc["summary"]["lines"], doc["summary"]["restarts"], doc["summary"]["alerts"]), (3, 3, 2))

    def test_follow_on_a_pipe_ends_at_its_end(self):
        r = self.flapping("-f", stdin=EVENTS, timeout=20)
        self.assertEqual(r.code, 0)
        self.assertEqual(r.rows(), [["nginx", "1703000000", "1703000350", "5", "5"]])


if __name__ == "__main__":
    clitest.main()
