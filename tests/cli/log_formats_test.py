"""End-to-end: --log-format fields|combined|logfmt|json|regex|auto (SPEC §2, issue 3).

Expected results come from independent Python readers of each format (or are written by
hand), never from opsktl's own earlier output.
"""
import collections
import json
import re
import subprocess
import sys

from clitest import SHARED, TESTDATA, CliTestCase, main

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
        log = SHARED / "realdata" / "apache_combined.log"
        if not log.exists():
            self.skipTest(f"{log} not found")
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
        self.assertEqual(summary["lines"], 10000)
        self.assertEqual(summary["malformed"], malformed)

    def test_real_syslog_is_recognised_and_regex_reads_it(self):
        log = SHARED / "realdata" / "syslog_auth.log"
        if not log.exists():
            self.skipTest(f"{log} not found")
        r = self.eb("-v", log)
        self.assertIn("reading as fields", r.errtext)
        # sshd failures per user: the regex supplies a status so errors-by-endpoint can count.
        pattern = (r"^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?P<service>sshd)\[\d+\]: "
                   r"Failed password for (?:invalid user )?(?P<path>\S+) from (?P<client>\S+)"
                   r"(?P<status>)")
        r = self.eb("--regex", pattern, log)
        self.assertEqual(r.code, 1, r.errtext)  # empty status group: every line malformed
        text = log.read_text(errors="surrogateescape")
        failed = len(re.findall(r"sshd\[\d+\]: Failed password", text))
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
        self.assertIn("2 malformed lines skipped", r.errtext)  # the TLS bytes and the "-" request

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
        self.assertIn("mixed formats in the first 4 non-blank lines (logfmt 1, json 3); reading it as json",
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
