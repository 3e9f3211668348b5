#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/<target>/ from the
# fixture trees (tests/fixtures), this machine's /proc and a few hand-written
# cases. Run it only to change the seeds on purpose and review the diff;
# crash-* files (reproducers of fixed bugs) are left alone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fx=$here/../fixtures
out=$here/corpus

for d in "$out"/*/; do
  [[ -d $d ]] && find "$d" -type f ! -name 'crash-*' -delete
done
seed() {  # seed <target> <name>: stdin -> corpus/<target>/<name>
  mkdir -p "$out/$1"
  cat >"$out/$1/$2"
}
# name for a fixture path: v1/cgroup/memory/limited/memory.stat -> v1-memory-limited-memory.stat
fxname() { echo "${1#"$fx"/}" | sed 's#/cgroup/#/#; s#/proc/#/#; s#/#-#g; s#,#_#g'; }
fxseed() {  # fxseed <target> <find args...>
  local t=$1; shift
  find "$fx/v1" "$fx/v2" "$fx/hybrid" -type f "$@" -print0 | sort -z |
    while IFS= read -r -d '' f; do seed "$t" "$(fxname "$f")" <"$f"; done
}

# cpu_list: online \0 cpuset \0 cpu.max
fxseed cpu_list \( -name cpuset.cpus.effective -o -name cpuset.effective_cpus \)
printf '0-3\n\0002\n\000max 100000\n' | seed cpu_list quota-max
printf '0-3\n\0001,3\n\00050000 100000\n' | seed cpu_list half-cpu
printf '0-1,4-7\n\0002-5\n\000250000 100000\n' | seed cpu_list holes
printf '0\0\0' | seed cpu_list one
[[ -r /sys/devices/system/cpu/online ]] && seed cpu_list host-online </sys/devices/system/cpu/online

fxseed cgroup_value \( -name 'memory.max' -o -name 'memory.swap.max' -o -name 'memory.current' \
  -o -name 'memory.swap.current' -o -name 'cpu.max' -o -name '*limit_in_bytes' \
  -o -name '*usage_in_bytes' -o -name 'cpu.cfs_*_us' \)
printf 'max\n' | seed cgroup_value max
printf -- '-1\n' | seed cgroup_value minus-one
printf '9223372036854771712\n' | seed cgroup_value v1-unlimited
printf 'max 100000\n' | seed cgroup_value cpu-max-max

fxseed flat_keyed \( -name memory.stat -o -name cpu.stat \)

# cpuacct: usage_all \0 usage_percpu \0 8-byte age in ticks
for f in $(find "$fx/v1" "$fx/hybrid" -name cpuacct.usage_all | sort); do
  { cat "$f"; printf '\0'; printf '1000000 2000000 3000000 4000000 \n'; printf '\0\x10\x27\0\0\0\0\0\0'; } |
    seed cpuacct "$(fxname "$f")"
done

fxseed io_stat -name io.stat

# blkio_v1: io_service_bytes_recursive \0 io_serviced_recursive
find "$fx/v1" "$fx/hybrid" -name blkio.throttle.io_service_bytes_recursive | sort |
  while read -r f; do
    d=$(dirname "$f")
    { cat "$f"; printf '\0'; cat "$d/blkio.throttle.io_serviced_recursive" 2>/dev/null || true; } |
      seed blkio_v1 "$(fxname "$d")"
  done

fxseed proc_cgroup -path '*/proc/*' -name cgroup
seed proc_cgroup host-self </proc/self/cgroup
printf '0::/\n' | seed proc_cgroup v2-root
printf '0::/../../sibling\n' | seed proc_cgroup v2-outside-ns

fxseed pid_stat -path '*/proc/*' -name stat ! -path '*/proc/stat'
seed pid_stat host-self </proc/self/stat
seed pid_stat host-init </proc/1/stat

fxseed uptime -path '*/proc/uptime'
seed uptime host </proc/uptime

fxseed meminfo -path '*/proc/meminfo'
seed meminfo host </proc/meminfo
seed meminfo golden-limited <"$fx/golden/limited.meminfo"

printf '\x02\x00\x02' | cat - "$fx/v1/proc/cpuinfo" | seed cpuinfo v1-cpus-0-2
printf '\x00' | cat - "$fx/v2/proc/cpuinfo" | seed cpuinfo v2-no-cpus
printf '\x01\x00' | cat - /proc/cpuinfo | seed cpuinfo host-cpu-0

fxseed stat -path '*/proc/stat'
seed stat host </proc/stat

fxseed diskstats -path '*/proc/diskstats'
seed diskstats host </proc/diskstats

# OCI state as runc, crun and podman write it.
printf '%s' '{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,"bundle":"/run/b/c1","annotations":{"a":"b"}}' |
  seed oci_state runc
printf '%s' '{"ociVersion":"1.0.0","id":"0123abcd","status":"created","pid":17,"bundle":"/var/lib/containers/storage/overlay-containers/0123abcd/userdata","annotations":{"io.podman.annotations.autoremove":"FALSE","vproc.io/files":"meminfo,cpuinfo"}}' |
  seed oci_state podman
printf '%s' '{"id":"old","pid":1,"bundlePath":"/old","annotations":{"vproc.io/enable":"false"}}' |
  seed oci_state bundlepath-disabled
printf '%s' '{"id":"x","bundle":"/b","status":"stopped"}' | seed oci_state poststop

# config.json: minimal, annotated, and the runtimes' default spec.
printf '%s' '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"annotations":{}}' | seed oci_config minimal
printf '%s' '{"ociVersion":"1.0.2","root":{"path":"/abs/rootfs","readonly":true},"annotations":{"vproc.io/enable":"true","vproc.io/files":" meminfo, stat ,online"}}' |
  seed oci_config annotated
printf '%s' '{"root":{"path":"../../x/./y/"},"annotations":{"vproc.io/files":"swaps,diskstats,loadavg,uptime"}}' |
  seed oci_config dotdot
tmp=$(mktemp -d)
for rt in runc crun; do
  if command -v $rt >/dev/null && (cd "$tmp" && rm -f config.json && $rt spec >/dev/null 2>&1); then
    seed oci_config "$rt-spec" <"$tmp/config.json"
  fi
done
rm -rf "$tmp"
printf 'meminfo,cpuinfo' | seed oci_config files-list

printf '%s\n' '{
  "attached_at": 1764201600,
  "files": ["proc/meminfo", "proc/cpuinfo", "sys/devices/system/cpu/online"],
  "id": "c1",
  "mnt_ns": 4026532281,
  "mountpoint": "/var/lib/vproc",
  "pid": 4242,
  "pid_start_time": 9000,
  "rootfs": "/run/b/c1/rootfs",
  "version": 1
}' | seed registry_entry c1
seed registry_entry stat-line <"$fx/v1/proc/4242/stat"

# genetlink: seq (u32) + family id (u16), then one datagram as the kernel
# queues it: a CTRL_CMD_NEWFAMILY reply, a cgroupstats reply, errors (EINVAL,
# ENOENT), an acknowledgement, a late answer followed by the awaited one.
mkdir -p "$out/genetlink"
python3 - "$out/genetlink" <<'PY'
import struct, sys
out = sys.argv[1]
def attr(t, data):
    a = struct.pack("=HH", 4 + len(data), t) + data
    return a + b"\0" * (-len(a) % 4)
def msg(t, seq, body):
    m = struct.pack("=IHHII", 16 + len(body), t, 0, seq, 0) + body
    return m + b"\0" * (-len(m) % 4)
def genl(cmd):
    return struct.pack("=BBH", cmd, 2, 0)
def seed(name, seq, fam, dgram):
    open(f"{out}/{name}", "wb").write(struct.pack("=IH", seq, fam) + dgram)
CTRL, NEWFAMILY, FAMILY_ID, FAMILY_NAME, ERROR = 0x10, 1, 1, 2, 2
FAM, STATS_NEW, STATS_ATTR = 0x1c, 5, 1
fam = msg(CTRL, 1, genl(NEWFAMILY) + attr(FAMILY_NAME, b"TASKSTATS\0") +
          attr(FAMILY_ID, struct.pack("=H", FAM)) + attr(3, struct.pack("=I", 1)))
seed("family-reply", 1, 0, fam)
stats = lambda seq, *n: msg(FAM, seq, genl(STATS_NEW) + attr(STATS_ATTR, struct.pack("=5Q", *n)))
seed("stats-reply", 2, FAM, stats(2, 7, 3, 1, 2, 4))
err = lambda seq, e: msg(ERROR, seq, struct.pack("=i", e) + struct.pack("=IHHII", 28, FAM, 1, seq, 0))
seed("error-einval", 2, FAM, err(2, -22))
seed("error-enoent", 2, FAM, err(2, -2))
seed("ack", 2, FAM, err(2, 0))
seed("late-then-awaited", 3, FAM, stats(2, 0, 9, 0, 0, 0) + stats(3, 1, 1, 0, 0, 0))
PY

# mountinfo: real lines (Linux 6.18, this project's dev machine): its table,
# then mounts made in a private namespace (escaped space and backslash,
# shared/slave propagation, a vprocd mount with one file bound on a procfs).
seed mountinfo host-table <<'MI'
21 26 0:20 / /proc rw,relatime - proc proc rw
22 26 0:21 / /sys rw,relatime - sysfs sysfs rw
23 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334808k,nr_inodes=3083702,mode=755
24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683748k
25 23 0:23 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
MI
seed mountinfo escapes <<'MI'
65 45 0:39 / /tmp/mi.rP6b/a\040b rw,relatime - tmpfs my\040src rw
68 66 0:41 / /tmp/mi.rP6b/c/t\134back rw,relatime shared:2 - tmpfs t rw
MI
seed mountinfo propagation <<'MI'
66 45 0:40 / /tmp/mi.rP6b/c rw,relatime shared:1 - tmpfs none rw
67 66 0:40 / /tmp/mi.rP6b/c/s rw,relatime master:1 - tmpfs none rw
69 67 0:41 / /tmp/mi.rP6b/c/s/t\134back rw,relatime master:2 - tmpfs t rw
66 65 0:39 / /tmp/mi.njPk/c/s rw,relatime shared:2 master:1 - tmpfs none rw
MI
seed mountinfo vprocd <<'MI'
65 45 0:39 / /tmp/mivp.PKfh/mp ro,nosuid,nodev,relatime - fuse.vprocd vprocd ro,user_id=0,group_id=0,default_permissions,allow_other
66 45 0:40 / /tmp/mivp.PKfh/p rw,relatime - proc proc rw
67 66 0:39 /proc/meminfo /tmp/mivp.PKfh/p/meminfo ro,nosuid,nodev,relatime - fuse.vprocd vprocd ro,user_id=0,group_id=0,default_permissions,allow_other
MI
printf '30 22 0:27 / /x rw - tmpfs  rw\n21 26 0:20 / /proc rw - proc proc\nnot a line\n' |
  seed mountinfo malformed

# Identical seeds add nothing: keep one of each.
for d in "$out"/*/; do
  (cd "$d" && md5sum -- * | sort | awk 'seen[$1]++ {print $2}' | xargs -r rm -f --)
done
for d in "$out"/*/; do echo "$(basename "$d"): $(find "$d" -type f | wc -l) seeds"; done
