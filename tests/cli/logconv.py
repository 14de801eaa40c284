#!/usr/bin/env python3
"""Rewrites an access log in the default fields format as logfmt or JSON lines.

    logconv.py --to logfmt|json|json-nested [-o OUT] [IN]

Line `2025-12-19T10:01:02Z serviceA /api/v1/orders 500 120` (ts service path status
latency_ms) becomes, in logfmt,
    ts=2025-12-19T10:01:02Z level=error service=serviceA path=/api/v1/orders status=500 latency_ms=120 msg="GET /api/v1/orders done"
and in json
    {"ts":"2025-12-19T10:01:02Z","level":"error","service":"serviceA","path":"/api/v1/orders","status":500,"latency_ms":120,"msg":"..."}
json-nested puts them under {"@timestamp":..,"svc":{"name":..},"http":{"path":..,"status":..},"duration_ms":..}
(read with --field service=svc.name --field path=http.path --field status=http.status).
Quoting and escapes are exercised on purpose (a message with quotes and a backslash).
Lines that are not 5 fields with a 3-digit status (the generator's malformed lines) are
copied unchanged, so they stay malformed in every format; blank lines stay blank.
Standard library only, so that it is an independent writer of these formats.
"""
import argparse
import json
import sys


def logfmt_value(text):
    if text and all(c not in text for c in ' "=\\') and text.isprintable():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def convert(line, to):
    text = line.rstrip("\r\n")
    fields = text.split()
    if len(fields) != 5 or not (len(fields[3]) == 3 and fields[3].isdigit()):
        return text
    ts, service, path, status, latency = fields
    level = "error" if status.startswith("5") else "info"
    msg = f'GET {path} -> {status} "done" \\ ok'
    if to == "logfmt":
        pairs = [("ts", ts), ("level", level), ("service", service), ("path", path),
                 ("status", status), ("latency_ms", latency), ("msg", msg)]
        return " ".join(f"{k}={logfmt_value(v)}" for k, v in pairs)
    lat = int(latency) if latency.isdigit() else latency
    if to == "json":
        obj = {"ts": ts, "level": level, "service": service, "path": path, "status": int(status),
               "latency_ms": lat, "msg": msg}
    else:
        obj = {"@timestamp": ts, "svc": {"name": service, "tags": ["a", {"b": 1}]},
               "http": {"path": path, "status": int(status), "method": "GET"},
               "duration_ms": lat, "message": msg}
    return json.dumps(obj, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--to", required=True, choices=["logfmt", "json", "json-nested"])
    ap.add_argument("-o", "--output")
    ap.add_argument("input", nargs="?")
    args = ap.parse_args()
    src = open(args.input, encoding="utf-8", newline="") if args.input else sys.stdin
    dst = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    with src, dst:
        for line in src:
            dst.write(convert(line, args.to) + "\n")


if __name__ == "__main__":
    main()
