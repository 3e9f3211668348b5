#!/usr/bin/env python3
"""Read logs of containers that read /proc/meminfo in a loop, for
tests/hook/restart_test.sh. Each container appends one byte per read to its own
log file: O (MemTotal was the container's own limit), W (another value: the
host's, say), E (the read failed, e.g. ENOTCONN from a dead vprocd).

A log holds bytes, not times; a trace gives them times. The sampler records
every log's size every 20 ms ("T_NS SIZE1 SIZE2 ..."), so the bytes a log had
at time T are those before its size in the last sample taken at or before T,
and a byte at offset K was written by the first sample whose size exceeds K
(within 20 ms). Times are CLOCK_REALTIME nanoseconds, as `date +%s%N` prints.

Checks print "PASS what" or "FAIL what (why)" (vt_report in tests/lib/common.sh)
and one "VALUES k=v ..." line of figures. Subcommands:

  sample TRACE LOG...                 appends to TRACE every 20 ms until killed
  crash TRACE T_KILL T_LAUNCH LOG...  vprocd was SIGKILLed at T_KILL and a new
                                      one launched at T_LAUNCH: every read before
                                      T_KILL was right; in the gap reads fail and
                                      are never wrong; every container reads its
                                      own limit again, how long after T_LAUNCH
                                      (bound: VPROC_RESTART_BOUND_MS, 5000)
  window TRACE T_FROM T_TO MAXSTALL_MS LOG...
                                      every read in [T_FROM, T_TO] was right,
                                      every reader progressed, none stalled for
                                      MAXSTALL_MS or more (a hung read)
  since TRACE T_LAUNCH LOG...         from each container's first right read
                                      after T_LAUNCH to now, every read was
                                      right; no log holds a wrong value at all
"""
import os
import sys
import time

# The issue asks for 1 s; the bound asserted is looser, for a noisy machine and sanitized builds.
RECOVERY_BOUND_MS = int(os.environ.get("VPROC_RESTART_BOUND_MS", "5000"))


def sample(trace, logs):
    with open(trace, "a") as out:
        while True:
            sizes = []
            for log in logs:
                try:
                    sizes.append(os.stat(log).st_size)
                except FileNotFoundError:
                    sizes.append(0)
            out.write("%d %s\n" % (time.time_ns(), " ".join(map(str, sizes))))
            out.flush()
            time.sleep(0.02)


def load_trace(trace, n):
    """[(t, [size per log])], skipping a partly written last line."""
    rows = []
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) != n + 1 or not line.endswith("\n"):
                continue
            rows.append((int(parts[0]), [int(p) for p in parts[1:]]))
    if not rows:
        sys.exit("FAIL the trace %s is empty (sampler not running?)" % trace)
    return rows


def size_at(rows, i, t):
    size = 0
    for ts, sizes in rows:
        if ts > t:
            break
        size = sizes[i]
    return size


def seen_at(rows, i, offset):
    """Time of the first sample in which log i holds the byte at offset."""
    for ts, sizes in rows:
        if sizes[i] > offset:
            return ts
    return None


def load_logs(logs, rows):
    # Only the bytes the last sample saw, so that logs and trace agree.
    last = rows[-1][1]
    data = []
    for i, log in enumerate(logs):
        with open(log, "rb") as f:
            data.append(f.read()[: last[i]])
    return data


def names(bad):
    return ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else "")


def report(what, bad):
    if bad:
        print("FAIL %s (%s)" % (what, names(bad)))
    else:
        print("PASS %s" % what)


def crash(trace, t_kill, t_launch, logs):
    rows = load_trace(trace, len(logs))
    data = load_logs(logs, rows)
    n = len(logs)
    pre_bad, gap_quiet, gap_wrong, never, slow = [], [], [], [], []
    gap_failed, pre_reads, latencies = 0, 0, []
    for i, d in enumerate(data):
        name = "c%d" % (i + 1)
        k = size_at(rows, i, t_kill)
        launch = size_at(rows, i, t_launch)
        pre = d[:k]
        pre_reads += len(pre)
        if not pre or pre.count(b"O") != len(pre):
            pre_bad.append("%s: %d reads, %d failed, %d wrong" %
                           (name, len(pre), pre.count(b"E"), pre.count(b"W")))
        p = d.find(b"O", launch)
        gap = d[k:p if p >= 0 else len(d)]
        gap_failed += gap.count(b"E")
        if gap.count(b"E") == 0:
            gap_quiet.append(name)
        if gap.count(b"W"):
            gap_wrong.append("%s: %d wrong" % (name, gap.count(b"W")))
        if p < 0:
            never.append(name)
            continue
        seen = seen_at(rows, i, p)
        ms = (seen - t_launch) / 1e6
        latencies.append(ms)
        if ms >= RECOVERY_BOUND_MS:
            slow.append("%s after %.0f ms" % (name, ms))
    report("before the crash every container read only its own limit (%d reads)" % pre_reads,
           pre_bad)
    report("every container's reads failed after kill -9 (%d failed reads in all)" % gap_failed,
           gap_quiet)
    report("no container read a wrong value between the crash and its re-attach", gap_wrong)
    report("every container reads its own limit again after the restart", never)
    worst = max(latencies) if latencies and not never else float("nan")
    report("all %d containers correct again %.0f ms after the new vprocd started "
           "(bound %d ms; the issue asks for 1000)" % (n, worst, RECOVERY_BOUND_MS), slow + never)
    print("VALUES gap=%d recover_ms=%.0f" % (gap_failed, worst))


def window(trace, t_from, t_to, maxstall_ms, logs):
    rows = load_trace(trace, len(logs))
    data = load_logs(logs, rows)
    bad, stuck, stalled = [], [], []
    reads, failed, worst_stall = 0, 0, 0.0
    inside = [(t, s) for t, s in rows if t_from <= t <= t_to]
    for i, d in enumerate(data):
        name = "c%d" % (i + 1)
        a, b = size_at(rows, i, t_from), size_at(rows, i, t_to)
        w = d[a:b]
        reads += len(w)
        failed += len(w) - w.count(b"O")
        if w.count(b"O") != len(w):
            bad.append("%s: %d failed, %d wrong of %d" %
                       (name, w.count(b"E"), w.count(b"W"), len(w)))
        if b <= a:
            stuck.append(name)
        # Longest time the log did not grow, window edges included.
        last_t, last_size, longest = t_from, a, 0
        for t, sizes in inside:
            if sizes[i] != last_size:
                longest = max(longest, t - last_t)
                last_t, last_size = t, sizes[i]
        longest = max(longest, t_to - last_t) / 1e6
        worst_stall = max(worst_stall, longest)
        if longest >= maxstall_ms:
            stalled.append("%s stalled %.0f ms" % (name, longest))
    secs = (t_to - t_from) / 1e9
    report("every read in the %.1f s window was right (%d reads)" % (secs, reads), bad)
    report("every reader made progress in the window", stuck)
    report("no reader stalled %d ms or more (longest %.0f ms)" % (maxstall_ms, worst_stall),
           stalled)
    print("VALUES reads=%d failed=%d stall_ms=%.0f" % (reads, failed, worst_stall))


def since(trace, t_launch, logs):
    rows = load_trace(trace, len(logs))
    data = load_logs(logs, rows)
    bad, wrong = [], []
    reads = 0
    for i, d in enumerate(data):
        name = "c%d" % (i + 1)
        if d.count(b"W"):
            wrong.append("%s: %d" % (name, d.count(b"W")))
        p = d.find(b"O", size_at(rows, i, t_launch))
        if p < 0:
            bad.append("%s: never right" % name)
            continue
        after = d[p:]
        reads += len(after)
        if after.count(b"O") != len(after):
            bad.append("%s: %d failed, %d wrong of %d" %
                       (name, after.count(b"E"), after.count(b"W"), len(after)))
    report("once re-attached, no container ever read a wrong value or failed (%d reads)" % reads,
           bad)
    report("no container ever read a wrong MemTotal, in any phase", wrong)
    print("VALUES reads=%d" % reads)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sample":
        sample(args[0], args[1:])
    elif cmd == "crash":
        crash(args[0], int(args[1]), int(args[2]), args[3:])
    elif cmd == "window":
        window(args[0], int(args[1]), int(args[2]), int(args[3]), args[4:])
    elif cmd == "since":
        since(args[0], int(args[1]), args[2:])
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main()
