#!/usr/bin/env bash
# Restarting, upgrading or crashing vprocd never breaks running containers
# (issue 4). 20 detached runc containers with vproc-hook at createRuntime, each
# with its own memory limit, read /proc/meminfo in a loop the whole time and log
# one byte per read into a host directory: O (MemTotal is their own limit),
# W (another value), E (the read failed). helpers/readlog.py samples the logs'
# sizes every 20 ms, which dates every read within 20 ms.
#
#   1. pid reuse (first, with its own vprocd, mountpoint and registry): entries
#      whose pid is dead, or alive but another process (other start time and
#      mount namespace; or the same start time and another namespace), are
#      never touched, and the first two are pruned; an entry for another
#      mountpoint is left alone.
#   2. crash: kill -9 vprocd, wait 1 s (reads fail: counted), start a new one;
#      every container reads its own limit again (measured from the start;
#      the issue asks for 1 s, the bound asserted is 5 s on this noisy machine)
#      and after that never a wrong or failed read; no mount of the dead
#      instance is left anywhere. A second vprocd without --takeover is refused
#      and changes nothing.
#   3. graceful upgrade: a new vprocd --takeover under the same load: no failed
#      read, no stalled reader, the old vprocd exits by itself with status 0,
#      and every container's mounts are served by the new instance (the old
#      FUSE connection is gone).
#
#   VPROC_RESTART_CONTAINERS  how many containers (default 20)
#   VPROC_RESTART_VPROCD_ARGS extra options for every vprocd started (e.g. --threads 4)
#   VPROC_RESTART_BOUND_MS    bound on the recovery time after a crash (default 5000, 10000
#                             for a sanitized vprocd; the issue's 1 s is printed, not asserted)
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-restart python cmd:runc cmd:unshare hook
if ! "$VPROCD" --help 2>&1 | grep -q -- --takeover; then
  vt_fail "vprocd has no --takeover/--registry-dir (re-attach not built: $VPROCD)"
  vt_finish; exit
fi

N=${VPROC_RESTART_CONTAINERS:-20}
read -r -a XARGS <<<"${VPROC_RESTART_VPROCD_ARGS:-}"
if [ -z "${VPROC_RESTART_BOUND_MS:-}" ]; then
  VPROC_RESTART_BOUND_MS=5000
  grep -qa -e __asan_init -e __tsan_init "$VPROCD" && VPROC_RESTART_BOUND_MS=10000
fi
export VPROC_RESTART_BOUND_MS
READLOG=$(dirname "$0")/helpers/readlog.py
MP=$VT_TMP/mp
REG=$VT_TMP/registry
now_ns() { date +%s%N; }

# --- helpers local to this test ---------------------------------------------------------------

# wait_exit PID SECONDS: our child PID has exited (zombie or reaped); 1 on timeout.
wait_exit() { vt_wait_for "$2" vt_exited "$1"; }

# reattach_counts LINE: "A P F S T" from "vprocd: re-attach: A attached, P pruned, F failed,
# S skipped in T ms", or nothing when the line has another shape.
reattach_counts() {
  sed -n 's/.*re-attach: \([0-9]*\) attached, \([0-9]*\) pruned, \([0-9]*\) failed, \([0-9]*\) skipped in \([0-9.]*\) ms.*/\1 \2 \3 \4 \5/p' <<<"$1"
}

# relaunch WHAT MP ARGS...: launches vprocd on MP (XARGS, then ARGS) and checks that WHAT
# logs its re-attach pass within 15 s; sets NEW_PID, NEW_LOG, and a p f s ms (attached,
# pruned, failed, skipped, pass time) from that line.
relaunch() {
  local what=$1 mp=$2 line
  shift 2
  vt_launch_vprocd "$mp" "${XARGS[@]}" "$@"
  NEW_PID=$VT_LAUNCHED_PID NEW_LOG=$VT_LAUNCHED_LOG
  line=$(vt_reattach_line "$NEW_LOG" 15)
  vt_check "$what logs its re-attach pass ($line)" test -n "$line"
  read -r a p f s ms <<<"$(reattach_counts "$line")"
}

# fuse_conns: the live FUSE connections (the minor numbers fusectl lists). fusectl is mounted
# in a private mount namespace, so the host's mounts stay as they are; an empty answer means
# it could not be mounted.
fuse_conns() {
  unshare -m --propagation private sh -c \
    'mountpoint -q /sys/fs/fuse/connections || mount -t fusectl none /sys/fs/fuse/connections &&
     ls /sys/fs/fuse/connections'
}

# fuse_conn_gone OLD NEW: the FUSE connection of device OLD (major:minor) no longer exists,
# while NEW's does (so that fusectl is known to work). Device numbers are reused: other
# vprocd instances on this machine mount and unmount all the time, and the lowest free minor
# goes to the next one. A listed OLD is someone else's when the host's namespace shows a mount
# of it outside this test's directory (this test's old instance is mounted nowhere there).
fuse_conn_gone() {
  local live
  live=$(fuse_conns) || return 1
  grep -qx "${2#*:}" <<<"$live" || return 1
  grep -qx "${1#*:}" <<<"$live" || return 0
  awk -v d="$1" -v t="$VT_TMP" '$3 == d && index($5, t) != 1 { found = 1 } END { exit !found }' \
    /proc/self/mountinfo
}

# holders DEV: which processes see a mount of DEV (diagnostics only).
holders() {
  local f p
  grep -l " $1 " /proc/[0-9]*/mountinfo 2>/dev/null | head -5 | while read -r f; do
    p=${f#/proc/}; p=${p%/mountinfo}; echo "$p($(cat "/proc/$p/comm" 2>/dev/null))"
  done | tr '\n' ' '
}

# check_conn_gone WHAT OLD NEW: waits up to 5 s for OLD's connection to go; on failure names
# the processes that still see one of its mounts.
check_conn_gone() {
  if vt_wait_for 5 fuse_conn_gone "$2" "$3"; then vt_pass "$1's FUSE connection is gone ($2)"
  else vt_fail "$1's FUSE connection is gone ($2; live: $(fuse_conns | tr '\n' ' '); mounts of it seen by: $(holders "$2"))"; fi
}

# container_mounts_on DEV: every container has each of the files mounted exactly once, all
# from DEV; prints what differs.
WANT=$(vc_file_targets | tr '\n' ' ')
container_mounts_on() {
  local dev=$1 i pid out=""
  for i in $(seq 1 "$N"); do
    pid=${CPID[$i]}
    out+=$(awk -v dev="$dev" -v c="c$i" -v want="$WANT" '
      { for (s = 7; $s != "-"; s++) {} }
      $(s + 1) ~ /^fuse/ { n[$5]++; if ($3 != dev) bad = bad " " $5 "=" $3 }
      END {
        k = split(want, w, " ")
        for (j = 1; j <= k; j++) if (n[w[j]] != 1) bad = bad " " w[j] "x" n[w[j]] + 0
        if (bad != "") printf "%s:%s; ", c, bad
      }' "/proc/$pid/mountinfo")
  done
  [ -z "$out" ] || { echo "${out:0:300}"; return 1; }
}

# check_new_instance WHAT OLD_DEV OLD_VIEW_DEV PID: MP serves, the container view ($REG/view)
# is another FUSE connection than OLD_VIEW_DEV, every container's files are mounted from the
# new view (the hook's default), the old instance's (WHAT's) two connections are gone, and
# $REG/vprocd.pid names PID; sets NEW_DEV and NEW_VDEV.
# A device number is freed with its connection and may be reused at once: with the containers'
# files on the view, nothing holds a dead instance's per-reader connection, so the new
# instance's mount can get its number. Two live connections never share one, so the same
# number at MP, now served by the new instance, means the old connection is gone.
check_new_instance() {
  local diff
  NEW_DEV=$(vt_top_dev "$MP")
  NEW_VDEV=$(vt_top_dev "$REG/view")
  vt_check "the new instance serves $MP" vt_serving "$MP"
  vt_check "its container view is another FUSE connection ($3 -> $NEW_VDEV)" \
    test -n "$NEW_VDEV" -a "$NEW_VDEV" != "$3"
  diff=$(container_mounts_on "$NEW_VDEV")
  vt_check "every container's $(vc_nfiles) files are mounted once, from the new instance's view ${diff}" test -z "$diff"
  if [ "$NEW_DEV" = "$2" ]; then
    vt_pass "$1's FUSE connection is gone (its device $2 was freed and is the new mount's)"
  else
    check_conn_gone "$1" "$2" "$NEW_DEV"
  fi
  check_conn_gone "$1's view" "$3" "$NEW_VDEV"
  vt_check "$REG/vprocd.pid names the new instance" pidfile_names "$4"
}


# pidfile_names PID: REG/vprocd.pid names PID.
pidfile_names() { [ -r "$REG/vprocd.pid" ] && grep -qw "$1" "$REG/vprocd.pid"; }

# --- vprocd and the containers ----------------------------------------------------------------

echo "# $N containers ($(date +%T))"
vt_serve "$MP" "${XARGS[@]}" --registry-dir "$REG"
PID1=$VPROCD_PID
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
entry=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG" --log-file "$VT_TMP/hook.log")

# busybox sh, no fork per read (read and echo are builtins). After a failed read the loop
# waits 10 ms (read -t on a fifo nobody writes: a sleep without a fork), so that 20 failing
# loops do not starve the new vprocd of CPU; a right or wrong read loops at once. The loops
# start reading together, once all containers run (a line on the fifo "start"), so that
# starting containers is not slowed down by the ones already reading.
LOOP='exp=$1
exec 3>>/vlog/reads 4<>/vlog/pause
read -r go </vlog/start
while :; do
  if read -r k v u 2>/dev/null </proc/meminfo; then
    if [ "$k $v" = "MemTotal: $exp" ]; then echo -n O >&3
    else echo -n W >&3; echo "$k $v $u" >>/vlog/wrong; fi
  else echo -n E >&3; read -t 0.01 x <&4; fi
done'

# One bundle made the usual way, then each container's config from it with one jq (memory
# limit, cgroup, log directory). The readers run at a low CPU weight (cpu shares 128): twenty
# tight loops on two CPUs would otherwise starve vprocd and this script's own commands.
vc_bundle "$VT_TMP/template" "$ROOTFS" \
  ".process.args=[\"sh\",\"-c\",$(jq -Rn --arg s "$LOOP" '$s'),\"loop\"]" \
  ".hooks={\"createRuntime\":[$entry]}"
declare -a CID CPID LOGS
for i in $(seq 1 "$N"); do
  id=vproc-rs-$i-$VT_UNIQ
  mib=$((100 + 5 * i))
  CID[$i]=$id
  mkdir -p "$VT_TMP/log$i" "$VT_TMP/$id"
  mkfifo "$VT_TMP/log$i/pause" "$VT_TMP/log$i/start"
  : >"$VT_TMP/log$i/reads"
  LOGS+=("$VT_TMP/log$i/reads")
  jq --arg cg "/vproc-test-$VT_UNIQ-$id" --argjson limit $((mib * 1024 * 1024)) \
    --arg kb $((mib * 1024)) --arg log "$VT_TMP/log$i" \
    '.linux.cgroupsPath = $cg | .linux.resources = {memory: {limit: $limit}, cpu: {shares: 128}} |
     .process.args += [$kb] |
     .mounts += [{destination: "/vlog", type: "bind", source: $log, options: ["rbind", "rw"]}]' \
    "$VT_TMP/template/config.json" >"$VT_TMP/$id/config.json"
  # Four at a time; the cleanup registers here, in this shell.
  vt_on_exit "vc_runc_cleanup $id"
  vc_runc_start_batched "$id" "$VT_TMP/$id"
done
vc_runc_wait_started
started=0
for i in $(seq 1 "$N"); do
  CPID[$i]=$(vc_runc state "${CID[$i]}" 2>/dev/null | jq -r '.pid // empty')
  if [ -n "${CPID[$i]}" ] && [ -r "/proc/${CPID[$i]}/mountinfo" ]; then
    started=$((started + 1))
  else
    echo "container $i did not start: $(tail -n3 "$VT_TMP/${CID[$i]}.out" | tr '\n' ' ')"
  fi
done
# At exit, all readers stop at once (before the containers are deleted one by one).
for i in $(seq 1 "$N"); do [ -n "${CPID[$i]}" ] && vt_kill_on_exit "${CPID[$i]}"; done
vt_eq "all $N containers run" "$N" "$started"
registered=("$REG"/containers/*.json)
vt_eq "the hook registered every container" "$N" "$(ls -d "${registered[@]}" 2>/dev/null | wc -l)"
if [ "$started" -ne "$N" ]; then vt_show_logs; vt_finish; exit; fi

"$VT_PY" "$READLOG" sample "$VT_TMP/trace" "${LOGS[@]}" &
vt_kill_on_exit $!
for i in $(seq 1 "$N"); do timeout 10 sh -c 'echo go >"$1"' _ "$VT_TMP/log$i/start"; done
all_right_now() {  # every container's latest read was right
  local f
  for f in "${LOGS[@]}"; do [ "$(tail -c1 "$f")" = O ] || return 1; done
}
if ! vt_wait_for 10 all_right_now; then
  vt_fail "every container reads its own limit through vprocd (latest reads:$(for f in "${LOGS[@]}"; do printf ' %s' "$(tail -c1 "$f")"; done))"
  vt_show_logs; vt_finish; exit
fi
vt_pass "every container reads its own limit through vprocd"

# --- 1. pid reuse: entries that are not the process they name ---------------------------------
echo "# pid reuse ($(date +%T))"
MP3=$VT_TMP/mp3
REG3=$VT_TMP/registry3
mkdir -p "$REG3/containers"
chmod 0700 "$REG3" "$REG3/containers"
template=$(cat "$REG/containers/${CID[1]}.json")
# Two sleepers, each in its own (private) mount namespace, so that a wrong attach would show
# in their mountinfo. unshare execs sleep: the pid is the sleeper's.
unshare -m --propagation private sleep 600 &
S1=$!
vt_kill_on_exit $S1
unshare -m --propagation private sleep 600 &
S2=$!
vt_kill_on_exit $S2
disown $S1 $S2  # no "Killed" job notices when they go
true &
DEAD=$!
wait $DEAD
sleeping() { [ "$(cat "/proc/$S1/comm")" = sleep ] && [ "$(cat "/proc/$S2/comm")" = sleep ]; }
vt_wait_for 5 sleeping
host_ns=$(stat -L -c %i /proc/self/ns/mnt)
s1_ns=$(stat -L -c %i /proc/$S1/ns/mnt)
vt_check "the sleepers have mount namespaces of their own" \
  test "$s1_ns" != "$host_ns" -a "$(stat -L -c %i /proc/$S2/ns/mnt)" != "$host_ns"
fake() {  # fake ID PID START_TIME MNT_NS MOUNTPOINT
  jq --arg id "$1" --argjson pid "$2" --argjson st "$3" --argjson ns "$4" --arg mp "$5" \
    '.id = $id | .pid = $pid | .pid_start_time = $st | .mnt_ns = $ns | .rootfs = "/" |
     .mountpoint = $mp' <<<"$template" >"$REG3/containers/$1.json"
}
# pid alive, another process: other start time, other mount namespace (a real container's)
fake reuse "$S1" $(($(vt_starttime "$S1") + 4242)) "$(jq .mnt_ns <<<"$template")" "$MP3"
# pid alive with its start time, but not the recorded mount namespace
fake nsmove "$S2" "$(vt_starttime "$S2")" "$host_ns" "$MP3"
# pid gone
fake gone "$DEAD" 123456 "$s1_ns" "$MP3"
# a live container registered with another vprocd's mountpoint: not this one's business
jq '.id = "other"' <<<"$template" >"$REG3/containers/other.json"
before_s1=$(cat /proc/$S1/mountinfo)
before_s2=$(cat /proc/$S2/mountinfo)
before_c1=$(cat "/proc/${CPID[1]}/mountinfo")

relaunch vprocd "$MP3" --registry-dir "$REG3"
PID3=$NEW_PID
vt_check "nothing attached, nothing failed, at least 2 pruned (a=${a:-?} p=${p:-?} f=${f:-?} s=${s:-?})" \
  test "${a:-x}" = 0 -a "${f:-x}" = 0 -a "${p:-0}" -ge 2
vt_check "the recycled pid's entry is pruned" test ! -e "$REG3/containers/reuse.json"
vt_check "the dead pid's entry is pruned" test ! -e "$REG3/containers/gone.json"
vt_check "the entry of another mountpoint is kept" test -e "$REG3/containers/other.json"
if [ -e "$REG3/containers/nsmove.json" ]; then echo "  (the moved-namespace entry was kept)"
else echo "  (the moved-namespace entry was pruned)"; fi
dev3=$(vt_top_dev "$MP3")
vt_check "vprocd serves its own mountpoint" vt_serving "$MP3"
vt_check "the sleepers are alive" kill -0 "$S1" "$S2"
vt_eq "the recycled pid's mounts are untouched" "$before_s1" "$(cat /proc/$S1/mountinfo)"
vt_eq "the moved-namespace pid's mounts are untouched" "$before_s2" "$(cat /proc/$S2/mountinfo)"
vt_eq "the other mountpoint's container is untouched" "$before_c1" "$(cat "/proc/${CPID[1]}/mountinfo")"
vt_check "no sleeper sees a mount of this vprocd ($dev3)" \
  bash -c '! grep -q " '"$dev3"' " /proc/'$S1'/mountinfo /proc/'$S2'/mountinfo'
vt_stop_vprocd_guarded "$PID3" "$MP3"
kill -KILL "$S1" "$S2" 2>/dev/null

# --- 2. crash: kill -9, restart, re-attach ------------------------------------------------------
echo "# crash ($(date +%T))"
dev1=$(vt_top_dev "$MP")
vdev1=$(vt_top_dev "$REG/view")
vt_check "the containers' files come from the container view ($vdev1)" \
  test -n "$vdev1" -a -z "$(container_mounts_on "$vdev1")"
t_kill=$(now_ns)
kill -KILL "$PID1"
wait "$PID1" 2>/dev/null
sleep 1
t_launch=$(now_ns)
relaunch "the new vprocd" "$MP" --registry-dir "$REG"
PID2=$NEW_PID pass_ms=$ms
vt_eq "all $N containers re-attached, none pruned or failed" "$N 0 0" "${a:-?} ${p:-?} ${f:-?}"
vt_check "the new vprocd serves $MP" vt_serving "$MP"
vt_wait_for 10 all_right_now
check_new_instance "the dead instance" "$dev1" "$vdev1" "$PID2"
dev2=$NEW_DEV vdev2=$NEW_VDEV

# A second vprocd without --takeover is refused with a clear message, and changes nothing.
vt_launch_vprocd "$MP" "${XARGS[@]}" --registry-dir "$REG"
PIDX=$VT_LAUNCHED_PID
if wait_exit "$PIDX" 10; then
  wait "$PIDX"; rc=$?
  vt_check "vprocd without --takeover on a live mountpoint exits non-zero (status $rc)" test "$rc" -ne 0
  vt_check "... saying why: $(tail -n1 "$VT_LAUNCHED_LOG")" grep -q -- "$MP" "$VT_LAUNCHED_LOG"
else
  vt_fail "vprocd without --takeover on a live mountpoint is still running after 10 s"
fi
vt_check "... and leaves $REG/vprocd.pid naming the serving instance" pidfile_names "$PID2"
vt_eq "... and the mount at $MP" "$dev2" "$(vt_top_dev "$MP")"
sleep 1
"$VT_PY" "$READLOG" crash "$VT_TMP/trace" "$t_kill" "$t_launch" "${LOGS[@]}" >"$VT_TMP/crash.out"
vt_report <"$VT_TMP/crash.out"
gap=$(sed -n 's/^VALUES gap=\([0-9]*\).*/\1/p' "$VT_TMP/crash.out")
rec=$(sed -n 's/^VALUES.*recover_ms=\([0-9a-z]*\).*/\1/p' "$VT_TMP/crash.out")
vt_figure "restart: failed reads in gap=${gap:-?}, all containers correct again ${rec:-?} ms after start (re-attach pass ${pass_ms:-?} ms, $N containers)"

# --- 3. graceful upgrade: --takeover under load -------------------------------------------------
echo "# takeover ($(date +%T))"
t_from=$(now_ns)
relaunch "the new vprocd" "$MP" --registry-dir "$REG" --takeover
PID4=$NEW_PID take_ms=$ms
vt_eq "all $N containers re-attached, none pruned or failed" "$N 0 0" "${a:-?} ${p:-?} ${f:-?}"
if wait_exit "$PID2" 35; then
  t_exit=$(now_ns)
  wait "$PID2"; rc=$?
  vt_eq "the old vprocd drained and exited by itself with status 0" 0 "$rc"
else
  t_exit=$(now_ns)
  vt_fail "the old vprocd is still running 35 s after the takeover started"
fi
sleep 1
t_to=$(now_ns)
vt_check "the new vprocd is alive and serves $MP" \
  bash -c 'kill -0 '"$PID4"' && timeout 5 grep -q "^MemTotal:" "$1/proc/meminfo"' _ "$MP"
vt_eq "one mount at $MP" 1 "$(vt_mount_count "$MP")"
check_new_instance "the old instance" "$dev2" "$vdev2" "$PID4"
"$VT_PY" "$READLOG" window "$VT_TMP/trace" "$t_from" "$t_to" 5000 "${LOGS[@]}" >"$VT_TMP/take.out"
vt_report <"$VT_TMP/take.out"
reads=$(sed -n 's/^VALUES reads=\([0-9]*\).*/\1/p' "$VT_TMP/take.out")
stall=$(sed -n 's/^VALUES.*stall_ms=\([0-9]*\).*/\1/p' "$VT_TMP/take.out")
tfailed=$(sed -n 's/^VALUES.*failed=\([0-9]*\).*/\1/p' "$VT_TMP/take.out")
vt_figure "takeover: failed reads=${tfailed:-?} (0 required) of $reads in $(((t_to - t_from) / 1000000)) ms," \
  "re-attach pass ${take_ms:-?} ms, old exited $(((t_exit - t_from) / 1000000)) ms after start," \
  "longest reader stall ${stall:-?} ms ($N containers)"

# --- all along ------------------------------------------------------------------------------------
"$VT_PY" "$READLOG" since "$VT_TMP/trace" "$t_launch" "${LOGS[@]}" >"$VT_TMP/since.out"
vt_report <"$VT_TMP/since.out"
wrong=$(cat "$VT_TMP"/log*/wrong 2>/dev/null | sort | uniq -c | head -3 | tr '\n' ';')
[ -z "$wrong" ] || echo "wrong values read: $wrong"
vt_check_sanitizer_logs
vt_show_logs
vt_finish
