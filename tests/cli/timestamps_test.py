"""End-to-end tests of the shared timestamp reader (SPEC §2 "Timestamps"): forms that
span several tokens are read whole wherever a timestamp stands, and digits that are not
a whole token are never read as an epoch. Expected output is computed here with
Python's datetime, independently of opsktl."""
from datetime import datetime, timezone

import re

from clitest import TESTDATA, CliTestCase, main


def instant(text, fmt):
    """Seconds since the epoch (float) of a zone-less or zoned stamp, UTC when zone-less."""
    dt = datetime.strptime(text, fmt)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def epoch_text(seconds):
    """flapping's tsv form: epoch seconds, a fraction only when there is one."""
    whole = int(seconds)
    ms = round((seconds - whole) * 1000)
    return str(whole) if ms == 0 else f"{whole}.{ms:03d}".rstrip("0")


class MergeTest(CliTestCase):
    def reference_merge(self, inputs):
        """Stable merge of [(lines, parse)] by each line's instant."""
        records = []
        for index, (lines, parse) in enumerate(inputs):
            for number, line in enumerate(lines):
                records.append((parse(line), index, number, line))
        return "".join(line + "\n" for *_, line in sorted(records))

    def test_nginx_error_log_merges_with_an_iso_log_in_time_order(self):
        nginx = ["2016/10/25 14:49:34 [error] 1#0: *1 open() \"/srv/x\" failed (2: No such file)",
                 "2016/10/25 14:50:10 [warn] 1#0: *2 upstream responded slowly",
                 "2016/10/25 14:52:00 [error] 1#0: *3 connect() failed (111: Connection refused)"]
        app = ["2016-10-25T14:49:00Z app start",
               "2016-10-25T14:50:00Z app request /x",
               "2016-10-25T14:51:00Z app request /y",
               "2016-10-25T14:53:00Z app stop"]
        a = self.write("error.log", "".join(line + "\n" for line in nginx))
        b = self.write("app.log", "".join(line + "\n" for line in app))
        expected = self.reference_merge([
            (nginx, lambda l: instant(l[:19], "%Y/%m/%d %H:%M:%S")),
            (app, lambda l: instant(l[:20], "%Y-%m-%dT%H:%M:%S%z")),
        ])
        r = self.run_opsktl("merge", a, b)
        self.assertEqual((r.code, r.text), (0, expected))
        self.assertEqual(r.errtext, "")

    def test_real_nginx_apache_and_kafka_logs_merge_in_time_order(self):
        # testdata/realdata (sources in its README.md): an nginx error log whose
        # FastCGI message runs over three lines, an Apache 2.2 error log (ctime in
        # brackets) and a Kafka server log ([yyyy-MM-dd HH:mm:ss,SSS]).
        forms = [
            ("nginx_error.log", r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ", "%Y/%m/%d %H:%M:%S"),
            ("apache_error.log", r"\[(\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4})\]", "%a %b %d %H:%M:%S %Y"),
            ("kafka_server.log", r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", "%Y-%m-%d %H:%M:%S"),
        ]
        records = []  # (instant, input, record index, lines): a stamped line and the lines after it
        for index, (name, pattern, fmt) in enumerate(forms):
            lines = (TESTDATA / "realdata" / name).read_bytes().decode("utf-8").splitlines(keepends=True)
            for line in lines:
                m = re.match(pattern, line)
                if m:
                    t = instant(m.group(1), fmt) + (int(m.group(2)) / 1000 if m.lastindex == 2 else 0)
                    records.append((t, index, len(records), [line]))
                else:
                    records[-1][3].append(line)  # no orphans before the first record here
        expected = "".join("".join(r[3]) for r in sorted(records, key=lambda r: r[:3]))
        paths = [TESTDATA / "realdata" / name for name, _, _ in forms]
        r = self.run_opsktl("merge", *paths)
        self.assertEqual((r.code, r.text), (0, expected))

    def test_logcat_and_compact_stamps_are_not_epoch_seconds(self):
        # Before, "03-17 ..." was read as epoch 3 and "20171223-..." as epoch 20171223:
        # both inputs came out first, in 1970.
        logcat = ["03-17 16:13:38.811  1702  2395 D WindowManager: one",
                  "03-17 16:15:00.000  1702  2395 D WindowManager: two"]
        compact = ["20250317-16:14:00:500 INFO one", "20250317-16:16:00:000 INFO two"]
        iso = ["2025-03-17T16:13:00Z start", "2025-03-17T16:14:30Z middle", "2025-03-17T16:20:00Z end"]
        a = self.write("logcat.log", "".join(line + "\n" for line in logcat))
        b = self.write("compact.log", "".join(line + "\n" for line in compact))
        c = self.write("iso.log", "".join(line + "\n" for line in iso))
        expected = self.reference_merge([
            (logcat, lambda l: instant("2025-" + l[:18], "%Y-%m-%d %H:%M:%S.%f")),
            (compact, lambda l: instant(l[:17] + "." + l[18:21], "%Y%m%d-%H:%M:%S.%f")),
            (iso, lambda l: instant(l[:20], "%Y-%m-%dT%H:%M:%S%z")),
        ])
        r = self.run_opsktl("merge", "--year", "2025", a, b, c)
        self.assertEqual((r.code, r.text), (0, expected))

    def test_field_timestamp_spanning_two_fields(self):
        lines = ["x 2016-10-25 14:50:00,000 b", "x 2016-10-25 14:49:00,000 a"]
        a = self.write("one.log", lines[1] + "\n")
        b = self.write("two.log", lines[0] + "\n")
        r = self.run_opsktl("merge", "--log-format", "fields", "--field", "ts=2", b, a)
        self.assertEqual((r.code, r.text), (0, lines[1] + "\n" + lines[0] + "\n"))


class FlappingTest(CliTestCase):
    # A log4j-style log: date, time with milliseconds, then service and event.
    TIMES = ["2015-07-29 19:03:35,413", "2015-07-29 19:03:40,000", "2015-07-29 19:03:50,250",
             "2015-07-29 21:10:00,000", "2015-07-29 21:10:05,000", "2015-07-29 21:10:10,500"]

    def log(self):
        return self.write("app.log", "".join(f"{t} nginx restarted\n" for t in self.TIMES))

    def test_log4j_stamps_give_two_episodes_at_their_times(self):
        # Before, each stamp was read as its date alone (midnight): one episode at 00:00:00.
        secs = [instant(t.replace(",", "."), "%Y-%m-%d %H:%M:%S.%f") for t in self.TIMES]
        # -n 2 -w 60: each third restart within a minute alerts; an episode starts at the
        # earliest restart in its first alert's window and ends at its last alert.
        expected = "".join(f"nginx\t{epoch_text(secs[i])}\t{epoch_text(secs[i + 2])}\t3\t3\n" for i in (0, 3))
        r = self.run_opsktl("flapping", "--format", "tsv", "-n", "2", "-w", "60",
                            "--field", "service=3", "--field", "event=4", self.log())
        self.assertEqual((r.code, r.text), (0, expected))

    def test_default_service_position_inside_the_timestamp_is_an_input_problem(self):
        # Default positions (ts=1 service=2 event=3): field 2 is the stamp's time. The
        # input is refused with the reason, as an input that cannot be read (exit 2).
        path = self.log()
        r = self.run_opsktl("flapping", "--format", "tsv", path)
        self.assertEqual((r.code, r.text), (2, ""))
        self.assertIn(f"{path}:line 1: the timestamp '2015-07-29 19:03:35,413' is fields 1-2, but field 2 "
                      "is the service field", r.errtext)
        self.assertIn("--field service=3", r.errtext)

    def test_explicit_position_inside_the_timestamp_makes_the_line_malformed(self):
        # Line 1 has an epoch (one field), so the input is accepted; line 2 is a restart
        # (field 3) whose stamp spans fields 1-2, where service=2 points: malformed.
        path = self.write("mixed.log", "1438196600 nginx restarted\n"
                                       "2015-07-29 19:03:35,413 restarted\n")
        r = self.run_opsktl("flapping", "--format", "tsv", "-n", "0", path)
        self.assertEqual((r.code, r.text), (0, "nginx\t1438196600\t1438196600\t1\t1\n"))
        self.assertIn(f"1 malformed line skipped (first at {path}:2: a --field position falls inside the "
                      "timestamp)", r.errtext)


class ErrorsByEndpointTest(CliTestCase):
    def test_since_on_space_separated_date_and_time(self):
        # An IIS-like log: date and time are two fields. Before, every stamp was read as
        # midnight and --since dropped every line.
        log = self.write("iis.log", "".join(f"{line}\n" for line in [
            "2015-01-13 11:59:59 W3SVC1 /api/a 500",
            "2015-01-13 12:00:00 W3SVC1 /api/a 500",
            "2015-01-13 12:00:01 W3SVC1 /api/b 503",
            "2015-01-13 12:30:00 W3SVC1 /api/a 200",
            "2015-01-14 00:00:00 W3SVC1 /api/c 200",
        ]))
        since = "2015-01-13 12:00:00"
        until = "2015-01-13 23:59:59"
        # By hand: lines 2-4 are within the bounds; /api/a has 1 error of 2 requests,
        # /api/b 1 of 1.
        r = self.run_opsktl("errors-by-endpoint", "--format", "tsv", "--since", since, "--until", until,
                            "--field", "service=3", "--field", "path=4", "--field", "status=5",
                            "--field", "latency=0", log)
        self.assertEqual(r.code, 0, r.errtext)
        rows = [line.split("\t") for line in r.text.splitlines()]
        self.assertEqual([(row[0], row[1], row[-2], row[-1]) for row in rows],
                         [("1", "2", "W3SVC1", "/api/a"), ("1", "1", "W3SVC1", "/api/b")])


if __name__ == "__main__":
    main()
