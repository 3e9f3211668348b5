#!/usr/bin/env bash
# loadavg_test: the loadavg sampler, live (fsd/view/loadavg.h). vprocd samples
# every 5 s (no flag changes that); the test reads each cgroup's loadavg once
# (which starts tracking it and takes the first sample), waits three samples
# and reads again:
#   - busy: 2 busy loops, and a child cgroup with 1 busy loop and 1 sleeper:
#     3 active tasks. The 1-minute average passes 0.4 only if the sampler
#     samples (the first sample alone gives 3 x 0.08 = 0.24);
#   - the test's top cgroup, which has no tasks of its own and busy two levels
#     down: the same, only through the descendant walk;
#   - idle: 2 sleepers: stays near 0.
# On a host whose cpu controller is v1 the sampler counts through taskstats
# netlink (cgroupstats): vprocd must log no fallback line, and its samples
# must read no file at all (/proc/<vprocd>/io syscr does not move while only
# the sampler runs; the tasks-file path would read the tasks files and every
# task's /proc/<tid>/stat).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
vt_preamble loadavg vprocd
if [ "$(vt_cgroup_mode)" = v1 ]; then
  [ -d /sys/fs/cgroup/cpu ] || vt_skip "no v1 cpu controller here"
  NETLINK=1
else
  NETLINK=0  # cgroup v2: the tasks-file path is what runs
fi

MP=$VT_TMP/mnt
vt_serve "$MP"
VPID=$VPROCD_PID
LOG=$VT_LAUNCHED_LOG

# idle first: its cleanup runs last and removes the top cgroup (busy's finds
# busy already gone with kid's and stops there).
vt_new_cgroup idle; IDLE=$VT_CG
vt_new_cgroup busy; BUSY=$VT_CG
vt_make_child_cgroup "$BUSY" kid; KID=$BUSY/kid
TOP=${BUSY%/*}

PIDS=()
spawn() { vt_spawn_in_cgroup "$@"; PIDS+=("$VT_SPAWNED"); }
spin() { spawn "$1" bash -c 'while :; do :; done'; }
spin "$BUSY"; spin "$BUSY"
spin "$KID"
spawn "$KID" sleep 600
spawn "$IDLE" sleep 600
spawn "$IDLE" sleep 600
# Runs first at exit: the processes are gone (reaped) before their cgroups
# are removed. Unreaped children of this shell: their pids cannot be reused.
vt_on_exit "kill -KILL ${PIDS[*]}; wait ${PIDS[*]}"
sleep 0.5  # every process has left bash for its loop or sleep

# load1 CGPATH: the 1-minute average a reader in the cgroup sees.
load1() { vt_in_cgroup "$1" timeout 10 cat "$MP/proc/loadavg" | awk '{ print $1 }'; }
for c in "$BUSY" "$TOP" "$IDLE"; do
  vt_check "loadavg read in $c (tracking starts)" test -n "$(load1 "$c")"
done
syscr() { awk '$1 == "syscr:" { print $2 }' "/proc/$VPID/io"; }
r0=$(syscr)
sleep 16  # three samples at least, whatever the phase of the sampler
r1=$(syscr)
b=$(load1 "$BUSY") t=$(load1 "$TOP") i=$(load1 "$IDLE")
vt_figure "1-minute loadavg after ~16 s: busy $b (3 active), top $t (3 active, none its own), idle $i"
vt_check "busy cgroup (2 busy + child with 1 busy, 1 sleeping): 1-minute average > 0.4 (got $b)" \
  awk -v v="$b" 'BEGIN { exit !(v > 0.4) }'
vt_check "top cgroup, busy only in descendants two levels down: 1-minute average > 0.4 (got $t)" \
  awk -v v="$t" 'BEGIN { exit !(v > 0.4) }'
vt_check "idle cgroup (2 sleepers): 1-minute average stays near 0 (got $i)" \
  awk -v v="$i" 'BEGIN { exit !(v < 0.1) }'

if [ "$NETLINK" = 1 ]; then
  vt_eq "vprocd logged no netlink fallback (the taskstats path was the one tested)" "" \
    "$(grep -i 'netlink' "$LOG")"
  # Nothing else reads in vprocd meanwhile: the FUSE workers wait for requests.
  vt_check "the sampler read no file in 3 samples of 3 tracked cgroups (syscr $r0 -> $r1)" \
    test "$((r1 - r0))" -lt 3
else
  echo "$VT_NAME: note: cgroup v2: the netlink checks do not apply (the tasks files are read)"
fi

vt_check "vprocd is still running" vt_is_vprocd "$VPID" "$MP"
vt_check_sanitizer_logs
vt_show_logs
vt_finish
