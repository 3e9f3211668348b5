#!/usr/bin/env bash
# vproc-hook under containerd: the test starts its own containerd (private
# config, root, state and socket; CRI disabled), and `ctr run --config` runs a
# spec whose hooks name vproc-hook. The container is virtualized. Only the
# containerd started here is stopped.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-containerd cmd:containerd cmd:ctr

MP=$VT_TMP/mp
REG=$VT_TMP/reg
vt_serve "$MP"
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"

SOCK=$VT_TMP/containerd/containerd.sock
vc_start_containerd "$VT_TMP/containerd" 2>"$VT_TMP/containerd.err" ||
  vt_abort "containerd starts: $(cat "$VT_TMP/containerd.err")"

# ctr_case NAME HOOKS-JSON -> OUT, RC
ctr_case() {
  local id=vproc-ctr-$1-$VT_UNIQ
  vc_bundle "$VT_TMP/$id" "$ROOTFS" \
    '.linux.resources={"memory":{"limit":268435456},"cpu":{"quota":50000,"period":100000}}' \
    '.process.args=["sh","-c","head -n1 /proc/meminfo; echo online=$(head -n1 /sys/devices/system/cpu/online)"]' \
    ".hooks=$2"
  vt_on_exit "ctr -a '$SOCK' task kill -s KILL $id; ctr -a '$SOCK' container rm $id"
  OUT=$(timeout 60 ctr -a "$SOCK" run --rm --config "$VT_TMP/$id/config.json" "$id" </dev/null 2>&1)
  RC=$?
}

ctr_case create "{\"createRuntime\":[$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG")]}"
vt_eq "createRuntime: ctr run exits 0" 0 "$RC"
vt_eq "createRuntime: MemTotal is the 256 MiB limit" 262144 "$(echo "$OUT" | vc_memtotal)"
vt_eq "createRuntime: online is one CPU" "online=0" "$(echo "$OUT" | grep ^online=)"
[ "$RC" = 0 ] || echo "$OUT" | sed 's/^/    /'

ctr_case prestart "{\"prestart\":[$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG")]}"
vt_eq "prestart: MemTotal is the 256 MiB limit" 262144 "$(echo "$OUT" | vc_memtotal)"

# A crashed vprocd: a running containerd container is re-attached from the
# registry by the next vprocd, with nothing containerd-specific.
id=vproc-ctr-restart-$VT_UNIQ
vc_bundle "$VT_TMP/$id" "$ROOTFS" \
  '.linux.resources={"memory":{"limit":209715200}}' '.process.args=["sleep","60"]' \
  ".hooks={\"createRuntime\":[$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG")]}"
vt_on_exit "ctr -a '$SOCK' task kill -s KILL $id; sleep 0.3; ctr -a '$SOCK' task rm -f $id; ctr -a '$SOCK' container rm $id"
timeout 60 ctr -a "$SOCK" run -d --config "$VT_TMP/$id/config.json" "$id" </dev/null >/dev/null 2>&1
n=0
memof() {
  n=$((n + 1))
  timeout 20 ctr -a "$SOCK" task exec --exec-id "m$n" "$id" head -n1 /proc/meminfo 2>&1 | vc_memtotal
}
vt_eq "detached containerd container: MemTotal is its 200 MiB" 204800 "$(memof)"
vt_kill9_vprocd "$VPROCD_PID"
vt_check "after kill -9 of vprocd its reads fail" [ -z "$(memof)" ]
vt_start_vprocd "$MP" --registry-dir "$REG" || vt_fail "vprocd restarts"
vt_eq "restarted vprocd re-attached the containerd container: MemTotal" 204800 "$(memof)"
ctr -a "$SOCK" task kill -s KILL "$id" >/dev/null 2>&1

ctr_case closed "{\"createRuntime\":[$(vc_hook_entry --mountpoint "$VT_TMP/nothing" --fail-closed --registry-dir "$REG")]}"
vt_check "fail-closed with vprocd down: ctr run fails" [ "$RC" != 0 ]
vt_check "fail-closed: the reason reaches ctr's output" grep -q "vprocd is not serving" <<<"$OUT"

vt_finish
