#!/usr/bin/env python3
"""A private copy of the cgroup tree for one process, to corrupt at will
(vprocd reads it through --cgroup-root). Only what vprocd could read for that
process is copied: each hierarchy's top-level files and, for every level of the
process's path in that hierarchy, that level's files.

  build SRC DST PID      copies SRC (/sys/fs/cgroup) to DST for PID; prints the
                         copied directories, deepest (the leaves) marked "leaf"
  mutate DST SECONDS     corrupts files under DST (garbage, empty, huge, binary,
                         deleted, turned into a directory, whole leaf directory
                         gone) for SECONDS, restoring from DST.pristine now and
                         then; prints how many mutations it made
  restore DST            makes DST equal to DST.pristine again
"""
import os
import random
import shutil
import sys
import time


def hierarchies(src, pid):
    """[(dir under src, path of pid in it)] for the tree at src."""
    lines = []
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            lines.append((set(c for c in ctrls.split(",") if c), path))
    out = []
    if os.path.exists(os.path.join(src, "cgroup.controllers")):  # pure v2
        for ctrls, path in lines:
            if not ctrls:
                out.append(("", path))
        return out
    for name in sorted(os.listdir(src)):
        full = os.path.join(src, name)
        if os.path.islink(full) or not os.path.isdir(full):
            continue
        want = set(name.split(","))
        for ctrls, path in lines:
            names = {c[5:] if c.startswith("name=") else c for c in ctrls}
            if (name == "unified" and not ctrls) or (ctrls and names == want):
                out.append((name, path))
                break
    return out


def copy_files(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s = os.path.join(src, name)
        if os.path.islink(s) or not os.path.isfile(s):
            continue
        try:
            with open(s, "rb") as f:
                data = f.read()
        except OSError:
            continue  # write-only knobs (memory.force_empty, cgroup.event_control ...)
        with open(os.path.join(dst, name), "wb") as f:
            f.write(data)


def build(src, dst, pid):
    os.makedirs(dst, exist_ok=True)
    if not os.path.exists(os.path.join(src, "cgroup.controllers")):
        for name in os.listdir(src):  # v1: keep co-mount symlinks (cpu -> cpu,cpuacct)
            full = os.path.join(src, name)
            if os.path.islink(full):
                os.symlink(os.readlink(full), os.path.join(dst, name))
    for name, path in hierarchies(src, pid):
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts) + 1):
            rel = "/".join([name] + parts[:depth]).strip("/")
            copy_files(os.path.join(src, rel), os.path.join(dst, rel))
            print(("leaf " if depth == len(parts) else "dir  ") + os.path.join(dst, rel))
    shutil.copytree(dst, dst + ".pristine", symlinks=True)


def kept_depth(dst):
    """Directories vprocd may hold open for its whole life (the root it was
    given and, in v1, each hierarchy's root) are never removed: on a real host
    they never vanish. Below them anything may."""
    return 1 if os.path.exists(os.path.join(dst + ".pristine", "cgroup.controllers")) else 2


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def sync(src, dst, keep):
    """Makes dst equal to src, keeping dst's own inode while keep > 0."""
    if keep <= 0:
        remove(dst)
        shutil.copytree(src, dst, symlinks=True)
        return
    os.makedirs(dst, exist_ok=True)
    names = set(os.listdir(src))
    for n in os.listdir(dst):
        if n not in names:
            remove(os.path.join(dst, n))
    for n in names:
        s, d = os.path.join(src, n), os.path.join(dst, n)
        if os.path.islink(s):
            remove(d)
            os.symlink(os.readlink(s), d)
        elif os.path.isdir(s):
            if os.path.lexists(d) and not os.path.isdir(d):
                remove(d)
            sync(s, d, keep - 1)
        else:
            if os.path.isdir(d):
                remove(d)
            with open(s, "rb") as f:
                data = f.read()
            with open(d, "wb") as f:
                f.write(data)


def restore(dst):
    sync(dst + ".pristine", dst, kept_depth(dst))


GARBAGE = [
    b"", b"\n", b"garbage\n", b"-1\n", b"-5\n", b"0\n", b"max\n", b"max 0\n", b"0 0\n",
    b"99999999999999999999999999999999\n", b"18446744073709551616\n", b"1e9\n", b"0x10\n",
    b"abc def\n", b"1-\n", b"-\n", b"9999\n", b"0-1023\n", b"1,,3\n", b"3-1\n", b"\x00\x01\xff\xfe",
    b"cache\n", b"total_rss abc\nrss\n", b"user\nsystem -3\n", b"1 2 x 4\n",
    b"some avg10=abc\n", b"8:0 Read\n8:0 Read 1 2 3\n", b"rbytes=\n",
]


def big(r):
    kind = r.randrange(4)
    if kind == 0:
        return b"9" * (1 << 20)  # one 1 MiB number
    if kind == 1:
        return b" ".join(str(r.randrange(1 << 40)).encode() for _ in range(5000)) + b"\n"
    if kind == 2:
        return os.urandom(64 * 1024)
    return b"".join(b"key%d %d\n" % (i, i) for i in range(20000))


def mutate(dst, seconds):
    r = random.Random(os.getpid())
    files = []
    for root, dirs, names in os.walk(dst + ".pristine"):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), dst + ".pristine"))
    keep = kept_depth(dst)
    leaves = [d for d in sorted({os.path.dirname(f) for f in files}, key=len)[-8:]
              if len([p for p in d.split("/") if p]) >= keep]
    # The files vprocd is most likely to parse get most of the attention.
    hot = [f for f in files if os.path.basename(f).split(".")[0] in ("memory", "cpu", "cpuacct", "cpuset", "io", "blkio", "pids")
           or os.path.basename(f) in ("cgroup.procs", "tasks")]
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        if n % 50 == 0:
            restore(dst)
            continue
        choice = r.randrange(100)
        try:
            if choice < 3 and leaves:
                d = os.path.join(dst, r.choice(leaves))
                if os.path.isdir(d):
                    shutil.rmtree(d)  # the whole cgroup directory vanishes
            elif choice < 8:
                os.unlink(os.path.join(dst, r.choice(hot or files)))
            elif choice < 11:
                p = os.path.join(dst, r.choice(hot or files))
                os.unlink(p)
                os.mkdir(p)  # a directory where a file was
            elif choice < 16:
                with open(os.path.join(dst, r.choice(hot or files)), "wb") as f:
                    f.write(big(r))
            elif choice < 30:
                rel = r.choice(hot or files)
                with open(os.path.join(dst + ".pristine", rel), "rb") as f:
                    data = f.read()
                with open(os.path.join(dst, rel), "wb") as f:
                    f.write(data[: r.randrange(len(data) + 1)])  # cut anywhere
            else:
                with open(os.path.join(dst, r.choice(hot or files)), "wb") as f:
                    f.write(r.choice(GARBAGE))
        except OSError:
            pass  # the file or its directory is gone at the moment: fine
        time.sleep(0.002)
    restore(dst)
    print("mutations:", n)


def main():
    cmd = sys.argv[1]
    if cmd == "build":
        build(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "mutate":
        mutate(sys.argv[2], float(sys.argv[3]))
    elif cmd == "restore":
        restore(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
