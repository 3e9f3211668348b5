#!/usr/bin/env python3
"""Reads each container's /proc/meminfo from the host, for bench/reattach.sh.

A probe of container i moves this process into the container's memory cgroup
(vprocd renders meminfo from the reader's cgroup), enters its mount namespace
(setns, so that /proc/meminfo is the container's mount) and reads MemTotal.
One process probes every container in turn, so the containers themselves can
stay idle (busybox sleep) and are not changed in any way.

  reattach_probe.py LIST check
      LIST holds "PID EXPECTED_KB" lines (the container's init pid, its limit).
      Probes each container once; prints "CORRECT n of N"; status 0 when all.
  reattach_probe.py LIST wait GO [OLD_DEV]
      Opens everything first, then waits for a line "T0_NS" on the fifo GO (the
      moment the new vprocd was launched, CLOCK_REALTIME ns). Then probes the
      pending containers round after round until each has read its own limit
      and, with OLD_DEV (major:minor of the instance being replaced), its
      /proc/meminfo mount is no longer OLD_DEV's. Prints
      "ALL_MS w FAILED f WRONG x ROUNDS r PENDING p": w = when the last one
      got there, ms after T0; f, x = failed and wrong reads on the way; p =
      containers still not there after 60 s (VPROC_PROBE_TIMEOUT).
"""
import ctypes
import os
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
TIMEOUT_S = int(os.environ.get("VPROC_PROBE_TIMEOUT", "60"))
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def memory_procs(pid):
    """cgroup.procs of pid's memory cgroup (v1 hierarchy or v2 unified)."""
    v2 = None
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                return "/sys/fs/cgroup/memory%s/cgroup.procs" % path
            if ctrls == "":
                v2 = "/sys/fs/cgroup%s/cgroup.procs" % path
    return v2


class Prober:
    def __init__(self, listing):
        self.proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        self.host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY)
        self.home = os.open(memory_procs(os.getpid()), os.O_WRONLY)
        self.items = []
        for line in open(listing):
            pid, kb = line.split()
            pid = int(pid)
            self.items.append({
                "pid": pid, "kb": int(kb),
                "ns": os.open("/proc/%d/ns/mnt" % pid, os.O_RDONLY),
                "cg": os.open(memory_procs(pid), os.O_WRONLY),
            })
        self.failed = self.wrong = 0

    def read(self, it):
        """MemTotal (kB) as the container sees it, or None when the read failed."""
        os.write(it["cg"], str(os.getpid()).encode())
        setns(it["ns"])
        try:
            fd = os.open("/proc/meminfo", os.O_RDONLY)
            try:
                first = os.read(fd, 4096).split(b"\n", 1)[0].split()
            finally:
                os.close(fd)
        except OSError:
            self.failed += 1
            return None
        if len(first) >= 2 and first[0] == b"MemTotal:":
            return int(first[1])
        return -1

    def meminfo_dev(self, it):
        fd = os.open("%d/mountinfo" % it["pid"], os.O_RDONLY, dir_fd=self.proc)
        with os.fdopen(fd) as f:
            dev = None
            for line in f:
                parts = line.split()
                if parts[4] == "/proc/meminfo":
                    dev = parts[2]  # the last one is on top
            return dev

    def go_home(self):
        setns(self.host_ns)
        os.write(self.home, str(os.getpid()).encode())


def main():
    listing, mode = sys.argv[1], sys.argv[2]
    signal.alarm(TIMEOUT_S + 30)
    p = Prober(listing)
    if mode == "check":
        ok = sum(1 for it in p.items if p.read(it) == it["kb"])
        p.go_home()
        print("CORRECT %d of %d" % (ok, len(p.items)))
        sys.exit(0 if ok == len(p.items) else 1)
    go, old_dev = sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else None)
    with open(go) as f:
        t0 = int(f.readline())
    pending = list(p.items)
    rounds, last = 0, t0
    deadline = time.time() + TIMEOUT_S
    while pending and time.time() < deadline:
        rounds += 1
        still = []
        for it in pending:
            kb = p.read(it)
            if kb is not None and kb != it["kb"]:
                p.wrong += 1
            if kb == it["kb"] and (old_dev is None or p.meminfo_dev(it) != old_dev):
                last = max(last, time.time_ns())
            else:
                still.append(it)
        pending = still
        if pending:
            time.sleep(0.002)
    p.go_home()
    print("ALL_MS %.0f FAILED %d WRONG %d ROUNDS %d PENDING %d" %
          ((last - t0) / 1e6, p.failed, p.wrong, rounds, len(pending)))


if __name__ == "__main__":
    main()
