#!/usr/bin/env bash
# Restart survival for containers vproc did not inject (issue 18 item 2):
# lxcfs-style runc containers whose config.json binds vprocd's per-reader
# files over /proc (what `docker run -v MP/proc/meminfo:/proc/meminfo` does),
# with no hook and no registry record.
#   - after kill -9 of vprocd they read ENOTCONN; a new vprocd finds them by
#     their dead mounts and replaces them: they read their limits again within
#     3 s of its start, with nobody running `vproc-hook attach`;
#   - --takeover moves them to the new instance before the old one exits;
#   - a container that never used vproc, and one bound to another live vprocd
#     (another mountpoint), are left exactly as they were.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-adopt cmd:runc hook

MP=$VT_TMP/mp
REG=$VT_TMP/registry
MP2=$VT_TMP/mp2
vt_serve "$MP" --registry-dir "$REG"
MAIN_PID=$VPROCD_PID
vt_serve "$MP2" --registry-dir "$VT_TMP/registry2"
BUSY=$VT_TMP/busybox-rootfs
vc_rootfs "$BUSY"

# binds DIR: config.json mounts of DIR's per-reader files over /proc (the lxcfs set runc allows).
binds() {
  local f out=""
  for f in meminfo cpuinfo stat uptime; do
    out+="{\"destination\":\"/proc/$f\",\"type\":\"bind\",\"source\":\"$1/proc/$f\",\"options\":[\"rbind\",\"ro\"]},"
  done
  echo "[${out%,}]"
}
# start NAME LIMIT_MIB [MOUNTS_JSON]: a runc container without the hook; sets CPID.
start() {
  local id=vproc-adopt-$1-$VT_UNIQ extra=.
  [ -n "${3:-}" ] && extra=".mounts += $3"
  vc_bundle "$VT_TMP/$id" "$BUSY" \
    ".linux.resources={\"memory\":{\"limit\":$(($2 * 1024 * 1024))}}" \
    '.process.args=["sleep","300"]' "$extra"
  vc_runc_detach "$id" "$VT_TMP/$id" || vt_abort "runc run -d $id: $(cat "$VT_TMP/$id.out")"
  CPID=$(vc_runc state "$id" | jq -r .pid)
}
start bound 96 "$(binds "$MP")"
A=$CPID
start plain 112
B=$CPID
start other 80 "$(binds "$MP2")"
C=$CPID

# memof NAME: MemTotal as the container reads it (per-reader files answer for their reader:
# the reader must be in the container's cgroups).
memof() {
  timeout 5 runc --root "$VT_TMP/runc-root" exec "vproc-adopt-$1-$VT_UNIQ" cat /proc/meminfo 2>/dev/null |
    awk '/^MemTotal:/ { print $2 }'
}
# devof PID: major:minor of the mount on the container's /proc/meminfo (the top one).
devof() { awk '$5 == "/proc/meminfo" { d = $3 } END { print d }' "/proc/$1/mountinfo"; }
# Mount table without the ids that churn.
mounts_of() { awk '{ $1 = ""; $2 = ""; print }' "/proc/$1/mountinfo"; }
vt_eq "the bound container reads its limit" $((96 * 1024)) "$(memof bound)"
vt_eq "the container bound to the other vprocd reads its limit" $((80 * 1024)) "$(memof other)"
vt_eq "the plain container reads the host's MemTotal" "$(vc_host_memtotal)" "$(memof plain)"
vt_eq "the bound container's meminfo is a bind of $MP" "$(mountpoint -d "$MP")" "$(devof "$A")"
B_MOUNTS=$(mounts_of "$B")
C_MOUNTS=$(mounts_of "$C")
vt_check "no registry record for the bound container" \
  bash -c "! grep -rqs '\"pid\": *$A\\b' '$REG/containers'"

# --- kill -9 and a new vprocd: found by its dead mounts ----------------------------------------
vt_kill9_vprocd "$MAIN_PID"
vt_check "after kill -9 the bound container's meminfo fails" [ -z "$(memof bound)" ]
t0=$(date +%s%N)
vt_launch_vprocd "$MP" --registry-dir "$REG"
NEW_PID=$VT_LAUNCHED_PID
# A function, so that every try reads again.
bound_back() { [ "$(memof bound)" = $((96 * 1024)) ]; }
vt_wait_for 10 bound_back
ms=$((($(date +%s%N) - t0) / 1000000))
vt_eq "the bound container reads its limit again, with no attach run" $((96 * 1024)) "$(memof bound)"
vt_check "... within 3 s of the new vprocd's start ($ms ms)" [ "$ms" -le 3000 ]
vt_figure "an unregistered -v container back ${ms} ms after vprocd's restart"
vt_wait_for 5 grep -q "adopt: .* unregistered container" "$VT_LAUNCHED_LOG"
line=$(grep "adopt: .* unregistered container" "$VT_LAUNCHED_LOG" | head -1)
grep -E "adopt|re-attach" "$VT_LAUNCHED_LOG" | sed 's/^/    | /'
vt_check "the new vprocd logs the adoption: one container, four files" \
  grep -q "adopt: 1 unregistered container(s), 4 file(s) replaced, 0 failed" <<<"$line"
vt_eq "... its meminfo is now the new vprocd's" "$(mountpoint -d "$MP")" "$(devof "$A")"
for f in cpuinfo stat uptime; do
  vt_check "... and $f reads again" timeout 2 grep -q . "/proc/$A/root/proc/$f"
done
vt_check "... and it is still not registered" \
  bash -c "! grep -rqs '\"pid\": *$A\\b' '$REG/containers'"
vt_eq "the plain container's mounts are untouched" "$B_MOUNTS" "$(mounts_of "$B")"
vt_eq "the other vprocd's container's mounts are untouched" "$C_MOUNTS" "$(mounts_of "$C")"
vt_eq "... and it reads its limit from there" $((80 * 1024)) "$(memof other)"

# --- takeover: moved to the new instance before the old one goes -------------------------------
OLD_DEV=$(mountpoint -d "$MP")
reads_ok=0 reads_bad=0
vt_launch_vprocd "$MP" --registry-dir "$REG" --takeover
TK_PID=$VT_LAUNCHED_PID
end=$(($(date +%s) + 15))
while [ "$(date +%s)" -lt "$end" ]; do
  if [ "$(memof bound)" = $((96 * 1024)) ]; then reads_ok=$((reads_ok + 1)); else reads_bad=$((reads_bad + 1)); fi
  kill -0 "$NEW_PID" 2>/dev/null || break
  sleep 0.05
done
vt_check "the taken-over vprocd exits after the takeover" bash -c "! kill -0 $NEW_PID 2>/dev/null"
vt_eq "no failed read in the bound container during the takeover ($reads_ok good)" 0 "$reads_bad"
vt_check "the bound container's meminfo moved off the old connection" \
  [ "$(devof "$A")" != "$OLD_DEV" ]
vt_eq "... onto the new instance's" "$(mountpoint -d "$MP")" "$(devof "$A")"
vt_eq "... and reads its limit" $((96 * 1024)) "$(memof bound)"
vt_check "the new instance logs the adoption" grep -q "adopt: 1 unregistered container" "$VT_LAUNCHED_LOG"
vt_eq "the other vprocd's container is still untouched" "$C_MOUNTS" "$(mounts_of "$C")"
vt_check "the new instance serves" kill -0 "$TK_PID"
vt_finish
