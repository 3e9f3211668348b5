# vproc's tests inside the VM (busybox ash, run by /init as root on a pure
# cgroup v2 kernel): vprocd read by a limited cgroup in its own pid namespace
# (memory.max, cpu.max, cpuset, io.stat, PSI, uptime, loadavg), a root-cgroup
# reader, runc and crun containers with vproc-hook at createRuntime, crun with
# it at poststart (the running-container path on an older kernel), and
# fail-open / fail-closed with vprocd stopped. Ends with the line
# "VM-RESULT: N passed, M failed".
#
#   VPROC_GUEST_DIR   where the guest's vproc files are (default /vproc)

G=${VPROC_GUEST_DIR:-/vproc}
. "$G/tests/guest_checks.sh"
VPROCD=$G/bin/vprocd
HOOK=$G/bin/vproc-hook
MP=/var/lib/vproc
T=/tmp/vproc-vm
CGROOT=/sys/fs/cgroup
mkdir -p "$T" "$MP"

ctrl=$(cat "$CGROOT/cgroup.controllers" 2>/dev/null)
cgfs=$(awk -v d="$CGROOT" '$2 == d { print $3 }' /proc/mounts)
echo "VM-INFO: kernel $(uname -r); /sys/fs/cgroup is $cgfs (magic 0x$(stat -f -c %t "$CGROOT")); controllers: $ctrl;" \
  "subtree_control: $(cat "$CGROOT/cgroup.subtree_control" 2>/dev/null); CPUs online $(cat /sys/devices/system/cpu/online);" \
  "MemTotal $(gc_kb MemTotal /proc/meminfo) kB; block devices: $(ls /sys/block | tr '\n' ' ')"
gc_eq "/sys/fs/cgroup is cgroup2 (CGROUP2_SUPER_MAGIC)" "cgroup2 63677270" "$cgfs $(stat -f -c %t "$CGROOT")"
for c in cpuset cpu io memory pids; do
  gc_check "controller $c enabled in the root's subtree_control" grep -qw "$c" "$CGROOT/cgroup.subtree_control"
done
gc_check "/dev/fuse exists (fuse.ko loaded)" [ -c /dev/fuse ]

start_vprocd() {
  "$VPROCD" --mountpoint "$MP" --container-view 2>>"$T/vprocd.log" &
  VPROCD_PID=$!
  i=0
  while [ $i -lt 200 ]; do
    grep -q '^MemTotal:' "$MP/proc/meminfo" 2>/dev/null && return 0
    kill -0 "$VPROCD_PID" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}
stop_vprocd() {
  kill -TERM "$VPROCD_PID" 2>/dev/null
  wait "$VPROCD_PID"
  VPROCD_RC=$?
  grep -q " $MP " /proc/mounts && umount -l "$MP"
  grep -q " /run/vproc/view " /proc/mounts && umount -l /run/vproc/view
}
# section TITLE: a header with the guest's uptime, to see where time goes.
section() { echo "--- $1 (t=$(cut -d' ' -f1 /proc/uptime) s)"; }
show_log() { echo "--- $1 (last 30 lines)"; tail -n 30 "$1" 2>/dev/null | sed 's/^/    /'; }

if ! start_vprocd; then
  gc_fail "vprocd starts and serves $MP"
  show_log "$T/vprocd.log"
  section "done"
echo "VM-RESULT: $(gc_summary)"
  exit 1
fi
gc_pass "vprocd starts and serves $MP"

# --- a limited cgroup read from its own pid namespace ---------------------------
section "vprocd read from a cgroup with memory.max 300M, cpu.max 0.5, cpuset 1, own pid namespace"
CG=$CGROOT/vproc-vm
mkdir -p "$CG"
echo 314572800 >"$CG/memory.max"
echo "50000 100000" >"$CG/cpu.max"
echo 1 >"$CG/cpuset.cpus"
gc_eq "cgroup limits set (memory.max, cpu.max, cpuset.cpus.effective)" \
  "314572800 50000 100000 1" "$(cat "$CG/memory.max" "$CG/cpu.max" "$CG/cpuset.cpus.effective" | tr '\n' ' ' | sed 's/ $//')"
DISK=$(ls /sys/block | grep -v -e '^loop' -e '^ram' | head -n1)
cat >"$T/reader.sh" <<EOF
. $G/tests/guest_checks.sh
echo \$\$ >$T/nspid
# CPU pressure in the cgroup: two spinners share its one CPU for a moment.
(while :; do :; done) & a=\$!
(while :; do :; done) & b=\$!
sleep 1
kill \$a \$b
[ -n "$DISK" ] && dd if=/dev/$DISK of=/dev/null bs=4096 count=256 2>/dev/null
gc_snapshot $MP $T/limited $CG
EOF
sh -c 'echo $$ >"$1/cgroup.procs" && exec timeout 120 unshare -p -f -m --mount-proc sh "$2"' _ "$CG" "$T/reader.sh"
gc_eq "the reader ran in its cgroup and pid namespace" "0 1" "$? $(cat "$T/nspid")"
cp "$CG/io.stat" "$T/limited/io.stat"
gc_check_limited "$T/limited" 307200 1
if [ -n "$DISK" ]; then
  gc_awk "io.stat shows the reader's reads of /dev/$DISK" 'n > 0' \
    -v n="$(awk -v d="$(cat /sys/block/$DISK/dev)" '$1 == d { for (i = 2; i <= NF; i++) if ($i ~ /^rios=/) print substr($i, 6) }' "$T/limited/io.stat")"
else
  echo "note: the VM has no block device; diskstats is checked for zeros only"
fi
gc_check_diskstats "$T/limited" "$T/limited/io.stat"
gc_check_psi "$T/limited"

# --- a reader in the root cgroup sees the VM's own values -------------------------
section "vprocd read from the root cgroup"
mkdir -p "$T/root"
for f in meminfo cpuinfo; do timeout 10 cat "$MP/proc/$f" >"$T/root/$f"; done
timeout 10 cat "$MP/sys/devices/system/cpu/online" >"$T/root/online"
gc_eq "root cgroup: MemTotal is the VM's" "$(gc_kb MemTotal /proc/meminfo)" "$(gc_kb MemTotal "$T/root/meminfo")"
gc_eq "root cgroup: online is the VM's" "$(cat /sys/devices/system/cpu/online)" "$(cat "$T/root/online")"
gc_eq "root cgroup: cpuinfo lists the VM's processors" "$(gc_cpuinfo_ids /proc/cpuinfo)" "$(gc_cpuinfo_ids "$T/root/cpuinfo")"

# --- runc and crun with vproc-hook at createRuntime --------------------------------
ROOTFS=$T/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh cat head grep cut echo sleep; do ln -sf busybox "$ROOTFS/bin/$a"; done
VM_MEM=$(gc_kb MemTotal /proc/meminfo)
VM_ONLINE=$(cat /sys/devices/system/cpu/online)
VM_CPUS=$(gc_cpuinfo_ids /proc/cpuinfo | awk -F, '{ print NF }')
RES='{ "memory": { "limit": 268435456 }, "cpu": { "quota": 50000, "period": 100000, "cpus": "1", "mems": "0" } }'
# Runtimes give hooks only the hook's own env: pass the sanitizer options on.
HOOK_ENV=""
for v in ASAN_OPTIONS UBSAN_OPTIONS; do
  eval "val=\${$v:-}"
  [ -n "$val" ] && HOOK_ENV="$HOOK_ENV${HOOK_ENV:+, }\"$v=$val\""
done
hooks() { # hooks STAGE [EXTRA HOOK ARG]
  _stage=$1
  shift
  echo "{ \"$_stage\": [ { \"path\": \"$HOOK\", \"env\": [ $HOOK_ENV ]," \
    "\"args\": [ \"vproc-hook\", \"--mountpoint\", \"$MP\", \"--log-file\", \"$T/hook.log\"${1:+, \"$1\"} ] } ] }"
}
# run_container RUNTIME ID HOOKS [SCRIPT PREFIX]: prints the container's
# output; returns the runtime's status.
run_container() {
  b=$T/bundle-$2
  mkdir -p "$b"
  gc_oci_config "$ROOTFS" "${4:-}$(gc_container_script)" "/vproc-vm-$2" "$RES" "$3" >"$b/config.json"
  t0=$(cut -d' ' -f1 /proc/uptime)
  timeout 60 "$1" --root "/run/$1" run --bundle "$b" "$2" </dev/null 2>&1
  rc=$?
  echo "time: $1 run $2: $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { print b - a }') s" >&2
  [ "$rc" = 0 ] || "$1" --root "/run/$1" delete -f "$2" >/dev/null 2>&1
  return $rc
}

if [ ! -x "$HOOK" ]; then
  gc_fail "vproc-hook is built (not found; the runtime tests need it)"
else
  section "runc and crun with vproc-hook at createRuntime"
  for rt in runc crun; do
    out=$(run_container $rt "$rt-hook" "$(hooks createRuntime)")
    rc=$?
    gc_eq "$rt: runs a container with vproc-hook at createRuntime" 0 "$rc"
    gc_check_container "$rt + hook, 256 MiB, cpuset {1}, quota 0.5" "$out" 262144 1 1 "$(gc_nfiles)"
    up=$(echo "$out" | sed -n 's/^uptime=//p')
    gc_awk "$rt + hook: uptime is the container's (${up:-?} s < 30 s)" 'u ~ /^[0-9]+$/ && u + 0 < 30' -v u="$up"
    [ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'
  done

  # poststart: the container already runs, pivoted; the hook takes the
  # running-container path (open_tree + move_mount), here on an older kernel.
  out=$(run_container crun crun-poststart "$(hooks poststart)" "sleep 2; ")
  rc=$?
  gc_eq "crun: runs a container with vproc-hook at poststart" 0 "$rc"
  gc_check_container "crun + hook at poststart" "$out" 262144 1 1 "$(gc_nfiles)"
  [ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'

  # --- the container view (no-open, page cache) on this kernel ----------------------
  section "runc and crun with vproc-hook --view container"
  VIEWCHECK="echo viewmounts=\$(grep -c ' /[0-9]*-[0-9]*/proc/meminfo /proc/meminfo ' /proc/self/mountinfo); "
  for rt in runc crun; do
    out=$(run_container $rt "$rt-view" "$(hooks createRuntime --view=container)" "$VIEWCHECK")
    rc=$?
    gc_eq "$rt: runs a container with vproc-hook --view container" 0 "$rc"
    gc_eq "$rt --view container: meminfo comes from the container view" viewmounts=1 \
      "$(echo "$out" | grep '^viewmounts=')"
    gc_check_container "$rt --view container, 256 MiB, cpuset {1}, quota 0.5" "$out" 262144 1 1 "$(gc_nfiles)"
    [ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'
  done
  gc_check "vprocd logged the view's mount" grep -q 'container view at /run/vproc/view' "$T/vprocd.log"

  # --- restart on an older kernel: no MOVE_MOUNT_BENEATH ----------------------------
  # kill -9 then a new vprocd re-attaches the registered container; --takeover
  # unmounts the old files before moving the new ones (Linux < 6.5).
  section "vprocd kill -9, restart and takeover with a running container (kernel $(uname -r))"
  b=$T/bundle-restart
  mkdir -p "$b"
  gc_oci_config "$ROOTFS" "sleep 300" "/vproc-vm-restart" "$RES" "$(hooks createRuntime)" >"$b/config.json"
  timeout 60 runc --root /run/runc run -d --bundle "$b" vm-restart </dev/null >/dev/null 2>&1
  memof() { timeout 10 runc --root /run/runc exec vm-restart head -n1 /proc/meminfo 2>&1 | awk '{ print $2 }'; }
  gc_eq "detached runc container with the hook: MemTotal" 262144 "$(memof)"
  kill -KILL "$VPROCD_PID"
  wait "$VPROCD_PID" 2>/dev/null
  gc_check "after kill -9 the container's /proc/meminfo fails (stale mount)" \
    sh -c "! timeout 10 runc --root /run/runc exec vm-restart head -n1 /proc/meminfo >/dev/null 2>&1"
  start_vprocd
  i=0
  while [ $i -lt 50 ] && [ "$(memof)" != 262144 ]; do sleep 0.1; i=$((i + 1)); done
  gc_eq "a restarted vprocd re-attaches the container: MemTotal" 262144 "$(memof)"
  gc_check "vprocd logged the re-attach" grep -q 're-attach: 1 attached' "$T/vprocd.log"
  OLD_PID=$VPROCD_PID
  "$VPROCD" --mountpoint "$MP" --container-view --takeover --drain-timeout 10 2>>"$T/vprocd.log" &
  VPROCD_PID=$!
  fails=0
  for _ in 1 2 3 4 5 6 7 8; do
    [ "$(memof)" = 262144 ] || fails=$((fails + 1))
    sleep 0.5
  done
  gc_eq "reads during --takeover that did not show the limit" 0 "$fails"
  i=0
  while [ $i -lt 150 ] && kill -0 "$OLD_PID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
  gc_check "the old vprocd drained and exited" sh -c "! kill -0 $OLD_PID 2>/dev/null"
  gc_eq "after the takeover: MemTotal" 262144 "$(memof)"
  gc_eq "after the takeover: FUSE mounts in the container (none stacked)" "$(gc_nfiles)" \
    "$(timeout 10 runc --root /run/runc exec vm-restart grep -c fuse /proc/self/mountinfo)"
  runc --root /run/runc delete -f vm-restart >/dev/null 2>&1

  # --- a CPU that goes offline ------------------------------------------------------
  # With CPU 1 offline, a reader whose cpuset is {1} has no visible CPU left:
  # it sees the host's online CPUs; the root cgroup sees CPU 0 only. vprocd
  # answers throughout, and the files are whole again once CPU 1 is back.
  if [ -w /sys/devices/system/cpu/cpu1/online ]; then
    section "CPU 1 offline and back"
    OFF=$CGROOT/vproc-vm-offline
    mkdir -p "$OFF" && echo 1 >"$OFF/cpuset.cpus" && echo 0 >"$OFF/cpuset.mems"
    read_in_off() { sh -c "echo \$\$ >$OFF/cgroup.procs && cat $MP/sys/devices/system/cpu/online $MP/sys/devices/system/cpu/possible && grep -c ^processor $MP/proc/cpuinfo && grep -c ^cpu[0-9] $MP/proc/stat" 2>&1 | tr '\n' ' '; }
    gc_eq "cpuset {1}, CPU 1 online: online, possible, cpuinfo, stat" "1 1 1 1 " "$(read_in_off)"
    if echo 0 >/sys/devices/system/cpu/cpu1/online; then
      gc_eq "cpuset {1}, CPU 1 offline: the host's online CPU instead" "0 0 1 1 " "$(read_in_off)"
      gc_eq "root cgroup, CPU 1 offline: online" 0 "$(timeout 10 cat "$MP/sys/devices/system/cpu/online")"
      gc_check "vprocd still runs" kill -0 "$VPROCD_PID"
      echo 1 >/sys/devices/system/cpu/cpu1/online
      gc_eq "cpuset {1}, CPU 1 back: online, possible, cpuinfo, stat" "1 1 1 1 " "$(read_in_off)"
    else
      echo "    (this kernel cannot take CPU 1 offline: the offline checks are not run)"
    fi
    rmdir "$OFF" 2>/dev/null
  fi

  # --- fail-open and fail-closed: vprocd is down ------------------------------------
  section "vprocd stopped: fail-open and fail-closed"
  stop_vprocd
  gc_eq "vprocd exits 0 on SIGTERM" 0 "$VPROCD_RC"
  for rt in runc crun; do
    out=$(run_container $rt "$rt-open" "$(hooks createRuntime)")
    rc=$?
    gc_eq "$rt, vprocd down: the container still starts (fail-open)" 0 "$rc"
    gc_check_container "$rt, vprocd down (fail-open)" "$out" "$VM_MEM" "$VM_ONLINE" "$VM_CPUS" 0
    gc_check "$rt, vprocd down: the hook logged a line naming the container" grep -q "$rt-open" "$T/hook.log"
    [ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'
    out=$(run_container $rt "$rt-closed" "$(hooks createRuntime --fail-closed)")
    rc=$?
    gc_check "$rt, vprocd down, --fail-closed: the container does not start (status $rc)" [ "$rc" != 0 ]
  done
fi

if [ "$GC_FAILED" -gt 0 ]; then
  show_log "$T/vprocd.log"
  show_log "$T/hook.log"
fi
section "done"
echo "VM-RESULT: $(gc_summary)"
