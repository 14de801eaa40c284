"""End-to-end: opsktl on real logs from public projects (testdata/realdata/, README there).

Every expected answer comes from realdata_reference.py, readers written from each format's
documentation with Python's re and datetime, never from opsktl's own output.
"""
import datetime as dt
import heapq
import json

import realdata_reference as ref
from clitest import TESTDATA, CliTestCase, main

REAL = TESTDATA / "realdata"


def lines_of(path):
    """The lines of a file as bytes, each with its newline (one added to a last line without)."""
    data = (REAL / path).read_bytes()
    out = data.split(b"\n")
    if out[-1] == b"":
        out.pop()
    return [line + b"\n" for line in out]


def merged(inputs):
    """merge's answer for inputs that are each sorted: [(records of one input)] where a record
    is (ts, [line bytes]); ties in command-line order, then line order."""
    keyed = [[(r[0], i, n, r[1]) for n, r in enumerate(records)] for i, records in enumerate(inputs)]
    return b"".join(b"".join(r[3]) for r in heapq.merge(*keyed, key=lambda r: (r[0], r[1], r[2])))


def w3c_records(name):
    """merge's records of a W3C log: directive lines have no timestamp, so they travel with
    the record above (those before the first record, with it)."""
    stamps = {x["line"]: x["ts"] for x in ref.read_w3c(REAL / name)[0]}
    out, before_first = [], []
    for n, line in enumerate(lines_of(name), 1):
        if n in stamps:
            out.append((stamps[n], before_first + [line]))
            before_first = []
        elif out:
            out[-1][1].append(line)
        else:
            before_first.append(line)
    return out


class RealDataTest(CliTestCase):
    def eb(self, *args):
        return self.run_opsktl("errors-by-endpoint", "--format", "tsv", *args)

    def assert_rows(self, result, expected, nkeys, percentiles=None):
        """tsv rows of errors-by-endpoint against reference rows (errors, requests, pct, keys);
        with percentiles ({keys: (p50, p99)}), p50_ms and p99_ms within 1% of them."""
        rows = result.rows()
        self.assertEqual(len(rows), len(expected), result.text)
        for got, want in zip(rows, expected):
            self.assertEqual([int(got[0]), int(got[1])], [want[0], want[1]], got)
            self.assertAlmostEqual(float(got[2]), want[2], delta=0.0051, msg=got)
            self.assertEqual(got[5:5 + nkeys], list(want[3:]), got)
            if percentiles is not None:
                for value, exact in zip(got[3:5], percentiles.get(tuple(want[3:]), (None, None))):
                    if exact is None:
                        self.assertEqual(value, "-", got)
                    else:
                        self.assertAlmostEqual(float(value), exact, delta=0.01 * exact + 1e-9, msg=got)

    # --- combined: Apache access log (elastic/examples)
    def test_combined_apache_5xx_per_endpoint(self):
        records, malformed = ref.read_combined(REAL / "apache_access.log")
        self.assertEqual(malformed, [159])  # the line cut off inside the user agent
        for r in records:
            r["service"] = "apache_access"  # combined: the file's base name without .log
        r = self.eb(REAL / "apache_access.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assert_rows(r, ref.endpoint_rows(records, ["service", "path"]), 2)
        for row in r.rows():
            self.assertEqual(row[3:5], ["-", "-"])  # no latency in this log format
        self.assertIn("1 malformed line", r.errtext)
        self.assertIn("apache_access.log:159", r.errtext)

    def test_combined_apache_4xx_5xx_by_method_and_path_all_rows(self):
        records, _ = ref.read_combined(REAL / "apache_access.log")
        r = self.eb("--status", "4xx,5xx", "-k", "0", "--by", "method,path", REAL / "apache_access.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assert_rows(r, ref.endpoint_rows(records, ["method", "path"], "4xx,5xx", top=0), 2)

    def test_combined_apache_json_summary(self):
        records, malformed = ref.read_combined(REAL / "apache_access.log")
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", REAL / "apache_access.log")
        summary = json.loads(r.out)["summary"]
        self.assertEqual(summary["lines"], len(records) + len(malformed))
        self.assertEqual(summary["malformed"], len(malformed))
        self.assertEqual(summary["error_lines"], sum(1 for x in records if x["status"].startswith("5")))
        self.assertEqual(summary["endpoints"], len({x["path"] for x in records}))

    def test_combined_apache_merge_reorder_puts_late_lines_in_place(self):
        # Apache writes a line when the request ends, so its times go back by up to 53 s here;
        # --reorder 2m must give the lines sorted by time, equal times in line order.
        records, malformed = ref.read_combined(REAL / "apache_access.log")
        lines = lines_of("apache_access.log")
        self.assertEqual(malformed, [159])
        # The cut-off line still starts with a complete [time]: it is a record of its own.
        stamps = {r["line"]: r["ts"] for r in records}
        stamps[159] = ref.clf_time("20/May/2015:12:05:17 +0000")
        order = sorted(range(1, len(lines) + 1), key=lambda n: (stamps[n], n))
        r = self.run_opsktl("merge", "--reorder", "2m", REAL / "apache_access.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, b"".join(lines[n - 1] for n in order))

    # --- the first line that goes back in time, as merge --check reports it
    def test_merge_check_names_the_first_line_that_goes_back(self):
        records, _ = ref.read_combined(REAL / "apache_access.log")
        zeek, _ = ref.read_zeek(REAL / "zeek_http.log")
        for name, recs in [("apache_access.log", records), ("zeek_http.log", zeek)]:
            first_back = next(b["line"] for a, b in zip(recs, recs[1:]) if b["ts"] < a["ts"])
            r = self.run_opsktl("merge", "--check", REAL / name)
            self.assertEqual(r.code, 1, r.errtext)
            self.assertIn(f"{name}:{first_back}:", r.errtext)

    # --- json: Kibana 6.3 JSON log (elastic/beats)
    def test_json_kibana_statuses_per_url(self):
        docs = ref.read_json_lines(REAL / "kibana.json")
        records = [{"service": "", "path": d["req"]["url"], "status": str(d["statusCode"]),
                    "latency_ms": d["res"]["responseTime"]} for d in docs if "statusCode" in d]
        without_status = len(docs) - len(records)
        self.assertGreater(without_status, 0)
        fields = ["--field", "status=statusCode", "--field", "path=req.url", "--field", "latency=res.responseTime"]
        expected = ref.endpoint_rows(records, ["service", "path"], "2xx,3xx", top=0)
        for fmt in (["--log-format", "json"], []):
            with self.subTest(fmt=fmt):
                r = self.eb(*fmt, *fields, "--status", "2xx,3xx", "-k", "0", REAL / "kibana.json")
                self.assertEqual(r.code, 0, r.errtext)
                self.assert_rows(r, expected, 2, ref.endpoint_rows.percentiles)
                self.assertIn(f"{without_status} malformed lines", r.errtext)

    # --- logfmt: a Kubernetes virtual kubelet (lnav's test logs)
    def test_logfmt_k8s_flapping_on_pod_not_found(self):
        records = ref.read_logfmt(REAL / "k8s_logfmt.log")
        events = [(ref.epoch(x["ts"]), x["namespace"]) for x in records if "PodNotFound" in x["msg"]]
        expected = ref.flapping_episodes(events, 1, 120)
        self.assertEqual(len(expected), 1)
        for fmt in (["--log-format", "logfmt"], []):
            with self.subTest(fmt=fmt):
                r = self.run_opsktl("flapping", "--format", "tsv", *fmt, "--field", "service=namespace",
                                    "--event-regex", "PodNotFound", "-n", "1", "-w", "2m",
                                    REAL / "k8s_logfmt.log")
                self.assertEqual(r.code, 0, r.errtext)
                self.assertEqual([(s, float(a), float(b), int(n), int(p)) for s, a, b, n, p in r.rows()],
                                 [(s, float(a), float(b), n, p) for s, a, b, n, p in expected])

    # --- syslog timestamps through --regex: Ubuntu auth.log (elastic/examples)
    AUTH_REGEX = r"^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?P<service>[^\s\[:]+)(?:\[\d+\])?: (?P<event>.*)$"

    def test_syslog_auth_flapping_on_invalid_users_via_regex(self):
        records = ref.read_syslog(REAL / "auth.log", 2018)
        events = [(ref.epoch(x["ts"]), x["service"]) for x in records if "Invalid user" in x["event"]]
        args = ["flapping", "--format", "tsv", "--regex", self.AUTH_REGEX, "--year", "2018",
                "--event-regex", "Invalid user", REAL / "auth.log"]
        expected = ref.flapping_episodes(events, 3, 600)
        self.assertTrue(expected)
        r = self.run_opsktl(*args)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual([(s, int(a), int(b), int(n), int(p)) for s, a, b, n, p in r.rows()], expected)
        every = ref.flapping_every(events, 3, 600)
        self.assertGreater(len(every), len(expected))
        r = self.run_opsktl(*args, "--alerts", "every")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual([(int(t), s, int(n)) for t, s, n in r.rows()], every)

    # --- Zeek http.log through --regex (tab-separated; a uri may hold spaces)
    ZEEK_REGEX = (r"^(?P<ts>[\d.]+)\t(?:[^\t]*\t){7}(?P<service>[^\t]*)\t(?P<path>[^\t]*)\t"
                  r"(?:[^\t]*\t){5}(?P<status>\d{3})\t")

    def test_zeek_http_statuses_per_host_and_uri_via_regex(self):
        records, _ = ref.read_zeek(REAL / "zeek_http.log")
        for x in records:
            x["service"], x["path"], x["status"] = x["host"], x["uri"], x["status_code"]
        for status in ("3xx", "2xx"):
            with self.subTest(status=status):
                r = self.eb("--regex", self.ZEEK_REGEX, "--status", status, "-k", "0", REAL / "zeek_http.log")
                self.assertEqual(r.code, 0, r.errtext)
                self.assert_rows(r, ref.endpoint_rows(records, ["service", "path"], status, top=0), 2)

    def test_zeek_http_read_as_whitespace_separated_fields(self):
        # fields splits on any whitespace: the user agent's spaces shift status_code to
        # position 25, and the one uri with spaces shifts it again (that line is then malformed).
        records = []
        for line in (REAL / "zeek_http.log").read_text().splitlines():
            f = line.split()
            if not line.startswith("#") and len(f) >= 25 and f[24].isdigit() and len(f[24]) == 3:
                records.append({"service": f[8], "path": f[9], "status": f[24]})
        self.assertEqual(len(records), 13)
        fields = ["--field", "service=9", "--field", "path=10", "--field", "status=25", "--field", "latency=0"]
        for status in ("3xx", "2xx"):
            with self.subTest(status=status):
                r = self.eb("--log-format", "fields", *fields, "--status", status, "-k", "0", REAL / "zeek_http.log")
                self.assertEqual(r.code, 0, r.errtext)
                self.assert_rows(r, ref.endpoint_rows(records, ["service", "path"], status, top=0), 2)

    # --- why a line is malformed (docs/log-formats.md#malformed-lines), on real lines
    def test_malformed_reasons_of_real_lines(self):
        _, not_combined = ref.read_combined(REAL / "apache_access.log")
        kibana = ref.read_json_lines(REAL / "kibana.json")
        k8s = ref.read_logfmt(REAL / "k8s_logfmt.log")
        k8s_reasons = {}
        for x in k8s:
            if "status" not in x:
                k8s_reasons["no_status"] = k8s_reasons.get("no_status", 0) + 1
            elif not (len(x["status"]) == 3 and x["status"].isdigit()):
                k8s_reasons["bad_status"] = k8s_reasons.get("bad_status", 0) + 1
        runs = [
            (["apache_access.log"], {"not_combined": len(not_combined)}, f"apache_access.log:{not_combined[0]}"),
            (["kibana.json"], {"no_status": len(kibana)}, "kibana.json:1"),  # statusCode is no default key
            (["--field", "status=statusCode", "kibana.json"],
             {"no_status": sum(1 for d in kibana if "statusCode" not in d)}, "kibana.json:1"),
            (["k8s_logfmt.log"], k8s_reasons, "k8s_logfmt.log:1"),  # status=Pending is a pod's state
        ]
        messages = {"not_combined": "not a combined access log line", "no_status": "no status field",
                    "bad_status": "status is not 3 digits"}
        for args, reasons, first in runs:
            with self.subTest(args=args):
                paths = [*args[:-1], REAL / args[-1]]
                r = self.run_opsktl("errors-by-endpoint", "--format", "json", *paths)
                summary = json.loads(r.out)["summary"]
                self.assertEqual(summary["malformed_reasons"], reasons)
                self.assertEqual(summary["malformed"], sum(reasons.values()))
                self.assertTrue(summary["first_malformed"].endswith(first), summary)
                r = self.run_opsktl("errors-by-endpoint", "-v", *paths)
                for name, count in reasons.items():
                    self.assertIn(f"{count} {messages[name]}", r.errtext)
                r = self.run_opsktl("errors-by-endpoint", "--strict", *paths)
                self.assertEqual(r.code, 2, r.errtext)
                self.assertIn(first, r.errtext)

    # --- merge across real timestamp forms
    def test_merge_syslog_json_logfmt_inputs_in_time_order(self):
        def records(name, stamps):
            return list(zip(stamps, ([line] for line in lines_of(name))))

        journald = [ref.UNIX_EPOCH + dt.timedelta(microseconds=int(d["__REALTIME_TIMESTAMP"]))
                    for d in ref.read_json_lines(REAL / "journald.json")]
        inputs = [
            records("k8s_logfmt.log", [x["ts"] for x in ref.read_logfmt(REAL / "k8s_logfmt.log")]),
            records("journald.json", journald),
            records("auth.log", [x["ts"] for x in ref.read_syslog(REAL / "auth.log", 2018)]),
            records("kibana.json", [ref.iso(d["@timestamp"]) for d in ref.read_json_lines(REAL / "kibana.json")]),
        ]
        names = ["k8s_logfmt.log", "journald.json", "auth.log", "kibana.json"]
        r = self.run_opsktl("merge", "--year", "2018", *[REAL / n for n in names])
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, merged(inputs))

    def test_w3c_iis_merge_reads_date_and_time(self):
        # IIS 8.5 (2015) and IIS 7.5 (2018-2019), each sorted.
        records = w3c_records
        r = self.run_opsktl("merge", REAL / "iis_7.5.log", REAL / "iis_8.5.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, merged([records("iis_7.5.log"), records("iis_8.5.log")]))
        # The time of day counts, not only the date: a range within one day.
        since = dt.datetime(2015, 1, 13, 10, 16, 15, tzinfo=ref.UTC)
        until = dt.datetime(2015, 1, 13, 13, 0, 56, tzinfo=ref.UTC)
        inside = [rec for rec in records("iis_8.5.log") if since <= rec[0] <= until]
        self.assertEqual(len(inside), 5)
        r = self.run_opsktl("merge", "--since", "2015-01-13T10:16:15Z", "--until", "2015-01-13T13:00:56Z",
                            REAL / "iis_8.5.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, merged([inside]))

    # --- journald: `journalctl -o json` (lnav's test logs), two entries in the same microsecond
    def test_journald_flapping_keeps_the_microseconds(self):
        docs = ref.read_json_lines(REAL / "journald.json")
        stamps = [int(d["__REALTIME_TIMESTAMP"]) for d in docs]
        self.assertEqual(len(set(stamps)), 1)
        ts = f"{stamps[0] // 10**6}.{stamps[0] % 10**6:06d}"
        unit = docs[0]["_SYSTEMD_UNIT"]
        r = self.run_opsktl("flapping", "--format", "tsv", "--event-regex", "GPS Reference", "-n", "1",
                            REAL / "journald.json")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.rows(), [[unit, ts, ts, "2", "2"]])
        r = self.run_opsktl("flapping", "--format", "tsv", "--event-regex", "GPS Reference", "-n", "2",
                            REAL / "journald.json")
        self.assertEqual((r.code, r.out), (1, b""), r.errtext)

    # --- real timestamp forms: nginx error, Apache error (ctime), Kafka's bracketed log4j
    def test_merge_nginx_apache_kafka_error_logs_in_time_order(self):
        def records(name, form):
            return [(x["ts"], [line.encode() + b"\n" for line in x["lines"]])
                    for x in ref.read_line_stamped(REAL / name, form)]

        inputs = [("nginx_error.log", "nginx_error"), ("apache_error.log", "apache_error"),
                  ("kafka_server.log", "log4j")]
        expected = merged([records(n, f) for n, f in inputs])
        r = self.run_opsktl("merge", *[REAL / n for n, _ in inputs])
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, expected)
        self.assertEqual(r.errtext, "")
        r = self.run_opsktl("merge", "--check", *[REAL / n for n, _ in inputs])
        self.assertEqual(r.code, 0, r.errtext)

    def test_zone_less_forms_are_utc_unless_tz_says_otherwise(self):
        # nginx writes local time without a zone; at +01:00, 14:50:44 is 13:50:44Z.
        records = ref.read_line_stamped(REAL / "nginx_error.log", "nginx_error")
        since = dt.datetime(2016, 10, 25, 13, 50, tzinfo=ref.UTC)
        for tz, shift in [([], dt.timedelta(0)), (["--tz", "+01:00"], dt.timedelta(hours=1))]:
            with self.subTest(tz=tz):
                want = b"".join(line.encode() + b"\n" for x in records if x["ts"] - shift >= since
                                for line in x["lines"])
                r = self.run_opsktl("merge", *tz, "--since", "2016-10-25T13:50:00Z", REAL / "nginx_error.log")
                self.assertEqual(r.code, 0, r.errtext)
                self.assertEqual(r.out, want)

    def test_merge_check_on_apache_error_log_that_goes_back_five_years(self):
        records = ref.read_line_stamped(REAL / "apache_error_mixed.log", "apache_error")
        first_back = next(b["line"] for a, b in zip(records, records[1:]) if b["ts"] < a["ts"])
        self.assertEqual(first_back, 2)  # 16:15:55.103786 after 16:22:08, by microseconds and minutes
        r = self.run_opsktl("merge", "--check", REAL / "apache_error_mixed.log")
        self.assertEqual(r.code, 1, r.errtext)
        self.assertIn(f"apache_error_mixed.log:{first_back}:", r.errtext)

    # --- stamps of several fields in the fields format (awk's numbering, the stamp included)
    def test_fields_iis_since_until_reads_date_and_time_fields(self):
        records, _ = ref.read_w3c(REAL / "iis_8.5.log")
        since = dt.datetime(2015, 1, 13, 8, 0, tzinfo=ref.UTC)
        until = dt.datetime(2015, 1, 13, 22, 29, 45, tzinfo=ref.UTC)
        inside = [{"service": x["s-ip"], "path": x["cs-uri-stem"], "status": x["sc-status"],
                   "latency_ms": int(x["time-taken"])} for x in records if since <= x["ts"] <= until]
        self.assertLess(len(inside), len(records))
        expected = ref.endpoint_rows(inside, ["service", "path"], "4xx", top=0)
        r = self.eb("--log-format", "fields", "--field", "service=3", "--field", "path=5", "--field", "status=12",
                    "--field", "latency=17", "--status", "4xx", "-k", "0", "--since", "2015-01-13T08:00:00Z",
                    "--until", "2015-01-13T22:29:45Z", REAL / "iis_8.5.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assert_rows(r, expected, 2, ref.endpoint_rows.percentiles)

    def test_fields_auth_flapping_reads_the_three_field_syslog_stamp(self):
        # `Mar 27 18:22:24 host sshd[14922]: ...`: the stamp is fields 1-3, the host field 4,
        # and the event runs from field 5 to the end of the line.
        records = ref.read_syslog(REAL / "auth.log", 2018)
        events = [(ref.epoch(x["ts"]), "ip-10-77-20-248") for x in records
                  if "Invalid user" in f"{x['service']}: {x['event']}"]
        expected = ref.flapping_episodes(events, 3, 600)
        r = self.run_opsktl("flapping", "--format", "tsv", "--log-format", "fields", "--year", "2018",
                            "--field", "service=4", "--field", "event=5", "--event-regex", "Invalid user",
                            REAL / "auth.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual([(s, int(a), int(b), int(n), int(p)) for s, a, b, n, p in r.rows()], expected)

    # --- w3c: IIS 8.5 (lnav's test logs) and IIS 7.5 (elastic/beats)
    def test_w3c_iis_statuses_per_site_and_uri_stem(self):
        for name, status in [("iis_8.5.log", "4xx"), ("iis_8.5.log", "2xx"), ("iis_7.5.log", "4xx"),
                             ("iis_7.5.log", "2xx")]:
            records, comments = ref.read_w3c(REAL / name)
            self.assertGreater(comments, 0)
            for x in records:
                x["service"] = x.get("s-sitename", x["s-ip"])
                x["path"], x["status"], x["latency_ms"] = x["cs-uri-stem"], x["sc-status"], int(x["time-taken"])
            expected = ref.endpoint_rows(records, ["service", "path"], status, top=0)
            self.assertTrue(expected)
            for fmt in (["--log-format", "w3c"], []):
                with self.subTest(name=name, status=status, fmt=fmt):
                    r = self.eb(*fmt, "--status", status, "-k", "0", REAL / name)
                    self.assertEqual(r.code, 0, r.errtext)
                    self.assert_rows(r, expected, 2, ref.endpoint_rows.percentiles)
                    self.assertNotIn("malformed", r.errtext)

    def test_w3c_iis_by_method_and_client(self):
        records, _ = ref.read_w3c(REAL / "iis_8.5.log")
        for x in records:
            x["method"], x["client"], x["status"] = x["cs-method"], x["c-ip"], x["sc-status"]
        r = self.eb("--status", "4xx", "-k", "0", "--by", "method,client", REAL / "iis_8.5.log")
        self.assertEqual(r.code, 0, r.errtext)
        self.assert_rows(r, ref.endpoint_rows(records, ["method", "client"], "4xx", top=0), 2)

    # --- syslog format (RFC 3164): the question asked through --regex above
    def test_syslog_auth_flapping_read_as_syslog(self):
        records = ref.read_syslog(REAL / "auth.log", 2018)
        events = [(ref.epoch(x["ts"]), x["service"]) for x in records if "Invalid user" in x["event"]]
        expected = ref.flapping_episodes(events, 3, 600)
        for fmt in (["--log-format", "syslog"], []):
            with self.subTest(fmt=fmt):
                r = self.run_opsktl("flapping", "--format", "tsv", *fmt, "--year", "2018",
                                    "--event-regex", "Invalid user", REAL / "auth.log")
                self.assertEqual(r.code, 0, r.errtext)
                self.assertEqual([(s, int(a), int(b), int(n), int(p)) for s, a, b, n, p in r.rows()], expected)
                self.assertNotIn("malformed", r.errtext)

    # --- comment lines (# first: Zeek's and W3C's headers) are skipped, never malformed
    def test_comment_lines_of_zeek_and_iis_are_not_malformed(self):
        zeek, zeek_comments = ref.read_zeek(REAL / "zeek_http.log")
        iis, iis_comments = ref.read_w3c(REAL / "iis_8.5.log")
        self.assertEqual((zeek_comments, iis_comments), (8, 40))
        runs = [("zeek_http.log", ["--regex", self.ZEEK_REGEX, "--status", "2xx"], len(zeek) + zeek_comments),
                ("iis_8.5.log", ["--status", "4xx"], len(iis) + iis_comments)]
        for name, args, lines in runs:
            with self.subTest(name=name):
                r = self.run_opsktl("errors-by-endpoint", "--format", "json", *args, REAL / name)
                self.assertEqual(r.code, 0, r.errtext)
                summary = json.loads(r.out)["summary"]
                self.assertEqual((summary["lines"], summary["malformed"]), (lines, 0), summary)
                self.assertEqual(summary["comments"], lines - (len(zeek) if name == "zeek_http.log" else len(iis)))
                r = self.run_opsktl("errors-by-endpoint", "--strict", *args, REAL / name)
                self.assertEqual(r.code, 0, r.errtext)

    # --- every sorted sample at once: nine inputs, seven timestamp forms, 2015-2021
    def test_merge_all_sorted_samples(self):
        def stamped(name, form):
            return [(x["ts"], [line.encode() + b"\n" for line in x["lines"]])
                    for x in ref.read_line_stamped(REAL / name, form)]

        def one_per_line(name, stamps):
            return list(zip(stamps, ([line] for line in lines_of(name))))

        journald = [ref.UNIX_EPOCH + dt.timedelta(microseconds=int(d["__REALTIME_TIMESTAMP"]))
                    for d in ref.read_json_lines(REAL / "journald.json")]
        inputs = [
            ("nginx_error.log", stamped("nginx_error.log", "nginx_error")),
            ("iis_8.5.log", w3c_records("iis_8.5.log")),
            ("kibana.json", one_per_line("kibana.json", [ref.iso(d["@timestamp"])
                                                         for d in ref.read_json_lines(REAL / "kibana.json")])),
            ("apache_error.log", stamped("apache_error.log", "apache_error")),
            ("auth.log", one_per_line("auth.log", [x["ts"] for x in ref.read_syslog(REAL / "auth.log", 2018)])),
            ("k8s_logfmt.log", one_per_line("k8s_logfmt.log",
                                            [x["ts"] for x in ref.read_logfmt(REAL / "k8s_logfmt.log")])),
            ("journald.json", one_per_line("journald.json", journald)),
            ("iis_7.5.log", w3c_records("iis_7.5.log")),
            ("kafka_server.log", stamped("kafka_server.log", "log4j")),
        ]
        r = self.run_opsktl("merge", "--year", "2018", *[REAL / n for n, _ in inputs])
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual(r.out, merged([recs for _, recs in inputs]))
        r = self.run_opsktl("merge", "--check", "--year", "2018", *[REAL / n for n, _ in inputs])
        self.assertEqual(r.code, 0, r.errtext)


if __name__ == "__main__":
    main()
