#!/usr/bin/env python3
"""Reads MP/proc/meminfo in a loop for SECONDS and checks MemTotal each time.

usage: meminfo_reader.py MP EXPECTED_KB SECONDS
Prints one line: "reads=N wrong=W errors=E last=TEXT" and exits 0.
"""
import sys
import time

mp, expected, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
reads = wrong = errors = 0
last = ""
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        with open(mp + "/proc/meminfo") as f:
            text = f.read()
        total = int(text.split("\n", 1)[0].split()[1])
        reads += 1
        if total != expected:
            wrong += 1
            last = f"MemTotal {total} != {expected}"
    except Exception as e:  # every failure counts; the test asserts zero
        errors += 1
        last = repr(e)
print(f"reads={reads} wrong={wrong} errors={errors} last={last}", flush=True)
