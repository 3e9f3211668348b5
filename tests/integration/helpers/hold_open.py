#!/usr/bin/env python3
"""Holds COUNT files of MP/proc open until stdin closes, reading each once.

usage: hold_open.py MP COUNT
Prints "opened N" once all are open and read, then waits for EOF on stdin.
"""
import os
import resource
import sys

mp, count = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 64)), hard))
names = ["meminfo", "stat", "cpuinfo", "uptime", "loadavg", "swaps", "diskstats"]
fds = []
for i in range(count):
    fd = os.open(f"{mp}/proc/{names[i % len(names)]}", os.O_RDONLY)
    os.read(fd, 65536)
    fds.append(fd)
print(f"opened {len(fds)}", flush=True)
sys.stdin.read()
for fd in fds:
    os.close(fd)
