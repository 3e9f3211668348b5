#!/usr/bin/env bash
# uring_test: FUSE over io_uring (fsd/fuse/uring.h) and vprocd's --io-uring flag,
# on the kernel's own switch /sys/module/fuse/parameters/enable_uring, which
# this test flips and puts back as it found it (exit trap):
#   1. knob N, default flags (auto): serves (a 300 MiB reader sees 300 MiB), logs
#      why io_uring is off, and leaves the knob N;
#   2. --io-uring on, knob N: turns the knob on and gets one ring per possible CPU;
#   3. knob Y, auto: 8 readers, each in its own cgroup with its own limit, half
#      pinned to CPU 0 and half to CPU 1, loop open+read+close of meminfo for 5 s
#      (and read stat, uptime, loadavg, cpu/online once): each sees only its own
#      MemTotal, without an error, and both CPUs' ring threads did the serving;
#   5. (same vprocd, before 4) readers SIGKILLed in the middle of their loop do
#      no harm: fresh reads on both CPUs still work and vprocd lives on;
#   4. on SIGTERM vprocd counts the requests served through the rings: at least
#      one per read of 3 (each is OPEN, READ, RELEASE at least), so the rings,
#      not /dev/fuse, served them; it exits 0 and its mount is gone;
#   6. --io-uring off, knob Y: nothing about io_uring, still serves;
#   7. --io-uring bogus is refused on the command line.
# Skips only when the kernel has no FUSE over io_uring or io_uring is disabled.
. "$(dirname "$0")/../lib/common.sh"
vt_preamble uring python
KNOB=/sys/module/fuse/parameters/enable_uring
[ -f "$KNOB" ] || vt_skip "this kernel has no FUSE over io_uring ($KNOB is missing)"
[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null)" != 2 ] || vt_skip "io_uring is disabled (kernel.io_uring_disabled = 2)"
ORIG=$(cat "$KNOB")
# Registered first, so it runs last: after every vprocd of this test is stopped.
vt_on_exit "echo '$ORIG' >'$KNOB'"
READER=$(dirname "$0")/helpers/meminfo_reader.py
MiB=$((1024 * 1024))
# The kernel keeps one queue per possible CPU: highest possible CPU + 1 rings.
RINGS=$(($(tr ',-' '\n\n' </sys/devices/system/cpu/possible | sort -n | tail -n1) + 1))
CPU_B=0; vt_cpu_online 1 && CPU_B=1 # the second reader CPU (all on CPU 0 if it is alone)

knob() { cat "$KNOB"; }
lacks() { ! grep -q "$@"; }
gone() { ! vt_is_vprocd "$@" 2>/dev/null; }
# memtotal CG MP CPU: MemTotal (kB) that a reader in CG, on CPU, reads from MP.
memtotal() { vt_in_cgroup "$1" taskset -c "$3" timeout 10 cat "$2/proc/meminfo" | awk '$1 == "MemTotal:" { print $2 }'; }
# start MP [ARGS...]: vprocd serving MP (VP: its pid, LOG: its log), or the test ends.
start() {
  vt_start_vprocd_guarded "$@" || vt_abort "vprocd $* starts and serves"
  VP=$VT_LAUNCHED_PID LOG=$VT_LAUNCHED_LOG
}
# stop MP: SIGTERM to VP and wait for its exit (SIGKILL after 10 s); RC: its status.
stop() {
  kill -TERM "$VP"
  vt_wait_for 10 gone "$VP" "$1" || kill -KILL "$VP"
  wait "$VP"; RC=$?
}

vt_new_cgroup one; ONE=$VT_CG
vt_set_memory "$ONE" $((300 * MiB))

# --- 1. knob N, default flags (auto) ------------------------------------------
echo N >"$KNOB"
start "$VT_TMP/auto"
vt_eq "auto, knob N: a 300 MiB reader's MemTotal" $((300 * 1024)) "$(memtotal "$ONE" "$VT_TMP/auto" 0)"
vt_check "auto, knob N: logs 'io_uring: off ($KNOB is N); serving through /dev/fuse'" \
  grep -qF "vprocd: io_uring: off ($KNOB is N); serving through /dev/fuse" "$LOG"
vt_check "auto, knob N: no ring" lacks "io_uring: on" "$LOG"
stop "$VT_TMP/auto"
vt_eq "auto never changes the knob" N "$(knob)"

# --- 2. --io-uring on, knob N ---------------------------------------------------
start "$VT_TMP/on" --io-uring on
vt_eq "on: the knob is now Y" Y "$(knob)"
vt_check "on: logs 'io_uring: turned on $KNOB'" grep -qF "vprocd: io_uring: turned on $KNOB" "$LOG"
vt_check "on: the kernel accepted io_uring: 'io_uring: on, $RINGS rings'" \
  grep -qF "vprocd: io_uring: on, $RINGS rings (one per CPU)" "$LOG"
vt_eq "on: a 300 MiB reader's MemTotal" $((300 * 1024)) "$(memtotal "$ONE" "$VT_TMP/on" 0)"
stop "$VT_TMP/on"

# --- 3. isolation through the rings (knob Y, auto) ---------------------------------
echo Y >"$KNOB" # whatever step 2 did: this part tests the rings themselves
MP=$VT_TMP/mnt
start "$MP"
vt_check "auto, knob Y: the kernel accepted io_uring: 'io_uring: on, $RINGS rings'" \
  grep -qF "vprocd: io_uring: on, $RINGS rings (one per CPU)" "$LOG"
pids=()
for i in $(seq 1 8); do
  vt_new_cgroup "r$i"
  vt_set_memory "$VT_CG" $(((100 + 10 * i) * MiB))
  vt_in_cgroup "$VT_CG" taskset -c $((i % 2 ? 0 : CPU_B)) timeout -k 5 60 bash -c '
    for f in proc/stat proc/uptime proc/loadavg sys/devices/system/cpu/online; do
      grep -q . "$1/$f" || echo "cannot read $f"
    done
    exec "$2" "$3" "$1" "$4" 5' _ "$MP" "$VT_PY" "$READER" $(((100 + 10 * i) * 1024)) \
    >"$VT_TMP/reader$i.out" 2>&1 &
  pids+=($!)
done
total=0
for i in $(seq 1 8); do
  wait "${pids[$((i - 1))]}"
  out=$(cat "$VT_TMP/reader$i.out")
  if [[ $out =~ ^reads=([0-9]+)\ wrong=0\ errors=0 ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
    total=$((total + BASH_REMATCH[1]))
    vt_pass "reader $i (CPU $((i % 2 ? 0 : CPU_B)), $((100 + 10 * i)) MiB): own MemTotal in all ${BASH_REMATCH[1]} reads; stat, uptime, loadavg, online read"
  else
    vt_fail "reader $i: $out"
  fi
done
# Each ring's thread pins itself to its CPU: a busy thread pinned to CPU c is ring c.
for c in $(printf '%s\n' 0 "$CPU_B" | sort -u); do
  sw=$(grep -l "^Cpus_allowed_list:[[:space:]]*$c\$" /proc/"$VP"/task/*/status 2>/dev/null |
    xargs -r awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }')
  vt_check "the ring thread of CPU $c served ($sw context switches)" test "${sw:-0}" -ge 100
done

# --- 5. readers killed with SIGKILL in the middle of their loop ---------------------
vt_new_cgroup killed; KC=$VT_CG
vt_set_memory "$KC" $((200 * MiB))
for i in $(seq 1 10); do
  vt_spawn_in_cgroup "$KC" taskset -c $((i % 2 ? 0 : CPU_B)) "$VT_PY" "$READER" "$MP" $((200 * 1024)) 60 >/dev/null
  sleep "0.$((RANDOM % 4 + 2))"
  kill -KILL "$VT_SPAWNED"; wait "$VT_SPAWNED" 2>/dev/null
done
for c in $(printf '%s\n' 0 "$CPU_B" | sort -u); do
  vt_eq "after 10 readers were SIGKILLed mid-loop, a fresh read on CPU $c" $((200 * 1024)) "$(memtotal "$KC" "$MP" "$c")"
done
vt_check "vprocd is still alive" vt_is_vprocd "$VP" "$MP"

# --- 4. SIGTERM: the rings' count --------------------------------------------------
stop "$MP"
vt_eq "SIGTERM: vprocd exits 0" 0 "$RC"
served=$(sed -n 's/^vprocd: io_uring: \([0-9]*\) requests served through the rings$/\1/p' "$LOG")
vt_check "SIGTERM: '${served:-no} requests served through the rings' >= the $total reads" \
  test "${served:-0}" -ge "$total" -a "$total" -gt 0
vt_eq "the mount is gone" 0 "$(vt_mount_count "$MP")"
vt_figure "8 readers, 5 s: $total reads; ${served:-0} requests through the rings"

# --- 6. --io-uring off, knob Y -----------------------------------------------------
vt_eq "the knob is Y before --io-uring off" Y "$(knob)"
start "$VT_TMP/off" --io-uring off
vt_eq "off: a 300 MiB reader's MemTotal" $((300 * 1024)) "$(memtotal "$ONE" "$VT_TMP/off" 0)"
stop "$VT_TMP/off"
vt_check "off: nothing about io_uring in its log" lacks io_uring "$LOG"
vt_eq "off leaves the knob Y" Y "$(knob)"

# --- 7. an unknown value ----------------------------------------------------------
vt_on_exit "umount -l '$VT_TMP/bogus'"
out=$(timeout -s KILL 10 "$VPROCD" --mountpoint "$VT_TMP/bogus" --registry-dir "$VT_TMP/reg" --io-uring bogus 2>&1); rc=$?
vt_check "--io-uring bogus exits non-zero, by itself (got $rc)" test "$rc" -ne 0 -a "$rc" -ne 137
vt_check "... with a message naming io-uring: '$(head -n1 <<<"$out")'" grep -q "io-uring" <<<"$out"

vt_check_sanitizer_logs
vt_show_logs
vt_finish
