#!/usr/bin/env python3
"""Checks vprocd's cap on open files: MP was started with --max-open CAP.

usage: open_cap.py MP CAP
Prints PASS/FAIL lines (see vt_report).
"""
import errno
import os
import sys

mp, cap = sys.argv[1], int(sys.argv[2])
fds = [os.open(mp + "/proc/meminfo", os.O_RDONLY) for _ in range(cap)]
try:
    os.open(mp + "/proc/stat", os.O_RDONLY)
    print(f"FAIL open number {cap + 1} was refused with ENFILE (it succeeded)")
except OSError as e:
    ok = e.errno == errno.ENFILE
    print(f"{'PASS' if ok else 'FAIL'} open number {cap + 1} was refused with ENFILE (got {e})")
ok = all(os.read(fd, 9) == b"MemTotal:" for fd in fds)
print(f"{'PASS' if ok else 'FAIL'} the {cap} files open at the cap still read")
os.close(fds.pop())
try:
    fd = os.open(mp + "/proc/stat", os.O_RDONLY)
    os.close(fd)
    print("PASS after one close, an open succeeds again")
except OSError as e:
    print(f"FAIL after one close, an open succeeds again (got {e})")
for fd in fds:
    os.close(fd)
