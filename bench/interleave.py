#!/usr/bin/env python3
"""Times commands in interleaved rounds: each round runs every command once, in an order
that rotates from round to round, so that a machine whose speed drifts during the run
(a busy neighbour, a throttled vCPU) slows every command alike. Prints each command's
median and minimum wall time, its median CPU time, and the median over the rounds of its
time divided by the first command's time in the same round.

  interleave.py [--rounds N] [--warmup N] CMD [CMD ...]

A command is split like a shell word list and run directly; one that holds a pipe or a
redirection runs through /bin/sh -c. Its output goes to /dev/null.
"""
import argparse
import os
import shlex
import statistics
import sys
import time


def argv_of(command):
    if any(c in command for c in "|<>;&$`"):
        return ["/bin/sh", "-c", command]
    return shlex.split(command)


def run_once(argv, devnull):
    """Wall seconds and CPU seconds (user + sys) of one run of argv, its stdout on devnull."""
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
    except OSError as e:
        sys.exit(f"interleave: {argv[0]}: {e.strerror}")
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: opsktl found nothing, grep-style
        sys.exit(f"interleave: exit {code}: {shlex.join(argv)}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    argvs = [argv_of(c) for c in args.commands]
    n = len(argvs)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(args.warmup):
        for argv in argvs:
            run_once(argv, devnull)
    walls = [[] for _ in range(n)]
    cpus = [[] for _ in range(n)]
    ratios = [[] for _ in range(n)]
    for r in range(args.rounds):
        round_wall = [0.0] * n
        for k in range(n):
            i = (r + k) % n
            wall, cpu = run_once(argvs[i], devnull)
            walls[i].append(wall)
            cpus[i].append(cpu)
            round_wall[i] = wall
        for i in range(n):
            ratios[i].append(round_wall[i] / round_wall[0])
    print(f"{args.rounds} interleaved rounds")
    print(f"{'median':>9} {'min':>9} {'cpu':>9} {'x first':>8}  command")
    for i, command in enumerate(args.commands):
        print(f"{statistics.median(walls[i]) * 1000:7.1f}ms {min(walls[i]) * 1000:7.1f}ms "
              f"{statistics.median(cpus[i]) * 1000:7.1f}ms {statistics.median(ratios[i]):8.2f}  {command}")


if __name__ == "__main__":
    main()
