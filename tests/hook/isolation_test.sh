#!/usr/bin/env bash
# Isolation under load with real containers: 20 runc containers, each with its
# own memory limit and vproc-hook at createRuntime, read /proc/meminfo as fast
# as they can for VPROC_ISOLATION_SECONDS (default 60), all at once. Every read
# must show that container's own limit, with no error; vprocd must still be
# alive and serving afterwards.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-isolation cmd:runc hook

secs=${VPROC_ISOLATION_SECONDS:-60}
MP=$VT_TMP/mp
vt_serve "$MP"
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
entry=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$VT_TMP/registry")

# busybox sh: `read` is a builtin, so each read is an open and a few FUSE reads
# and no fork; the clock is checked every 50 reads.
LOOP='exp=$1; end=$(( $(date +%s) + $2 )); n=0; bad=0; err=0; last=
while [ "$(date +%s)" -lt "$end" ]; do
  i=0
  while [ $i -lt 50 ]; do
    if read -r k v u < /proc/meminfo; then
      [ "$k $v" = "MemTotal: $exp" ] || { bad=$((bad + 1)); last="$k $v"; }
    else err=$((err + 1)); fi
    n=$((n + 1)); i=$((i + 1))
  done
done
echo "reads=$n wrong=$bad errors=$err last=$last"'

pids=()
for i in $(seq 1 20); do
  id=vproc-iso-$i-$VT_UNIQ
  mib=$((100 + 10 * i))
  vc_bundle "$VT_TMP/$id" "$ROOTFS" \
    ".linux.resources={\"memory\":{\"limit\":$((mib * 1024 * 1024))}}" \
    ".process.args=[\"sh\",\"-c\",$(jq -Rn --arg s "$LOOP" '$s'),\"loop\",\"$((mib * 1024))\",\"$secs\"]" \
    ".hooks={\"createRuntime\":[$entry]}"
  vc_runc_run "$id" "$VT_TMP/$id" >"$VT_TMP/$id.result" &
  pids+=($!)
done

total=0
for i in $(seq 1 20); do
  wait "${pids[$((i - 1))]}"
  id=vproc-iso-$i-$VT_UNIQ
  out=$(tail -n1 "$VT_TMP/$id.result")
  reads=$(sed -n 's/.*reads=\([0-9]*\).*/\1/p' <<<"$out")
  total=$((total + ${reads:-0}))
  if [[ "$out" =~ wrong=0\ errors=0 ]] && [ "${reads:-0}" -gt 0 ]; then
    vt_pass "container $i ($((100 + 10 * i)) MiB) saw only its own MemTotal in $reads reads"
  else
    vt_fail "container $i: $(tail -n3 "$VT_TMP/$id.result" | tr '\n' ' ')"
  fi
done
vt_figure "20 runc containers, ${secs} s: $total meminfo reads in all"
vt_check "vprocd still alive and serving" vt_serving "$MP"
vt_show_logs
vt_finish
