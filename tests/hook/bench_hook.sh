#!/usr/bin/env bash
# Not a test: the cost vproc-hook adds to `runc run` of a busybox `true`
# container, measured side by side in one run (N alternating pairs; medians).
#   VPROC_BUILD_DIR=build bash tests/hook/bench_hook.sh [N]
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_init hook-bench
vt_require_root
N=${1:-20}
MP=$VT_TMP/mp
vt_start_vprocd "$MP" || exit 1
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
vc_bundle "$VT_TMP/plain" "$ROOTFS" '.process.args=["true"]' '.linux.resources={"memory":{"limit":268435456}}'
vc_bundle "$VT_TMP/hooked" "$ROOTFS" '.process.args=["true"]' '.linux.resources={"memory":{"limit":268435456}}' \
  ".hooks={\"createRuntime\":[$(vc_hook_entry --mountpoint "$MP" --registry-dir "$VT_TMP/reg")]}"
# Third bundle: the hook behind a wrapper that records the hook's own wall time.
cat > "$VT_TMP/timed-hook" <<WRAP
#!/bin/bash
TIMEFORMAT='%3R %3U %3S'
{ time "$VPROC_HOOK" "\$@" 2>&3; } 3>&2 2>>"$VT_TMP/hook.times"
WRAP
chmod +x "$VT_TMP/timed-hook"
vc_bundle "$VT_TMP/timed" "$ROOTFS" '.process.args=["true"]' '.linux.resources={"memory":{"limit":268435456}}' \
  ".hooks={\"createRuntime\":[{\"path\":\"$VT_TMP/timed-hook\",\"args\":[\"vproc-hook\",\"--mountpoint\",\"$MP\",\"--registry-dir\",\"$VT_TMP/reg\"]}]}"
one() {  # prints milliseconds of one runc run
  local t0 t1
  t0=$(date +%s%N)
  vc_runc run --bundle "$VT_TMP/$1" "bench-$1-$$" </dev/null >"$VT_TMP/last.out" 2>&1 || { echo "run failed ($1):" >&2; cat "$VT_TMP/last.out" >&2; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e6}'
}
vt_on_exit "vc_runc delete -f bench-plain-$$; vc_runc delete -f bench-hooked-$$; vc_runc delete -f bench-timed-$$"
for i in $(seq 1 "$N"); do
  one plain >> "$VT_TMP/plain.ms"
  one hooked >> "$VT_TMP/hooked.ms"
  one timed >/dev/null
  { TIMEFORMAT='%3R %3U %3S'; time /bin/true; } 2>>"$VT_TMP/true.times"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
p=$(median "$VT_TMP/plain.ms"); h=$(median "$VT_TMP/hooked.ms")
echo "runc run true, $N alternating runs each: median without hook ${p} ms, with hook ${h} ms, added $(awk -v a="$p" -v b="$h" 'BEGIN {printf "%.2f", b - a}') ms"
cut -d' ' -f1 "$VT_TMP/hook.times" > "$VT_TMP/hook.real"
awk '{print $2 + $3}' "$VT_TMP/hook.times" > "$VT_TMP/hook.cpu"
echo "vproc-hook alone (exec + probe + fork + 8 mounts + registry), median of $N:" \
  "wall $(awk '{print $1 * 1000}' "$VT_TMP/hook.real" > "$VT_TMP/r"; median "$VT_TMP/r") ms," \
  "cpu (user+sys) $(awk '{print $1 * 1000}' "$VT_TMP/hook.cpu" > "$VT_TMP/c"; median "$VT_TMP/c") ms"
awk '{print $1 * 1000}' "$VT_TMP/true.times" > "$VT_TMP/tr"
awk '{print ($2 + $3) * 1000}' "$VT_TMP/true.times" > "$VT_TMP/tc"
echo "for scale, fork+exec of /bin/true in the same run: wall $(median "$VT_TMP/tr") ms, cpu $(median "$VT_TMP/tc") ms"
echo "loadavg during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
