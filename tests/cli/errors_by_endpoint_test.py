"""End-to-end tests of `opsktl errors-by-endpoint` (SPEC §3) against independent references."""
import gzip
import json
import math
import re
import subprocess
from collections import defaultdict

from clitest import CliTestCase, main

SAMPLE = (
    "2025-12-19T10:00:00Z a /x 500 10\n"
    "2025-12-19T10:00:01Z a /x 200 20\n"
    "2025-12-19T10:00:02Z b /y 502 30\n"
    "2025-12-19T10:00:03Z b /y 503 40\n"
    "2025-12-19T10:00:04Z c /z 200 50\n"
    "2025-12-19T10:00:05Z a /w 500 -\n"
)
SAMPLE_ROWS = [
    ["2", "2", "100.00", "30", "40", "b", "/y"],
    ["1", "2", "50.00", "10", "20", "a", "/x"],
    ["1", "1", "100.00", "-", "-", "a", "/w"],
]

FIELD_SPLIT = re.compile(rb"[ \t\r]+")


def nearest_rank(values, q):
    values = sorted(values)
    rank = min(max(math.ceil(q * len(values)), 1), len(values))
    return values[rank - 1]


def latency_ms(text):
    """A bare latency field of the fields format, in ms (None when absent or invalid)."""
    m = re.fullmatch(rb"(\d+(?:\.\d+)?)(us|ms|s)?", text)
    if not m:
        return None
    scale = {None: 1.0, b"us": 0.001, b"ms": 1.0, b"s": 1000.0}[m.group(2)]
    return float(m.group(1)) * scale


def reference(data, is_error=lambda s: s.startswith(b"5")):
    """Counts per (service, path) the simple way: every line read, split, checked."""
    stats = defaultdict(lambda: {"errors": 0, "requests": 0, "lat": []})
    malformed = 0
    for raw in data.split(b"\n"):
        line = raw.strip(b" \t\r")
        if not line:
            continue
        fields = FIELD_SPLIT.split(line)
        if len(fields) < 5 or not re.fullmatch(rb"\d{3}", fields[3]):
            malformed += 1
            continue
        s = stats[(fields[1], fields[2])]
        s["requests"] += 1
        s["errors"] += is_error(fields[3])
        lat = latency_ms(fields[4])
        if lat is not None:
            s["lat"].append(lat)
    return stats, malformed


class ErrorsByEndpointTest(CliTestCase):
    def assertClose(self, got, want, rel=0.01, msg=None):
        self.assertLessEqual(abs(float(got) - want), want * rel + 0.0011, msg)

    def check_against_reference(self, path, data, *extra):
        r = self.run_opsktl("errors-by-endpoint", "-k", "0", "--format", "tsv", *extra, path)
        self.assertEqual(r.code, 0, r.errtext)
        stats, malformed = reference(data)
        want = sorted(((s["errors"], s["requests"], k) for k, s in stats.items() if s["errors"]),
                      key=lambda t: (-t[0], -t[1], t[2]))
        rows = r.rows()
        self.assertEqual(len(rows), len(want))
        for row, (errors, requests, (service, path_)) in zip(rows, want):
            self.assertEqual(row[0], str(errors))
            self.assertEqual(row[1], str(requests))
            self.assertEqual(row[2], f"{100.0 * errors / requests:.2f}")
            self.assertEqual(row[5:], [service.decode(), path_.decode()])
            lat = stats[(service, path_)]["lat"]
            self.assertClose(row[3], nearest_rank(lat, 0.50), msg=f"p50 of {row}")
            self.assertClose(row[4], nearest_rank(lat, 0.99), msg=f"p99 of {row}")
        if malformed:
            self.assertIn(f"{malformed} malformed line", r.errtext)
        return r

    def generate(self, *args):
        out = self.dir / "gen.log"
        subprocess.run([*self.generator("gen_access_log.py"), *args, "-o", str(out)], check=True)
        return str(out), out.read_bytes()

    # --- correctness against independent references ---------------------------

    def test_matches_reference_on_generated_log(self):
        path, data = self.generate("--lines", "100000", "--seed", "7")
        self.check_against_reference(path, data, "--threads", "1")

    def test_threads_split_large_file_with_same_result(self):
        path, data = self.generate("--lines", "100000", "--seed", "3")
        one = self.run_opsktl("errors-by-endpoint", "-k", "0", "--threads", "1", path)
        four = self.run_opsktl("errors-by-endpoint", "-k", "0", "--threads", "4", path)
        self.assertEqual(one.code, 0)
        self.assertEqual(one.out, four.out)
        self.assertEqual(one.err, four.err)
        self.check_against_reference(path, data, "--threads", "4")

    def test_seed_compatible_top_k(self):
        # The seed algorithm: count lines whose 4th field starts with "5" per (service, path).
        path, data = self.generate("--lines", "50000", "--seed", "11", "--malformed-rate", "0")
        counts = defaultdict(int)
        for line in data.split(b"\n"):
            f = line.split()
            if len(f) >= 5 and f[3].startswith(b"5"):
                counts[(f[1].decode(), f[2].decode())] += 1
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual(r.code, 0)
        got = [(int(row[0]), row[5], row[6]) for row in r.rows()]
        self.assertEqual(len(got), 5)
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        fifth = ranked[4][1]
        for errors, service, path_ in got:
            self.assertEqual(counts[(service, path_)], errors)
        # Ties aside, the top 5 are the endpoints with the most errors.
        self.assertEqual({e for e, _, _ in got} - {fifth}, {c for _, c in ranked[:5]} - {fifth})

    def test_hand_computed_sample(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual((r.code, r.rows(), r.err), (0, SAMPLE_ROWS, b""))

    # --- options -----------------------------------------------------------------

    def test_top_limits_rows(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "-k", "2", path)
        self.assertEqual(r.rows(), SAMPLE_ROWS[:2])
        r = self.run_opsktl("errors-by-endpoint", "--top", "0", path)
        self.assertEqual(r.rows(), SAMPLE_ROWS)

    def test_status_forms(self):
        log = "t s /a 404 1\nt s /b 500 1\nt s /c 503 1\nt s /d 429 1\nt s /e 302 1\n"
        path = self.write("a.log", log)
        cases = {"5xx": ["/b", "/c"], "4xx,5xx": ["/a", "/b", "/c", "/d"], "500-502": ["/b"],
                 "429": ["/d"], "302,503": ["/c", "/e"]}
        for spec, paths in cases.items():
            r = self.run_opsktl("errors-by-endpoint", "-k", "0", "--status", spec, path)
            self.assertEqual(r.code, 0, spec)
            self.assertEqual(sorted(row[6] for row in r.rows()), paths, spec)

    def test_bad_status_spec_is_usage_error(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "--status", "5x", path)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.out, b"")
        self.assertIn("opsktl: errors-by-endpoint: --status: expected 5xx, 4xx,5xx, 500-504 or 502, got '5x'",
                      r.errtext)

    def test_by_keys_choose_and_order_columns(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "--by", "status,service", path)
        self.assertEqual([row[5:] for row in r.rows()], [["500", "a"], ["502", "b"], ["503", "b"]])
        r = self.run_opsktl("errors-by-endpoint", "--by", "service", path)
        self.assertEqual([row[:2] + row[5:] for row in r.rows()], [["2", "3", "a"], ["2", "2", "b"]])

    def test_by_method_needs_a_field_position(self):
        path = self.write("a.log", "t s /a GET 500 1\nt s /a POST 500 1\nt s /a GET 200 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--by", "method", path)
        self.assertEqual((r.code, r.out), (2, b""))
        self.assertEqual(r.errtext, f"opsktl: errors-by-endpoint: {path}: the fields format has no method field, "
                                    "which --by needs (--log-format auto read it as fields: 3 of the first 3 "
                                    "non-blank lines are whitespace-separated fields); choose the format with "
                                    "--log-format, or give its position with --field method=N\n")
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "fields", "--by", "method", path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: the fields format has no method field, which --by "
                                    "needs; give its position with --field method=N\n"
                                    "Run with --help for more information.\n")
        r = self.run_opsktl("errors-by-endpoint", "--by", "method", "--field", "method=4",
                            "--field", "status=5", "--field", "latency=6", path)
        self.assertEqual(r.code, 0, r.errtext)
        self.assertEqual([row[:2] + row[5:] for row in r.rows()], [["1", "2", "GET"], ["1", "1", "POST"]])

    def test_regex_without_a_needed_group_names_the_group(self):
        path = self.write("a.log", SAMPLE)
        for args, want in [
            ([r"(?P<service>\S+) (?P<path>\S+)"], "(?P<status>...), which errors-by-endpoint needs"),
            ([r"(?P<service>\S+) (?P<status>\d+)"], "(?P<path>...), which --by needs"),
            ([r"(?P<path>\S+) (?P<status>\d+)", "--by", "path", "--since", "-1h"], "(?P<ts>...), which --since needs"),
        ]:
            r = self.run_opsktl("errors-by-endpoint", "--regex", *args, path)
            self.assertEqual((r.code, r.out), (2, b""), args)
            self.assertEqual(r.errtext, f"opsktl: errors-by-endpoint: --regex: the pattern has no named group {want}\n"
                                        "Run with --help for more information.\n")

    def test_top_rejects_negative_and_non_numbers(self):
        path = self.write("a.log", SAMPLE)
        for value in ["-1", "-3", "2x"]:
            r = self.run_opsktl("errors-by-endpoint", f"--top={value}", path)
            self.assertEqual((r.code, r.out), (2, b""), value)
            self.assertEqual(r.errtext.splitlines()[0], "opsktl: errors-by-endpoint: -k/--top: expected a number of "
                                                        f"endpoints from 0 (0: all), got '{value}'")
        r = self.run_opsktl("errors-by-endpoint", "-k", "-1", path)
        self.assertEqual(r.code, 2)
        self.assertEqual(len(self.run_opsktl("errors-by-endpoint", "-k", "0", path).rows()), 3)
        self.assertEqual(len(self.run_opsktl("errors-by-endpoint", "-k", "1", path).rows()), 1)

    def test_service_option_names_the_service_in_the_fields_format(self):
        # The block scan of the fields format used to keep field 2.
        path = self.write("a.log", "t s1 /a 500 1\nt s2 /a 500 1\nt s2 /b 200 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--service", "web", path)
        self.assertEqual((r.code, r.rows()), (0, [["2", "2", "100.00", "1", "1", "web", "/a"]]))
        r = self.run_opsktl("errors-by-endpoint", "--service", "web", "--log-format", "fields", "--by", "service", path)
        self.assertEqual(r.rows(), [["2", "3", "66.67", "1", "1", "web"]])

    def test_since_that_leaves_nothing_says_so(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "--since", "2026-01-01T00:00:00Z", path)
        self.assertEqual((r.code, r.out), (1, b""))
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: --since 2026-01-01T00:00:00Z: all 6 lines are "
                                    "outside the time range\n")
        r = self.run_opsktl("errors-by-endpoint", "--since", "2025-12-19T09:00:00Z", "--until", "2025-12-19T09:59:59Z",
                            path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: --since 2025-12-19T09:00:00Z --until "
                                    "2025-12-19T09:59:59Z: all 6 lines are outside the time range\n")
        r = self.run_opsktl("errors-by-endpoint", "--since", "2025-12-19T10:00:02Z", path)
        self.assertEqual(r.err, b"")  # some lines are in range: no word

    def test_bad_by_and_field_are_usage_errors(self):
        path = self.write("a.log", SAMPLE)
        for args, needle in [(["--by", "service,bogus"], "--by: expected"),
                             (["--by", "service,service"], "--by: expected"),
                             (["--field", "status"], "--field: expected NAME=INDEX"),
                             (["--field", "nope=3"], "--field: expected NAME=INDEX"),
                             (["--log-format", "fields", "--field", "status=x"],
                              "--field: expected NAME=INDEX")]:
            r = self.run_opsktl("errors-by-endpoint", *args, path)
            self.assertEqual(r.code, 2, args)
            self.assertIn(needle, r.errtext)

    def test_field_positions_override_defaults(self):
        path = self.write("a.log", "x 503 svc /p 7\nx 200 svc /p 9\n")
        r = self.run_opsktl("errors-by-endpoint", "--field", "status=2", "--field", "service=3",
                            "--field", "path=4", path)
        self.assertEqual(r.rows(), [["1", "2", "50.00", "7", "9", "svc", "/p"]])

    def test_no_latency_field(self):
        path = self.write("a.log", "t s /a 500\nt s /a 200\n")
        r = self.run_opsktl("errors-by-endpoint", "--field", "latency=0", path)
        self.assertEqual(r.rows(), [["1", "2", "50.00", "-", "-", "s", "/a"]])

    def test_normalize_collapses_ids_and_query(self):
        log = ("t s /orders/12345 500 1\nt s /orders/678?x=1 500 1\n"
               "t s /u/123e4567-e89b-12d3-a456-426614174000/cart 502 1\nt s /u/abc/cart 200 1\n")
        path = self.write("a.log", log)
        r = self.run_opsktl("errors-by-endpoint", "--normalize", path)
        self.assertEqual([row[:2] + row[6:] for row in r.rows()],
                         [["2", "2", "/orders/{id}"], ["1", "1", "/u/{id}/cart"]])
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual(len(r.rows()), 3)

    def test_since_until_filter(self):
        path = self.write("a.log", SAMPLE + "garbage-time a /x 500 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--since", "2025-12-19T10:00:02Z",
                            "--until", "2025-12-19T10:00:04Z", "--format", "json", path)
        self.assertEqual(r.code, 0)
        doc = json.loads(r.out)
        self.assertEqual([(e["service"], e["errors"]) for e in doc["endpoints"]], [("b", 2)])
        self.assertEqual(doc["summary"]["filtered_out"], 3)
        self.assertEqual(doc["summary"]["malformed"], 1)

    def test_relative_since_excludes_old_lines(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "--since", "-15m", path)
        self.assertEqual((r.code, r.out), (1, b""))

    def test_bad_since_is_usage_error(self):
        path = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "--since", "yesterday", path)
        self.assertEqual(r.code, 2)
        self.assertIn("--since: expected a timestamp", r.errtext)

    # --- output formats ----------------------------------------------------------

    def test_json_output(self):
        path = self.write("a.log", SAMPLE + "bad line\n")
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        self.assertEqual(r.code, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["endpoints"][0], {"errors": 2, "requests": 2, "error_pct": 100.0,
                                               "p50_ms": 30.0, "p99_ms": 40.0, "service": "b", "path": "/y"})
        self.assertIsNone(doc["endpoints"][2]["p50_ms"])
        self.assertEqual(doc["summary"], {"lines": 7, "malformed": 1, "comments": 0, "filtered_out": 0, "error_lines": 4,
                                          "endpoints": 4, "first_malformed": f"{path}:7",
                                          "first_malformed_reason": "too_few_fields",
                                          "malformed_reasons": {"too_few_fields": 1}})

    def test_json_escapes_invalid_utf8(self):
        path = self.write("a.log", b"t s\xff /a\xc3 500 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        e = json.loads(r.out)["endpoints"][0]
        self.assertEqual(e["service"], "s\\xFF")
        self.assertEqual(e["service_b64"], "c/8=")
        self.assertEqual(e["path"], "/a\\xC3")
        self.assertEqual(e["path_b64"], "L2HD")

    def test_table_output_has_header_and_human_durations(self):
        path = self.write("a.log", "t s /a 500 1500\nt s /a 500 1500\n")
        r = self.run_opsktl("errors-by-endpoint", "--format", "table", path)
        lines = r.text.splitlines()
        self.assertEqual(lines[0].split(), ["ERRORS", "REQUESTS", "ERROR_PCT", "P50_MS", "P99_MS", "SERVICE", "PATH"])
        self.assertEqual(lines[1].split(), ["2", "2", "100.00", "1.5", "s", "1.5", "s", "s", "/a"])

    def test_auto_format_is_tsv_when_piped(self):
        path = self.write("a.log", SAMPLE)
        self.assertEqual(self.run_opsktl("errors-by-endpoint", path).rows(), SAMPLE_ROWS)

    # --- inputs ------------------------------------------------------------------

    def test_reads_stdin_when_no_file_or_dash(self):
        for args in ([], ["-"]):
            r = self.run_opsktl("errors-by-endpoint", *args, stdin=SAMPLE)
            self.assertEqual(r.rows(), SAMPLE_ROWS)

    def test_gzip_file_and_gzip_stdin(self):
        gz = self.write("a.log.gz", SAMPLE, compress=True)
        self.assertEqual(self.run_opsktl("errors-by-endpoint", gz).rows(), SAMPLE_ROWS)
        r = self.run_opsktl("errors-by-endpoint", stdin=(self.dir / "a.log.gz").read_bytes())
        self.assertEqual(r.rows(), SAMPLE_ROWS)

    def test_corrupt_gzip_is_an_input_error(self):
        data = gzip.compress(SAMPLE.encode())
        bad = self.write("bad.log.gz", data[: len(data) // 2])
        r = self.run_opsktl("errors-by-endpoint", bad)
        self.assertEqual(r.code, 2)
        self.assertIn(f"opsktl: errors-by-endpoint: {bad}: unexpected end of gzip data", r.errtext)

    def test_multiple_files_add_up(self):
        a = self.write("a.log", SAMPLE)
        b = self.write("b.log", "t b /y 500 50\n")
        r = self.run_opsktl("errors-by-endpoint", a, b)
        self.assertEqual(r.rows()[0][:2] + r.rows()[0][5:], ["3", "3", "b", "/y"])

    def test_missing_file_is_named_others_still_count_exit_2(self):
        a = self.write("a.log", SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", "missing.log", a)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.rows(), SAMPLE_ROWS)
        self.assertIn("opsktl: errors-by-endpoint: missing.log: No such file or directory", r.errtext)

    def test_directory_input_is_an_error(self):
        r = self.run_opsktl("errors-by-endpoint", str(self.dir))
        self.assertEqual(r.code, 2)
        self.assertIn("Is a directory", r.errtext)

    def test_crlf_lines(self):
        path = self.write("a.log", SAMPLE.replace("\n", "\r\n"))
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual((r.rows(), r.err), (SAMPLE_ROWS, b""))

    def test_last_line_without_newline_counts(self):
        path = self.write("a.log", SAMPLE + "t b /y 500 1")
        self.assertEqual(self.run_opsktl("errors-by-endpoint", path).rows()[0][:2], ["3", "3"])

    # --- exit codes and bad input -------------------------------------------------

    def test_no_errors_found_exits_1(self):
        path = self.write("a.log", "t s /a 200 1\nt s /b 404 1\n")
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual((r.code, r.out, r.err), (1, b"", b""))

    def test_empty_input_exits_1(self):
        path = self.write("a.log", "")
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        self.assertEqual(r.code, 1)
        self.assertEqual(json.loads(r.out)["endpoints"], [])

    def test_blank_lines_are_skipped_not_malformed(self):
        path = self.write("a.log", "\n   \n\t\r\n" + SAMPLE)
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual((r.rows(), r.err), (SAMPLE_ROWS, b""))

    def test_malformed_lines_are_counted_with_first_location(self):
        log = "t s /a 500 1\nt s /a\nt s /a 5xx 1\nt s /a 2OO 1\nt s /a 500 1\n"
        path = self.write("a.log", log)
        r = self.run_opsktl("errors-by-endpoint", path)
        self.assertEqual(r.code, 0)
        self.assertEqual(r.rows()[0][:2], ["2", "2"])
        # Line 2 lacks the status and latency fields; 3 and 4 have a status that is not 3 digits.
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 3 malformed lines skipped "
                                    f"(first at {path}:2: fewer fields than --field asks)\n")
        q = self.run_opsktl("errors-by-endpoint", "-q", path)
        self.assertEqual(q.err, b"")
        v = self.run_opsktl("errors-by-endpoint", "-v", path)
        self.assertEqual(v.errtext.splitlines()[-2:],
                         ["opsktl: errors-by-endpoint: 3 malformed lines skipped "
                          f"(first at {path}:2: fewer fields than --field asks)",
                          "opsktl: errors-by-endpoint: malformed lines by reason: "
                          "2 status is not 3 digits, 1 fewer fields than --field asks"])
        j = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        summary = json.loads(j.out)["summary"]
        self.assertEqual(summary["first_malformed_reason"], "too_few_fields")
        self.assertEqual(summary["malformed_reasons"], {"too_few_fields": 1, "bad_status": 2})

    def test_malformed_reasons_on_the_per_line_path(self):
        # --strict and --normalize read line by line, not with the block scan: same reasons.
        log = "t s /a 500 1\nt s /a\nt s /a 5xx 1\nt s /a 2OO 1\nt s /a 500 1\n"
        path = self.write("a.log", log)
        r = self.run_opsktl("errors-by-endpoint", "--normalize", "--format", "json", path)
        summary = json.loads(r.out)["summary"]
        self.assertEqual((summary["first_malformed_reason"], summary["malformed_reasons"]),
                         ("too_few_fields", {"too_few_fields": 1, "bad_status": 2}))
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 3 malformed lines skipped "
                                    f"(first at {path}:2: fewer fields than --field asks)\n")

    def test_four_field_log_gets_the_latency_hint(self):
        # TS SERVICE PATH STATUS without a latency column: every line is one field short
        # of the default layout, and the message says how to read it.
        path = self.write("a.log", "t s /a 500\nt s /b 200\n")
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "fields", path)
        self.assertEqual(r.code, 1)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 2 malformed lines skipped (first at "
                                    f"{path}:1: no latency column (give --field latency=0 if the log has none))\n")
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "fields", "--field", "latency=0", path)
        self.assertEqual((r.code, r.rows(), r.err), (0, [["1", "1", "100.00", "-", "-", "s", "/a"]], b""))
        r = self.run_opsktl("errors-by-endpoint", "--strict", path)
        self.assertEqual(r.errtext, f"opsktl: errors-by-endpoint: {path}:1: malformed line (--strict): "
                                    "no latency column (give --field latency=0 if the log has none)\n")
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        self.assertEqual(json.loads(r.out)["summary"]["malformed_reasons"], {"no_latency_column": 2})

    def test_malformed_reasons_of_json_and_logfmt_lines(self):
        path = self.write("a.jsonl", '{"service":"s","path":"/a","status":500}\n{"service":"s","path":"/a"\n'
                                     '{"service":"s","path":"/a"}\n{"service":"s","path":"/a","status":"50"}\n')
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "json", "-v", "--format", "json", path)
        summary = json.loads(r.out)["summary"]
        self.assertEqual((summary["first_malformed"], summary["first_malformed_reason"]), (f"{path}:2", "invalid_json"))
        self.assertEqual(summary["malformed_reasons"], {"invalid_json": 1, "bad_status": 1, "no_status": 1})
        self.assertEqual(r.errtext.splitlines()[-2:],
                         [f"opsktl: errors-by-endpoint: 3 malformed lines skipped (first at {path}:2: invalid JSON)",
                          "opsktl: errors-by-endpoint: malformed lines by reason: "
                          "1 status is not 3 digits, 1 invalid JSON, 1 no status field"])
        path = self.write("a.logfmt", 'service=s path=/a status=500\nservice=s path="/a status=500\n')
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "logfmt", path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 1 malformed line skipped (first at "
                                    f"{path}:2: invalid logfmt (unterminated quote or a value without a key))\n")
        r = self.run_opsktl("errors-by-endpoint", "--regex", r"^(?P<service>\S+) (?P<path>\S+) (?P<status>\d+)$", path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 2 malformed lines skipped (first at "
                                    f"{path}:1: no match for --regex)\n")
        path = self.write("c.log", '1.2.3.4 - - [19/Dec/2025:10:01:02 +0000] "GET /x HTTP/1.1" 500 5\n'
                                   '1.2.3.4 - - 19/Dec/2025:10:01:02 +0000 "GET /x HTTP/1.1" 500 5\n')
        r = self.run_opsktl("errors-by-endpoint", "--log-format", "combined", path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 1 malformed line skipped (first at "
                                    f"{path}:2: not a combined access log line)\n")

    def test_unreadable_timestamp_under_since_is_named(self):
        path = self.write("a.log", "2025-12-19T10:00:01Z s /a 500 1\nyesterday s /a 500 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--since", "2025-12-19T10:00:00Z", path)
        self.assertEqual(r.errtext, "opsktl: errors-by-endpoint: 1 malformed line skipped (first at "
                                    f"{path}:2: ts is not a timestamp)\n")

    def test_strict_makes_first_malformed_line_fatal(self):
        path = self.write("a.log", "t s /a 500 1\nt s /a 5xx 1\n")
        r = self.run_opsktl("errors-by-endpoint", "--strict", path)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.out, b"")
        self.assertEqual(r.errtext,
                         f"opsktl: errors-by-endpoint: {path}:2: malformed line (--strict): status is not 3 digits\n")

    def test_binary_garbage_is_malformed_not_a_crash(self):
        import random
        rng = random.Random(5)
        path = self.write("a.bin", bytes(rng.randrange(256) for _ in range(300000)))
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        self.assertEqual(r.code, 1)
        summary = json.loads(r.out)["summary"]
        self.assertGreater(summary["malformed"], 0)

    def test_huge_line_without_newline(self):
        path = self.dir / "huge.log"
        with open(path, "wb") as f:
            f.write(b"t s /a 500 1\n")
            chunk = b"x" * (1 << 20)
            for _ in range(100):
                f.write(chunk)
        r = self.run_opsktl("errors-by-endpoint", "--format", "json", path)
        self.assertEqual(r.code, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["summary"]["malformed"], 1)
        self.assertEqual(doc["summary"]["malformed_reasons"], {"line_too_long": 1})
        self.assertEqual(doc["summary"]["lines"], 2)
        self.assertEqual(doc["endpoints"][0]["errors"], 1)

    def test_pipe_into_head_ends_quietly(self):
        log = "".join(f"t svc{i % 50} /path/{i} 500 1\n" for i in range(20000))
        path = self.write("a.log", log)
        code, err = self.run_pipe_head(["errors-by-endpoint", "-k", "0", path], lines=1)
        self.assertEqual((code, err), (0, b""))


if __name__ == "__main__":
    main()
