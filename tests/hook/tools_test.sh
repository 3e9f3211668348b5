#!/usr/bin/env bash
# The tools people run first, in a Debian bookworm container (procps, python3)
# under runc with vproc-hook: 256 MiB and one CPU (cpuset {1} where the host
# has two). procps and most runtimes open /proc/meminfo and /proc/stat once and,
# for every refresh, seek to 0 and read again; each refresh must see now.
#   - python: MemAvailable through one kept fd drops by about the 150 MiB the
#     container allocates and touches between two reads;
#   - top -bn2 and vmstat with a busy loop on the container's only CPU: the
#     second frame (computed from re-reads of the kept /proc/stat) shows the
#     CPU busy, where a stale rendering shows it idle;
#   - uptime after 30 s of two busy loops, read once: the load vprocd has
#     followed since the hook registered the container, within 25% of the
#     kernel's rule for 2 running tasks over 30 s (2 * (1 - e^(-30/60)) = 0.79),
#     where following from the first read shows about 0.
# The busy-loop bound is 50% user time, not 100%: the CPU is shared with
# whatever else this machine runs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-tools cmd:runc cmd:debootstrap hook

MP=$VT_TMP/mp
REG=$VT_TMP/registry
vt_serve "$MP" --registry-dir "$REG"
ROOTFS=$("$VC_SOURCE_DIR/scripts/build-rootfs.sh" debian) ||
  vt_abort "the Debian rootfs builds (scripts/build-rootfs.sh debian)"

cpu=0
[ "$(nproc --all)" -ge 2 ] && cpu=1
LIMITS=".linux.resources={\"memory\":{\"limit\":268435456},\"cpu\":{\"cpus\":\"$cpu\",\"mems\":\"0\"}}"

# Each check prints one key=value line.
SCRIPT=$(cat <<'EOF'
sh -c 'while :; do :; done' &
a=$!
sh -c 'while :; do :; done' &
b=$!
sleep 30
echo "uptime=$(uptime)"
kill $a $b
python3 - <<'PY'
import os
fd = os.open("/proc/meminfo", os.O_RDONLY)
def available():
    os.lseek(fd, 0, os.SEEK_SET)
    for line in os.read(fd, 1 << 16).decode().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
before = available()
block = bytearray(150 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
print("keptfd_drop_kb=%d" % (before - available()))
PY
sh -c 'while :; do :; done' &
loop=$!
sleep 0.5
echo "top=$(top -bn2 -d1 | grep '^%Cpu' | tail -n1)"
echo "vmstat=$(vmstat 1 2 | tail -n1)"
kill $loop
EOF
)

id=vproc-tools-$VT_UNIQ
b=$VT_TMP/$id
vc_bundle "$b" "$ROOTFS" "$LIMITS" '.root.readonly=true' \
  ".process.args=[\"sh\",\"-c\",$(jq -Rn --arg s "$SCRIPT" '$s')]" \
  ".hooks={\"createRuntime\":[$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG")]}"
out=$(vc_runc_run "$id" "$b")
rc=$?
vt_eq "runc run exits 0" 0 "$rc"
echo "$out" | sed 's/^/    /'

drop=$(echo "$out" | sed -n 's/^keptfd_drop_kb=\(-\?[0-9]*\)$/\1/p')
vt_check "kept fd: MemAvailable dropped by >= 100 MiB after touching 150 MiB (${drop:-?} kB)" \
  [ "${drop:-0}" -ge 102400 ]

# "%Cpu(s): 97.0 us,  3.0 sy,  0.0 ni,  0.0 id, ..."
us=$(echo "$out" | sed -n 's/^top=%Cpu(s): *\([0-9]*\)\.[0-9] us.*/\1/p')
vt_check "top -bn2: second frame shows the busy CPU (${us:-?}% us >= 50%)" [ "${us:-0}" -ge 50 ]
# vmstat's second line: r b swpd free buff cache si so bi bo in cs us sy id wa st
vus=$(echo "$out" | sed -n 's/^vmstat=//p' | awk '{print $13}')
vt_check "vmstat 1 2: second line shows the busy CPU (${vus:-?}% us >= 50%)" [ "${vus:-0}" -ge 50 ]

# " 12:00:01 up 0 min,  0 users,  load average: 0.79, 0.25, 0.09"
load=$(echo "$out" | sed -n 's/^uptime=.*load average: \([0-9.]*\),.*/\1/p')
vt_check "uptime after 30 s of 2 busy loops: load ${load:-?} within 25% of 0.79" \
  awk -v l="${load:-0}" 'BEGIN { e = 2 * (1 - exp(-30 / 60)); exit !(l >= 0.75 * e && l <= 1.25 * e) }'

vt_finish
