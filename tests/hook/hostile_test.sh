#!/usr/bin/env bash
# Hostile rootfs: /proc or /sys in the image are symlinks out of the rootfs
# (absolute "/tmp/x" and relative "../../x" forms) in a spec without its own
# proc/sysfs mounts, and a normal rootfs with rootfsPropagation rshared.
# Nothing may be mounted outside the container, the host's mount table stays
# the same, and the hook's log says why each file was skipped.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-hostile cmd:runc

MP=$VT_TMP/mp
LOG=$VT_TMP/hook.log
vt_serve "$MP"
# Decoys the links point at: a directory on the host with a meminfo file.
DECOY=$VT_TMP/decoy
mkdir -p "$DECOY/devices/system/cpu"
echo "MemTotal: 1 kB" > "$DECOY/meminfo"
echo 0 > "$DECOY/devices/system/cpu/online"
HOOK=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$VT_TMP/reg" --log-file "$LOG")
NO_PROC_SYS='.mounts |= map(select(.type != "proc" and .type != "sysfs")) |
  .linux.maskedPaths=[] | .linux.readonlyPaths=[]'

# hostile_case NAME LINK-TARGET-FOR-proc LINK-TARGET-FOR-sys
hostile_case() {
  local name=$1 id=vproc-hostile-$1-$VT_UNIQ
  local rootfs=$VT_TMP/$id/rootfs
  vc_rootfs "$rootfs"
  rmdir "$rootfs/proc" "$rootfs/sys"
  ln -s "$2" "$rootfs/proc"
  ln -s "$3" "$rootfs/sys"
  vc_bundle "$VT_TMP/$id" "$rootfs" "$NO_PROC_SYS" \
    '.process.args=["sh","-c","sleep 1; head -n1 /proc/meminfo"]' ".hooks={\"createRuntime\":[$HOOK]}"
  # Without a /proc mount runc's init cannot start the workload (it needs
  # /proc/self/fd after pivot_root), so the container fails after the hook
  # ran; what matters here is what the hook did.
  local before after
  before=$(vc_host_mounts)
  vc_runc_run "$id" "$VT_TMP/$id" >/dev/null
  vt_eq "$name: the decoy is untouched" "MemTotal: 1 kB" "$(head -n1 "$DECOY/meminfo")"
  vt_check "$name: nothing mounted on the decoy" bash -c "! grep -q '$DECOY' /proc/self/mountinfo"
  vt_check "$name: log says proc/meminfo was skipped for a symlink" \
    grep -q "$id: skipped proc/meminfo: a path component is a symlink" "$LOG"
  vt_check "$name: log says sys/.../online was skipped for a symlink" \
    grep -q "$id: skipped sys/devices/system/cpu/online: a path component is a symlink" "$LOG"
  after=$(vc_host_mounts)
  vt_eq "$name: host mount table unchanged after" "$before" "$after"
}

hostile_case absolute "$DECOY" "$DECOY"
# Relative: rootfs is $VT_TMP/ID/rootfs, so ../../decoy is $VT_TMP/decoy.
hostile_case relative ../../decoy ../../decoy
# Deeper link inside /sys (a regular /proc): only the linked file is skipped.
id=vproc-hostile-deep-$VT_UNIQ
rootfs=$VT_TMP/$id/rootfs
vc_rootfs "$rootfs"
vc_bundle "$VT_TMP/$id" "$rootfs" '.mounts |= map(select(.type != "sysfs"))' \
  '.linux.resources={"memory":{"limit":268435456}}' \
  '.process.args=["sh","-c","head -n1 /proc/meminfo"]' ".hooks={\"createRuntime\":[$HOOK]}"
mkdir -p "$rootfs/sys/devices/system"
ln -s "$DECOY/devices/system/cpu" "$rootfs/sys/devices/system/cpu"
out=$(vc_runc_run "$id" "$VT_TMP/$id")
vt_eq "no sysfs, link in /sys: meminfo is still vprocd's" 262144 "$(echo "$out" | vc_memtotal)"
vt_check "no sysfs, link in /sys: log says why online was skipped" \
  grep -q "$id: skipped sys/devices/system/cpu/online: a path component is a symlink" "$LOG"
vt_eq "no sysfs, link in /sys: the decoy is untouched" 0 "$(head -n1 "$DECOY/devices/system/cpu/online")"

# No proc mount, but the image ships a regular file at /proc/meminfo: not procfs.
id=vproc-hostile-plain-$VT_UNIQ
rootfs=$VT_TMP/$id/rootfs
vc_rootfs "$rootfs"
echo "MemTotal: 2 kB" > "$rootfs/proc/meminfo"
vc_bundle "$VT_TMP/$id" "$rootfs" "$NO_PROC_SYS" '.process.args=["true"]' \
  ".hooks={\"createRuntime\":[$HOOK]}"
vc_runc_run "$id" "$VT_TMP/$id" >/dev/null
vt_check "image file at /proc/meminfo (no proc mount): log says it is not procfs" \
  grep -q "$id: skipped proc/meminfo: is on .*, not procfs/sysfs" "$LOG"
vt_check "image file at /proc/meminfo: nothing mounted on it" \
  bash -c "! grep -q '$rootfs' /proc/self/mountinfo"

# rootfsPropagation rshared: the mounts must not propagate to the host.
id=vproc-hostile-rshared-$VT_UNIQ
rootfs=$VT_TMP/$id/rootfs
vc_rootfs "$rootfs"
vc_bundle "$VT_TMP/$id" "$rootfs" '.linux.rootfsPropagation="rshared"' \
  '.process.args=["sleep","30"]' ".hooks={\"createRuntime\":[$HOOK]}"
before=$(vc_host_mounts)
if vc_runc_detach "$id" "$VT_TMP/$id"; then
  during=$(vc_host_mounts)
  vt_eq "rshared: host mount table unchanged while it runs" "$before" "$during"
  vt_check "rshared: nothing under the rootfs on the host" \
    bash -c "! grep -q '$rootfs' /proc/self/mountinfo"
  pid=$(vc_runc state "$id" | jq -r .pid)
  n=$(grep -c fuse /proc/$pid/mountinfo)
  if [ "$n" = 0 ]; then
    vt_check "rshared: log says why nothing was mounted" grep -q "$id: skipped proc/meminfo: its mount is shared" "$LOG"
  else
    vt_pass "rshared: $n files injected into private mounts"
  fi
  # runc applies the propagation so that /proc is not shared at hook time; a
  # target mount that *is* shared (made so here, then the hook run by hand as
  # at poststart) is skipped, never propagated.
  nsenter -t "$pid" -m umount /proc/meminfo
  nsenter -t "$pid" -m mount --make-shared /proc
  printf '{"id":"%s","pid":%s,"bundle":"%s","status":"running"}' "$id" "$pid" "$VT_TMP/$id" |
    "$VPROC_HOOK" --mountpoint "$MP" --registry-dir "$VT_TMP/reg" --log-file "$LOG" 2>/dev/null
  vt_check "shared /proc mount: log says why meminfo was skipped" \
    grep -q "$id: skipped proc/meminfo: its mount is shared" "$LOG"
  vt_eq "shared /proc mount: nothing mounted on it" 0 "$(grep -c ' /proc/meminfo ' /proc/$pid/mountinfo)"
  vc_runc_cleanup "$id"
  vt_eq "rshared: host mount table unchanged after" "$before" "$(vc_host_mounts)"
else
  vt_fail "rshared: runc starts the container: $(cat "$VT_TMP/$id.out")"
fi

vt_finish
