#!/usr/bin/env bash
# vproc benchmarks: native /proc vs lxcfs vs vprocd, side by side in one run.
#
#   sudo bench/run.sh            full run (< 10 min): writes bench/RESULTS.md
#   sudo bench/run.sh --quick    ~1-2 min smoke run: writes bench/RESULTS-quick.md
#
# Needs root, /dev/fuse, cgroup v1 memory/cpu/cpuacct hierarchies under /sys/fs/cgroup (hybrid
# or legacy layout), lxcfs (5.0.3 on Debian 12), g++, and runc + busybox for the hook section.
# Builds vprocd in Release into build-bench/ (override with VPROC_BENCH_BUILD=DIR), compiles
# bench/readbench.cpp with g++ -O2, starts its own vprocd and lxcfs on private mountpoints under
# a temp dir, and undoes everything it made at exit (its own pids, its own mounts, its own
# cgroups named vbench-<pid>-*). It touches no other mount or process.
#
# Every reader runs in its own cgroup limited to 256 MiB and 1 CPU (cfs quota 100000/100000;
# one CPU of quota never throttles one reader thread). lxcfs runs with --enable-cfs and -l
# (quota-aware CPU view and loadavg, like vprocd's defaults), so both render a 1-CPU, 256 MiB
# machine for the reader; the run checks that both show MemTotal 262144 kB.
#
# Sections:
#   1. latency: median and p99 of open+read-to-EOF+close, one reader, every served file; the
#      three sources take turns in batches of 50 reads so host noise hits them alike.
#   2. throughput: N = 1, 4, 16 reader processes, each in its own cgroup, looping for a fixed
#      time; rounds alternate between the sources. Also server CPU per read (utime+stime).
#   3. scale: 1000 sleeper processes, each in its own cgroup, read loadavg once and then meminfo
#      every 2 s (random phase). One process per cgroup is what containers look like: each
#      reader has its own pid and cgroup, so the server's pid->cgroup and per-cgroup caches hold
#      1000 live entries. Cycling a few processes through many cgroups would instead measure
#      cgroup migration and cache invalidation. Reports server CPU and RSS, and a probe
#      reader's meminfo latency before (1 cgroup), while the 1000 read, and after they go quiet
#      (1000 attached, no background reads: the number of cgroups alone). Each probe takes turns
#      with a reference instance of the same server that only the probe reads: the 1-cgroup
#      figure at the same moments, which the goal's ratio uses.
#   4. hook: wall time of `runc run` (busybox sh counting its FUSE mounts) with and without
#      vproc-hook (createRuntime + poststop), 256 MiB / 1 CPU limits; round 0 is warm-up.
#   5. idle: server CPU over 30 s while the 1000 sleepers stay attached but stop reading
#      (loadavg on: the sampler tracks their cgroups).
#   7. (run before 6) transports: bench/fusefloor.cpp, a minimal libfuse server of a static
#      meminfo with the same round trips, over /dev/fuse and over io_uring, against vprocd over
#      each (a second vprocd runs with --io-uring off): vprocd's own work vs the price of the
#      protocol, and what the io_uring transport is worth.
#
# The vprocd of sections 1-6 runs with --io-uring on where the kernel has FUSE over io_uring
# (Linux >= 6.14): that turns the fuse module's enable_uring on for the run; the harness puts
# the value it found back at exit.
#   6. syscalls per open made by each server (strace -c -f, 300 opens of one file), when strace
#      is installed: where the server's time goes, and a check that an optimisation removed
#      what it meant to remove.
set -euo pipefail

QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VPROC_BENCH_BUILD:-$ROOT/build-bench}
if [ $QUICK = 1 ]; then
  LAT_ITERS=600; TPUT_SECS=1; TPUT_ROUNDS=1; SCALE_N=100; LOAD_SECS=4; IDLE_SECS=8
  PRE_IDLE_SECS=4; PROBE_ITERS=500; HOOK_REPS=3; OUT=$ROOT/bench/RESULTS-quick.md
  CMD="bench/run.sh --quick"
else
  LAT_ITERS=3000; TPUT_SECS=3; TPUT_ROUNDS=3; SCALE_N=1000; LOAD_SECS=15; IDLE_SECS=30
  PRE_IDLE_SECS=10; PROBE_ITERS=2000; HOOK_REPS=10; OUT=$ROOT/bench/RESULTS.md
  CMD="bench/run.sh"
fi
CGROOT=/sys/fs/cgroup
UNIQ=vbench-$$
FILES=(meminfo cpuinfo stat uptime loadavg swaps diskstats online)
TPUT_FILES=(meminfo stat online)
TPUT_PROCS=(1 4 16)
SOURCES=(native lxcfs vprocd)

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "bench: /dev/fuse missing" >&2; exit 1; }
command -v lxcfs >/dev/null || { echo "bench: lxcfs not installed (apt-get install lxcfs)" >&2; exit 1; }
for c in memory cpu cpuacct; do
  [ -e "$CGROOT/$c/cgroup.procs" ] || { echo "bench: needs cgroup v1 $c at $CGROOT/$c" >&2; exit 1; }
done

log() { printf '[bench %s] %s\n' "$(date -u +%T)" "$*" >&2; }

# --- cleanup: only what this run created -------------------------------------------------------
TMP=$(mktemp -d /tmp/vproc-bench.XXXXXX)
VPROCD_PID=""; LXCFS_PID=""; FLOOR_PID=""; SCALE_PID=""; RUNC_IDS=()
VPROCD_DEV_PID=""; FLOORU_PID=""; VPROCD_REF_PID=""; LXCFS_REF_PID=""
# FUSE over io_uring is a fuse module switch (enable_uring): the run turns it on
# for its servers and puts back what it found.
URING_KNOB=/sys/module/fuse/parameters/enable_uring
URING_ORIG=$(cat "$URING_KNOB" 2>/dev/null || true)

our_cgroups() { ls -d "$CGROOT"/*/"$UNIQ"-* 2>/dev/null || true; }

stop_server() {  # stop_server PID MOUNTPOINT
  local pid=$1 mp=$2 i
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  if mountpoint -q "$mp" 2>/dev/null; then umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; fi
}

cleanup() {
  set +e
  if [ -n "$SCALE_PID" ]; then
    exec 7>&- 2>/dev/null  # EOF on the driver's stdin: it kills its sleepers and exits
    for i in $(seq 1 100); do kill -0 "$SCALE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SCALE_PID" 2>/dev/null
  fi
  local id d p i left
  for id in "${RUNC_IDS[@]}"; do
    runc --root "$TMP/runc" kill "$id" KILL 2>/dev/null
    runc --root "$TMP/runc" delete -f "$id" 2>/dev/null
  done
  # Anything still inside our own cgroups was started by this run.
  for d in $(our_cgroups); do
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  stop_server "$VPROCD_PID" "$TMP/vprocd"
  stop_server "$LXCFS_PID" "$TMP/lxcfs"
  stop_server "$FLOOR_PID" "$TMP/floor"
  stop_server "$VPROCD_DEV_PID" "$TMP/vprocd-dev"
  stop_server "$FLOORU_PID" "$TMP/floor-uring"
  stop_server "$VPROCD_REF_PID" "$TMP/vprocd-ref"
  stop_server "$LXCFS_REF_PID" "$TMP/lxcfs-ref"
  [ -n "$URING_ORIG" ] && echo "$URING_ORIG" >"$URING_KNOB" 2>/dev/null
  sleep 0.2
  # Memory cgroups can stay busy for a moment after their last task exits: retry in rounds.
  for i in $(seq 1 60); do
    left=$(our_cgroups)
    [ -n "$left" ] || break
    rmdir $left 2>/dev/null
    [ -z "$(our_cgroups)" ] || sleep 0.5
  done
  [ -z "$(our_cgroups)" ] || echo "bench: could not remove: $(our_cgroups | tr '\n' ' ')" >&2
  for d in vprocd lxcfs floor vprocd-dev floor-uring vprocd-ref lxcfs-ref; do
    mountpoint -q "$TMP/$d" 2>/dev/null && return
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ---------------------------------------------------------------------------------------
log "building vprocd (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
  { cat "$TMP/cmake.log" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target vprocd >>"$TMP/cmake.log" 2>&1 ||
  { tail -30 "$TMP/cmake.log" >&2; exit 1; }
HOOK=""
if cmake --build "$BUILD" -j"$(nproc)" --target vproc-hook >>"$TMP/cmake.log" 2>&1; then
  HOOK=$(find "$BUILD" -type f -name vproc-hook -perm -u+x | head -n1)
fi
[ -n "$HOOK" ] || { [ -x "$ROOT/build/hook/vproc-hook" ] && HOOK=$ROOT/build/hook/vproc-hook; } || true
VPROCD=$(find "$BUILD" -type f -name vprocd -perm -u+x | head -n1)
RB=$TMP/readbench
g++ -std=c++20 -O2 -Wall -Wextra -o "$RB" "$ROOT/bench/readbench.cpp"
FLOOR=$TMP/fusefloor
# shellcheck disable=SC2046
g++ -std=c++20 -O2 -Wall -Wextra -I"$ROOT" -o "$FLOOR" "$ROOT/bench/fusefloor.cpp" \
  "$ROOT"/fsd/fuse/{uring,uring_proto,uring_ring}.cpp "$ROOT"/lib/core/{parse,text}.cpp "$ROOT"/lib/base/{io,log,sys_error}.cpp \
  -DFUSE_USE_VERSION=312 \
  $(pkg-config --cflags --libs fuse3) -pthread

# --- servers -------------------------------------------------------------------------------------
mkdir -p "$TMP/vprocd" "$TMP/lxcfs" "$TMP/floor" "$TMP/vprocd-dev" "$TMP/floor-uring" \
  "$TMP/vprocd-ref" "$TMP/lxcfs-ref"
# The vprocd under test: io_uring where the kernel has it (--io-uring on turns
# enable_uring on). A second vprocd on /dev/fuse and two floors (section 7)
# show what the transport is worth.
URING_MODE=auto
[ -n "$URING_ORIG" ] && URING_MODE=on
"$VPROCD" --mountpoint "$TMP/vprocd" --registry-dir "$TMP/registry" --io-uring "$URING_MODE" \
  2>"$TMP/vprocd.log" &
VPROCD_PID=$!
for i in $(seq 1 100); do [ -r "$TMP/vprocd/proc/meminfo" ] && break; sleep 0.1; done
[ -r "$TMP/vprocd/proc/meminfo" ] || { cat "$TMP/vprocd.log" >&2; echo "bench: vprocd did not serve" >&2; exit 1; }
"$VPROCD" --mountpoint "$TMP/vprocd-dev" --registry-dir "$TMP/registry-dev" --io-uring off \
  2>"$TMP/vprocd-dev.log" &
VPROCD_DEV_PID=$!
lxcfs -f -l --enable-cfs -p "$TMP/lxcfs.pid" "$TMP/lxcfs" >"$TMP/lxcfs.log" 2>&1 &
LXCFS_PID=$!
# Reference instances for section 3: the same servers with the same options, read only by the
# scale probe, so "1 cgroup" is measured at the same moments as "1000 cgroups".
"$VPROCD" --mountpoint "$TMP/vprocd-ref" --registry-dir "$TMP/registry-ref" --io-uring "$URING_MODE" \
  2>"$TMP/vprocd-ref.log" &
VPROCD_REF_PID=$!
lxcfs -f -l --enable-cfs -p "$TMP/lxcfs-ref.pid" "$TMP/lxcfs-ref" >"$TMP/lxcfs-ref.log" 2>&1 &
LXCFS_REF_PID=$!
"$FLOOR" "$TMP/floor" 2>"$TMP/floor.log" &
FLOOR_PID=$!
FL_SRC=(floor vprocd-dev vprocd)
if [ -n "$URING_ORIG" ]; then
  "$FLOOR" "$TMP/floor-uring" --io-uring 2>"$TMP/floor-uring.log" &
  FLOORU_PID=$!
  FL_SRC=(floor floor-uring vprocd-dev vprocd)
fi
for i in $(seq 1 100); do
  [ -r "$TMP/lxcfs/proc/meminfo" ] && [ -r "$TMP/floor/meminfo" ] && [ -r "$TMP/vprocd-dev/proc/meminfo" ] &&
    [ -r "$TMP/vprocd-ref/proc/meminfo" ] && [ -r "$TMP/lxcfs-ref/proc/meminfo" ] &&
    { [ -z "$FLOORU_PID" ] || [ -r "$TMP/floor-uring/meminfo" ]; } && break
  sleep 0.1
done
if grep -q "io_uring: on" "$TMP/vprocd.log"; then
  TRANSPORT="FUSE over io_uring ($(sed -n 's/.*io_uring: on, \([0-9]*\) rings.*/\1/p' "$TMP/vprocd.log") rings, one per CPU)"
else
  TRANSPORT="/dev/fuse ($(sed -n 's/.*io_uring: off (\(.*\)); .*/\1/p' "$TMP/vprocd.log"))"
fi
log "vprocd transport: $TRANSPORT"
for d in lxcfs lxcfs-ref vprocd-ref; do
  [ -r "$TMP/$d/proc/meminfo" ] || { cat "$TMP/$d.log" >&2; echo "bench: $d did not serve" >&2; exit 1; }
done

path_of() {  # path_of SOURCE FILE
  local base
  case $1 in native) base="" ;; lxcfs) base=$TMP/lxcfs ;; vprocd) base=$TMP/vprocd ;; esac
  if [ "$2" = online ]; then echo "$base/sys/devices/system/cpu/online"
  elif [ "$1" = native ]; then echo "/proc/$2"
  else echo "$base/proc/$2"; fi
}
server_pid() { case $1 in lxcfs) echo "$LXCFS_PID" ;; vprocd) echo "$VPROCD_PID" ;; esac; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }      # utime+stime, all threads, in ticks
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
HZ=$(getconf CLK_TCK)
cpu_pct() { awk -v t="$1" -v s="$2" -v hz="$HZ" 'BEGIN {printf "%.2f", 100 * t / hz / s}'; }
us() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else printf "-"}'; }
field() { sed -n "s/.*[[:space:]]$1=\([^ ]*\).*/\1/p"; }  # field KEY < line

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
GIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Uncommitted changes to the server are named by a hash of their diff, so tables can be told apart.
(cd "$ROOT" && git diff --quiet HEAD -- fsd common 2>/dev/null) ||
  GIT="$GIT+uncommitted:$(cd "$ROOT" && { git diff HEAD -- fsd common; git ls-files -o --exclude-standard fsd common | xargs -r cat; } | sha256sum | cut -c1-8)"

# --- sanity: both virtualizers show the reader's limit ------------------------------------------
for s in lxcfs vprocd; do
  got=$("$RB" show --cgroot "$CGROOT" --cg "$UNIQ-lat" "$(path_of $s meminfo)" | awk '/^MemTotal:/ {print $2}')
  [ "$got" = 262144 ] || { echo "bench: $s shows MemTotal $got kB to a 256 MiB reader, not 262144" >&2; exit 1; }
done
log "lxcfs and vprocd both show MemTotal 262144 kB to a 256 MiB reader"

# --- 1. latency ----------------------------------------------------------------------------------
log "1. latency: $LAT_ITERS reads per file and source, interleaved"
declare -A MED P99 BYTES
for f in "${FILES[@]}"; do
  paths=()
  for s in "${SOURCES[@]}"; do paths+=("$(path_of $s "$f")"); done
  "$RB" lat --cgroot "$CGROOT" --cg "$UNIQ-lat" --iters "$LAT_ITERS" --warmup 100 --batch 50 \
    "${paths[@]}" >"$TMP/lat-$f.out"
  i=0
  for s in "${SOURCES[@]}"; do
    line=$(grep -F "${paths[$i]} " "$TMP/lat-$f.out" | head -n1)
    MED[$s,$f]=$(field median_ns <<<"$line"); P99[$s,$f]=$(field p99_ns <<<"$line")
    BYTES[$s,$f]=$(field bytes <<<"$line")
    [ "$(field errors <<<"$line")" = 0 ] || log "WARNING: $s $f: read errors: $line"
    i=$((i + 1))
  done
  log "  $f: native $(us ${MED[native,$f]}) us, lxcfs $(us ${MED[lxcfs,$f]}) us, vprocd $(us ${MED[vprocd,$f]}) us (median)"
done

# --- 2. throughput -------------------------------------------------------------------------------
log "2. throughput: ${TPUT_PROCS[*]} readers x ${TPUT_SECS}s, ${TPUT_ROUNDS} alternating rounds"
declare -A TPUT SRVCPU
seg=$(awk -v a="$TPUT_SECS" -v b="$TPUT_ROUNDS" 'BEGIN {print a / b}')
# tput_rate N PATH: reads/s of N readers (each in its own cgroup) looping on PATH for one round;
# read errors are logged.
tput_rate() {
  local out
  out=$("$RB" tput --cgroot "$CGROOT" --cg "$UNIQ-tp" --procs "$1" --secs "$seg" "$2")
  [ "$(field errors <<<" $out")" = 0 ] || log "WARNING: $2: read errors: $out"
  field reads_per_s <<<" $out"
}
for f in "${TPUT_FILES[@]}"; do
  for n in "${TPUT_PROCS[@]}"; do
    declare -A sum=() tk=()
    for r in $(seq 1 "$TPUT_ROUNDS"); do
      for s in "${SOURCES[@]}"; do
        pid=$(server_pid $s)
        t0=0; [ -n "$pid" ] && t0=$(ticks "$pid")
        rate=$(tput_rate "$n" "$(path_of $s "$f")")
        [ -n "$pid" ] && tk[$s]=$(( ${tk[$s]:-0} + $(ticks "$pid") - t0 ))
        sum[$s]=$(awk -v a="${sum[$s]:-0}" -v b="$rate" 'BEGIN {print a + b}')
      done
    done
    for s in "${SOURCES[@]}"; do
      TPUT[$s,$f,$n]=$(awk -v a="${sum[$s]}" -v r="$TPUT_ROUNDS" 'BEGIN {printf "%.0f", a / r}')
      # server CPU microseconds per read
      [ $s = native ] || SRVCPU[$s,$f,$n]=$(awk -v t="${tk[$s]}" -v hz="$HZ" -v rate="${TPUT[$s,$f,$n]}" \
        -v secs="$TPUT_SECS" 'BEGIN {printf "%.0f", 1e6 * t / hz / (rate * secs)}')
    done
    log "  $f x$n: native ${TPUT[native,$f,$n]}/s, lxcfs ${TPUT[lxcfs,$f,$n]}/s, vprocd ${TPUT[vprocd,$f,$n]}/s"
    unset sum tk
  done
done

# --- 7. transports and floors: meminfo from minimal libfuse servers and from vprocd, each over
# /dev/fuse and over io_uring ---------------------------------------------------------------------
log "7. FUSE floors vs vprocd, /dev/fuse and io_uring, meminfo"
declare -A FL=()
fl_path() { case $1 in floor*) echo "$TMP/$1/meminfo" ;; *) echo "$TMP/$1/proc/meminfo" ;; esac; }
line=$("$RB" lat --cgroot "$CGROOT" --cg "$UNIQ-lat" --iters "$LAT_ITERS" --warmup 100 --batch 50 \
  $(for src in "${FL_SRC[@]}"; do fl_path "$src"; done) /proc/meminfo)
for src in "${FL_SRC[@]}"; do
  FL[$src,med]=$(grep -F "$(fl_path "$src") " <<<"$line" | field median_ns)
  FL[$src,p99]=$(grep -F "$(fl_path "$src") " <<<"$line" | field p99_ns)
done
FL[native,med]=$(grep -F "/proc/meminfo " <<<"$line" | grep -v "$TMP" | field median_ns)
for n in "${TPUT_PROCS[@]}"; do
  for src in "${FL_SRC[@]}"; do FL[$src,$n]=0; done
  for r in $(seq 1 "$TPUT_ROUNDS"); do
    for src in "${FL_SRC[@]}"; do
      rate=$(tput_rate "$n" "$(fl_path "$src")")
      FL[$src,$n]=$(awk -v a="${FL[$src,$n]}" -v b="$rate" -v r="$TPUT_ROUNDS" 'BEGIN {printf "%.0f", a + b / r}')
    done
  done
done
for src in "${FL_SRC[@]}"; do
  log "  $src: $(us ${FL[$src,med]}) us median; x1/x4/x16 ${FL[$src,1]}/${FL[$src,4]}/${FL[$src,16]} reads/s"
done

# --- 6. syscalls per open (strace -c -f on the server) ---------------------------------------------
SYSC_ITERS=300
declare -A SYS=()
if command -v strace >/dev/null; then
  log "6. syscalls per open: strace -c -f on each server, $SYSC_ITERS opens per file"
  for s in vprocd lxcfs; do
    for f in meminfo stat loadavg online; do
      o=$TMP/strace-$s-$f.txt
      strace -c -f -p "$(server_pid $s)" -o "$o" 2>/dev/null &
      spid=$!
      sleep 1.5  # attach to every thread
      "$RB" lat --cgroot "$CGROOT" --cg "$UNIQ-lat" --iters "$SYSC_ITERS" --warmup 0 --batch "$SYSC_ITERS" \
        "$(path_of $s "$f")" >/dev/null
      sleep 0.3
      kill -INT "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
      # "name calls/open" for the syscalls made at least once per 10 opens, most frequent first
      SYS[$s,$f]=$(awk -v n="$SYSC_ITERS" '$NF != "total" && $1 ~ /^[0-9.]+$/ {
          calls = (NF == 6) ? $4 : $4; if (calls / n >= 0.1) printf "%s %.1f\n", $NF, calls / n }' "$o" |
        sort -k2,2nr | awk '{t += $2; l = l (l ? ", " : "") $1 " " $2} END {printf "%.0f total: %s", t, l}')
    done
  done
else
  log "6. syscalls per open: skipped (no strace)"
fi

# --- 3 + 5. scale and idle -----------------------------------------------------------------------
declare -A SC
# probe SOURCE PHASE: the probe's meminfo latency on SOURCE and on its reference instance,
# interleaved in batches of 50 reads.
probe() {
  local s=$1 ph=$2 main ref out
  main=$(path_of "$s" meminfo); ref=$TMP/$s-ref/proc/meminfo
  out=$("$RB" lat --cgroot "$CGROOT" --cg "$UNIQ-probe" --iters "$PROBE_ITERS" --warmup 100 --batch 50 "$ref" "$main")
  SC[$s,${ph}med]=$(grep -F "$main " <<<"$out" | field median_ns); SC[$s,${ph}p99]=$(grep -F "$main " <<<"$out" | field p99_ns)
  SC[$s,${ph}ref]=$(grep -F "$ref " <<<"$out" | field median_ns)
}
scale_run() {  # scale_run SOURCE
  local s=$1 pid mp t0 t1 e0 e1 line
  pid=$(server_pid "$s")
  # Idle before attaching (the readers of sections 1-2 are gone).
  t0=$(ticks "$pid"); e0=$(now); sleep "$PRE_IDLE_SECS"; t1=$(ticks "$pid"); e1=$(now)
  SC[$s,idle0]=$(cpu_pct $((t1 - t0)) "$(awk -v a="$e1" -v b="$e0" 'BEGIN {print a - b}')")
  SC[$s,rss0]=$(status_kb "$pid" VmRSS)
  # Probe: 1 cgroup.
  probe "$s" p1
  # Attach N sleepers.
  rm -f "$TMP/ctl"; mkfifo "$TMP/ctl"
  "$RB" scale --cgroot "$CGROOT" --cg "$UNIQ-sc" --procs "$SCALE_N" --period-ms 2000 \
    --file "$(path_of $s meminfo)" --once "$(path_of $s loadavg)" <"$TMP/ctl" >"$TMP/scale-$s.out" 2>&1 &
  SCALE_PID=$!
  exec 7>"$TMP/ctl"
  e0=$(now)
  for i in $(seq 1 1800); do grep -q '^ready' "$TMP/scale-$s.out" && break; sleep 0.1; done
  line=$(grep '^ready' "$TMP/scale-$s.out") || { cat "$TMP/scale-$s.out" >&2; echo "bench: sleepers not ready" >&2; exit 1; }
  SC[$s,attach]=$(awk -v a="$(now)" -v b="$e0" 'BEGIN {printf "%.1f", a - b}')
  SC[$s,ok]=$(cut -d' ' -f2 <<<"$line"); SC[$s,err]=$(cut -d' ' -f3 <<<"$line")
  # Periodic load: N readers at one read per 2 s.
  sleep 2
  t0=$(ticks "$pid"); e0=$(now); sleep "$LOAD_SECS"; t1=$(ticks "$pid"); e1=$(now)
  SC[$s,load]=$(cpu_pct $((t1 - t0)) "$(awk -v a="$e1" -v b="$e0" 'BEGIN {print a - b}')")
  # Probe among N cgroups.
  probe "$s" pN
  SC[$s,rss]=$(status_kb "$pid" VmRSS)
  # 5. Idle: sleepers stay attached, stop reading.
  echo quiet >&7
  sleep 3
  t0=$(ticks "$pid"); e0=$(now); sleep "$IDLE_SECS"; t1=$(ticks "$pid"); e1=$(now)
  SC[$s,idle]=$(cpu_pct $((t1 - t0)) "$(awk -v a="$e1" -v b="$e0" 'BEGIN {print a - b}')")
  SC[$s,rssend]=$(status_kb "$pid" VmRSS); SC[$s,hwm]=$(status_kb "$pid" VmHWM)
  # Probe again: N cgroups attached and known to the server, nobody else reading. Against the
  # 1-cgroup probe this isolates the cost of the number of cgroups from the load of their reads.
  probe "$s" pQ
  exec 7>&-
  wait "$SCALE_PID" || true
  SCALE_PID=""
  log "  $s: load ${SC[$s,load]}% CPU, idle ${SC[$s,idle]}% CPU, RSS ${SC[$s,rss]} kB, probe $(us ${SC[$s,p1med]}) -> $(us ${SC[$s,pNmed]}) -> $(us ${SC[$s,pQmed]}) us (reference $(us ${SC[$s,p1ref]}) -> $(us ${SC[$s,pNref]}) -> $(us ${SC[$s,pQref]}) us)"
}
# vprocd first: lxcfs's loadavg thread keeps walking every cgroup it has seen once it has
# seen the 1000, which would load the machine during vprocd's measurement.
log "3+5. scale: $SCALE_N cgroups, meminfo every 2 s; idle ${IDLE_SECS}s"
scale_run vprocd
scale_run lxcfs

# --- 4. hook ---------------------------------------------------------------------------------------
HOOKLINE="skipped: no hook"
if [ -z "$HOOK" ]; then
  log "4. hook: skipped: no hook"
elif ! command -v runc >/dev/null || ! command -v busybox >/dev/null; then
  HOOKLINE="skipped: no runc or busybox"; log "4. hook: $HOOKLINE"
else
  log "4. hook: runc run x$HOOK_REPS with and without $HOOK"
  "$ROOT/scripts/build-rootfs.sh" busybox "$TMP/rootfs" >/dev/null
  mk_bundle() {  # mk_bundle DIR CGROUP HOOKS_JSON
    mkdir -p "$1"
    (cd "$1" && runc spec)
    jq --arg r "$TMP/rootfs" --arg cg "/$2" --argjson h "$3" \
      '.root.path=$r | .root.readonly=false | .process.terminal=false | .process.args=["sh","-c","grep -c fuse /proc/self/mountinfo || true"] |
       .linux.cgroupsPath=$cg | .hooks=$h |
       .linux.resources={"memory":{"limit":268435456},"cpu":{"quota":100000,"period":100000}}' \
      "$1/config.json" >"$1/c.json" && mv "$1/c.json" "$1/config.json"
  }
  hargs() { printf '%s\n' vproc-hook "$@" | jq -R . | jq -cs --arg p "$HOOK" '{path: $p, args: .}'; }
  create=$(hargs --mountpoint "$TMP/vprocd" --registry-dir "$TMP/registry" --log-file "$TMP/hook.log")
  post=$(hargs poststop --registry-dir "$TMP/registry" --log-file "$TMP/hook.log")
  declare -A HT=()
  for i in $(seq 0 "$HOOK_REPS"); do   # round 0 is warm-up
    for mode in without with; do
      id=$UNIQ-runc-$mode-$i
      if [ $mode = with ]; then h="{\"createRuntime\":[$create],\"poststop\":[$post]}"; else h='{}'; fi
      mk_bundle "$TMP/b-$id" "$id" "$h"
      RUNC_IDS+=("$id")
      e0=$(now)
      runc --root "$TMP/runc" run --bundle "$TMP/b-$id" "$id" </dev/null >"$TMP/runc-$id.out" 2>&1 ||
        { cat "$TMP/runc-$id.out" >&2; echo "bench: runc run failed" >&2; exit 1; }
      e1=$(now)
      [ "$i" = 0 ] || HT[$mode]+="$(awk -v a="$e1" -v b="$e0" 'BEGIN {printf "%.1f", 1000 * (a - b)}') "
    done
  done
  median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
  HWITH=$(median <<<"${HT[with]}"); HWITHOUT=$(median <<<"${HT[without]}")
  mounts=$(tr -d '[:space:]' <"$TMP/runc-$UNIQ-runc-with-0.out")
  [ "$mounts" -ge 1 ] 2>/dev/null ||
    log "WARNING: the hooked container saw no FUSE mounts ($mounts); see $TMP/hook.log"
  HOOKLINE="runc run (busybox sh), median of $HOOK_REPS: without hook $HWITHOUT ms, with vproc-hook $HWITH ms, cost $(awk -v a="$HWITH" -v b="$HWITHOUT" 'BEGIN {printf "%.1f", a - b}') ms (the hooked container saw $mounts FUSE mounts)"
  log "  $HOOKLINE"
fi

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report --------------------------------------------------------------------------------------
{
  echo "# vproc benchmark results"
  echo
  echo "- Date: $DATE; vproc $GIT (Release)"
  echo "- Machine: $(nproc) CPUs, $CPU_MODEL, kernel $(uname -r), $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM"
  echo "- Host load average at start: $LOAD_START; at end: $LOAD_END (other work on the host adds noise; ratios are from the same run, sources interleaved)"
  echo "- lxcfs $(lxcfs --version 2>&1 | tail -n1) with \`-l --enable-cfs\`; vprocd with defaults (loadavg on) and \`--io-uring $URING_MODE\`: $TRANSPORT"
  echo "- Readers: each in its own v1 cgroup, memory 256 MiB, cpu quota 1 CPU; both virtualizers show MemTotal 262144 kB"
  echo "- Command (as root, in the checkout): \`$CMD\`"
  echo
  echo "## 1. Single reader: open+read+close latency (µs), $LAT_ITERS reads each"
  echo
  echo "| file | native median | native p99 | lxcfs median | lxcfs p99 | vprocd median | vprocd p99 | vprocd/lxcfs | vprocd/native | bytes n/l/v |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for f in "${FILES[@]}"; do
    echo "| $f | $(us ${MED[native,$f]}) | $(us ${P99[native,$f]}) | $(us ${MED[lxcfs,$f]}) | $(us ${P99[lxcfs,$f]}) | $(us ${MED[vprocd,$f]}) | $(us ${P99[vprocd,$f]}) | $(ratio ${MED[vprocd,$f]} ${MED[lxcfs,$f]}) | $(ratio ${MED[vprocd,$f]} ${MED[native,$f]}) | ${BYTES[native,$f]}/${BYTES[lxcfs,$f]}/${BYTES[vprocd,$f]} |"
  done
  echo
  echo "Ratios are of medians; below 1 means vprocd is faster."
  echo
  echo "## 2. Aggregate throughput (reads/s), each reader process in its own cgroup, ${TPUT_SECS} s"
  echo
  echo "| file | readers | native | lxcfs | vprocd | vprocd/lxcfs | vprocd/native | server CPU µs/read lxcfs | vprocd |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for f in "${TPUT_FILES[@]}"; do
    for n in "${TPUT_PROCS[@]}"; do
      echo "| $f | $n | ${TPUT[native,$f,$n]} | ${TPUT[lxcfs,$f,$n]} | ${TPUT[vprocd,$f,$n]} | $(ratio ${TPUT[vprocd,$f,$n]} ${TPUT[lxcfs,$f,$n]}) | $(ratio ${TPUT[vprocd,$f,$n]} ${TPUT[native,$f,$n]}) | ${SRVCPU[lxcfs,$f,$n]} | ${SRVCPU[vprocd,$f,$n]} |"
    done
  done
  echo
  echo "Ratios above 1 mean vprocd is faster. Server CPU is utime+stime of the server process over its rounds divided by its reads (tick resolution 1/$HZ s)."
  echo
  echo "## 3 and 5. Scale: $SCALE_N cgroups, one sleeper process each (loadavg once, then meminfo every 2 s)"
  echo
  echo "| | lxcfs | vprocd |"
  echo "|---|---:|---:|"
  echo "| time to attach $SCALE_N sleepers (s) | ${SC[lxcfs,attach]} | ${SC[vprocd,attach]} |"
  echo "| sleepers whose first reads succeeded | ${SC[lxcfs,ok]}/$SCALE_N | ${SC[vprocd,ok]}/$SCALE_N |"
  echo "| server CPU % of one core, idle before attaching (${PRE_IDLE_SECS} s) | ${SC[lxcfs,idle0]} | ${SC[vprocd,idle0]} |"
  echo "| server CPU % while $SCALE_N cgroups read (${LOAD_SECS} s, ~$((SCALE_N / 2)) reads/s) | ${SC[lxcfs,load]} | ${SC[vprocd,load]} |"
  echo "| **idle: server CPU % with $SCALE_N attached, nobody reading (${IDLE_SECS} s)** | ${SC[lxcfs,idle]} | ${SC[vprocd,idle]} |"
  echo "| RSS before attaching (MiB) | $(awk -v k=${SC[lxcfs,rss0]} 'BEGIN {printf "%.1f", k / 1024}') | $(awk -v k=${SC[vprocd,rss0]} 'BEGIN {printf "%.1f", k / 1024}') |"
  echo "| RSS with $SCALE_N attached (MiB) | $(awk -v k=${SC[lxcfs,rss]} 'BEGIN {printf "%.1f", k / 1024}') | $(awk -v k=${SC[vprocd,rss]} 'BEGIN {printf "%.1f", k / 1024}') |"
  echo "| peak RSS, VmHWM (MiB) | $(awk -v k=${SC[lxcfs,hwm]} 'BEGIN {printf "%.1f", k / 1024}') | $(awk -v k=${SC[vprocd,hwm]} 'BEGIN {printf "%.1f", k / 1024}') |"
  echo "| probe meminfo median before attaching: server / reference (µs) | $(us ${SC[lxcfs,p1med]}) / $(us ${SC[lxcfs,p1ref]}) | $(us ${SC[vprocd,p1med]}) / $(us ${SC[vprocd,p1ref]}) |"
  echo "| probe meminfo median, $SCALE_N cgroups reading: server / reference (µs) | $(us ${SC[lxcfs,pNmed]}) / $(us ${SC[lxcfs,pNref]}) | $(us ${SC[vprocd,pNmed]}) / $(us ${SC[vprocd,pNref]}) |"
  echo "| probe meminfo median, $SCALE_N cgroups attached, quiet: server / reference (µs) | $(us ${SC[lxcfs,pQmed]}) / $(us ${SC[lxcfs,pQref]}) | $(us ${SC[vprocd,pQmed]}) / $(us ${SC[vprocd,pQref]}) |"
  echo "| **ratio $SCALE_N reading / 1 cgroup (medians, same moments)** | $(ratio ${SC[lxcfs,pNmed]} ${SC[lxcfs,pNref]}) | $(ratio ${SC[vprocd,pNmed]} ${SC[vprocd,pNref]}) |"
  echo "| **ratio $SCALE_N quiet / 1 cgroup (medians, same moments)** | $(ratio ${SC[lxcfs,pQmed]} ${SC[lxcfs,pQref]}) | $(ratio ${SC[vprocd,pQmed]} ${SC[vprocd,pQref]}) |"
  echo "| ratio $SCALE_N reading / before attaching, same server (medians, minutes apart) | $(ratio ${SC[lxcfs,pNmed]} ${SC[lxcfs,p1med]}) | $(ratio ${SC[vprocd,pNmed]} ${SC[vprocd,p1med]}) |"
  echo "| ratio $SCALE_N quiet / before attaching, same server (medians, minutes apart) | $(ratio ${SC[lxcfs,pQmed]} ${SC[lxcfs,p1med]}) | $(ratio ${SC[vprocd,pQmed]} ${SC[vprocd,p1med]}) |"
  echo "| probe meminfo p99, before -> $SCALE_N reading -> quiet (µs) | $(us ${SC[lxcfs,p1p99]}) -> $(us ${SC[lxcfs,pNp99]}) -> $(us ${SC[lxcfs,pQp99]}) | $(us ${SC[vprocd,p1p99]}) -> $(us ${SC[vprocd,pNp99]}) -> $(us ${SC[vprocd,pQp99]}) |"
  echo
  echo "The probe ($PROBE_ITERS back-to-back reads in its own cgroup) runs right before the sleepers attach, while they read (~$((SCALE_N / 2)) reads/s of background load on the server), and after the idle window while they stay attached but quiet (the number of cgroups alone). Each time it takes turns, in batches of 50 reads, between the server under test and a reference instance of the same server with the same options that only the probe reads: the reference's median is the 1-cgroup figure at the same moments, so load from other tenants of the host hits both alike. The before-attaching figures are minutes away from the others and move with that load."
  echo
  echo "## 4. Hook cost on runc run"
  echo
  echo "$HOOKLINE"
  echo
  echo "## 6. Server syscalls per open+read+close (strace -c -f, $SYSC_ITERS opens, one reader)"
  echo
  if [ ${#SYS[@]} = 0 ]; then echo "skipped: no strace"; else
    echo "| server | file | syscalls per open (calls made at least once per 10 opens) |"
    echo "|---|---|---|"
    for s in vprocd lxcfs; do for f in meminfo stat loadavg online; do echo "| $s | $f | ${SYS[$s,$f]} |"; done; done
    echo
    echo "For a FUSE server, \`read\`/\`writev\` on /dev/fuse count the requests (OPEN, READ, READ at EOF, RELEASE); over io_uring one \`io_uring_enter\` commits a reply and waits for the next request. lxcfs's count also includes its own file reads."
  fi
  echo
  echo "## 7. Transports: minimal FUSE servers (floors) and vprocd, over /dev/fuse and over io_uring, meminfo"
  echo
  echo "| meminfo | native | floor /dev/fuse | floor io_uring | vprocd /dev/fuse | vprocd io_uring | vprocd: io_uring / /dev/fuse |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  flu() { if [ -n "${FL[floor-uring,$1]:-}" ]; then $2 "${FL[floor-uring,$1]}"; else echo -; fi; }
  echo "| latency median (µs) | $(us ${FL[native,med]}) | $(us ${FL[floor,med]}) | $(flu med us) | $(us ${FL[vprocd-dev,med]}) | $(us ${FL[vprocd,med]}) | $(ratio ${FL[vprocd,med]} ${FL[vprocd-dev,med]}) |"
  echo "| latency p99 (µs) | | $(us ${FL[floor,p99]}) | $(flu p99 us) | $(us ${FL[vprocd-dev,p99]}) | $(us ${FL[vprocd,p99]}) | $(ratio ${FL[vprocd,p99]} ${FL[vprocd-dev,p99]}) |"
  for n in "${TPUT_PROCS[@]}"; do
    echo "| reads/s, $n reader(s) | | ${FL[floor,$n]} | $(flu "$n" echo) | ${FL[vprocd-dev,$n]} | ${FL[vprocd,$n]} | $(ratio ${FL[vprocd,$n]} ${FL[vprocd-dev,$n]}) |"
  done
  echo
  echo "The floors (bench/fusefloor.cpp: libfuse 3 low-level, direct_io, a per-open copy of a fixed text, 8 kept worker threads; with \`--io-uring\` through vprocd's ring transport) pay OPEN, READ, READ at EOF and RELEASE and do nothing else: what vprocd spends above the floor of its transport is its own work. \"vprocd io_uring\" is the vprocd of sections 1-6 ($TRANSPORT); \"vprocd /dev/fuse\" is the same binary with \`--io-uring off\`. Over /dev/fuse a request usually wakes a worker on the other CPU; over io_uring it goes to the ring of the reader's CPU, whose thread is pinned there."
  echo
  echo "## Goals (issue 5)"
  echo
  echo "| goal | measured | met |"
  echo "|---|---|---|"
  for f in meminfo stat; do
    for n in 1 4; do
      r=$(ratio ${TPUT[vprocd,$f,$n]} ${TPUT[lxcfs,$f,$n]})
      echo "| throughput ≥ 4x lxcfs, $f, $n reader(s) | ${r}x | $(awk -v r="$r" 'BEGIN {print (r >= 4) ? "yes" : "no"}') |"
    done
  done
  r=$(ratio ${MED[vprocd,meminfo]} ${MED[native,meminfo]})
  echo "| moonshot: meminfo median ≤ 4x native | ${r}x | $(awk -v r="$r" 'BEGIN {print (r <= 4) ? "yes" : "no"}') |"
  r=$(ratio ${SC[vprocd,pNmed]} ${SC[vprocd,pNref]})
  echo "| $SCALE_N cgroups reading: latency ≤ 1.2x 1-cgroup (reference, same moments) | ${r}x | $(awk -v r="$r" 'BEGIN {print (r <= 1.2) ? "yes" : "no"}') |"
  r=$(ratio ${SC[vprocd,pQmed]} ${SC[vprocd,pQref]})
  echo "| $SCALE_N cgroups attached, quiet: latency ≤ 1.2x 1-cgroup (reference, same moments) | ${r}x | $(awk -v r="$r" 'BEGIN {print (r <= 1.2) ? "yes" : "no"}') |"
  echo "| $SCALE_N cgroups: RSS ≤ 32 MiB | $(awk -v k=${SC[vprocd,hwm]} 'BEGIN {printf "%.1f", k / 1024}') MiB peak | $(awk -v k=${SC[vprocd,hwm]} 'BEGIN {print (k <= 32768) ? "yes" : "no"}') |"
  echo "| idle CPU ≤ 1% of a core, loadavg on | ${SC[vprocd,idle]}% | $(awk -v r="${SC[vprocd,idle]}" 'BEGIN {print (r <= 1) ? "yes" : "no"}') |"
} >"$TMP/results.md"

cat "$TMP/results.md"
cp "$TMP/results.md" "$OUT"
log "wrote $OUT"
