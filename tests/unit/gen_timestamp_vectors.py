#!/usr/bin/env python3
"""Timestamp test vectors computed with Python's datetime, independent of opsktl's parser.

    gen_timestamp_vectors.py OUT.tsv        write the vectors
    gen_timestamp_vectors.py --check TSV    exit 1 unless TSV is exactly what this script writes

Each line: CONTEXT_YEAR <tab> TEXT <tab> EXPECTED, EXPECTED being microseconds since the
epoch (UTC) or "-" when the text is not a valid timestamp (month 13, Feb 29 of a common
year, hour 24, ...). Seeded, so the file is reproducible; it is checked in and a ctest
verifies it stays in sync with this script.
"""
import calendar
import datetime as dt
import random
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
UTC = dt.timezone.utc


def micros(d):
    delta = d - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def civil(y, mo, d, h, mi, s, us, offset_min=0):
    """Expected micros, or None when the fields are not a valid date and time."""
    try:
        tz = dt.timezone(dt.timedelta(minutes=offset_min))
        return micros(dt.datetime(y, mo, d, h, mi, s, us, tzinfo=tz))
    except ValueError:
        return None


def fraction(rng, us):
    digits = rng.choice([0, 1, 3, 6, 6, 9])
    if digits == 0:
        return "", 0
    text = f"{us:06d}" + f"{rng.randrange(1000):03d}"
    text = text[:digits]
    kept = int((text + "000000")[:6])  # beyond microseconds is truncated
    return text, kept


def zone_text(rng, offset_min):
    if offset_min == 0 and rng.random() < 0.5:
        return "Z"
    sign = "-" if offset_min < 0 else "+"
    h, m = divmod(abs(offset_min), 60)
    return f"{sign}{h:02d}:{m:02d}" if rng.random() < 0.5 else f"{sign}{h:02d}{m:02d}"


def fields(rng, bad):
    y = rng.randrange(1971, 2100)
    mo, d = rng.randrange(1, 13), rng.randrange(1, 29)
    h, mi, s = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    if bad:
        kind = rng.randrange(6)
        if kind == 0: mo = 13
        elif kind == 1: mo, d = 2, 30
        elif kind == 2: y, mo, d = rng.choice([2023, 2025, 2100, 1900 + 4 * 25 + 1]), 2, 29
        elif kind == 3: mo, d = rng.choice([4, 6, 9, 11]), 31
        elif kind == 4: h = 24
        else: mi = 60
    elif rng.random() < 0.2:
        d = calendar.monthrange(y, mo)[1]  # last day of the month, Feb 29 in leap years
    return y, mo, d, h, mi, s


def vectors():
    rng = random.Random(20251219)
    out = []
    for i in range(600):
        bad = i % 5 == 4
        y, mo, d, h, mi, s = fields(rng, bad)
        us = rng.randrange(1_000_000)
        form = i % 6
        ctx = 2025
        if form == 0:  # RFC 3339 with Z or an offset
            off = rng.choice([0, 0, 60, -300, 330, -570, 840])
            frac, kept = fraction(rng, us)
            text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{'.' + frac if frac else ''}{zone_text(rng, off)}"
            exp = civil(y, mo, d, h, mi, s, kept, off)
        elif form == 1:  # log4j / Python logging: comma and milliseconds, zone-less (UTC)
            ms = us // 1000
            text = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{ms:03d}"
            exp = civil(y, mo, d, h, mi, s, ms * 1000)
        elif form == 2:  # CLF
            off = rng.choice([0, 60, -420, 545])
            sign = "-" if off < 0 else "+"
            text = f"{d:02d}/{MONTHS[mo - 1] if mo <= 12 else 'Xyz'}/{y:04d}:{h:02d}:{mi:02d}:{s:02d} {sign}{abs(off) // 60:02d}{abs(off) % 60:02d}"
            exp = civil(y, mo, d, h, mi, s, 0, off) if mo <= 12 else None
        elif form == 3:  # syslog, year from the context
            ctx = y
            day = f"{d:2d}" if rng.random() < 0.8 else f"{d:02d}"
            text = f"{MONTHS[mo - 1] if mo <= 12 else 'Xyz'} {day} {h:02d}:{mi:02d}:{s:02d}"
            exp = civil(y, mo, d, h, mi, s, 0) if mo <= 12 else None
        elif form == 4:  # epoch seconds, integer or fractional
            secs = rng.randrange(0, 4_102_444_800)
            frac, kept = fraction(rng, us)
            text = f"{secs}{'.' + frac if frac else ''}"
            exp = secs * 1_000_000 + kept
        else:  # epoch milliseconds (13 digits)
            ms = rng.randrange(1_000_000_000_000, 4_102_444_800_000)
            text = str(ms)
            exp = ms * 1000
        out.append((ctx, text, "-" if exp is None else str(exp)))
    return out


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # datetime.weekday() order


def real_forms():
    """The real-log forms of docs/log-formats.md, a sixth of them invalid (month 13, Feb
    30, Feb 29 of a common year, Apr 31, hour 24, minute 60; a wrong weekday for ctime)."""
    rng = random.Random(20161025)
    out = []
    for i in range(480):
        bad = i % 6 == 5
        y, mo, d, h, mi, s = fields(rng, bad)
        if i % 10 in (3, 5):  # two-digit years: %y reads 69-99 as 19yy, 00-68 as 20yy
            y = rng.randrange(1970, 2069) if not (bad and mo == 2 and d == 29) else rng.choice([2023, 2025, 2001])
        us = rng.randrange(1_000_000)
        ms = us // 1000
        form = i % 10
        ctx = 2025
        mon = MONTHS[mo - 1] if mo <= 12 else "Xyz"
        if form == 0:  # nginx error log
            text = f"{y:04d}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            exp = civil(y, mo, d, h, mi, s, 0)
        elif form == 1:  # Kafka / log4j in brackets
            text = f"[{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{ms:03d}]"
            exp = civil(y, mo, d, h, mi, s, ms * 1000)
        elif form == 2:  # ctime (Apache error log), bracketed or not, Apache 2.4 microseconds
            exp = civil(y, mo, d, h, mi, s, 0)
            wd = WEEKDAYS[dt.date(y, mo, d).weekday()] if exp is not None else "Sun"
            if bad and exp is not None:
                wd = WEEKDAYS[(dt.date(y, mo, d).weekday() + rng.randrange(1, 7)) % 7]
                exp = None
            day = f"{d:2d}" if rng.random() < 0.5 else f"{d:02d}"
            frac = ""
            if rng.random() < 0.3:
                frac = f".{us:06d}"
                if exp is not None:
                    exp += us
            text = f"{wd} {mon} {day} {h:02d}:{mi:02d}:{s:02d}{frac} {y:04d}"
            if rng.random() < 0.5:
                text = f"[{text}]"
        elif form == 3:  # yy/MM/dd (Spark)
            text = f"{y % 100:02d}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            exp = civil(y, mo, d, h, mi, s, 0)
        elif form == 4:  # logcat, the year from the context
            ctx = y
            text = f"{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}.{ms:03d}"
            exp = civil(y, mo, d, h, mi, s, ms * 1000)
        elif form == 5:  # Hadoop HDFS yyMMdd HHmmss
            text = f"{y % 100:02d}{mo:02d}{d:02d} {h:02d}{mi:02d}{s:02d}"
            exp = civil(y, mo, d, h, mi, s, 0)
        elif form == 6:  # yyyyMMdd-HH:mm:ss:SSS
            text = f"{y:04d}{mo:02d}{d:02d}-{h:02d}:{mi:02d}:{s:02d}:{ms:03d}"
            exp = civil(y, mo, d, h, mi, s, ms * 1000)
        elif form == 7:  # ISO with a comma before the fraction, 'T' or a space, zone or not
            sep = rng.choice(["T", " "])
            off = rng.choice([0, 60, -300])
            zone = zone_text(rng, off) if rng.random() < 0.5 else ""
            text = f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d},{ms:03d}{zone}"
            exp = civil(y, mo, d, h, mi, s, ms * 1000, off if zone else 0)
        elif form == 8:  # syslog with the day unpadded
            ctx = y
            text = f"{mon} {d} {h:02d}:{mi:02d}:{s:02d}"
            exp = civil(y, mo, d, h, mi, s, 0)
        else:  # digits that run into '/', '-', ':' or a letter are not epoch seconds
            n = rng.randrange(1, 12)
            digits = "".join(str(rng.randrange(10)) for _ in range(n))
            text = digits + rng.choice(["/", "-", ":", "x", "Z", "/10/25", "-17"])
            exp = None
        out.append((ctx, text, "-" if exp is None else str(exp)))
    return out


def render():
    return "".join(f"{c}\t{t}\t{e}\n" for c, t, e in vectors() + real_forms())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2], encoding="utf-8") as f:
            same = f.read() == render()
        if not same:
            print(f"{sys.argv[2]} is out of date: rerun {sys.argv[0]} {sys.argv[2]}", file=sys.stderr)
        sys.exit(0 if same else 1)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(render())
