"""Independent readers of the real logs in testdata/realdata/ for realdata_test.py.

Each reader is written from the format's own documentation (Apache's mod_log_config,
RFC 3164, the W3C extended log format draft, Zeek's TSV writer, log4j's PatternLayout,
nginx's ngx_log_error, Apache's error log, logfmt, JSON lines), with Python's re and
datetime, and shares no code with opsktl. Timestamps are returned as Python datetimes in
UTC (zone-less forms are taken as UTC, as opsktl does without --tz).
"""
import collections
import datetime as dt
import json
import math
import re

UTC = dt.timezone.utc
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _read(path):
    """The text of a file, newlines as written (\r is kept)."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()

# --- combined (NCSA common/combined, Apache's "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"")
# A quoted string ends at the first " not escaped by a backslash. The bytes field is
# required; a line cut off inside a quoted field does not match (the regex is anchored).
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] ' + _QUOTED + r' (\d{3}) (\d+|-)'
                      r'(?: ' + _QUOTED + ' ' + _QUOTED + r')?$')


def clf_time(text):
    """`18/May/2015:03:05:34 +0000` as an aware datetime."""
    return dt.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)


def read_combined(path):
    """(records, malformed line numbers). A record: dict line, ts, client, method, path, status."""
    records, malformed = [], []
    for n, line in enumerate(_read(path).splitlines(), 1):
        m = COMBINED.match(line)
        request = m.group(5).split(" ") if m else []
        if not m or len(request) not in (2, 3) or not request[0].isupper():
            malformed.append(n)
            continue
        target = request[1].split("?", 1)[0]
        records.append({"line": n, "ts": clf_time(m.group(4)), "client": m.group(1),
                        "method": request[0], "path": target, "status": m.group(6)})
    return records, malformed


# --- errors-by-endpoint (SPEC §3): count per key, rows by errors desc, requests desc, keys asc.
def status_matcher(spec):
    """A predicate for --status forms `5xx`, `4xx,5xx`, `500-504`, `502`."""
    parts = []
    for p in spec.split(","):
        if re.fullmatch(r"\dxx", p):
            parts.append(lambda s, c=p[0]: s[0] == c)
        elif "-" in p:
            lo, hi = map(int, p.split("-"))
            parts.append(lambda s, lo=lo, hi=hi: lo <= int(s) <= hi)
        else:
            parts.append(lambda s, v=p: s == v)
    return lambda s: any(f(s) for f in parts)


def nearest_rank(values, q):
    """The value at rank ceil(q * n) of the sorted values (1-based); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def endpoint_rows(records, keys, status="5xx", top=5):
    """[(errors, requests, error_pct, *key values)] as SPEC §3 orders them; top 0 = all.
    With records that carry "latency_ms", each row also gets .p50 and .p99 (None when no
    request of the endpoint had one) in the dict endpoint_rows.percentiles[key]."""
    is_error = status_matcher(status)
    errors, requests = collections.Counter(), collections.Counter()
    latencies = collections.defaultdict(list)
    for r in records:
        k = tuple(r[name] for name in keys)
        requests[k] += 1
        if is_error(r["status"]):
            errors[k] += 1
        if r.get("latency_ms") is not None:
            latencies[k].append(r["latency_ms"])
    rows = [(e, requests[k], 100.0 * e / requests[k], *k) for k, e in errors.items() if e > 0]
    rows.sort(key=lambda r: (-r[0], -r[1], *[v.encode() for v in r[3:]]))
    endpoint_rows.percentiles = {k: (nearest_rank(v, 0.5), nearest_rank(v, 0.99)) for k, v in latencies.items()}
    return rows if top == 0 else rows[:top]


# --- syslog (RFC 3164 as written to /var/log/auth.log): `Mmm dd hh:mm:ss host tag[pid]: msg`
SYSLOG = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$")


def read_syslog(path, year):
    records = []
    for n, line in enumerate(_read(path).splitlines(), 1):
        m = SYSLOG.match(line)
        if not m:
            continue
        ts = dt.datetime.strptime(f"{year} {m.group(1)} {int(m.group(2))} {m.group(3)}",
                                  "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
        records.append({"line": n, "ts": ts, "service": m.group(5), "event": m.group(7)})
    return records


# --- W3C extended log (IIS): `#Fields:` names the space-separated columns of the lines after it.
def read_w3c(path):
    """(records, comment line count). A record: dict of the fields plus line, ts."""
    records, comments, fields = [], 0, None
    for n, line in enumerate(_read(path).splitlines(), 1):
        if line.startswith("#"):
            comments += 1
            if line.startswith("#Fields:"):
                fields = line[len("#Fields:"):].split()
            continue
        values = line.split(" ")
        rec = dict(zip(fields, values))
        rec["line"] = n
        rec["ts"] = dt.datetime.strptime(rec["date"] + " " + rec["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        records.append(rec)
    return records, comments


# --- Zeek TSV (`#separator \x09`, `#fields` header, `-` unset): one record per data line.
def read_zeek(path):
    records, comments, fields = [], 0, None
    for n, line in enumerate(_read(path).splitlines(), 1):
        if line.startswith("#"):
            comments += 1
            if line.startswith("#fields\t"):
                fields = line.split("\t")[1:]
            continue
        rec = dict(zip(fields, line.split("\t")))
        rec["line"] = n
        rec["ts"] = UNIX_EPOCH + dt.timedelta(microseconds=int(rec["ts"].replace(".", "")))
        records.append(rec)
    return records, comments


# --- timestamps at the start of a line, one reader per real form.
def _ts_nginx_error(line):  # ngx_log_error: `2016/10/25 14:49:34 [error] ...`
    m = re.match(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ", line)
    return m and dt.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)


def _ts_apache_error(line):  # Apache error log: `[Mon Dec 26 16:22:08 2016]`, 2.4 adds `.103786`
    m = re.match(r"\[(\w{3} \w{3} \d\d \d\d:\d\d:\d\d)(\.\d{6})? (\d{4})\]", line)
    if not m:
        return None
    t = dt.datetime.strptime(f"{m.group(1)} {m.group(3)}", "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    return t + dt.timedelta(microseconds=int(m.group(2)[1:])) if m.group(2) else t


def _ts_log4j_bracketed(line):  # Kafka's log4j `[%d] %p %m (%c)%n`: `[2017-08-04 10:48:20,377]`
    m = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", line)
    return m and (dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                  + dt.timedelta(milliseconds=int(m.group(2))))


LINE_TIMESTAMPS = {"nginx_error": _ts_nginx_error, "apache_error": _ts_apache_error,
                   "log4j": _ts_log4j_bracketed}


def read_line_stamped(path, form):
    """Records of a log whose lines start with a timestamp of FORM; lines without one
    (continuation lines) are attached to the record above, as merge's --orphans attach."""
    reader = LINE_TIMESTAMPS[form]
    records = []
    for n, line in enumerate(_read(path).split("\n"), 1):
        if line == "":
            continue
        ts = reader(line)
        if ts is None:
            records[-1]["lines"].append(line)
        else:
            records.append({"line": n, "ts": ts, "lines": [line]})
    return records


# --- logfmt and JSON lines.
LOGFMT_PAIR = re.compile(r'(\w[\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def read_logfmt(path):
    records = []
    for n, line in enumerate(_read(path).splitlines(), 1):
        rec = {k: (json.loads(v) if v.startswith('"') else v) for k, v in LOGFMT_PAIR.findall(line)}
        rec["line"] = n
        rec["ts"] = dt.datetime.fromisoformat(rec["time"].replace("Z", "+00:00"))
        records.append(rec)
    return records


def read_json_lines(path):
    return [json.loads(line) for line in _read(path).splitlines() if line.strip()]


def iso(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def flapping_every(events, max_restarts, window):
    """The `--alerts every` rows [(ts, service, count)]: restarts whose window holds more
    than max_restarts restarts, in input order."""
    history = collections.defaultdict(list)
    rows = []
    for ts, service in events:
        history[service].append(ts)
        count = sum(1 for t in history[service] if ts - window <= t <= ts)
        if count > max_restarts:
            rows.append((ts, service, count))
    return rows


# --- flapping (SPEC §4): the window ending at a restart at t holds restarts in [t - w, t].
def flapping_episodes(events, max_restarts, window):
    """events: [(ts seconds, service)] restarts in input order. Returns the `--alerts
    episode` rows [(service, start, end, restarts, peak)] ordered by end, then service."""
    history = collections.defaultdict(list)
    open_ep, done = {}, []
    for ts, service in events:
        times = history[service]
        times.append(ts)
        in_window = [t for t in times if ts - window <= t <= ts]
        count = len(in_window)
        if count > max_restarts:
            ep = open_ep.setdefault(service, {"start": min(in_window), "peak": 0})
            ep["end"] = ts
            ep["peak"] = max(ep["peak"], count)
        elif service in open_ep:
            done.append((service, open_ep.pop(service)))
    done.extend(open_ep.items())
    rows = []
    for service, ep in done:
        restarts = sum(1 for t in history[service] if ep["start"] <= t <= ep["end"])
        rows.append((service, ep["start"], ep["end"], restarts, ep["peak"]))
    rows.sort(key=lambda r: (r[2], r[0]))
    return rows


def epoch(t):
    """An aware datetime as epoch seconds (int when whole)."""
    s = (t - UNIX_EPOCH).total_seconds()
    return int(s) if s == int(s) else s
