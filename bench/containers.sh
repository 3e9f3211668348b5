#!/usr/bin/env bash
# /proc/meminfo read inside runc containers: native vs vprocd's container view vs vprocd's
# per-reader files vs lxcfs vs a minimal FUSE server, side by side in one run; then vprocd with
# 1000 registered containers (bench/view_scale.sh). The README's performance table is this run's.
#
#   sudo bench/containers.sh            full run (~8 min): writes bench/RESULTS-containers.md
#   sudo bench/containers.sh --quick    ~1.5 min smoke run (100 containers for the scale step):
#                                       bench/RESULTS-containers-quick.md
#
# Needs root, /dev/fuse, runc, jq, busybox (busybox-static), lxcfs (5.0.3 on Debian 12) and a
# static libc for g++ -static. Builds vprocd and vproc-hook in Release into build-bench/
# (override with VPROC_BENCH_BUILD=DIR), compiles bench/cread.cpp statically into a busybox
# rootfs (scripts/build-rootfs.sh), and starts under a temp dir its own vprocd
# (--container-view, so it also serves REGISTRY_DIR/view) and its own lxcfs
# (-l --enable-cfs). Everything it made is undone at exit by name or pid: its containers
# (runc with a private --root), its runc processes, its servers and their mounts, its cgroups
# (named vcbench-<pid>-*). It touches no other mount, process or cgroup.
#
# Sources, each container started with `runc run`, limited to 256 MiB and 1 CPU of quota
# (100000/100000, as bench/run.sh's readers):
#   native  no hook: the kernel's /proc/meminfo
#   view    vproc-hook --view container (the default) at createRuntime: the container's own
#           file from REGISTRY_DIR/view/<pid>-<start>/, served by the page cache (no OPEN, no
#           READ while the attributes are valid, at most one rendering per
#           --view-max-age-ms = 100)
#   reader  vproc-hook --view reader: the per-reader file of vprocd's mountpoint,
#           an OPEN, READs and a rendering per open, over /dev/fuse (--io-uring off)
#   ureader the same from a second vprocd with --io-uring on (FUSE over io_uring, Linux
#           >= 6.14: it turns the fuse module's enable_uring on; put back at exit), when the
#           kernel has it
#   lxcfs   lxcfs's proc/meminfo bind-mounted over /proc/meminfo in config.json
#   floor   the minimal one-thread FUSE server of a fixed text (bench/fusefloor.cpp --one-thread:
#           direct_io, OPEN, READ, READ at EOF, RELEASE, one thread, as noopen_proto mode 0 of
#           ../shared/proto does), its meminfo bind-mounted over /proc/meminfo: the floor the
#           per-reader path is measured against (issue 16: within 0.8x of it)
#   proto   ../shared/proto/noopen_proto.c itself in mode 0 (VPROC_NOOPEN_PROTO=FILE.c to point
#           elsewhere), when that file is there: the same floor, from its original
# Each container runs bench/cread: it reads the file once and reports MemTotal and the mount
# behind /proc/meminfo (checked here: 262144 kB for the virtualized sources; the view's mount
# root is /<pid>-<start>/...), waits for a go file that the harness creates once every container
# of the batch is ready, then loops open+read-to-EOF+close for SECS seconds and prints its count
# and median/p99 latency. A batch is 1 or 4 containers reading at once; the sources take turns
# in rounds (the order rotates each round) and each figure is from the round with the median
# aggregate reads/s. A warm-up round (1 container per source, not reported) comes first.
#
# Server CPU: utime+stime of the server process (/proc/PID/stat, ticks) and, at nanosecond
# resolution, the usage of a cpuacct cgroup holding only the server, from the go file until the
# last container reported; summed over the rounds and divided by the reads.
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
  SECS=1; ROUNDS=1; OUT=$ROOT/bench/RESULTS-containers-quick.md; CMD="bench/containers.sh --quick"
  SCALE_N=100
else
  SECS=3; ROUNDS=3; OUT=$ROOT/bench/RESULTS-containers.md; CMD="bench/containers.sh"
  SCALE_N=1000
fi
WARM_SECS=0.5
CGROOT=/sys/fs/cgroup
UNIQ=vcbench-$$
SOURCES=(native view reader lxcfs floor)
PROTO_C=${VPROC_NOOPEN_PROTO:-$ROOT/../shared/proto/noopen_proto.c}
[ -f "$PROTO_C" ] && SOURCES+=(proto)
COUNTS=(1 4)
MEM_LIMIT=268435456

[ "$(id -u)" = 0 ] || { echo "containers: run as root" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "containers: /dev/fuse missing" >&2; exit 1; }
for c in runc jq busybox lxcfs g++ cmake; do
  command -v $c >/dev/null || { echo "containers: $c not installed" >&2; exit 1; }
done

log() { printf '[containers %s] %s\n' "$(date -u +%T)" "$*" >&2; }
WARNINGS=()
warn() { WARNINGS+=("$*"); log "WARNING: $*"; }

# --- cleanup: only what this run created -------------------------------------------------------
TMP=$(mktemp -d /tmp/vproc-cbench.XXXXXX)
VPROCD_PID=""; LXCFS_PID=""; FLOOR_PID=""; PROTO_PID=""; VPROCDU_PID=""; RUNC_IDS=(); RUNC_PIDS=()
MP=$TMP/mp; REG=$TMP/reg; LXMP=$TMP/lxcfs; FLMP=$TMP/floor; PRMP=$TMP/proto; MPU=$TMP/mpu; REGU=$TMP/regu
URING_KNOB=/sys/module/fuse/parameters/enable_uring
URING_ORIG=$(cat "$URING_KNOB" 2>/dev/null || true)

our_cgroups() { ls -d "$CGROOT"/*/"$UNIQ"-* "$CGROOT/$UNIQ"-* 2>/dev/null || true; }

stop_server() {  # stop_server PID MOUNTPOINT...
  local pid=$1 mp i
  shift
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  # By mountinfo, not mountpoint(1): a server that died without unmounting
  # (noopen_proto has no signal handlers) leaves a mount that cannot be stat'ed.
  for mp in "$@"; do
    if awk -v m="$mp" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; then
      umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    fi
  done
}

cleanup() {
  set +e
  local id p d i left
  for id in "${RUNC_IDS[@]}"; do
    runc --root "$TMP/runc" kill "$id" KILL 2>/dev/null
    runc --root "$TMP/runc" delete -f "$id" 2>/dev/null
  done
  for p in "${RUNC_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    for i in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  # Anything still in a container cgroup of ours was started by this run (the servers' own
  # cgroups are left to stop_server).
  for d in $(our_cgroups); do
    case $d in *-vprocd | *-vprocdu | *-lxcfs | *-floor | *-proto) continue ;; esac
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  stop_server "$VPROCD_PID" "$REG/view" "$MP"
  stop_server "$LXCFS_PID" "$LXMP"
  stop_server "$FLOOR_PID" "$FLMP"
  stop_server "$PROTO_PID" "$PRMP"
  stop_server "$VPROCDU_PID" "$MPU"
  [ -z "$URING_ORIG" ] || echo "$URING_ORIG" >"$URING_KNOB" 2>/dev/null
  for i in $(seq 1 40); do
    left=$(our_cgroups)
    [ -n "$left" ] || break
    rmdir $left 2>/dev/null
    [ -z "$(our_cgroups)" ] || sleep 0.25
  done
  [ -z "$(our_cgroups)" ] || echo "containers: could not remove: $(our_cgroups | tr '\n' ' ')" >&2
  for d in "$REG/view" "$MP" "$LXMP" "$FLMP" "$PRMP" "$MPU"; do
    awk -v m="$d" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo && return
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------------------------------
log "building vprocd and vproc-hook (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
  { cat "$TMP/cmake.log" >&2; exit 1; }
cmake --build "$BUILD" -j2 --target vprocd vproc-hook >>"$TMP/cmake.log" 2>&1 ||
  { tail -30 "$TMP/cmake.log" >&2; exit 1; }
VPROCD=$(find "$BUILD" -type f -name vprocd -perm -u+x | head -n1)
HOOK=$(find "$BUILD" -type f -name vproc-hook -perm -u+x | head -n1)
[ -n "$VPROCD" ] && [ -n "$HOOK" ] || { echo "containers: vprocd or vproc-hook not built" >&2; exit 1; }
ROOTFS=$TMP/rootfs
"$ROOT/scripts/build-rootfs.sh" busybox "$ROOTFS"
mkdir -p "$ROOTFS/sync"
g++ -std=c++20 -O2 -static -Wall -Wextra -o "$ROOTFS/cread" "$ROOT/bench/cread.cpp"
FLOOR=$TMP/fusefloor
# shellcheck disable=SC2046
g++ -std=c++20 -O2 -Wall -Wextra -I"$ROOT" -o "$FLOOR" "$ROOT/bench/fusefloor.cpp" \
  "$ROOT"/fsd/fuse/{uring,uring_proto,uring_ring}.cpp "$ROOT"/lib/core/{parse,text}.cpp \
  "$ROOT"/lib/base/{io,log,sys_error}.cpp -DFUSE_USE_VERSION=312 $(pkg-config --cflags --libs fuse3) -pthread
if [ -f "$PROTO_C" ]; then
  # shellcheck disable=SC2046
  gcc -O2 -o "$TMP/noopen_proto" "$PROTO_C" $(pkg-config --cflags --libs fuse3) -lpthread
fi

# --- servers, each alone in a cpuacct cgroup of its own -------------------------------------------
# cgroup v1 (cpuacct.usage, ns) or v2 (cpu.stat usage_usec).
if [ -e "$CGROOT/cpuacct/cgroup.procs" ]; then ACCT=$CGROOT/cpuacct; else ACCT=$CGROOT; fi
# in_acct_cgroup NAME CMD... &: CMD inside cgroup $UNIQ-NAME, keeping the background job's pid.
in_acct_cgroup() {
  local cg=$ACCT/$UNIQ-$1
  shift
  mkdir -p "$cg"
  exec sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@"
}
cpu_ns() {  # cpu_ns NAME: CPU time of cgroup $UNIQ-NAME in ns
  local cg=$ACCT/$UNIQ-$1
  if [ -e "$cg/cpuacct.usage" ]; then cat "$cg/cpuacct.usage"
  else awk '$1 == "usage_usec" {print $2 * 1000}' "$cg/cpu.stat"; fi
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime+stime, all threads, in ticks
HZ=$(getconf CLK_TCK)

mkdir -p "$MP" "$REG" "$LXMP" "$FLMP" "$PRMP" "$MPU" "$REGU" "$TMP/out" "$TMP/b" "$TMP/sync"
# The per-reader files over /dev/fuse: enable_uring off while this vprocd mounts.
[ -z "$URING_ORIG" ] || echo N >"$URING_KNOB"
in_acct_cgroup vprocd "$VPROCD" --mountpoint "$MP" --registry-dir "$REG" \
  --container-view --view-max-age-ms 100 --io-uring off 2>"$TMP/vprocd.log" &
VPROCD_PID=$!
in_acct_cgroup lxcfs lxcfs -f -l --enable-cfs -p "$TMP/lxcfs.pid" "$LXMP" >"$TMP/lxcfs.log" 2>&1 &
LXCFS_PID=$!
in_acct_cgroup floor "$FLOOR" "$FLMP" --one-thread 2>"$TMP/floor.log" &
FLOOR_PID=$!
if [ -f "$PROTO_C" ]; then
  in_acct_cgroup proto "$TMP/noopen_proto" "$PRMP" 0 2>"$TMP/proto.log" &
  PROTO_PID=$!
fi
for i in $(seq 1 100); do
  [ -r "$MP/proc/meminfo" ] && mountpoint -q "$REG/view" && [ -r "$LXMP/proc/meminfo" ] && break
  sleep 0.1
done
[ -r "$MP/proc/meminfo" ] && mountpoint -q "$REG/view" ||
  { cat "$TMP/vprocd.log" >&2; echo "containers: vprocd does not serve $MP and $REG/view" >&2; exit 1; }
[ -r "$LXMP/proc/meminfo" ] || { cat "$TMP/lxcfs.log" >&2; echo "containers: lxcfs does not serve" >&2; exit 1; }
for i in $(seq 1 50); do [ -r "$FLMP/meminfo" ] && break; sleep 0.1; done
[ -r "$FLMP/meminfo" ] || { cat "$TMP/floor.log" >&2; echo "containers: fusefloor does not serve" >&2; exit 1; }
if [ -n "$PROTO_PID" ]; then
  for i in $(seq 1 50); do [ -r "$PRMP/f" ] && break; sleep 0.1; done
  [ -r "$PRMP/f" ] || { cat "$TMP/proto.log" >&2; echo "containers: noopen_proto does not serve" >&2; exit 1; }
fi
TRANSPORT=$(grep -o 'io_uring: [a-z]*' "$TMP/vprocd.log" | head -n1 || true)
log "vprocd $VPROCD_PID (${TRANSPORT:-transport not logged}), lxcfs $LXCFS_PID"
# A second vprocd, per-reader files only, over io_uring (it turns enable_uring on).
if [ -n "$URING_ORIG" ]; then
  in_acct_cgroup vprocdu "$VPROCD" --mountpoint "$MPU" --registry-dir "$REGU" --no-container-view \
    --io-uring on 2>"$TMP/vprocdu.log" &
  VPROCDU_PID=$!
  for i in $(seq 1 100); do grep -q 'io_uring: on' "$TMP/vprocdu.log" && break; sleep 0.1; done
fi
if [ -n "$VPROCDU_PID" ] && grep -q 'io_uring: on' "$TMP/vprocdu.log"; then
  SOURCES+=(ureader)
  log "vprocd over io_uring $VPROCDU_PID"
else
  warn "no FUSE over io_uring here: the ureader source is left out ($(tail -n1 "$TMP/vprocdu.log" 2>/dev/null))"
fi

# --- containers ------------------------------------------------------------------------------------
(cd "$TMP" && runc spec)
mv "$TMP/config.json" "$TMP/spec.json"
hook_entry() { printf '%s\n' vproc-hook "$@" | jq -R . | jq -cs --arg p "$HOOK" '{path: $p, args: .}'; }
hooks_for() {  # hooks_for SOURCE: the config.json "hooks" object
  local view=reader mp=$MP reg=$REG
  case $1 in
    view | reader | ureader)
      [ "$1" != view ] || view=container
      [ "$1" != ureader ] || { mp=$MPU; reg=$REGU; }
      printf '{"createRuntime":[%s],"poststop":[%s]}' \
        "$(hook_entry --view "$view" --mountpoint "$mp" --registry-dir "$reg" --log-file "$TMP/hook.log")" \
        "$(hook_entry poststop --registry-dir "$reg" --log-file "$TMP/hook.log")" ;;
    *) echo '{}' ;;
  esac
}
mounts_for() {  # mounts_for SOURCE SYNC_DIR: extra config.json mounts
  local m
  m=$(jq -cn --arg s "$2" '[{destination: "/sync", type: "bind", source: $s, options: ["rbind", "ro"]}]')
  local over=""
  case $1 in
    lxcfs) over=$LXMP/proc/meminfo ;;
    floor) over=$FLMP/meminfo ;;
    proto) over=$PRMP/f ;;
  esac
  if [ -n "$over" ]; then
    m=$(jq -c --arg s "$over" \
      '. + [{destination: "/proc/meminfo", type: "bind", source: $s, options: ["bind", "ro"]}]' <<<"$m")
  fi
  echo "$m"
}
mk_bundle() {  # mk_bundle ID SOURCE SYNC_DIR SECS
  mkdir -p "$TMP/b/$1"
  jq --arg r "$ROOTFS" --arg cg "/$1" --arg secs "$4" --argjson h "$(hooks_for "$2")" \
    --argjson m "$(mounts_for "$2" "$3")" --argjson mem "$MEM_LIMIT" \
    '.root.path = $r | .root.readonly = true | .process.terminal = false |
     .process.args = ["/cread", "/proc/meminfo", $secs, "/sync/go"] | .hostname = "vcbench" |
     .linux.cgroupsPath = $cg | .hooks = $h | .mounts += $m |
     .linux.resources.memory = {limit: $mem} | .linux.resources.cpu = {quota: 100000, period: 100000}' \
    "$TMP/spec.json" >"$TMP/b/$1/config.json"
}

# wait_lines PREFIX TIMEOUT_S ID...: until every container's output has a line starting with
# PREFIX; fails (printing the outputs) on timeout or when a runc exits without it.
wait_lines() {
  local prefix=$1 deadline id missing
  deadline=$(($(date +%s) + $2))
  shift 2
  while :; do
    missing=0
    for id in "$@"; do grep -q "^$prefix " "$TMP/out/$id" 2>/dev/null || missing=1; done
    [ $missing = 1 ] || return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      for id in "$@"; do echo "--- $id" >&2; cat "$TMP/out/$id" >&2; done
      [ ! -s "$TMP/hook.log" ] || { echo "--- hook.log" >&2; tail -n5 "$TMP/hook.log" >&2; }
      echo "containers: no '$prefix' line from every container within the timeout" >&2
      exit 1
    fi
    sleep 0.05
  done
}
server_of() {
  case $1 in view | reader) echo vprocd ;; ureader) echo vprocdu ;; lxcfs | floor | proto) echo "$1" ;; *) echo "" ;; esac
}
server_pid() {
  case $1 in
    vprocd) echo "$VPROCD_PID" ;; vprocdu) echo "$VPROCDU_PID" ;; lxcfs) echo "$LXCFS_PID" ;;
    floor) echo "$FLOOR_PID" ;; proto) echo "$PROTO_PID" ;;
  esac
}
field() { sed -n "s/.*[[:space:]]$1=\([^ ]*\).*/\1/p"; }  # field KEY < line
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A RATE MED P99 CPUNS TICKS READS WALL CHK_OK CHK_N ROOTS
# check_ready SOURCE ID: what the container saw before reading (MemTotal, the mount behind
# /proc/meminfo) against what the source should show.
check_ready() {
  local s=$1 id=$2 line mem root fs want_fs=""
  line=" $(grep '^ready ' "$TMP/out/$id")"
  mem=$(field memtotal_kb <<<"$line"); root=$(field mount_root <<<"$line"); fs=$(field mount_fs <<<"$line")
  ROOTS[$s]="$root ($fs)"
  CHK_N[$s]=$((${CHK_N[$s]:-0} + 1))
  case $s in
    native) [ "$root" = - ] && CHK_OK[$s]=$((${CHK_OK[$s]:-0} + 1)) ||
      warn "$id: /proc/meminfo is a mount ($root, $fs) in the native container"; return ;;
    view | reader | ureader) want_fs=fuse.vprocd ;;
    lxcfs) want_fs=fuse.lxcfs ;;
    floor | proto)
      # A fixed text, not virtualized: only the mount behind /proc/meminfo is checked.
      [ "$fs" = fuse ] && CHK_OK[$s]=$((${CHK_OK[$s]:-0} + 1)) ||
        warn "$id ($s): /proc/meminfo is $fs ($root), not the minimal server's (fuse)"
      return ;;
  esac
  local ok=1
  [ "$mem" = 262144 ] || { ok=0; warn "$id ($s): MemTotal $mem kB, not 262144"; }
  [ "$fs" = "$want_fs" ] || { ok=0; warn "$id ($s): /proc/meminfo is $fs ($root), not $want_fs"; }
  if [ "$s" = view ] && ! [[ $root =~ ^/[0-9]+-[0-9]+/proc/meminfo$ ]]; then
    ok=0; warn "$id (view): mount root $root is not REG/view's /<pid>-<start>/proc/meminfo"
  fi
  if [ "$s" != view ] && [ "$root" != /proc/meminfo ]; then
    ok=0; warn "$id (reader): mount root $root is not the per-reader /proc/meminfo"
  fi
  [ $ok = 0 ] || CHK_OK[$s]=$((${CHK_OK[$s]:-0} + 1))
}

# run_batch SOURCE N ROUND SECS: N containers of SOURCE read at once for SECS; records
# RATE/MED/P99 (and the server's CPU) under SOURCE,N,ROUND.
run_batch() {
  local s=$1 n=$2 r=$3 secs=$4 b="$1-r$3-n$2" ids=() pids=() id i srv pid k
  local c0 c1 t0 t1 e0 e1 rate=0 meds="" p99s="" reads=0 line
  mkdir -p "$TMP/sync/$b"
  for i in $(seq 1 "$n"); do
    id=$UNIQ-$b-$i
    mk_bundle "$id" "$s" "$TMP/sync/$b" "$secs"
    RUNC_IDS+=("$id"); ids+=("$id")
    runc --root "$TMP/runc" run --bundle "$TMP/b/$id" "$id" </dev/null >"$TMP/out/$id" 2>&1 &
    RUNC_PIDS+=($!); pids+=($!)
  done
  wait_lines ready 60 "${ids[@]}"
  for id in "${ids[@]}"; do check_ready "$s" "$id"; done
  srv=$(server_of "$s"); pid=$(server_pid "$srv")
  c0=0; t0=0; [ -z "$srv" ] || { c0=$(cpu_ns "$srv"); t0=$(ticks "$pid"); }
  e0=$(date +%s.%N)
  touch "$TMP/sync/$b/go"
  sleep "$secs"  # no polling (forks of grep) while the containers read
  wait_lines result $((${secs%.*} + 60)) "${ids[@]}"
  e1=$(date +%s.%N)
  c1=0; t1=0; [ -z "$srv" ] || { c1=$(cpu_ns "$srv"); t1=$(ticks "$pid"); }
  for i in "${pids[@]}"; do wait "$i" || true; done
  for id in "${ids[@]}"; do
    line=" $(grep '^result ' "$TMP/out/$id")"
    [ "$(field errors <<<"$line")" = 0 ] || warn "$id ($s): read errors:$line"
    rate=$(awk -v a="$rate" -v n="$(field reads <<<"$line")" -v t="$(field secs <<<"$line")" 'BEGIN {print a + n / t}')
    reads=$((reads + $(field reads <<<"$line")))
    meds+="$(field median_ns <<<"$line")"$'\n'; p99s+="$(field p99_ns <<<"$line")"$'\n'
  done
  k="$s,$n,$r"
  RATE[$k]=$(printf '%.0f' "$rate"); READS[$k]=$reads
  MED[$k]=$(sed '/^$/d' <<<"$meds" | median); P99[$k]=$(sed '/^$/d' <<<"$p99s" | median)
  CPUNS[$k]=$((c1 - c0)); TICKS[$k]=$((t1 - t0))
  WALL[$k]=$(awk -v a="$e1" -v b="$e0" 'BEGIN {print a - b}')
}

# --- run -------------------------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
GIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
(cd "$ROOT" && git diff --quiet HEAD -- fsd hook lib 2>/dev/null) || GIT="$GIT+uncommitted"

log "warm-up: 1 container per source, ${WARM_SECS}s"
for s in "${SOURCES[@]}"; do run_batch "$s" 1 0 "$WARM_SECS"; done
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round so no source always follows the same one.
  order=("${SOURCES[@]:$(((r - 1) % ${#SOURCES[@]}))}" "${SOURCES[@]:0:$(((r - 1) % ${#SOURCES[@]}))}")
  for n in "${COUNTS[@]}"; do
    for s in "${order[@]}"; do
      run_batch "$s" "$n" "$r" "$SECS"
      k="$s,$n,$r"
      log "round $r/$ROUNDS, $n x $s: ${RATE[$k]} reads/s, median $(awk -v n="${MED[$k]}" 'BEGIN {printf "%.1f", n / 1000}') us"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- scale: vprocd with SCALE_N registered containers (its own vprocd; ours is stopped first) ---
stop_server "$VPROCD_PID" "$REG/view" "$MP"
VPROCD_PID=""
log "scale: bench/view_scale.sh $SCALE_N"
VSCALE_OUT=$TMP/vscale.md VSCALE_FIGURES=$TMP/vscale.env VPROC_BENCH_BUILD=$BUILD \
  "$ROOT/bench/view_scale.sh" "$SCALE_N" >"$TMP/vscale.log" 2>&1 ||
  { cat "$TMP/vscale.log" >&2; echo "containers: bench/view_scale.sh failed" >&2; exit 1; }
scale() { sed -n "s/^$1=//p" "$TMP/vscale.env"; }

# --- report ----------------------------------------------------------------------------------------
us() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else printf "-"}'; }
label() {
  case $1 in
    native) echo "native (no hook)" ;;
    view) echo "vproc view (\`--view container\`)" ;;
    reader) echo "vproc per-reader (\`--view reader\`)" ;;
    ureader) echo "vproc per-reader over io_uring (\`--io-uring on\`)" ;;
    lxcfs) echo "lxcfs" ;;
    floor) echo "minimal one-thread server (fusefloor \`--one-thread\`)" ;;
    proto) echo "noopen_proto mode 0" ;;
  esac
}
declare -A PICK
for s in "${SOURCES[@]}"; do
  for n in "${COUNTS[@]}"; do
    # The round with the median aggregate reads/s.
    PICK[$s,$n]=$(for r in $(seq 1 "$ROUNDS"); do echo "${RATE[$s,$n,$r]} $r"; done |
      sort -n | awk '{a[NR] = $2} END {print a[int((NR + 1) / 2)]}')
  done
done
rate_of() { echo "${RATE[$1,$2,${PICK[$1,$2]}]}"; }
# cpu_per_m SOURCE N ns|ticks: server CPU seconds per 1M reads over all rounds of N containers.
cpu_per_m() {
  local r c=0 rd=0
  for r in $(seq 1 "$ROUNDS"); do
    if [ "$3" = ns ]; then c=$((c + ${CPUNS[$1,$2,$r]})); else c=$((c + ${TICKS[$1,$2,$r]})); fi
    rd=$((rd + ${READS[$1,$2,$r]}))
  done
  awk -v c="$c" -v rd="$rd" -v u="$3" -v hz="$HZ" \
    'BEGIN {s = (u == "ns") ? c / 1e9 : c / hz; printf (u == "ns") ? "%.3f" : "%.2f", s * 1e6 / rd}'
}
# cpu_pct SOURCE ns|ticks: server CPU % of one core while 1 container reads (median round).
cpu_pct() {
  local r
  for r in $(seq 1 "$ROUNDS"); do
    awk -v c="${CPUNS[$1,1,$r]}" -v t="${TICKS[$1,1,$r]}" -v w="${WALL[$1,1,$r]}" -v u="$2" -v hz="$HZ" \
      'BEGIN {s = (u == "ns") ? c / 1e9 : t / hz; print 100 * s / w}'
  done | median | awk '{printf "%.2f", $1}'
}

# floor_ratio N [SERVER [SOURCE]]: SOURCE's (reader's) reads/s over SERVER's (floor's), median
# rounds of N containers.
floor_ratio() { ratio "$(rate_of "${3:-reader}" "$1")" "$(rate_of "${2:-floor}" "$1")"; }
rate_of_n() { rate_of "$2" "$1"; }
readme_table() {
  local n
  echo "Run of $DATE, vproc $GIT, $(nproc) CPUs ($CPU_MODEL), kernel $(uname -r), load average $LOAD_START at start and $LOAD_END at the end; \`$CMD\`, median rounds:"
  echo
  # The columns: every source but proto (it follows the table).
  local cols=() c
  for c in native view reader ureader lxcfs floor; do
    [[ " ${SOURCES[*]} " == *" $c "* ]] && cols+=("$c")
  done
  colname() { case $1 in native) echo native ;; view) echo "vproc view" ;; reader) echo "vproc per-reader" ;;
    ureader) echo "per-reader, io_uring" ;; lxcfs) echo lxcfs ;; floor) echo "minimal server" ;; esac; }
  # row LABEL CMD: a table row with CMD SOURCE's output in each column.
  row() {
    local label=$1 out="" x
    shift
    for x in "${cols[@]}"; do out+=" $("$@" "$x") |"; done
    echo "| $label |$out"
  }
  med1() { us "${MED[$1,1,${PICK[$1,1]}]}"; }
  vs_lxcfs() { echo "$(ratio "$(rate_of "$1" 4)" "$(rate_of lxcfs 4)")x"; }
  vs_floor() {
    case $1 in reader | ureader) echo "$(floor_ratio 1 floor "$1") / $(floor_ratio 4 floor "$1")" ;; floor) echo 1 ;; esac
  }
  cpu_m() { [ "$1" = native ] || cpu_per_m "$1" 4 ns; }
  cpu_p() { [ "$1" = native ] || cpu_pct "$1" ns; }
  scaled() { [ "$1" != view ] || echo "$(scale rss_mib) / $(scale idle_cpu_pct)"; }
  echo "| /proc/meminfo in runc containers |$(for c in "${cols[@]}"; do printf ' %s |' "$(colname "$c")"; done)"
  echo "|---|$(for c in "${cols[@]}"; do printf -- '---:|'; done)"
  row "median latency, 1 container (µs)" med1
  for n in "${COUNTS[@]}"; do row "reads/s, $n container(s) at once" rate_of_n "$n"; done
  row "reads/s vs lxcfs, 4 containers" vs_lxcfs
  row "reads/s / the minimal server's, 1 / 4 containers" vs_floor
  row "server CPU s per 1M reads, 4 containers" cpu_m
  row "server CPU, 1 container reading flat out (% of a core)" cpu_p
  row "vprocd with $(scale n) registered containers: RSS (MiB) / idle CPU (% of a core)" scaled
  unset -f colname
  if [ -n "$PROTO_PID" ]; then
    echo
    echo "noopen_proto mode 0 in the same rounds: $(rate_of proto 1) / $(rate_of proto 4) reads/s (1 / 4 containers); per-reader / noopen_proto: $(floor_ratio 1 proto) / $(floor_ratio 4 proto)$([ -z "$VPROCDU_PID" ] || echo "; per-reader over io_uring / noopen_proto: $(floor_ratio 1 proto ureader) / $(floor_ratio 4 proto ureader)")."
  fi
}

{
  echo "# vproc benchmark: /proc/meminfo inside runc containers"
  echo
  echo "- Date: $DATE; vproc $GIT (Release)"
  echo "- Machine: $(nproc) CPUs, $CPU_MODEL, kernel $(uname -r), $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM"
  echo "- Host load average at start: $LOAD_START; at end: $LOAD_END (other work on the host adds noise; ratios are from one run with the sources interleaved)"
  echo "- Command (as root, in the checkout): \`$CMD\`"
  echo "- vprocd \`--container-view --view-max-age-ms 100 --io-uring off\` (${TRANSPORT:-transport not logged}): the view and the per-reader files over /dev/fuse; vproc-hook at createRuntime (\`--view container\` or \`--view reader\`) and poststop; lxcfs $(lxcfs --version 2>&1 | tail -n1) \`-l --enable-cfs\`, its proc/meminfo bind-mounted over /proc/meminfo"
  if [ -n "$VPROCDU_PID" ]; then
    echo "- ureader: a second vprocd, \`--no-container-view --io-uring on\`, its per-reader files over FUSE over io_uring (one ring per CPU); the fuse module's enable_uring was $URING_ORIG before the run and is put back"
  fi
  echo "- floor and proto: fixed texts, not virtualized, bind-mounted over /proc/meminfo: the floor the per-reader path is measured against"
  echo "- Containers: \`runc $(runc --version | awk 'NR == 1 {print $3}') run\`, busybox rootfs, memory limit 256 MiB, cpu quota 1 CPU (100000/100000), each running bench/cread (static): open+read-to-EOF+close of /proc/meminfo in a loop for $SECS s after a go signal that all containers of a batch get at once"
  echo "- $ROUNDS round(s); in each, every source runs with 1 container and then with 4 at once, the order of the sources rotating from round to round; each row is the round with the median aggregate reads/s (after a warm-up round that is not reported)"
  echo
  echo "## Reads of /proc/meminfo inside containers"
  echo
  echo "| source | containers | median µs | p99 µs | reads/s (aggregate) | vs native | vs lxcfs |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for n in "${COUNTS[@]}"; do
    for s in "${SOURCES[@]}"; do
      r=${PICK[$s,$n]}
      echo "| $(label $s) | $n | $(us "${MED[$s,$n,$r]}") | $(us "${P99[$s,$n,$r]}") | $(rate_of $s $n) | $(ratio "$(rate_of $s $n)" "$(rate_of native $n)") | $(ratio "$(rate_of $s $n)" "$(rate_of lxcfs $n)") |"
    done
  done
  echo
  echo "Latency is per open+read+close, timed in the container; with 4 containers, the median over the containers of each one's median (p99). Reads/s is the sum over the containers of each one's reads over its own loop time. \"vs native\" and \"vs lxcfs\" are ratios of reads/s (above 1: more reads per second)."
  echo
  echo "Reads/s of every round:"
  echo
  echo "| source | containers |$(for r in $(seq 1 "$ROUNDS"); do printf ' round %s |' "$r"; done)"
  echo "|---|---:|$(for r in $(seq 1 "$ROUNDS"); do printf -- '---:|'; done)"
  for n in "${COUNTS[@]}"; do
    for s in "${SOURCES[@]}"; do
      echo "| $s | $n |$(for r in $(seq 1 "$ROUNDS"); do printf ' %s |' "${RATE[$s,$n,$r]}"; done)"
    done
  done
  echo
  echo "## Server CPU"
  echo
  echo "| server, source | CPU s per 1M reads, 1 container | 4 containers | CPU % of one core, 1 container reading flat out |"
  echo "|---|---:|---:|---:|"
  for s in "${SOURCES[@]}"; do
    [ "$s" != native ] || continue
    echo "| $(server_of $s), $(label $s) | $(cpu_per_m $s 1 ns) ($(cpu_per_m $s 1 ticks)) | $(cpu_per_m $s 4 ns) ($(cpu_per_m $s 4 ticks)) | $(cpu_pct $s ns) ($(cpu_pct $s ticks)) |"
  done
  echo
  echo "From the go signal until the last container of the batch reported, summed over the rounds (per 1M reads; equal to µs per read) or the median round (%). The first figure is the usage of a cpuacct cgroup holding only the server (ns resolution); in parentheses utime+stime from /proc/PID/stat (resolution 1/$HZ s, so small figures are coarse). vprocd serves the view and the per-reader files from one process: its CPU for the view is the renderings the GETATTRs ask for (at most one per file per 100 ms per container) and nothing per read."
  echo
  echo "## Checks"
  echo
  for s in "${SOURCES[@]}"; do
    case $s in
      native) want="/proc/meminfo is the kernel's (no mount on it)" ;;
      view) want="MemTotal 262144 kB, /proc/meminfo mounted from REG/view (fuse.vprocd, mount root /<pid>-<start>/proc/meminfo)" ;;
      reader | ureader) want="MemTotal 262144 kB, /proc/meminfo the per-reader file (fuse.vprocd, mount root /proc/meminfo)" ;;
      lxcfs) want="MemTotal 262144 kB, /proc/meminfo from lxcfs (fuse.lxcfs)" ;;
      floor) want="/proc/meminfo from fusefloor --one-thread (fuse, a fixed text)" ;;
      proto) want="/proc/meminfo from noopen_proto mode 0 (fuse, a fixed text)" ;;
    esac
    echo "- $s: ${CHK_OK[$s]:-0}/${CHK_N[$s]:-0} containers (warm-up included): $want; last seen: ${ROOTS[$s]:-}"
  done
  for w in "${WARNINGS[@]}"; do echo "- WARNING: $w"; done
  echo
  echo "## $SCALE_N registered containers"
  echo
  echo "From \`bench/view_scale.sh $SCALE_N\` run by this script after the rounds (its own vprocd, same build):"
  echo
  sed -n '/^| step/,$p' "$TMP/vscale.md"
  echo
  echo "## The README's table"
  echo
  readme_table
} >"$TMP/results.md"

cat "$TMP/results.md"
cp "$TMP/results.md" "$OUT"
log "wrote $OUT"
