#!/usr/bin/env python3
"""Checks shared by vproc's integration tests.

Each check prints one line, "PASS what" or "FAIL what (why)"; the bash test
turns them into results (vt_report in tests/lib/common.sh). Subcommands:

  stat-series --cpus LIST [--max-ticks N] FILE...
      FILEs are successive reads of proc/stat by one container: exactly the cpuN
      lines of LIST in each, cpu == sum of cpuN field by field, no field of any
      cpu line ever decreases, busy time grows across the series, and (with
      --max-ticks) no cpu line's total exceeds N ticks.
  same-view --cpus LIST --memtotal KB DIR...
      each DIR holds meminfo, online, cpuinfo, stat read at one moment: all show
      MemTotal KB and the CPU set LIST.
  monotonic uptime|diskstats FILE...
      successive reads by one container: no counter ever decreases
  cpus FILE KIND      prints the CPU ids FILE shows, comma-joined (KIND: online,
                      cpuinfo, stat)
"""
import argparse
import sys


def cpulist(text):
    ids = set()
    text = text.strip()
    if not text:
        return ids
    for part in text.split(","):
        a, _, b = part.partition("-")
        ids.update(range(int(a), int(b or a) + 1))
    return ids


def stat_cpu_lines(text):
    """{'cpu': [..], 'cpu0': [..]} from proc/stat text."""
    lines = {}
    for line in text.splitlines():
        f = line.split()
        if f and f[0].startswith("cpu"):
            lines[f[0]] = [int(x) for x in f[1:]]
    return lines


def cpus_of(text, kind):
    if kind == "online":
        return sorted(cpulist(text))
    if kind == "cpuinfo":
        out = []
        for line in text.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "processor":
                out.append(int(v))
        return out
    if kind == "stat":
        return [int(k[3:]) for k in stat_cpu_lines(text) if k != "cpu"]
    raise SystemExit("unknown kind " + kind)


def fmt(ids):
    return ",".join(str(i) for i in ids)


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, why=""):
        if ok:
            print("PASS " + what)
        else:
            self.failed += 1
            print("FAIL " + what + (" (" + why + ")" if why else ""))


def stat_series(args):
    r = Report()
    want = sorted(cpulist(args.cpus))
    reads = []
    for path in args.files:
        with open(path) as f:
            reads.append((path, stat_cpu_lines(f.read())))
    r.check(len(reads) >= 2, "at least two stat reads to compare", "got %d" % len(reads))
    if not reads:
        return r
    bad_set = [(p, sorted(int(k[3:]) for k in s if k != "cpu")) for p, s in reads
               if sorted(int(k[3:]) for k in s if k != "cpu") != want or "cpu" not in s]
    r.check(not bad_set, "every stat read has a cpu line and exactly the cpuN lines of {%s}" % fmt(want),
            "%s shows cpus %s" % bad_set[0] if bad_set else "")
    bad_sum = []
    for p, s in reads:
        per = [v for k, v in s.items() if k != "cpu"]
        if "cpu" not in s or not per:
            continue
        n = min(len(s["cpu"]), *(len(v) for v in per))
        sums = [sum(v[i] for v in per) for i in range(n)]
        if s["cpu"][:n] != sums or any(len(v) != len(s["cpu"]) for v in per):
            bad_sum.append((p, s["cpu"], sums))
    r.check(not bad_sum, "in every read the cpu line equals the sum of the cpuN lines, field by field",
            "%s: cpu %s, sum %s" % bad_sum[0] if bad_sum else "")
    dec = []
    for (p0, a), (p1, b) in zip(reads, reads[1:]):
        for name in sorted(set(a) & set(b)):
            for i, (x, y) in enumerate(zip(a[name], b[name])):
                if y < x:
                    dec.append("%s field %d went %d -> %d between %s and %s" % (name, i + 1, x, y, p0, p1))
    r.check(not dec, "no field of any cpu line decreases over %d reads" % len(reads),
            "; ".join(dec[:3]) + (" ... %d in all" % len(dec) if len(dec) > 3 else ""))
    first, last = reads[0][1].get("cpu"), reads[-1][1].get("cpu")
    if first and last and len(first) >= 3 and len(last) >= 3:
        b0, b1 = first[0] + first[1] + first[2], last[0] + last[1] + last[2]
        r.check(b1 > b0, "busy time (user+nice+system) grows while the burner runs",
                "first %d, last %d ticks" % (b0, b1))
    if args.max_ticks is not None:
        worst = max((sum(v), p, k) for p, s in reads for k, v in s.items())
        r.check(worst[0] <= args.max_ticks,
                "no cpu line counts more ticks than the container's age allows (<= %d)" % args.max_ticks,
                "%s in %s totals %d ticks" % (worst[2], worst[1], worst[0]))
    return r


def monotonic(args):
    """uptime: both fields; diskstats: every counter except I/Os in flight
    (field 12, a gauge) never decreases from one read to the next."""
    r = Report()
    prev = None
    dec = []
    for path in args.files:
        with open(path) as f:
            text = f.read()
        if args.kind == "uptime":
            cur = {"uptime": [float(x) for x in text.split()]}
        else:
            cur = {}
            for line in text.splitlines():
                f = line.split()
                cur[f[2]] = [int(x) for i, x in enumerate(f[3:], start=4) if i != 12]
        if prev is not None:
            for k in sorted(set(prev) & set(cur)):
                for i, (x, y) in enumerate(zip(prev[k], cur[k])):
                    if y < x:
                        dec.append("%s value %d went %s -> %s at %s" % (k, i + 1, x, y, path))
        prev = cur
    r.check(len(args.files) >= 2 and not dec, "%s: no counter decreases over %d reads" % (args.kind, len(args.files)),
            "; ".join(dec[:3]) if dec else "only %d reads" % len(args.files))
    return r


def same_view(args):
    r = Report()
    want = sorted(cpulist(args.cpus))
    bad = []
    for d in args.dirs:
        def rd(name):
            with open(d + "/" + name) as f:
                return f.read()
        mt = None
        for line in rd("meminfo").splitlines():
            if line.startswith("MemTotal:"):
                mt = int(line.split()[1])
        if mt != args.memtotal:
            bad.append("%s: MemTotal %s" % (d, mt))
        for kind in ("online", "cpuinfo", "stat"):
            got = sorted(cpus_of(rd("stat" if kind == "stat" else kind), kind))
            if got != want:
                bad.append("%s: %s shows cpus {%s}" % (d, kind, fmt(got)))
    r.check(not bad, "all %d reads show MemTotal %d kB and CPUs {%s} in online, cpuinfo and stat"
            % (len(args.dirs), args.memtotal, fmt(want)), "; ".join(bad[:3]))
    return r


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("stat-series")
    a.add_argument("--cpus", required=True)
    a.add_argument("--max-ticks", type=int)
    a.add_argument("files", nargs="+")
    b = sub.add_parser("same-view")
    b.add_argument("--cpus", required=True)
    b.add_argument("--memtotal", type=int, required=True)
    b.add_argument("dirs", nargs="+")
    m = sub.add_parser("monotonic")
    m.add_argument("kind", choices=["uptime", "diskstats"])
    m.add_argument("files", nargs="+")
    c = sub.add_parser("cpus")
    c.add_argument("file")
    c.add_argument("kind")
    args = p.parse_args()
    if args.cmd == "cpus":
        with open(args.file) as f:
            print(fmt(cpus_of(f.read(), args.kind)))
        return 0
    r = {"stat-series": stat_series, "same-view": same_view, "monotonic": monotonic}[args.cmd](args)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
