#!/usr/bin/env bash
# vproc-hook from podman's hooks.d: the shipped oci-hooks.d JSON files with
# their path rewritten to the built hook (plus test-only args). With
# --annotation vproc.io/enable=true the container is virtualized; without it
# the hook does not run and it sees the host's view. poststop drops the
# registry entry. podman gets a private root/runroot so nothing is shared with
# other users of podman on the machine.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-podman cmd:podman cmd:runc

MP=$VT_TMP/mp
REG=$VT_TMP/reg
LOG=$VT_TMP/hook.log
vt_serve "$MP"
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"

HOOKS=$VT_TMP/hooks.d
mkdir -p "$HOOKS"
for f in "$VC_SOURCE_DIR"/oci-hooks.d/*.json; do
  jq --arg p "$VPROC_HOOK" --arg mp "$MP" --arg reg "$REG" --arg log "$LOG" \
    '.hook.path=$p | .hook.args += ["--mountpoint",$mp,"--registry-dir",$reg,"--log-file",$log]' \
    "$f" > "$HOOKS/$(basename "$f")"
done

vc_podman_private "$VT_TMP/podman" --hooks-dir "$HOOKS"

# Flags go before --rootfs: after it, the first operand is the rootfs and the
# rest is the command.
RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
     --memory 256m --cpus 0.5)
CMD=(/bin/sh -c 'head -n1 /proc/meminfo; echo online=$(head -n1 /sys/devices/system/cpu/online)')

out=$("${PODMAN[@]}" "${RUN[@]}" --name "vproc-pd-on-$VT_UNIQ" --annotation vproc.io/enable=true \
      --rootfs "$ROOTFS" "${CMD[@]}" 2>&1)
vt_eq "enable=true: podman run exits 0" 0 "$?"
vt_eq "enable=true: MemTotal is the 256 MiB limit" 262144 "$(echo "$out" | vc_memtotal)"
vt_eq "enable=true: online is one CPU" "online=0" "$(echo "$out" | grep ^online=)"
[ -n "$(echo "$out" | vc_memtotal)" ] || echo "$out" | sed 's/^/    /'

# Registry: an entry while it runs, none after podman removes it (poststop).
name=vproc-pd-reg-$VT_UNIQ
"${PODMAN[@]}" run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --memory 200m --name "$name" --annotation vproc.io/enable=true --rootfs "$ROOTFS" /bin/sleep 30 \
  >/dev/null 2>&1
cid=$("${PODMAN[@]}" inspect --format '{{.Id}}' "$name" 2>/dev/null)
vt_check "registry entry for the running container" [ -f "$REG/containers/${cid:-none}.json" ]
# A crashed vprocd: the container's files go stale; the next vprocd re-attaches
# it from the registry, the same way as a runc or containerd container.
memof() { "${PODMAN[@]}" exec "$name" head -n1 /proc/meminfo 2>&1 | vc_memtotal; }
vt_eq "detached podman container: MemTotal is its 200 MiB" 204800 "$(memof)"
vt_kill9_vprocd "$VPROCD_PID"
vt_check "after kill -9 of vprocd its reads fail" sh -c "! ${PODMAN[*]} exec $name cat /proc/meminfo >/dev/null 2>&1"
vt_start_vprocd "$MP" --registry-dir "$REG" || vt_fail "vprocd restarts"
vt_eq "restarted vprocd re-attached the podman container: MemTotal" 204800 "$(memof)"
"${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null 2>&1
for i in $(seq 1 50); do [ -e "$REG/containers/$cid.json" ] || break; sleep 0.1; done
vt_check "registry entry removed at poststop" [ ! -e "$REG/containers/$cid.json" ]

out=$("${PODMAN[@]}" "${RUN[@]}" --name "vproc-pd-off-$VT_UNIQ" --rootfs "$ROOTFS" "${CMD[@]}" 2>&1)
vt_eq "no annotation: podman run exits 0" 0 "$?"
vt_eq "no annotation: the host's MemTotal" "$(vc_host_memtotal)" "$(echo "$out" | vc_memtotal)"

out=$("${PODMAN[@]}" "${RUN[@]}" --name "vproc-pd-false-$VT_UNIQ" --annotation vproc.io/enable=false \
      --rootfs "$ROOTFS" "${CMD[@]}" 2>&1)
vt_eq "enable=false: the host's MemTotal" "$(vc_host_memtotal)" "$(echo "$out" | vc_memtotal)"

vt_finish
