"""End-to-end: --log-format fields|combined|logfmt|json|regex|auto (SPEC §2, issue 3).

Expected results come from independent Python readers of each format (or are written by
hand), never from opsktl's own earlier output.
"""
import collections
import json
import re
import subprocess
import sys

from clitest import TESTDATA, CliTestCase, main

REALDATA = TESTDATA / "realdata"

CONV = [sys.executable, str(TESTDATA.parent / "tests" / "cli" / "logconv.py")]
FORMATS = TESTDATA / "formats"


def reference_5xx(fields_log):
    """errors and requests per (service, path) from a fields log: 5 fields, 3-digit status."""
    errors, requests = collections.Counter(), collections.Counter()
    for line in fields_log.splitlines():
        f = line.split()
        if len(f) != 5 or not re.fullmatch(r"\d{3}", f[3]):
            continue
        requests[(f[1], f[2])] += 1
        if f[3].startswith("5"):
            errors[(f[1], f[2])] += 1
    return errors, requests


class LogFormatsTest(CliTestCase):
    def eb(self, *args, **kw):
        fmt = [] if "--format" in args else ["--format", "tsv"]
        return self.run_opsktl("errors-by-endpoint", *fmt, *args, **kw)

    def test_same_traffic_in_every_format_gives_the_same_answer(self):
        gen = self.generator("gen_access_log.py")
        fields = self.dir / "fields.log"
        combined = self.dir / "combined.log"
        common = ["--lines", "20000", "--seed", "7"]
        subprocess.run(gen + common + ["-o", str(fields)], check=True)
        subprocess.run(gen + common + ["--format", "combined", "-o", str(combined)], check=True)
        for to in ["logfmt", "json", "json-nested"]:
            subprocess.run(CONV + ["--to", to, "-o", str(self.dir / f"{to}.log"), str(fields)], check=True)
        errors, requests = reference_5xx(fields.read_text())
        expected = sorted([str(e), str(requests[k]), k[0], k[1]] for k, e in errors.items())

        nested = ["--field", "ts=@timestamp", "--field", "service=svc.name", "--field", "path=http.path",
                  "--field", "status=http.status"]
        runs = {
            "fields": ["--log-format", "fields", fields],
            "combined": ["--log-format", "combined", combined],
            "logfmt": ["--log-format", "logfmt", self.dir / "logfmt.log"],
            "json": ["--log-format", "json", self.dir / "json.log"],
            "json-nested": ["--log-format", "json", *nested, self.dir / "json-nested.log"],
            "auto-combined": [combined],
            "auto-logfmt": [self.dir / "logfmt.log"],
            "auto-json": [self.dir / "json.log"],
            "auto-json-nested": [*nested, self.dir / "json-nested.log"],
        }
        outputs = {}
        for name, args in runs.items():
            r = self.eb("-k", "0", *args)
            self.assertEqual(r.code, 0, f"{name}: {r.errtext}")
            outputs[name] = r.rows()
            got = sorted([row[0], row[1], row[5], row[6]] for row in r.rows())
            self.assertEqual(got, expected, name)
        # Latency percentiles too: ms in fields/logfmt/json, seconds (rt=) in combined.
        for name, rows in outputs.items():
            if name != "json-nested" and name != "auto-json-nested":
                self.assertEqual(rows, outputs["fields"], name)
        # The nested file names its latency duration_ms: same values.
        self.assertEqual(outputs["json-nested"], outputs["fields"])

    def test_real_apache_log_matches_independent_count(self):
        log = REALDATA / "apache_access.log"
        # A line cut off inside a quoted field (one in this file) is malformed.
        line_re = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+)'
                             r'((?: "(?:[^"\\]|\\.)*")*)(?: [^"]*)?$')
        errors, requests = collections.Counter(), collections.Counter()
        malformed = 0
        for line in log.read_bytes().decode("utf-8", "surrogateescape").splitlines():
            m = line_re.match(line)
            req = m and re.fullmatch(r"([A-Z_-]+) (\S+)(?: HTTP/\S+)?", m.group(3))
            if not m or not req or not req.group(2).startswith("/"):
                malformed += 1
                continue
            path = req.group(2).split("?")[0]
            requests[path] += 1
            if m.group(4).startswith("5"):
                errors[path] += 1
        r = self.eb("--by", "path", "-k", "0", "-v", log)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertIn("reading as combined", r.errtext)
        got = sorted((row[5], int(row[0]), int(row[1])) for row in r.rows())
        self.assertEqual(got, sorted((p, e, requests[p]) for p, e in errors.items()))
        r = self.eb("--by", "path", "-k", "0", "--format", "json", log)
        summary = json.loads(r.out)["summary"]
        self.assertEqual(summary["lines"], len(log.read_bytes().splitlines()))
        self.assertEqual(summary["malformed"], malformed)

    def test_real_syslog_is_recognised_and_regex_reads_it(self):
        log = REALDATA / "auth.log"
        r = self.eb("-v", log)
        self.assertIn("reading as syslog", r.errtext)
        # syslog has no status: the input is refused with the one message for a missing field.
        self.assertEqual(r.code, 2)
        self.assertIn("the syslog format has no status field, which errors-by-endpoint needs (--log-format auto read it as syslog", r.errtext)
        # sshd's invalid users: the regex supplies a status so errors-by-endpoint can count.
        pattern = (r"^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?P<service>sshd)\[\d+\]: "
                   r"Invalid user (?P<path>\S*) from (?P<client>\S+)"
                   r"(?P<status>)")
        r = self.eb("--regex", pattern, log)
        self.assertEqual(r.code, 1, r.errtext)  # empty status group: every line malformed
        text = log.read_text(errors="surrogateescape")
        failed = len(re.findall(r"sshd\[\d+\]: Invalid user", text))
        self.assertGreater(failed, 0)
        r = self.eb("--regex", pattern.replace("(?P<status>)", "") + r".*port (?P<status>\d{3})\b",
                    "--status", "100-999", "--format", "json", log)
        summary = json.loads(r.out)["summary"]
        self.assertEqual(summary["lines"], len(text.splitlines()))

    def test_combined_samples_by_method_and_client(self):
        r = self.eb("--by", "method,client", "-k", "0", FORMATS / "nginx_combined.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [
            ["2", "2", "100.00", "1204", "30001", "POST", "203.0.113.7"],
            ["1", "1", "100.00", "250", "250", "GET", "198.51.100.23"],
        ])
        # The TLS bytes and the "-" request are requests answered with 400: method and path "-".
        self.assertNotIn("malformed", r.errtext)
        r = self.eb("--status", "4xx", "--by", "method,path", FORMATS / "nginx_combined.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [["2", "2", "100.00", "0", "0", "-", "-"]])

    def test_vcombined_service_from_vhost_and_microsecond_latency(self):
        r = self.eb("-k", "0", FORMATS / "apache_vcombined.log")
        self.assertEqual(r.rows(), [
            ["1", "1", "100.00", "60000.412", "60000.412", "api.example.org", "/v2/items/17"],
            ["1", "1", "100.00", "2503.118", "2503.118", "www.example.org", "/cgi-bin/report.cgi"],
        ])

    def test_service_falls_back_to_file_name_and_option(self):
        line = '10.0.0.1 - - [19/Dec/2025:10:01:02 +0000] "GET /a?b=1 HTTP/1.1" 500 12\n'
        path = self.write("billing.log.1", line)
        self.assertEqual(self.eb(path).rows(), [["1", "1", "100.00", "-", "-", "billing", "/a"]])
        self.assertEqual(self.eb("--service", "pay", path).rows(), [["1", "1", "100.00", "-", "-", "pay", "/a"]])
        r = self.eb(stdin=line)
        self.assertEqual(r.rows(), [["1", "1", "100.00", "-", "-", "-", "/a"]])

    def test_logfmt_and_json_samples(self):
        expected = [["1", "2", "50.00"], ["1", "1", "100.00"]]
        r = self.eb("-k", "0", FORMATS / "app.logfmt")
        self.assertEqual([row[:3] for row in r.rows()], expected)
        self.assertEqual([row[5:] for row in r.rows()], [["search", "/api/v1/search"], ["checkout", "/api/v1/orders"]])
        r = self.eb("-k", "0", "--field", "service=service.name", "--field", "path=url.path",
                    "--field", "status=http.response.status_code", "--field", "latency=event.duration_ms",
                    "--by", "service,method,path", "--field", "method=http.request.method",
                    FORMATS / "app.jsonl")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual([row[5:] for row in r.rows()],
                         [["search", "GET", "/api/v1/search"], ["checkout", "POST", "/api/v1/orders"]])
        self.assertEqual(r.rows()[1][3], "3012.5")

    def test_journald_export_reads_as_is(self):
        # Service and timestamp come from _SYSTEMD_UNIT/UNIT and __REALTIME_TIMESTAMP (µs).
        log = FORMATS / "journald.jsonl"
        lines = log.read_text().splitlines()
        status_log = self.write("j.jsonl", "".join(l[:-1] + ',"status":500}\n' for l in lines))
        r = self.eb("--by", "service", "--since", "2025-12-19T10:01:07Z", "--format", "json", status_log)
        self.assertEqual(r.code, 0, r.errtext)
        doc = json.loads(r.out)
        # Lines 2-5 are after --since; 4 and 5 have _SYSTEMD_UNIT=init.scope and UNIT=nginx.service.
        self.assertEqual([(e["service"], e["errors"]) for e in doc["endpoints"]], [("nginx.service", 4)])
        self.assertEqual(doc["summary"]["filtered_out"], 1)

    def test_journald_restarts_of_a_unit_need_no_field(self):
        # systemd logs "Scheduled restart job" with _SYSTEMD_UNIT=init.scope and the unit in
        # UNIT: lines 2, 4 and 5 of journald.jsonl are nginx.service's restarts, at
        # 1766138467.200001, 1766138477.3 and 1766138487.4; with -n 2 the third alerts.
        log = FORMATS / "journald.jsonl"
        r = self.run_opsktl("flapping", "--format", "tsv", "--event-regex", "Scheduled restart", "-n", "2",
                            "--alerts", "every", stdin=log.read_bytes())
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.text, "1766138487.4\tnginx.service\t3\n")

    def test_comment_lines_are_counted_apart(self):
        # SPEC §1: `#` first is a comment line (W3C, Zeek, CSV-like headers), never malformed.
        log = self.write("c.log", "#fields ts service path status latency\n"
                                  "2025-12-19T10:01:02Z a /x 500 12\n"
                                  "#2025-12-19T10:01:03Z a /x 500 12\n"
                                  "2025-12-19T10:01:04Z a /x 200 12\n")
        for extra in ([], ["--normalize"]):  # the block scan and the per-line path
            r = self.eb("--format", "json", "-v", *extra, log)
            self.assertEqual(r.code, 0, r.errtext)
            doc = json.loads(r.out)
            self.assertEqual(doc["summary"]["comments"], 2)
            self.assertEqual(doc["summary"]["malformed"], 0)
            self.assertEqual([(e["errors"], e["requests"]) for e in doc["endpoints"]], [(1, 2)])
            self.assertIn("2 comment lines skipped", r.errtext)
            self.assertNotIn("malformed", r.errtext)
        events = self.write("e.log", "# ts service event\n1703000000 a restarted\n#1703000001 a restarted\n")
        r = self.run_opsktl("flapping", "--format", "json", "-n", "0", events)
        self.assertEqual(r.code, 0, r.errtext)
        doc = json.loads(r.out)
        self.assertEqual((doc["summary"]["comments"], doc["summary"]["restarts"]), (2, 1))

    def test_w3c_iis_log_needs_no_option(self):
        # Worked out by hand from iis_w3c.log: two directive blocks, the second with other
        # columns and no s-ip. W3SVC1 /api/orders: 500 (120 ms), 200 (40), 500 (80);
        # W3SVC1 /api/login: 503 (3000); W3SVC2 /api/orders: 502 (250); /healthz: 200.
        r = self.eb("-v", FORMATS / "iis_w3c.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertIn("reading as w3c", r.errtext)
        rows = r.rows()
        self.assertEqual([row[:3] + row[5:] for row in rows], [
            ["2", "3", "66.67", "W3SVC1", "/api/orders"],
            ["1", "1", "100.00", "W3SVC1", "/api/login"],
            ["1", "1", "100.00", "W3SVC2", "/api/orders"]])
        self.assertAlmostEqual(float(rows[0][3]), 80, delta=0.8)   # nearest-rank p50 of 40, 80, 120
        self.assertAlmostEqual(float(rows[0][4]), 120, delta=1.2)
        self.assertEqual(rows[1][3:5], ["3000", "3000"])
        r = self.eb("--format", "json", "--by", "method,client", "--status", "4xx,5xx", "-k", "0",
                    FORMATS / "iis_w3c.log")
        doc = json.loads(r.out)
        self.assertEqual(doc["summary"]["comments"], 8)
        self.assertEqual(doc["summary"]["malformed"], 0)
        self.assertEqual(doc["summary"]["lines"], 14)
        # The second block has no c-ip: its two errors have an empty client.
        self.assertEqual(sorted((e["method"], e["client"], e["errors"]) for e in doc["endpoints"]),
                         [("GET", "", 2), ("GET", "203.0.113.7", 1), ("POST", "198.51.100.23", 1)])

    def test_w3c_cloudfront_tabs_host_and_seconds(self):
        # time-taken is in seconds in CloudFront's logs: 0.082 s and 0.004 s.
        r = self.eb(FORMATS / "cloudfront_w3c.log")
        self.assertEqual(r.code, 0, r.errtext)
        rows = r.rows()
        self.assertEqual([row[:3] + row[5:] for row in rows],
                         [["1", "2", "50.00", "d111.cloudfront.net", "/img/a.png"]])
        self.assertAlmostEqual(float(rows[0][3]), 4, delta=0.04)
        self.assertAlmostEqual(float(rows[0][4]), 82, delta=0.82)

    def test_merge_reads_w3c_timestamps(self):
        # CloudFront's 10:01:02 and 10:01:03 fall between IIS's 10:00:04 and 11:00:01; the
        # comment lines travel with the record above them (the first ones with the first).
        iis = (FORMATS / "iis_w3c.log").read_text().splitlines(keepends=True)
        cloudfront = (FORMATS / "cloudfront_w3c.log").read_text().splitlines(keepends=True)
        r = self.run_opsktl("merge", FORMATS / "iis_w3c.log", FORMATS / "cloudfront_w3c.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.text, "".join(iis[:12] + cloudfront + iis[12:]))

    def test_syslog_flapping_lists_crash_looping_units_with_no_option(self):
        # syslog.log, by hand: foo.service's "Scheduled restart job" lines at 10:00:11, :21,
        # :31, :41 and :51 on Dec 19 2025 (1766138411 + 10 k); the 4th and 5th exceed -n 3,
        # so one episode from 1766138411 to 1766138451 of 5 restarts, peak 5. bar.service
        # restarts once; CRON's "(echo restarted)" is no systemd restart.
        r = self.run_opsktl("flapping", "--format", "tsv", "--year", "2025", FORMATS / "syslog.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.text, "foo.service\t1766138411\t1766138451\t5\t5\n")
        r = self.run_opsktl("flapping", "--format", "json", "--year", "2025", "-n", "0", "--alerts", "every",
                            FORMATS / "syslog.log")
        doc = json.loads(r.out)
        self.assertEqual([(a["service"], a["count"]) for a in doc["alerts"]],
                         [("foo.service", 1), ("foo.service", 2), ("foo.service", 3), ("foo.service", 4),
                          ("bar.service", 1), ("foo.service", 5)])
        self.assertEqual(doc["summary"]["malformed"], 0)
        # --event names another restart event: "Start request repeated too quickly" is a
        # message, matched with --event-regex.
        r = self.run_opsktl("flapping", "--format", "tsv", "--year", "2025", "-n", "0", "--alerts", "every",
                            "--event-regex", "Start request repeated", FORMATS / "syslog.log")
        self.assertEqual(r.text, "1766138451\tfoo.service\t1\n")
        # errors-by-endpoint: syslog has no status.
        r = self.eb(FORMATS / "syslog.log")
        self.assertEqual(r.code, 2)
        self.assertIn("the syslog format has no status field, which errors-by-endpoint needs (--log-format auto read it as syslog", r.errtext)
        r = self.eb("--log-format", "syslog", FORMATS / "syslog.log")
        self.assertEqual(r.code, 2)
        self.assertIn("the syslog format has no status field, which errors-by-endpoint needs", r.errtext)

    def test_syslog_forms_rfc5424_and_rsyslog_iso(self):
        log = self.write("s.log",
                         "<30>1 2025-12-19T10:00:11Z web1 systemd 1 - - foo.service: Scheduled restart job, restart counter is at 1.\n"
                         "2025-12-19T10:00:21.500000+00:00 web1 systemd[1]: foo.service: Scheduled restart job, restart counter is at 2.\n"
                         "<30>Dec 19 10:00:31 web1 systemd[1]: foo.service: Scheduled restart job, restart counter is at 3.\n")
        r = self.run_opsktl("flapping", "--format", "tsv", "--year", "2025", "-n", "0", "--alerts", "every", log)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.text, "1766138411\tfoo.service\t1\n1766138421.5\tfoo.service\t2\n"
                                 "1766138431\tfoo.service\t3\n")

    def test_real_auth_log_reads_as_syslog(self):
        # The first 400 lines of a real auth.log: every line parses as syslog (service = the
        # app name), and --event-regex counts its "session opened" lines per app, compared
        # with an independent reading: the window count of each event among its app's.
        log = FORMATS / "auth.log"
        line_re = re.compile(r"^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) \S+ ([^\s\[:]+)(?:\[\d+\])?: (.*)$")
        months = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
        import calendar
        expected, seen = [], collections.defaultdict(list)
        for line in log.read_text().splitlines():
            m = line_re.match(line)
            self.assertIsNotNone(m, line)
            if "session opened" not in m.group(7):
                continue
            t = calendar.timegm((2025, months[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                 int(m.group(5))))
            app = m.group(6)
            seen[app].append(t)
            expected.append(f"{t}\t{app}\t{sum(1 for u in seen[app] if t - 600 <= u <= t)}")
        self.assertGreater(len(expected), 50)
        r = self.run_opsktl("flapping", "--format", "tsv", "--year", "2025", "-n", "0", "--alerts", "every",
                            "--event-regex", "session opened", log)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.text.splitlines(), expected)
        self.assertNotIn("malformed", r.errtext)
        # Before the syslog format, --field service=5 read it as fields: 0 malformed now too.
        r = self.run_opsktl("flapping", "--format", "json", "--year", "2025", "--event-regex", "session opened",
                            "--field", "service=5", log)
        self.assertEqual(json.loads(r.out)["summary"]["malformed"], 0)
        # No option at all: no systemd restart in it, so nothing found, exit 1, no complaint.
        r = self.run_opsktl("flapping", log)
        self.assertEqual((r.code, r.out, r.errtext), (1, b"", ""))

    def test_forwarded_for_client_list_is_combined(self):
        log = self.write("xff.log",
                         '10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" 500 12 "-" "ua"\n'
                         '10.0.0.3 - - [07/Dec/2016:11:05:08 +0100] "GET /x HTTP/1.1" 500 12 "-" "ua"\n'
                         '10.0.0.2, 127.0.0.1 - - [07/Dec/2016:11:05:09 +0100] "GET /y HTTP/1.1" 502 12 "-" "ua"\n')
        r = self.eb("-v", "--by", "client", log)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertIn("reading as combined", r.errtext)
        self.assertEqual([[row[0], row[5]] for row in r.rows()], [["2", "10.0.0.2"], ["1", "10.0.0.3"]])
        r = self.eb("--log-format", "combined", "--by", "path", log)
        self.assertEqual([[row[0], row[5]] for row in r.rows()], [["2", "/x"], ["1", "/y"]])

    def test_garbage_request_lines_count_as_400_with_path_dash(self):
        log = self.write("g.log", b'1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "" 400 0 "-" "-"\n'
                                  b'1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "PATCHp /x HTTP/1.1" 400 0 "-" "-"\n'
                                  b'1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "\x16\x03\x01\xff\x00" 400 0 "-" "-"\n'
                                  b'1.2.3.4 - - [19/Dec/2025:10:01:03 +0000] "GET /x HTTP/1.1" 404 0 "-" "-"\n')
        r = self.eb("--status", "4xx", "--format", "json", log)
        self.assertEqual(r.code, 0, r.errtext)
        doc = json.loads(r.out)
        self.assertEqual([(e["path"], e["errors"]) for e in doc["endpoints"]], [("-", 3), ("/x", 1)])
        self.assertEqual(doc["summary"]["malformed"], 0)

    def test_latency_unit(self):
        # Caddy writes duration in seconds, Traefik Duration in nanoseconds: 0.25 s = 250 ms.
        caddy = self.write("caddy.json", '{"ts":1703000000,"service":"a","path":"/x","status":500,"duration":0.25}\n')
        r = self.eb("--field", "latency=duration", "--latency-unit", "s", caddy)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows()[0][3:5], ["250", "250"])
        r = self.eb("--field", "latency=duration", caddy)  # no unit: ms
        self.assertEqual(r.rows()[0][3:5], ["0.25", "0.25"])
        traefik = self.write("traefik.json", '{"service":"a","path":"/x","status":502,"Duration":250000000}\n')
        r = self.eb("--field", "latency=Duration", "--latency-unit", "ns", traefik)
        self.assertEqual(r.rows()[0][3:5], ["250", "250"])
        # A key naming its unit keeps it; fields take the unit too.
        named = self.write("named.json", '{"service":"a","path":"/x","status":500,"latency_ms":7}\n')
        r = self.eb("--latency-unit", "s", named)
        self.assertEqual(r.rows()[0][3:5], ["7", "7"])
        fields = self.write("f.log", "t a /x 500 2\n")
        r = self.eb("--latency-unit", "s", fields)
        self.assertEqual(r.rows()[0][3:5], ["2000", "2000"])
        r = self.eb("--latency-unit", "us", fields)
        self.assertEqual(r.rows()[0][3:5], ["0.002", "0.002"])
        for bad in ["min", "MS", "", "1s"]:
            r = self.eb("--latency-unit", bad, fields)
            self.assertEqual(r.code, 2, bad)
            self.assertEqual(r.errtext.splitlines()[0],
                             f"opsktl: errors-by-endpoint: --latency-unit: expected s, ms, us or ns, got '{bad}'")

    def test_regex_format(self):
        pattern = (r"^\[(?P<ts>[^\]]+)\] \w+ +(?P<service>\S+) (?P<method>[A-Z]+) (?P<path>\S+) "
                   r"-> (?P<status>\d{3}) \((?P<latency>[\d.]+ms)\)$")
        r = self.eb("--regex", pattern, "--by", "service,method", "--since", "2025-12-19 10:01:02,400",
                    FORMATS / "custom_app.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [["1", "2", "50.00", "45", "250", "search", "GET"],
                                    ["1", "1", "100.00", "3012.5", "3012.5", "checkout", "POST"]])

    def test_regex_errors_are_usage_errors_with_re2_message(self):
        path = self.write("a.log", "x\n")
        r = self.eb("--regex", "(?P<status>\\d+", path)
        self.assertEqual(r.code, 2)
        self.assertIn("opsktl: errors-by-endpoint: --regex: missing ): (?P<status>\\d+", r.errtext)
        r = self.eb("--regex", "(?P<path>\\S+)", path)
        self.assertEqual(r.code, 2)
        self.assertIn("--regex: the pattern has no named group (?P<status>...)", r.errtext)
        r = self.eb("--log-format", "regex", path)
        self.assertEqual(r.code, 2)
        self.assertIn("--regex", r.errtext)

    def test_auto_says_what_it_chose_and_warns_on_mixed_input(self):
        json_line = '{"service":"a","path":"/x","status":500}\n'
        path = self.write("mixed.log", json_line * 3 + "ts=1 service=a path=/x status=500\n")
        r = self.eb(path)
        self.assertEqual(r.code, 0)
        self.assertEqual(r.rows(), [["3", "3", "100.00", "-", "-", "a", "/x"]])
        self.assertIn("mixed formats in the first 4 non-blank lines (json 3, logfmt 1); reading it as json",
                      r.errtext)
        self.assertIn("1 malformed line skipped", r.errtext)
        clean = self.write("clean.log", json_line)
        r = self.eb("-v", clean)
        self.assertIn(f"{clean}: reading as json (1 of the first 1 non-blank lines are JSON objects)", r.errtext)
        r = self.eb(clean)
        self.assertEqual(r.err, b"")

    def test_auto_per_input(self):
        a = self.write("a.log", "2025-12-19T10:01:02Z svc /x 500 10\n")
        b = self.write("b.log", '{"service":"svc","path":"/x","status":503,"latency_ms":30}\n')
        c = self.write("svc.log", '1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /x HTTP/1.1" 502 1 "-" "-" 20000\n',
                       compress=True)
        r = self.eb(a, b, c)
        self.assertEqual(r.rows(), [["3", "3", "100.00", "20", "30", "svc", "/x"]])

    def test_field_option_checks_the_format(self):
        path = self.write("a.log", "x\n")
        for args, needle in [(["--log-format", "combined", "--field", "status=3"], "has fixed fields"),
                             (["--log-format", "json", "--field", "status="], "--field: expected NAME=KEY"),
                             (["--log-format", "logfmt", "--field", "bogus=x"], "--field: expected NAME=KEY"),
                             (["--log-format", "xml"], "--log-format")]:
            r = self.eb(*args, path)
            self.assertEqual(r.code, 2, args)
            self.assertIn(needle, r.errtext)


if __name__ == "__main__":
    main()
