#!/usr/bin/env python3
"""Measures the dedupe state file: its size over nightly dry runs on a changing tree, and
how long a run takes to replay a big one.

  dedupe_state.py churn  OPSKTL [--runs 50] [--files 2000] [--seed 1]
  dedupe_state.py replay OPSKTL [--records 200000] [--rounds 5]

churn: a tree of FILES files in groups of equal size (a third of them duplicates); between
two dry runs it rewrites 5% of the files (same size, new bytes), adds 2% and removes 2%, as a
nightly cron job would see. Prints the state file's size and records after some runs.

replay: a state file of RECORDS hash records (distinct inodes, stamps and hashes, as a big
tree leaves) for an empty root; times a dry run of that root with a fresh copy of the file
each round (so the run's work is the replay, plus a compaction where the binary has one).
Prints the median and minimum wall time, the median CPU time and the peak RSS.
"""
import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def churn(args):
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="dedupe-state-churn-")
    try:
        tree = os.path.join(work, "tree")
        state = os.path.join(work, "state", "dedupe.state")
        os.makedirs(tree)
        serial = 0

        def new_file():
            nonlocal serial
            serial += 1
            size = rng.choice([1000, 2000, 4096, 5000, 10000, 20000]) + rng.randrange(200)
            path = os.path.join(tree, f"d{serial % 37}", f"f{serial}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = rng.randbytes(size)
            with open(path, "wb") as f:
                f.write(data)
            if rng.random() < 0.33:  # a duplicate beside it
                serial += 1
                with open(os.path.join(os.path.dirname(path), f"f{serial}"), "wb") as f:
                    f.write(data)

        while serial < args.files:
            new_file()
        print(f"{'run':>4} {'files':>6} {'bytes':>9} {'records':>8}")
        for run in range(1, args.runs + 1):
            proc = subprocess.run([args.opsktl, "dedupe", "-q", "--format", "tsv", "--state", state, tree],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if proc.returncode not in (0, 1):
                sys.exit(f"run {run}: exit {proc.returncode}: {proc.stderr.decode(errors='replace')}")
            files = [os.path.join(d, n) for d, _, ns in os.walk(tree) for n in ns]
            with open(state, "rb") as f:
                records = sum(1 for _ in f) - 1
            if run in (1, 2, 5, 10, 20, 30, 40, 50) or run == args.runs:
                print(f"{run:>4} {len(files):>6} {os.path.getsize(state):>9} {records:>8}")
            for path in rng.sample(files, len(files) * 5 // 100):  # rewritten in place
                size = os.path.getsize(path)
                with open(path, "wb") as f:
                    f.write(rng.randbytes(size))
            for path in rng.sample(files, len(files) * 2 // 100):
                if os.path.exists(path):
                    os.remove(path)
            for _ in range(len(files) * 2 // 100):
                new_file()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def replay(args):
    rng = random.Random(1)
    work = tempfile.mkdtemp(prefix="dedupe-state-replay-")
    try:
        root = os.path.join(work, "empty")
        os.makedirs(root)
        master = os.path.join(work, "master.state")
        with open(master, "w") as f:
            f.write('{"t":"roots","v":1,"roots":["%s"]}\n' % root)
            for ino in range(1000, 1000 + args.records):
                mtime = 1700000000_000000000 + rng.randrange(10**15)
                f.write('{"t":"h","dev":2049,"ino":%d,"size":%d,"mtime":%d,"ctime":%d,"edge":"%016x",'
                        '"full":"%032x"}\n' % (ino, rng.randrange(1, 10**9), mtime, mtime + rng.randrange(10**9),
                                               rng.getrandbits(64), rng.getrandbits(128)))
        print(f"state file: {args.records} records, {os.path.getsize(master)} bytes")
        times = []
        cpu = []
        state = os.path.join(work, "run.state")
        for _ in range(args.rounds):
            shutil.copyfile(master, state)
            os.chmod(state, 0o600)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([args.opsktl, "dedupe", "-q", "--state", state, root],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if proc.returncode != 0:
                sys.exit(f"exit {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"dry run of an empty root: wall median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s; CPU (user+sys) median {statistics.median(cpu):.3f} s; "
              f"over {args.rounds} rounds; peak RSS {rss / 1024:.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("churn")
    c.add_argument("opsktl")
    c.add_argument("--runs", type=int, default=50)
    c.add_argument("--files", type=int, default=2000)
    c.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("replay")
    r.add_argument("opsktl")
    r.add_argument("--records", type=int, default=200000)
    r.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    churn(args) if args.mode == "churn" else replay(args)


if __name__ == "__main__":
    main()
