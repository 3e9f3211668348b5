#!/usr/bin/env bash
# How long running containers go without a truthful /proc when vprocd restarts (issue 4).
#
#   sudo bench/reattach.sh [N]     N containers (default 100); about 1-2 min for 100
#
# Starts vprocd (with --registry-dir) and N detached runc containers running busybox `sleep`,
# each with vproc-hook at createRuntime (which records it in the registry) and its own small
# memory limit (64+i MiB), four `runc run -d` at a time. Then two rounds:
#
#   crash     kill -9 vprocd and at once start a new one (no --takeover: it recovers the stale
#             mountpoint and re-attaches every registered container).
#   takeover  start a new vprocd --takeover next to the live one (it re-attaches every
#             container, then the old one drains and exits).
#
# Each round reports the re-attach pass time from the new vprocd's log line
# ("vprocd: re-attach: A attached, P pruned, F failed, S skipped in T ms") and the wall time
# from the new vprocd's launch until every container reads its own MemTotal again (takeover:
# until every container reads it through the new instance, i.e. its /proc/meminfo mount is no
# longer the old instance's). Also the reads that failed or were wrong on the way (a takeover
# should have none) and, for the takeover, when the old vprocd exited.
#
# The containers are read from the host by bench/reattach_probe.py: one process that, for each
# container in turn, moves itself into the container's memory cgroup, enters its mount
# namespace and reads /proc/meminfo; so W is measured to within one round over the pending
# containers (a few ms per container). Output:
#
#   FIGURE reattach N=100: pass T ms, all correct after W ms (...)
#   FIGURE reattach takeover N=100: pass T ms, all correct on the new instance after W ms (...)
#
# Builds vprocd and vproc-hook in Release into build-bench/ (override with
# VPROC_BENCH_BUILD=DIR, as bench/run.sh; VPROC_BENCH_NO_BUILD=1 uses the binaries already
# there, e.g. a sanitizer build). Needs root, /dev/fuse, runc, busybox-static, jq and
# python3. Everything it starts (its own runc --root, containers, cgroups, vprocd instances by
# pid, mounts under its temp dir) is undone at exit. Not part of bench/run.sh: this measures
# the restart path, not the read path.
set -uo pipefail

N=${1:-100}
case $N in
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *[!0-9]* | "") echo "usage: $0 [N]" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VPROC_BENCH_BUILD:-$ROOT/build-bench}
[ "$(id -u)" = 0 ] || { echo "reattach: run as root" >&2; exit 1; }
for c in runc jq python3; do
  command -v $c >/dev/null || { echo "reattach: $c is missing" >&2; exit 1; }
done

log() { printf '[reattach %s] %s\n' "$(date -u +%T)" "$*" >&2; }
if [ -n "${VPROC_BENCH_NO_BUILD:-}" ]; then
  log "using the binaries already in $BUILD"
else
  log "building vprocd and vproc-hook (Release) in $BUILD"
  { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$BUILD" -j"$(nproc)" --target vprocd vproc-hook; } >/tmp/reattach-build.$$.log 2>&1 ||
    { tail -30 /tmp/reattach-build.$$.log >&2; rm -f /tmp/reattach-build.$$.log; exit 1; }
  rm -f /tmp/reattach-build.$$.log
fi

export VPROC_BUILD_DIR=$BUILD VPROC_SOURCE_DIR=$ROOT
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/containers.sh"
vt_init reattach-bench
"$VPROCD" --help 2>&1 | grep -q -- --takeover ||
  { echo "reattach: this vprocd has no --takeover (re-attach not built)" >&2; exit 1; }
PROBE=$ROOT/bench/reattach_probe.py
MP=$VT_TMP/mp
REG=$VT_TMP/registry
now_ns() { date +%s%N; }

pass_ms() { local v; v=$(sed -n 's/.*re-attach: .* in \([0-9.]*\) ms.*/\1/p' <<<"$1"); echo "${v:-?}"; }
counts() { local v; v=$(sed -n 's/.*re-attach: \(.*\) in .*/\1/p' <<<"$1"); echo "${v:-no re-attach line}"; }

vt_start_vprocd "$MP" --registry-dir "$REG" || exit 1
OLD=$VPROCD_PID
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
entry=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG")

# --- N containers, four at a time; removed four at a time at exit -----------------------------
IDS=()
remove_all() {
  local id n=0
  for id in "${IDS[@]}"; do
    vc_runc_cleanup "$id" &
    n=$((n + 1))
    [ $((n % 4)) -ne 0 ] || wait
  done
  wait
}
vt_on_exit remove_all
log "starting $N containers"
# One bundle made the usual way; each container's config is a copy with its own cgroup and limit.
vc_bundle "$VT_TMP/template" "$ROOTFS" '.process.args=["sleep","1000000"]' \
  ".hooks={\"createRuntime\":[$entry]}"
t_start=$(now_ns)
for i in $(seq 1 "$N"); do
  id=vproc-ra-$i-$VT_UNIQ
  IDS+=("$id")
  mkdir -p "$VT_TMP/b$i"
  jq --arg cg "/vproc-test-$VT_UNIQ-$id" --argjson limit $(((64 + i) * 1024 * 1024)) \
    '.linux.cgroupsPath = $cg | .linux.resources = {memory: {limit: $limit}}' \
    "$VT_TMP/template/config.json" >"$VT_TMP/b$i/config.json"
  vc_runc_start_batched "$id" "$VT_TMP/b$i"
done
vc_runc_wait_started
: >"$VT_TMP/list"
for i in $(seq 1 "$N"); do
  pid=$(vc_runc state "${IDS[$((i - 1))]}" 2>/dev/null | jq -r '.pid // empty')
  [ -n "$pid" ] || { echo "reattach: container $i did not start: $(tail -n2 "$VT_TMP/${IDS[$((i - 1))]}.out")" >&2; exit 1; }
  echo "$pid $(((64 + i) * 1024))" >>"$VT_TMP/list"
done
log "$N containers up in $((($(now_ns) - t_start) / 1000000)) ms; $(ls "$REG/containers" | wc -l) registered"
"$VT_PY" "$PROBE" "$VT_TMP/list" check >&2 || { echo "reattach: not every container reads its limit" >&2; exit 1; }

# round KIND: one measurement; prints the FIGURE line.
round() {
  local kind=$1 go=$VT_TMP/go.$1 old_dev line res t0 new
  old_dev=$(vt_top_dev "$MP")
  mkfifo "$go"
  if [ "$kind" = crash ]; then
    "$VT_PY" "$PROBE" "$VT_TMP/list" wait "$go" >"$VT_TMP/probe.$kind" &
  else
    "$VT_PY" "$PROBE" "$VT_TMP/list" wait "$go" "$old_dev" >"$VT_TMP/probe.$kind" &
  fi
  local prober=$!
  exec 7>"$go"  # opens once the prober has opened its end: it is ready
  if [ "$kind" = crash ]; then
    kill -KILL "$OLD"
    wait "$OLD" 2>/dev/null
    t0=$(now_ns)
    vt_launch_vprocd "$MP" --registry-dir "$REG"
  else
    t0=$(now_ns)
    vt_launch_vprocd "$MP" --registry-dir "$REG" --takeover
  fi
  new=$VT_LAUNCHED_PID
  echo "$t0" >&7
  exec 7>&-
  wait "$prober"
  res=$(cat "$VT_TMP/probe.$kind")
  line=$(vt_reattach_line "$VT_LAUNCHED_LOG" 30) || { echo "reattach: no re-attach line in the log:" >&2; cat "$VT_LAUNCHED_LOG" >&2; }
  local all failed wrong pending extra=""
  read -r _ all _ failed _ wrong _ _ _ pending <<<"$res"
  [ "${pending:-1}" = 0 ] || extra+=", $pending NEVER CORRECT"
  if [ "$kind" = takeover ]; then
    local exit_ms="not within 40 s"
    if vt_wait_for 40 vt_exited "$OLD"; then
      local t_exit rc
      t_exit=$(now_ns)
      wait "$OLD"
      rc=$?
      exit_ms="$(((t_exit - t0) / 1000000)) ms (status $rc)"
    fi
    echo "FIGURE reattach takeover N=$N: pass $(pass_ms "$line") ms, all correct on the new instance after $all ms ($(counts "$line"); $failed failed and $wrong wrong reads on the way; old vprocd exited after $exit_ms$extra)"
  else
    echo "FIGURE reattach N=$N: pass $(pass_ms "$line") ms, all correct after $all ms ($(counts "$line"); $failed failed and $wrong wrong reads on the way$extra)"
  fi
  OLD=$new
}

log "round 1: kill -9 and restart"
round crash
sleep 1
log "round 2: --takeover"
round takeover
