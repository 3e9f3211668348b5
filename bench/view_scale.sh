#!/usr/bin/env bash
# The container view with many containers: vprocd's RSS and idle CPU when N containers (default
# 1000) are registered and each has its directory in REGISTRY_DIR/view and has read its files.
#
#   sudo bench/view_scale.sh [N]      writes bench/RESULTS-view-scale.md
#
# A "container" here is what vprocd sees of one: a process (sleep) in cgroups of its own (v1
# memory, cpu, cpuacct, cpuset where present), limited to 256 MiB, with a record in
# REGISTRY_DIR/containers/ as vproc-hook writes one (so vprocd's loadavg sampler follows its cpu
# cgroup from then on, as it does a hooked container's). Its view directory
# (view/<pid>-<start>/) is looked up and its files read from the host, as the hook's binds would
# be read from inside. Steps: vprocd alone; every container reads meminfo once; every container
# reads all of its files once; then 30 s idle (nobody reads). RSS is VmRSS of vprocd; CPU is
# utime+stime. Builds vprocd in Release into build-bench/ (VPROC_BENCH_BUILD=DIR to override).
# VSCALE_OUT=FILE writes the report there instead; VSCALE_FIGURES=FILE also writes the figures
# as key=value lines (bench/containers.sh reads them).
# Undoes everything it made at exit: its sleepers (by pid), its cgroups (vscale-<pid>-*), its
# vprocd (by pid) and its mounts.
set -euo pipefail

N=${1:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VPROC_BENCH_BUILD:-$ROOT/build-bench}
OUT=${VSCALE_OUT:-$ROOT/bench/RESULTS-view-scale.md}
TMP=$(mktemp -d /tmp/vproc-vscale.XXXXXX)
TAG=vscale-$$
# The v1 hierarchies present (cpu and cpuacct may be one or two); a name that is not a
# mountpoint under /sys/fs/cgroup is never created (it would be a plain directory there).
CTRLS=""
for c in memory cpu,cpuacct cpu cpuacct cpuset; do
  mountpoint -q "/sys/fs/cgroup/$c" && CTRLS="$CTRLS $c"
done
PIDS=()
VPROCD_PID=""

log() { echo "view_scale: $*" >&2; }

cleanup() {
  set +e
  if [ ${#PIDS[@]} -gt 0 ]; then
    kill -KILL "${PIDS[@]}" 2>/dev/null
    wait "${PIDS[@]}" 2>/dev/null  # not vprocd: it is stopped below
  fi
  if [ -n "$VPROCD_PID" ]; then
    kill -TERM "$VPROCD_PID" 2>/dev/null
    wait "$VPROCD_PID" 2>/dev/null
  fi
  for d in "$TMP/reg/view" "$TMP/mp"; do
    while mountpoint -q "$d" 2>/dev/null; do umount -l "$d" 2>/dev/null || break; done
  done
  # Killed sleepers leave their cgroups a moment later; removed in parallel, with retries.
  for _ in 1 2 3 4 5; do
    ls -d /sys/fs/cgroup/*/"$TAG"-* 2>/dev/null | xargs -r -P 16 -n 50 rmdir 2>/dev/null
    ls -d /sys/fs/cgroup/*/"$TAG"-* >/dev/null 2>&1 || break
    sleep 1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "view_scale: needs root" >&2; exit 1; }
[ -d /sys/fs/cgroup/memory ] || { echo "view_scale: needs cgroup v1 memory (hybrid or legacy)" >&2; exit 1; }

log "building vprocd (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target vprocd >/dev/null
VPROCD=$BUILD/fsd/vprocd

GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- fsd lib 2>/dev/null || GIT="$GIT+uncommitted"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$VPROCD_PID/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$VPROCD_PID/stat"; }

mkdir -p "$TMP/mp" "$TMP/reg"
"$VPROCD" --mountpoint "$TMP/mp" --registry-dir "$TMP/reg" 2>"$TMP/vprocd.log" &
VPROCD_PID=$!
for _ in $(seq 1 100); do grep -q '^MemTotal:' "$TMP/mp/proc/meminfo" 2>/dev/null && break; sleep 0.05; done
grep -q " $TMP/reg/view .* - fuse.vprocd " /proc/self/mountinfo ||
  { echo "view_scale: vprocd serves no container view" >&2; cat "$TMP/vprocd.log" >&2; exit 1; }
sleep 1
rss0=$(rss_kb)

log "starting $N containers (a sleeper in cgroups of its own each)"
for i in $(seq 1 "$N"); do
  for c in $CTRLS; do mkdir -p "/sys/fs/cgroup/$c/$TAG-$i"; done
  if [ -d "/sys/fs/cgroup/cpuset/$TAG-$i" ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$TAG-$i/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$TAG-$i/cpuset.mems"
  fi
  echo $((256 << 20)) >"/sys/fs/cgroup/memory/$TAG-$i/memory.limit_in_bytes"
  sh -c 'for c in '"$CTRLS"'; do echo $$ >"/sys/fs/cgroup/$c/'"$TAG-$i"'/cgroup.procs"; done; exec sleep 3600' &
  PIDS+=($!)
done
sleep 1
dirs=()
mkdir -p "$TMP/reg/containers"
mntns=$(stat -L -c %i /proc/self/ns/mnt)
i=0
for p in "${PIDS[@]}"; do
  i=$((i + 1))
  start=$(awk '{ print $22 }' "/proc/$p/stat")
  dirs+=("$TMP/reg/view/$p-$start")
  # The record vproc-hook writes (lib/registry/registry.cpp), with no files mounted.
  printf '{"version":1,"id":"%s","pid":%s,"pid_start_time":%s,"mnt_ns":%s,"rootfs":"/","mountpoint":"%s","files":[],"view":"container","attached_at":%s}\n' \
    "$TAG-$i" "$p" "$start" "$mntns" "$TMP/mp" "$(date +%s)" >"$TMP/reg/containers/$TAG-$i.json"
done

# read_all FILES...: every container reads FILES once; prints how many reads were wrong.
read_all() {
  local d f bad=0
  for d in "${dirs[@]}"; do
    for f in "$@"; do
      if [ "$f" = proc/meminfo ]; then
        [ "$(head -n1 "$d/$f" 2>/dev/null | awk '{ print $2 }')" = 262144 ] || bad=$((bad + 1))
      else
        cat "$d/$f" >/dev/null 2>&1 || bad=$((bad + 1))
      fi
    done
  done
  echo "$bad"
}
t0=$(cpu_ticks)
bad1=$(read_all proc/meminfo)
rss1=$(rss_kb)
files=$(cd "${dirs[0]}" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
# shellcheck disable=SC2086
bad2=$(read_all $files)
rss2=$(rss_kb)
t1=$(cpu_ticks)
log "idle for 30 s"
sleep 30
t2=$(cpu_ticks)
rss3=$(rss_kb)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$VPROCD_PID/status")
tps=$(getconf CLK_TCK)
nfiles=$(wc -w <<<"$files")

{
  echo "# The container view with $N containers"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); vproc $GIT (Release)"
  echo "- Machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
  echo "- Command (as root, in the checkout): \`bench/view_scale.sh $N\`"
  echo "- A container is a sleeper in cgroups of its own (memory limited to 256 MiB) with a"
  echo "  registry record (vprocd's loadavg sampler follows it); its view directory is read from"
  echo "  the host. Wrong or failed reads: $bad1 (meminfo), $bad2 (all files)."
  echo
  echo "| step | vprocd RSS (MiB) |"
  echo "|---|---:|"
  awk -v k="$rss0" 'BEGIN { printf "| vprocd alone | %.1f |\n", k / 1024 }'
  awk -v k="$rss1" -v n="$N" 'BEGIN { printf "| %d containers, each read meminfo once | %.1f |\n", n, k / 1024 }'
  awk -v k="$rss2" -v n="$N" -v f="$nfiles" 'BEGIN { printf "| %d containers, each read all %d files once | %.1f |\n", n, f, k / 1024 }'
  awk -v k="$rss3" 'BEGIN { printf "| after 30 s idle | %.1f |\n", k / 1024 }'
  awk -v k="$hwm" 'BEGIN { printf "| peak (VmHWM) | %.1f |\n", k / 1024 }'
  echo
  awk -v a="$t1" -v b="$t0" -v t="$tps" -v n="$N" -v f="$nfiles" \
    'BEGIN { printf "- vprocd CPU for the %d x %d first reads (each one a lookup and a rendering): %.2f s\n", n, f + 1, (a - b) / t }'
  awk -v a="$t2" -v b="$t1" -v t="$tps" \
    'BEGIN { printf "- vprocd CPU while idle for 30 s with them: %.2f s (%.2f%% of a core)\n", (a - b) / t, (a - b) / t / 30 * 100 }'
} >"$OUT"
cat "$OUT"
if [ -n "${VSCALE_FIGURES:-}" ]; then
  {
    echo "n=$N"
    echo "bad=$((bad1 + bad2))"
    awk -v k="$rss0" 'BEGIN { printf "rss_alone_mib=%.1f\n", k / 1024 }'
    awk -v k="$rss3" 'BEGIN { printf "rss_mib=%.1f\n", k / 1024 }'
    awk -v k="$hwm" 'BEGIN { printf "hwm_mib=%.1f\n", k / 1024 }'
    awk -v a="$t2" -v b="$t1" -v t="$tps" 'BEGIN { printf "idle_cpu_pct=%.2f\n", (a - b) / t / 30 * 100 }'
  } >"$VSCALE_FIGURES"
fi
