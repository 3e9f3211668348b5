#!/usr/bin/env bash
# vproc-hook with runc: hook in config.json at createRuntime and at prestart
# (and poststart: the running-container path). A container with 256 MiB and
# quota 0.5 CPU sees MemTotal 262144 kB, online "0", its own uptime; a cpuset
# {1} container sees online "1"; the registry entry exists while it runs and
# is gone after poststop; a second hook run does not stack mounts.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-runc cmd:runc hook

MP=$VT_TMP/mp
REG=$VT_TMP/registry
LOG=$VT_TMP/hook.log
vt_serve "$MP"
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"

HOOK_ARGS=(--mountpoint "$MP" --registry-dir "$REG" --log-file "$LOG")
READ='head -n1 /proc/meminfo; echo online=$(head -n1 /sys/devices/system/cpu/online);
      echo uptime=$(head -n1 /proc/uptime); echo cpus=$(grep -c ^processor /proc/cpuinfo);
      echo mounts=$(grep -c fuse /proc/self/mountinfo); echo ro=$(echo x 2>/dev/null > /proc/meminfo && echo no || echo yes)
      echo cpudirs=$(ls /sys/devices/system/cpu | grep -E "^cpu[0-9]+$"); echo possible=$(cat /sys/devices/system/cpu/possible)'
LIMITS='.linux.resources={"memory":{"limit":268435456},"cpu":{"quota":50000,"period":100000}}'

for stage in createRuntime prestart poststart; do
  id=vproc-runc-$stage-$VT_UNIQ
  b=$VT_TMP/$id
  entry=$(vc_hook_entry "${HOOK_ARGS[@]}")
  sleep_first=""
  [ $stage = poststart ] && sleep_first="sleep 0.3;"  # poststart races the workload
  vc_bundle "$b" "$ROOTFS" "$LIMITS" \
    ".process.args=[\"sh\",\"-c\",$(jq -Rn --arg s "$sleep_first $READ" '$s')]" \
    ".hooks={\"$stage\":[$entry]}"
  out=$(vc_runc_run "$id" "$b")
  rc=$?
  vt_eq "$stage: runc run exits 0" 0 "$rc"
  vt_eq "$stage: MemTotal is the 256 MiB limit" 262144 "$(echo "$out" | vc_memtotal)"
  vt_eq "$stage: online lists ceil(0.5)=1 CPU" "online=0" "$(echo "$out" | grep ^online=)"
  vt_eq "$stage: cpuinfo has 1 processor" "cpus=1" "$(echo "$out" | grep ^cpus=)"
  vt_eq "$stage: $(vc_nfiles) files mounted" "mounts=$(vc_nfiles)" "$(echo "$out" | grep ^mounts=)"
  vt_eq "$stage: files are read-only" "ro=yes" "$(echo "$out" | grep ^ro=)"
  vt_eq "$stage: the CPU directory lists cpu0 only" "cpudirs=cpu0" "$(echo "$out" | grep ^cpudirs=)"
  vt_eq "$stage: possible is online's" "possible=0" "$(echo "$out" | grep ^possible=)"
  up=$(echo "$out" | sed -n 's/^uptime=\([0-9]*\)\..*/\1/p')
  vt_check "$stage: uptime is the container's (${up:-?} s < 10 s)" [ "${up:-99}" -lt 10 ]
  [ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'
done

# cpuset only: the visible CPU is the cpuset's own id.
if [ "$(nproc --all)" -ge 2 ]; then
  id=vproc-runc-cpuset-$VT_UNIQ
  vc_bundle "$VT_TMP/$id" "$ROOTFS" '.linux.resources={"cpu":{"cpus":"1","mems":"0"}}' \
    ".process.args=[\"sh\",\"-c\",\"head -n1 /sys/devices/system/cpu/online\"]" \
    ".hooks={\"createRuntime\":[$(vc_hook_entry "${HOOK_ARGS[@]}")]}"
  vt_eq "cpuset {1}: online is 1" 1 "$(vc_runc_run "$id" "$VT_TMP/$id")"
fi

# Registry: written at create, removed at poststop; the hook running twice
# (two entries) does not stack a second mount.
id=vproc-runc-reg-$VT_UNIQ
b=$VT_TMP/$id
e=$(vc_hook_entry "${HOOK_ARGS[@]}")
p=$(vc_hook_entry poststop --registry-dir "$REG" --log-file "$LOG")
vc_bundle "$b" "$ROOTFS" "$LIMITS" '.process.args=["sleep","30"]' \
  ".hooks={\"createRuntime\":[$e,$e],\"poststop\":[$p]}"
vc_runc_detach "$id" "$b"
entry=$REG/containers/$id.json
vt_check "registry entry written at create" [ -f "$entry" ]
pid=$(vc_runc state "$id" | jq -r .pid)
vt_eq "registry has the init pid" "$pid" "$(jq -r .pid "$entry" 2>/dev/null)"
vt_eq "registry has its start time" "$(awk '{print $22}' /proc/$pid/stat)" \
  "$(jq -r .pid_start_time "$entry" 2>/dev/null)"
vt_eq "registry has its mount namespace" "$(stat -Lc %i /proc/$pid/ns/mnt)" "$(jq -r .mnt_ns "$entry" 2>/dev/null)"
vt_eq "registry lists $(vc_nfiles) files" "$(vc_nfiles)" "$(jq '.files|length' "$entry" 2>/dev/null)"
vt_eq "the hook running twice made one CPU directory" 1 "$(vc_cpu_dirs "$pid")"
vt_check "second hook run logged why it kept the CPU directory" \
  grep -q "$id: skipped sys/devices/system/cpu: already the container's own CPU directory" "$LOG"
vt_eq "second hook run did not stack mounts" 1 "$(grep -c ' /proc/meminfo ' /proc/$pid/mountinfo)"
vt_check "second hook run logged why it skipped" grep -q "$id: skipped proc/meminfo: already carries a FUSE mount" "$LOG"
vt_eq "registry dir is private" 700 "$(stat -c %a "$REG/containers")"
vc_runc kill "$id" KILL
for i in $(seq 1 50); do [ "$(vc_runc state "$id" 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.1; done
vc_runc delete "$id"
vt_check "registry entry removed at poststop" [ ! -e "$entry" ]

vt_finish
