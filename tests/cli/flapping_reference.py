"""An independent reference for `opsktl flapping`, written straight from SPEC §4.

Input: lines `TS SERVICE EVENT` with integer epoch-second timestamps, each service's
events in time order. A restart is an event equal to `event` ignoring case.
"""
from bisect import bisect_left
from collections import defaultdict


def parse(text):
    """(ts, service, event) for each line with three fields and an integer ts."""
    events = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            ts = int(parts[0])
        except ValueError:
            continue
        events.append((ts, parts[1], parts[2]))
    return events


def restarts_with_counts(events, max_restarts, window, event="restarted"):
    """[(ts, service, count, alerts)] for every restart, in input order."""
    history = defaultdict(list)
    out = []
    for ts, service, ev in events:
        if ev.lower() != event.lower():
            continue
        times = history[service]
        times.append(ts)
        count = len(times) - bisect_left(times, ts - window)
        out.append((ts, service, count, count > max_restarts))
    return out


def every_rows(events, max_restarts, window, event="restarted"):
    """The `--alerts every` rows: [(ts, service, count)] in input order."""
    return [(ts, s, c) for ts, s, c, alert in restarts_with_counts(events, max_restarts, window, event) if alert]


def episode_rows(events, max_restarts, window, event="restarted"):
    """The `--alerts episode` rows: [(service, start, end, restarts, peak)] by end, service."""
    history = defaultdict(list)
    current = {}
    done = []
    for ts, service, ev in events:
        if ev.lower() != event.lower():
            continue
        times = history[service]
        times.append(ts)
        first_in_window = bisect_left(times, ts - window)
        count = len(times) - first_in_window
        if count > max_restarts:
            if service not in current:
                current[service] = {"start": times[first_in_window], "end": ts, "peak": count}
            else:
                current[service]["end"] = ts
                current[service]["peak"] = max(current[service]["peak"], count)
        elif service in current:
            done.append((service, current.pop(service)))
    done.extend(current.items())
    rows = []
    for service, ep in done:
        restarts = sum(1 for t in history[service] if ep["start"] <= t <= ep["end"])
        rows.append((service, ep["start"], ep["end"], restarts, ep["peak"]))
    rows.sort(key=lambda r: (r[2], r[0].encode()))
    return rows
