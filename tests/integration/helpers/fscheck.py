#!/usr/bin/env python3
"""File-system level checks on a vprocd mount, for vproc's integration tests.

Each check prints "PASS what" or "FAIL what (why)" (see vt_report in
tests/lib/common.sh). MP is the mountpoint; the served set is fixed here, as
docs/files.md lists it. Subcommands:

  readonly MP          writes, creates, renames, removes, chmod... all fail
  listing MP PSI       each directory lists exactly the served names, once
                       (PSI = 1 when pressure/ is expected, else 0); stat()
                       types and sizes are sane
  enoent MP            names outside the served set do not exist
  pyread MP            Python's ways of reading (text, binary, readline,
                       small chunks) agree with one another
  offsets MP           on one open file, pread at odd offsets and sizes (also
                       from 8 threads at once) returns the bytes of that
                       file's sequential read; past the end reads are empty
  hammer MP SECS SLOW  reads every served file in a loop for SECS: no read
                       takes SLOW s or more, each one either succeeds with a
                       sane file (within the host's bounds) or fails with EIO
  manyopen MP N KB     holds N opens of proc/meminfo at once, then reads each
                       (MemTotal must be KB) and closes them; prints figures
"""
import errno
import os
import random
import re
import resource
import stat
import sys
import threading
import time

FILES = ["proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/uptime", "proc/loadavg",
         "proc/swaps", "proc/diskstats", "sys/devices/system/cpu/online"]
PSI = ["proc/pressure/cpu", "proc/pressure/memory", "proc/pressure/io"]
WRITE_ERRNOS = {errno.EROFS, errno.EACCES}
FAIL_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSYS, errno.ENOTSUP}

failed = 0


def check(ok, what, why=""):
    global failed
    if ok:
        print("PASS " + what)
    else:
        failed += 1
        print("FAIL " + what + (" (" + why + ")" if why else ""))


def ename(e):
    return errno.errorcode.get(e, str(e))


def served(mp):
    return [f for f in FILES + PSI if os.path.exists(os.path.join(mp, f))]


def read_all_fd(fd):
    out = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return out
        out += chunk


def read_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_all_fd(fd)
    finally:
        os.close(fd)


def attempt(fn):
    """Runs fn; returns None when it succeeded, else the errno."""
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


def readonly(mp):
    files = served(mp)
    for rel in files:
        p = os.path.join(mp, rel)
        for flags, name in ((os.O_WRONLY, "O_WRONLY"), (os.O_RDWR, "O_RDWR"),
                            (os.O_WRONLY | os.O_TRUNC, "O_WRONLY|O_TRUNC"),
                            (os.O_WRONLY | os.O_APPEND, "O_WRONLY|O_APPEND")):
            def op(flags=flags, p=p):
                fd = os.open(p, flags)
                try:
                    os.write(fd, b"0\n")
                finally:
                    os.close(fd)
            e = attempt(op)
            check(e in WRITE_ERRNOS, "open(%s, %s) + write fails with EROFS or EACCES" % (rel, name),
                  "succeeded" if e is None else ename(e))
        e = attempt(lambda p=p: os.truncate(p, 0))
        check(e in FAIL_ERRNOS, "truncate(%s) fails" % rel, "succeeded" if e is None else ename(e))
        e = attempt(lambda p=p: os.chmod(p, 0o666))
        check(e in FAIL_ERRNOS, "chmod(%s) fails" % rel, "succeeded" if e is None else ename(e))
        e = attempt(lambda p=p: os.utime(p, (0, 0)))
        check(e in FAIL_ERRNOS, "utime(%s) fails" % rel, "succeeded" if e is None else ename(e))
        e = attempt(lambda p=p: os.setxattr(p, "user.vproc", b"1"))
        check(e is not None, "setxattr(%s) fails" % rel, "succeeded")
    meminfo = os.path.join(mp, "proc/meminfo")
    for d in ("", "proc", "sys/devices/system/cpu"):
        base = os.path.join(mp, d)
        new = os.path.join(base, "vproc-test-new")
        ops = [
            ("create(%s/new)", lambda: os.close(os.open(new, os.O_CREAT | os.O_WRONLY, 0o644))),
            ("mkdir(%s/new)", lambda: os.mkdir(new)),
            ("symlink into %s", lambda: os.symlink("meminfo", new)),
            ("mknod(%s/new)", lambda: os.mknod(new, 0o644 | stat.S_IFREG)),
            ("link meminfo into %s", lambda: os.link(meminfo, new)),
            ("rename meminfo into %s", lambda: os.rename(meminfo, new)),
        ]
        for what, fn in ops:
            e = attempt(fn)
            check(e is not None and not os.path.lexists(new), what % (d or "/") + " fails and leaves nothing",
                  "succeeded" if e is None else "left " + new)
    for rel in files:
        e = attempt(lambda rel=rel: os.unlink(os.path.join(mp, rel)))
        check(e is not None, "unlink(%s) fails" % rel, "succeeded")
    for d in ("proc", "sys/devices/system/cpu", "sys"):
        e = attempt(lambda d=d: os.rmdir(os.path.join(mp, d)))
        check(e is not None, "rmdir(%s) fails" % d, "succeeded")
    check(all(os.path.exists(os.path.join(mp, f)) for f in files) and
          read_path(meminfo).startswith(b"MemTotal:"),
          "after all that, every file is still there and meminfo still reads")


def listing(mp, psi):
    tree = {
        "": ["proc", "sys"],
        "proc": ["cpuinfo", "diskstats", "loadavg", "meminfo", "stat", "swaps", "uptime"]
        + (["pressure"] if psi else []),
        "sys": ["devices"],
        "sys/devices": ["system"],
        "sys/devices/system": ["cpu"],
        "sys/devices/system/cpu": ["online", "possible", "present"],
    }
    if psi:
        tree["proc/pressure"] = ["cpu", "io", "memory"]
    for d, want in tree.items():
        p = os.path.join(mp, d)
        try:
            got = os.listdir(p)
        except OSError as e:
            check(False, "listdir(%s)" % (d or "/"), ename(e.errno))
            continue
        dups = sorted({n for n in got if got.count(n) > 1})
        check(not dups, "listing %s has no duplicates" % (d or "/"), "duplicated: %s" % dups)
        check(sorted(set(got)) == sorted(want), "listing %s is exactly %s" % (d or "/", sorted(want)),
              "got %s" % sorted(got))
        st = os.stat(p)
        check(stat.S_ISDIR(st.st_mode), "stat(%s) is a directory" % (d or "/"), oct(st.st_mode))
        for name in want:
            if (d + "/" + name).lstrip("/") in tree:
                continue
            rel = (d + "/" + name).lstrip("/")
            st = os.stat(os.path.join(mp, rel))
            check(stat.S_ISREG(st.st_mode), "stat(%s) is a regular file" % rel, oct(st.st_mode))
            check(st.st_mode & 0o222 == 0, "stat(%s) has no write permission bits" % rel, oct(st.st_mode))
            check(0 <= st.st_size <= 1 << 20, "stat(%s) size is sane (0..1 MiB)" % rel, str(st.st_size))
            check(st.st_nlink >= 1, "stat(%s) link count >= 1" % rel, str(st.st_nlink))


def enoent(mp):
    names = ["nope", "proc/nope", "proc/slabinfo", "proc/self", "proc/1", "proc/version",
             "proc/pressure/irq", "sys/nope", "sys/devices/system/cpu/cpu0",
             "sys/devices/system/cpu/kernel_max", "sys/devices/system/cpu/offline",
             "proc/.meminfo", "proc/meminfo~", "PROC/meminfo"]
    for rel in names:
        p = os.path.join(mp, rel)
        e = attempt(lambda p=p: os.stat(p))
        check(e == errno.ENOENT, "stat(%s) fails with ENOENT" % rel, "succeeded" if e is None else ename(e))
        e = attempt(lambda p=p: os.close(os.open(p, os.O_RDONLY)))
        check(e == errno.ENOENT, "open(%s) fails with ENOENT" % rel, "succeeded" if e is None else ename(e))
    p = os.path.join(mp, "proc/meminfo/x")
    e = attempt(lambda: os.stat(p))
    check(e in (errno.ENOTDIR, errno.ENOENT), "stat(proc/meminfo/x) fails with ENOTDIR",
          "succeeded" if e is None else ename(e))
    e = attempt(lambda: os.listdir(os.path.join(mp, "proc/meminfo")))
    check(e == errno.ENOTDIR, "listdir(proc/meminfo) fails with ENOTDIR", "succeeded" if e is None else ename(e))


def stable_text(rel, data):
    """cpuinfo's 'cpu MHz' may move between two renders; nothing else may."""
    if rel.endswith("cpuinfo"):
        return b"\n".join(l for l in data.split(b"\n") if not l.startswith(b"cpu MHz"))
    return data


def pyread(mp):
    for rel in ["proc/cpuinfo", "proc/swaps", "sys/devices/system/cpu/online"]:
        p = os.path.join(mp, rel)
        ref = stable_text(rel, read_path(p))
        with open(p) as f:
            text = f.read().encode()
        with open(p, "rb") as f:
            binary = f.read()
        with open(p) as f:
            lines = "".join(f.readlines()).encode()
        with open(p, "rb", buffering=0) as f:
            chunks = b""
            while True:
                c = f.read(7)
                if not c:
                    break
                chunks += c
        with open(p, "rb") as f:
            f.seek(5)
            tail = f.read()
        for what, got in (("open().read()", text), ("open('rb').read()", binary),
                          ("readlines()", lines), ("unbuffered read(7) loop", chunks)):
            check(stable_text(rel, got) == ref, "python %s of %s equals os.read" % (what, rel),
                  "%d vs %d bytes" % (len(got), len(ref)))
        check(stable_text(rel, binary)[5:] == stable_text(rel, tail),
              "python seek(5)+read() of %s equals the content from byte 5" % rel)
    with open(os.path.join(mp, "proc/meminfo")) as f:
        keys = [l.split(":")[0] for l in f]
    check("MemTotal" in keys and "MemAvailable" in keys, "python reads meminfo lines with MemTotal and MemAvailable",
          str(keys[:5]))
    check(len(keys) == len(set(keys)), "meminfo has no duplicated key", str(keys))


def offsets(mp):
    rnd = random.Random(2)
    for rel in served(mp):
        p = os.path.join(mp, rel)
        fd = os.open(p, os.O_RDONLY)
        try:
            ref = read_all_fd(fd)
            n = len(ref)
            offs = sorted({1, 2, 3, 7, 13, n // 2, n - 1, n, n + 1, n + 4096, 2**31 - 1, 2**32 + 5, 2**62}
                          | {rnd.randrange(1, max(n, 2)) for _ in range(20)})
            sizes = [0, 1, 2, 3, 7, 13, 100, 4095, 4096, 4097, 65536, 1 << 20]
            bad = []
            for off in offs:
                if off <= 0:
                    continue
                for size in sizes:
                    got = os.pread(fd, size, off)
                    want = ref[off:off + size]
                    if got != want:
                        bad.append("pread(%d, %d) gave %d bytes %r, want %d" % (size, off, len(got), got[:20], len(want)))
            check(n > 0 and not bad, "%s: pread at %d offsets x %d sizes = slices of the first read (%d bytes)"
                  % (rel, len(offs), len(sizes), n), "; ".join(bad[:2]))
            errs = []

            def worker(seed):
                r = random.Random(seed)
                for _ in range(300):
                    off, size = r.randrange(1, n + 10), r.choice([1, 7, 64, 4096])
                    try:
                        if os.pread(fd, size, off) != ref[off:off + size]:
                            errs.append("thread pread(%d, %d) differs" % (size, off))
                    except OSError as e:
                        errs.append(ename(e.errno))
            ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            check(not errs, "%s: 8 threads x 300 preads on one fd agree with it" % rel, "; ".join(errs[:2]))
        finally:
            os.close(fd)


def manyopen(mp, n, kb):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    p = os.path.join(mp, "proc/meminfo")
    fds = []
    t0 = time.monotonic()
    err = None
    try:
        for _ in range(n):
            fds.append(os.open(p, os.O_RDONLY))
    except OSError as e:
        err = e
    t1 = time.monotonic()
    check(err is None and len(fds) == n, "%d opens of proc/meminfo held at once" % n,
          "stopped at %d: %s" % (len(fds), err))
    print("FIGURE %d opens took %.2f s" % (len(fds), t1 - t0))
    sys.stdout.flush()
    # The test reads vprocd's RSS now; it waits for this line.
    print("HOLDING", flush=True)
    sys.stdin.readline()
    other = read_path(os.path.join(mp, "proc/stat"))
    check(other.startswith(b"cpu "), "with %d files open, another file still reads" % len(fds))
    bad = 0
    first_bad = ""
    for fd in fds:
        data = read_all_fd(fd)
        m = re.match(rb"MemTotal:\s+(\d+) kB\n", data)
        if not m or int(m.group(1)) != kb:
            bad += 1
            first_bad = first_bad or data[:60].decode(errors="replace")
    t2 = time.monotonic()
    check(bad == 0, "all %d held files read a MemTotal of %d kB" % (len(fds), kb),
          "%d bad, first: %r" % (bad, first_bad))
    cerr = 0
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            cerr += 1
    t3 = time.monotonic()
    check(cerr == 0, "all %d files close cleanly" % len(fds), "%d close errors" % cerr)
    print("FIGURE reading them took %.2f s, closing %.2f s" % (t2 - t1, t3 - t2))


def host_limits():
    with open("/proc/meminfo") as f:
        memtotal = int(re.search(r"^MemTotal:\s+(\d+)", f.read(), re.M).group(1))
    with open("/sys/devices/system/cpu/online") as f:
        cpus = cpulist(f.read())
    return memtotal, cpus


def cpulist(text):
    ids = set()
    for part in text.strip().split(","):
        a, _, b = part.partition("-")
        ids.update(range(int(a), int(b or a) + 1))
    return ids


def validate(rel, data, host_mem, host_cpus):
    """None when data is a sane rendering of rel, else why not."""
    text = data.decode()
    name = rel.rsplit("/", 1)[-1]
    if name == "meminfo":
        kv = {}
        for line in text.splitlines():
            m = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)( kB)?$", line)
            if not m:
                return "bad line %r" % line
            kv[m.group(1)] = int(m.group(2))
        mt = kv.get("MemTotal", -1)
        # 0 is possible: a limit of 0 bytes is a value the kernel accepts.
        if not 0 <= mt <= host_mem:
            return "MemTotal %d outside 0..%d" % (mt, host_mem)
        if kv.get("MemFree", -1) > mt or kv.get("MemAvailable", -1) > mt:
            return "MemFree/MemAvailable above MemTotal: %s" % kv
        if kv.get("SwapFree", 0) > kv.get("SwapTotal", 0):
            return "SwapFree above SwapTotal"
    elif rel.endswith("cpu/online"):
        ids = cpulist(text)
        if not ids or not ids <= host_cpus or not text.endswith("\n"):
            return "online %r" % text
    elif name == "cpuinfo":
        ids = [int(l.split(":")[1]) for l in text.splitlines() if l.split(":")[0].strip() == "processor"]
        if not ids or not set(ids) <= host_cpus or len(set(ids)) != len(ids):
            return "processors %s" % ids
    elif name == "stat":
        lines = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in text.splitlines() if l.startswith("cpu")}
        per = {k: v for k, v in lines.items() if k != "cpu"}
        if "cpu" not in lines or not per or not {int(k[3:]) for k in per} <= host_cpus:
            return "cpu lines %s" % sorted(lines)
        if [sum(v[i] for v in per.values()) for i in range(len(lines["cpu"]))] != lines["cpu"]:
            return "cpu != sum of cpuN"
    elif name == "uptime":
        a, b = text.split()
        if float(a) < 0 or float(b) < 0:
            return "uptime %r" % text
    elif name == "loadavg":
        if not re.match(r"^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+\n$", text):
            return "loadavg %r" % text
    elif name == "swaps":
        if not text.startswith("Filename"):
            return "swaps %r" % text[:40]
    elif name == "diskstats":
        for line in text.splitlines():
            f = line.split()
            if len(f) < 14 or not all(x.isdigit() for x in f[:2] + f[3:]):
                return "diskstats line %r" % line
    elif "pressure" in rel:
        if not text.startswith("some avg10="):
            return "pressure %r" % text[:40]
    return None


def hammer(mp, seconds, slow):
    """Reads every served file in a loop; counts outcomes; reports."""
    host_mem, host_cpus = host_limits()
    files = served(mp)
    counts = {}
    bad = []
    slowest = (0.0, "")
    end = time.monotonic() + seconds
    reads = 0
    while time.monotonic() < end:
        for rel in files:
            t0 = time.monotonic()
            try:
                data = read_path(os.path.join(mp, rel))
                why = validate(rel, data, host_mem, host_cpus)
                key = "ok" if why is None else "malformed"
                if why is not None and len(bad) < 5:
                    bad.append("%s: %s" % (rel, why))
            except OSError as e:
                key = ename(e.errno)
                if e.errno != errno.EIO and len(bad) < 5:
                    bad.append("%s: %s" % (rel, key))
            except (ValueError, IndexError, UnicodeDecodeError) as e:
                key = "malformed"
                if len(bad) < 5:
                    bad.append("%s: %r" % (rel, e))
            dt = time.monotonic() - t0
            slowest = max(slowest, (dt, rel))
            counts[key] = counts.get(key, 0) + 1
            reads += 1
    print("COUNTS %d reads: %s" % (reads, " ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    check(reads > 0 and counts.get("ok", 0) > 0, "reads went through (%d, %d ok)" % (reads, counts.get("ok", 0)))
    check(slowest[0] < slow, "no read took %g s or more (slowest %.3f s, %s)" % (slow, slowest[0], slowest[1]))
    others = {k: v for k, v in counts.items() if k not in ("ok", "EIO")}
    check(not others, "every read either succeeded sanely or failed with EIO",
          "%s; e.g. %s" % (others, "; ".join(bad)))


def main():
    cmd, mp = sys.argv[1], sys.argv[2]
    if cmd == "readonly":
        readonly(mp)
    elif cmd == "listing":
        listing(mp, sys.argv[3] == "1")
    elif cmd == "enoent":
        enoent(mp)
    elif cmd == "pyread":
        pyread(mp)
    elif cmd == "offsets":
        offsets(mp)
    elif cmd == "hammer":
        hammer(mp, float(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "manyopen":
        manyopen(mp, int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
