#!/usr/bin/env python3
"""Victims and attackers for tenant_test.sh (fair shares between tenants).

usage: tenant_tools.py victim MP SECONDS
         reads MP/proc/meminfo to the end in a loop; prints one line
         "reads=N errors=E partial=P rate=R last=TEXT" (a partial read is one
         whose text is not a whole meminfo: no MemTotal first, no newline last,
         or another number of lines than the first read).
       tenant_tools.py hold MP LIMIT
         opens MP/proc/cpuinfo (reading each once) until an open fails or
         LIMIT are open; prints "held N errno=NAME" and holds them until stdin
         closes.
       tenant_tools.py threads COUNT
         starts COUNT sleeping threads; prints "threads N" and sleeps.
       tenant_tools.py loop MP FILE
         reads MP/proc/FILE in a loop until killed (errors ignored).
"""
import errno
import os
import resource
import sys
import threading
import time


def victim(mp, seconds):
    reads = errors = partial = 0
    lines = None
    last = ""
    start = time.monotonic()
    end = start + seconds
    path = mp + "/proc/meminfo"
    while time.monotonic() < end:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                chunks = []
                while True:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    chunks.append(b)
            finally:
                os.close(fd)
            text = b"".join(chunks)
            n = text.count(b"\n")
            if lines is None:
                lines = n
            if not text.startswith(b"MemTotal:") or not text.endswith(b"\n") or n != lines:
                partial += 1
                last = f"partial read of {len(text)} bytes, {n} lines"
            reads += 1
        except OSError as e:  # every failure counts; the test asserts zero
            errors += 1
            last = repr(e)
    rate = reads / (time.monotonic() - start)
    print(f"reads={reads} errors={errors} partial={partial} rate={rate:.0f} last={last}",
          flush=True)


def hold(mp, limit):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = limit + 64 if hard == resource.RLIM_INFINITY else min(hard, limit + 64)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    limit = min(limit, want - 64)
    fds = []
    err = "none"
    while len(fds) < limit:
        try:
            fd = os.open(mp + "/proc/cpuinfo", os.O_RDONLY)
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
            break
        os.read(fd, 65536)
        fds.append(fd)
    print(f"held {len(fds)} errno={err}", flush=True)
    sys.stdin.read()
    for fd in fds:
        os.close(fd)


def threads(count):
    threading.stack_size(64 * 1024)
    stop = threading.Event()
    for _ in range(count):
        threading.Thread(target=stop.wait, daemon=True).start()
    print(f"threads {threading.active_count() - 1}", flush=True)
    stop.wait()


def loop(mp, name):
    path = f"{mp}/proc/{name}"
    while True:
        try:
            with open(path, "rb") as f:
                f.read()
        except OSError:
            pass


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "victim":
        victim(sys.argv[2], float(sys.argv[3]))
    elif cmd == "hold":
        hold(sys.argv[2], int(sys.argv[3]))
    elif cmd == "threads":
        threads(int(sys.argv[2]))
    elif cmd == "loop":
        loop(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
