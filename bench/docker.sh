#!/usr/bin/env bash
# What vproc-runtime + vproc-hook add to `docker run --rm IMAGE true`, against plain runc in the
# same run, on a private dockerd (Debian's docker.io 20.10, tests/lib/docker.sh) with a fresh
# data-root. The two runtimes take turns, N runs each (default 10) after one warm-up run each;
# the medians and their difference and ratio go to bench/RESULTS-docker.md.
#
#   sudo bench/docker.sh [N]
#
# Needs root, /dev/fuse, docker.io, runc, jq and a build of vprocd, vproc-hook and
# vproc-runtime under build/ (VPROC_BUILD_DIR=DIR to use another). Starts its own vprocd, and
# removes everything it made at exit (containers, image, dockerd, mounts, temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
export VPROC_BUILD_DIR=${VPROC_BUILD_DIR:-$PWD/build}
. tests/lib/common.sh
. tests/lib/containers.sh
. tests/lib/docker.sh
vt_preamble bench-docker cmd:runc hook
why=$(vd_available)
[ -z "$why" ] || vt_abort "$why"
VPROC_RUNTIME=$(vt_find_binary vproc-runtime) || vt_abort "vproc-runtime is built"

MP=$VT_TMP/mp
REG=$VT_TMP/registry
vt_serve "$MP" --registry-dir "$REG"
BUSY=$VT_TMP/busybox-rootfs
vc_rootfs "$BUSY"
vd_start "{\"vproc\": $(vd_runtime_entry "$MP" "$REG")}" || vt_abort "dockerd starts"
IMG=vproc-bench:$VT_UNIQ
vd_import "$BUSY" "$IMG"

# once RUNTIME: milliseconds for one docker run --rm IMAGE true.
once() {
  local t0 t1
  t0=$(date +%s%N)
  "${DOCKER[@]}" run --rm --network none --runtime "$1" "$IMG" true >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

once runc >/dev/null
once vproc >/dev/null
: >"$VT_TMP/runc.ms"
: >"$VT_TMP/vproc.ms"
for i in $(seq 1 "$N"); do
  if [ $((i % 2)) -eq 0 ]; then
    once runc >>"$VT_TMP/runc.ms"
    once vproc >>"$VT_TMP/vproc.ms"
  else
    once vproc >>"$VT_TMP/vproc.ms"
    once runc >>"$VT_TMP/runc.ms"
  fi
done
R=$(median <"$VT_TMP/runc.ms")
V=$(median <"$VT_TMP/vproc.ms")
added=$(awk -v r="$R" -v v="$V" 'BEGIN { printf "%.1f", v - r }')
ratio=$(awk -v r="$R" -v v="$V" 'BEGIN { printf "%.2f", v / r }')
mem=$("${DOCKER[@]}" run --rm --network none --runtime vproc --memory 256m "$IMG" cat /proc/meminfo |
  awk '/^MemTotal:/ { print $2 }')
out=bench/RESULTS-docker.md
{
  echo "# docker run --rm with vproc-runtime vs runc"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); vproc $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "- Machine: $(nproc) CPUs, kernel $(uname -r), $(/usr/bin/docker --version)"
  echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Command: \`bench/docker.sh $N\` ($N runs per runtime, interleaved, after one warm-up each)"
  echo "- Check: \`--runtime vproc --memory 256m\` shows MemTotal ${mem} kB"
  echo
  echo "| runtime | median ms | runs (ms) |"
  echo "|---|---:|---|"
  echo "| runc | $R | $(tr '\n' ' ' <"$VT_TMP/runc.ms") |"
  echo "| vproc (vproc-runtime + vproc-hook) | $V | $(tr '\n' ' ' <"$VT_TMP/vproc.ms") |"
  echo
  echo "vproc adds **${added} ms** per container (ratio ${ratio})."
} >"$out"
cat "$out"
