#!/usr/bin/env python3
"""Summarises profile.sh's splices.txt (`perf script` of splice enter/exit
and epoll_wait events): per (fd_in -> fd_out) pair, how many splices, how
many returned EAGAIN, and the distribution of bytes moved per call; and how
many epoll_wait calls (each a chance to sleep) the proxy made."""
import collections
import re
import statistics
import sys

EAGAIN = -11
calls = collections.defaultdict(list)  # (fd_in, fd_out) -> [result]
pending = {}  # tid -> (fd_in, fd_out)
epoll = 0
for line in open(sys.argv[1]):
    if "sys_enter_epoll_wait" in line:
        epoll += 1
        continue
    m = re.match(r"\s*(\d+)\s+syscalls:sys_enter_splice: fd_in: (0x[0-9a-f]+).*fd_out: (0x[0-9a-f]+)", line)
    if m:
        pending[m[1]] = (int(m[2], 16), int(m[3], 16))
        continue
    m = re.match(r"\s*(\d+)\s+syscalls:sys_exit_splice: (0x[0-9a-f]+)", line)
    if m and m[1] in pending:
        ret = int(m[2], 16)
        if ret >= 1 << 63:
            ret -= 1 << 64
        calls[pending.pop(m[1])].append(ret)

print(f"epoll_wait calls: {epoll}")
for (fd_in, fd_out), results in sorted(calls.items()):
    moved = [r for r in results if r > 0]
    again = sum(1 for r in results if r == EAGAIN)
    if not moved:
        continue
    q = statistics.quantiles(moved, n=10) if len(moved) > 1 else [moved[0]] * 9
    print(
        f"fd {fd_in:>3} -> {fd_out:>3}: {len(results):>7} calls, {again:>6} EAGAIN, "
        f"{sum(moved) / 2**20:8.1f} MiB, per call mean {statistics.mean(moved) / 1024:6.1f} KiB, "
        f"p10 {q[0] / 1024:6.1f}, p50 {q[4] / 1024:6.1f}, p90 {q[8] / 1024:6.1f} KiB"
    )
