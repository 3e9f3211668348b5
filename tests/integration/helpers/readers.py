#!/usr/bin/env python3
"""Reader processes with a controlled identity, for vproc's integration tests.

  first MP            forks a child that reads MP/proc/meminfo; prints
                      "PID MEMTOTAL_KB" (PID is the child's host pid, now free)
  reuse MP PID        forks, steering /proc/sys/kernel/ns_last_pid, until a
                      child gets host pid PID again; that child reads
                      MP/proc/meminfo; prints "PID MEMTOTAL_KB", or
                      "NOREUSE why" when the pid could not be had
  moved MP PROCS...   reads MemTotal, writes its own pid into every cgroup.procs
                      file given, reads again 10 ms later (vprocd takes a reader
                      checked less than 1 ms before as it was); prints "BEFORE AFTER"
"""
import os
import sys
import time


def read_all(fd, size):
    """Reads fd to its end in reads of at most size bytes; closes it."""
    data = b""
    try:
        while True:
            chunk = os.read(fd, size)
            if not chunk:
                return data
            data += chunk
    finally:
        os.close(fd)


def memtotal(mp):
    data = read_all(os.open(mp + "/proc/meminfo", os.O_RDONLY), 65536)
    for line in data.decode().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return -1


def child_read(mp, want_pid=None):
    """Forks; the child reads MemTotal if its pid is want_pid (or any pid).
    Returns (pid, memtotal) or (pid, None) when the pid did not match."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if want_pid is not None and os.getpid() != want_pid:
                os._exit(3)
            os.write(w, str(memtotal(mp)).encode())
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - report and leave the child
            os.write(w, ("ERR " + repr(e)).encode())
            os._exit(1)
    os.close(w)
    out = read_all(r, 4096)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
        return pid, None
    return pid, out.decode()


def main():
    cmd, mp = sys.argv[1], sys.argv[2]
    if cmd == "first":
        pid, mt = child_read(mp)
        print(pid, mt)
    elif cmd == "reuse":
        want = int(sys.argv[3])
        for _ in range(200):
            try:
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(want - 1))
            except OSError as e:
                print("NOREUSE cannot write /proc/sys/kernel/ns_last_pid:", e)
                return 0
            pid, mt = child_read(mp, want)
            if mt is not None:
                print(pid, mt)
                return 0
        print("NOREUSE other processes kept taking pid", want)
    elif cmd == "moved":
        before = memtotal(mp)
        for procs in sys.argv[3:]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(0.01)
        print(before, memtotal(mp))
    else:
        raise SystemExit("usage: see the module docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
