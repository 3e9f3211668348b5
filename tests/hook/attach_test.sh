#!/usr/bin/env bash
# vproc-hook attach (issue 4, "Attach later"): containers started before
# vprocd existed, without the hook, get vprocd's files afterwards.
#
#   1. Four detached runc containers (private runc roots, busybox, each its own
#      memory limit) start while no vprocd runs: they see the host's MemTotal.
#      Attaching one then fails (vprocd is not serving) and changes nothing.
#   2. vprocd starts. `attach --pid` with a pid *inside* one container (not its
#      init) finds the container in the runtime state and attaches it: its
#      MemTotal is its limit (read with `runc exec`), a registry record names
#      its init. Attaching again stacks no mount.
#   3. `attach --all --runtime-root` over the other three (annotated
#      vproc.io/enable=true, =false, none): --dry-run mounts nothing; policy
#      opt-in (from the config file, then the flag) attaches only "true";
#      opt-out then adds the unannotated one; "false" is never attached.
#   4. Refusals: a pid that does not exist; a pid on the host (its mount
#      namespace is ours): exit 1 with a clear line, the host's /proc
#      untouched. A stopped container is skipped; a broken state.json fails.
#   5. The hook itself under --policy opt-in injects only enable=true.
#   6. The records written by attach let a restarted vprocd re-attach.
#   7. podman (state in /run/runc) and containerd (/run/containerd/runc/<ns>),
#      each by --pid only, so no other container on this machine is touched.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-attach cmd:runc hook

MP=$VT_TMP/mp
REG=$VT_TMP/registry
LOG=$VT_TMP/hook.log
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
RA=$VT_TMP/runc-a  # the container attached by --pid
RB=$VT_TMP/runc-b  # the containers attached by --all
HOST_MEM=$(vc_host_memtotal)
MIB=1048576
ATTACH=("$VPROC_HOOK" attach --mountpoint "$MP" --registry-dir "$REG" --log-file "$LOG")

# --- helpers local to this test ---------------------------------------------------------------

# start_ctr ROOT ID MEM_MIB [JQ...]: a detached runc container without any hook.
# Its init (sleep 1001) has a child (sleep 1000): a pid in the container
# that is not its init.
start_ctr() {
  local root=$1 id=$2 mem=$3
  shift 3
  vc_bundle "$VT_TMP/$id" "$ROOTFS" ".linux.resources={\"memory\":{\"limit\":$((mem * MIB))}}" \
    '.process.args=["sh","-c","sleep 1000 & exec sleep 1001"]' "$@"
  vt_on_exit "ctr_cleanup '$root' $id"
  runc --root "$root" run -d --bundle "$VT_TMP/$id" "$id" </dev/null >"$VT_TMP/$id.out" 2>&1 ||
    { echo "runc run $id failed:"; cat "$VT_TMP/$id.out"; }
}
ctr_cleanup() {
  runc --root "$1" kill "$2" KILL 2>/dev/null
  runc --root "$1" delete -f "$2" 2>/dev/null
  local c
  for c in /sys/fs/cgroup/*/"vproc-test-$VT_UNIQ-$2"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
  return 0
}
init_of() { runc --root "$1" state "$2" 2>/dev/null | jq -r .pid; }
# memtotal_in ROOT ID: MemTotal (kB) as a process in the container reads it.
memtotal_in() { runc --root "$1" exec "$2" head -n1 /proc/meminfo 2>&1 | vc_memtotal; }
# fuse_mounts PID: FUSE mounts in PID's mount namespace.
fuse_mounts() { grep -c ' - fuse' "/proc/$1/mountinfo"; }
# run_attach ARGS...: sets OUT (stdout), ERR (stderr), RC.
run_attach() {
  OUT=$("${ATTACH[@]}" "$@" 2>"$VT_TMP/attach.err")
  RC=$?
  ERR=$(cat "$VT_TMP/attach.err")
  [ -z "$OUT$ERR" ] || printf '%s\n' "$OUT" "$ERR" | sed '/^$/d; s/^/    | /'
}
has_line() { grep -qxF -- "$1" <<<"$2"; }
has_text() { grep -qF -- "$1" <<<"$2"; }

# --- 1. containers first, no vprocd ---------------------------------------------------------

P=vproc-att-pid-$VT_UNIQ
T=vproc-att-true-$VT_UNIQ
F=vproc-att-false-$VT_UNIQ
N=vproc-att-none-$VT_UNIQ
vt_check "no vprocd serves $MP yet" [ ! -e "$MP/proc/meminfo" ]
# P runs on the host's last CPU: its CPU directory lists that cpuN only.
PCPU=$(($(nproc --all) - 1))
PCPUS=cpu$PCPU
NF=$(vc_nfiles)
start_ctr "$RA" "$P" 256 ".linux.resources.cpu={\"cpus\":\"$PCPU\",\"mems\":\"0\"}"
start_ctr "$RB" "$T" 128 '.annotations={"vproc.io/enable":"true"}'
start_ctr "$RB" "$F" 192 '.annotations={"vproc.io/enable":"false"}'
start_ctr "$RB" "$N" 320
PI=$(init_of "$RA" "$P"); TI=$(init_of "$RB" "$T"); FI=$(init_of "$RB" "$F"); NI=$(init_of "$RB" "$N")
for pid in "$PI" "$TI" "$FI" "$NI"; do
  [ -n "$pid" ] && [ "$pid" != null ] && [ -d "/proc/$pid" ] ||
    { vt_fail "four containers run (runc state: $PI $TI $FI $NI)"; vt_finish; exit; }
done
vt_pass "four containers run, started before vprocd"
vt_eq "before attach: the host's MemTotal in $P" "$HOST_MEM" "$(memtotal_in "$RA" "$P")"
run_attach --pid "$PI" --runtime-root "$RA"
vt_eq "attach while vprocd is not running: exit 1" 1 "$RC"
vt_check "... the error names the container and the reason" has_text \
  "vproc-hook: attach: container $P (pid $PI): vprocd is not serving $MP/proc/meminfo" "$ERR"
vt_eq "... nothing mounted" 0 "$(fuse_mounts "$PI")"
vt_check "... no registry record" [ ! -e "$REG/containers/$P.json" ]

vt_serve "$MP" --registry-dir "$REG"

# --- 2. attach --pid ---------------------------------------------------------------------------

vt_wait_for 5 grep -q . "/proc/$PI/task/$PI/children"
CHILD=$(awk '{print $1}' "/proc/$PI/task/$PI/children")
vt_check "the container's init has a child ($CHILD)" [ -n "$CHILD" ] && [ "$CHILD" != "$PI" ]
run_attach --pid "${CHILD:-$PI}" --runtime-root "$RA"
vt_eq "attach --pid (a child of the init): exit 0" 0 "$RC"
vt_check "attach --pid: one line naming the container and its init" has_line \
  "attached $P (pid $PI): $(vc_attached_names)" "$OUT"
vt_eq "attach --pid: MemTotal is the 256 MiB limit" $((256 * 1024)) "$(memtotal_in "$RA" "$P")"
vt_eq "attach --pid: $NF FUSE mounts in the container" "$NF" "$(fuse_mounts "$PI")"
vt_eq "attach --pid: one vproc CPU directory" 1 "$(vc_cpu_dirs "$PI")"
vt_eq "attach --pid: the container lists cpuN of its cpuset only" "$PCPUS" \
  "$(runc --root "$RA" exec "$P" ls /sys/devices/system/cpu | grep -E '^cpu[0-9]+$' | tr '\n' ' ' | sed 's/ $//')"
vt_eq "attach --pid: possible is online's" "$(runc --root "$RA" exec "$P" cat /sys/devices/system/cpu/online)" \
  "$(runc --root "$RA" exec "$P" cat /sys/devices/system/cpu/possible)"
rec=$REG/containers/$P.json
vt_check "attach --pid: registry record written under --registry-dir" [ -f "$rec" ]
vt_eq "record: the init pid" "$PI" "$(jq -r .pid "$rec" 2>/dev/null)"
vt_eq "record: its start time" "$(vt_starttime "$PI")" "$(jq -r .pid_start_time "$rec" 2>/dev/null)"
vt_eq "record: its mount namespace" "$(stat -Lc %i "/proc/$PI/ns/mnt")" "$(jq -r .mnt_ns "$rec" 2>/dev/null)"
vt_eq "record: rootfs / (the container has pivoted)" / "$(jq -r .rootfs "$rec" 2>/dev/null)"
vt_eq "record: the mountpoint" "$MP" "$(jq -r .mountpoint "$rec" 2>/dev/null)"
vt_eq "record: $NF files (not the CPU directory)" "$NF" "$(jq '.files | length' "$rec" 2>/dev/null)"
vt_check "record: attached_at is now" [ $(($(date +%s) - $(jq -r .attached_at "$rec" 2>/dev/null || echo 0))) -lt 60 ]

run_attach --pid "$PI" --runtime-root "$RA"
vt_eq "attach --pid again: exit 0" 0 "$RC"
vt_check "attach --pid again: skipped, already attached" has_line \
  "skipped $P: already attached to this vprocd" "$OUT"
vt_eq "attach --pid again: still $NF FUSE mounts (none stacked)" "$NF" "$(fuse_mounts "$PI")"
vt_eq "attach --pid again: still one vproc CPU directory" 1 "$(vc_cpu_dirs "$PI")"
vt_eq "attach --pid again: one mount on /proc/meminfo" 1 "$(grep -c ' /proc/meminfo ' "/proc/$PI/mountinfo")"

# --- 3. attach --all, by policy ---------------------------------------------------------------

echo "policy = opt-in" >"$VT_TMP/hook.conf"
run_attach --config "$VT_TMP/hook.conf" --all --runtime-root "$RB" --dry-run
vt_eq "dry run (policy opt-in from the config file): exit 0" 0 "$RC"
vt_check "dry run: would attach the enable=true one" has_line \
  "would attach $T (pid $TI): $(vc_file_names)" "$OUT"
vt_check "dry run: the enable=false one skipped, with the reason" has_line \
  "skipped $F: vproc.io/enable is \"false\"" "$OUT"
vt_check "dry run: the unannotated one skipped under opt-in, with the reason" has_line \
  "skipped $N: vproc.io/enable is not set (policy opt-in injects only \"true\")" "$OUT"
vt_eq "dry run: one line per container" 3 "$(grep -c . <<<"$OUT")"
vt_eq "dry run: nothing mounted" "0 0 0" "$(fuse_mounts "$TI") $(fuse_mounts "$FI") $(fuse_mounts "$NI")"
vt_check "dry run: no registry record" [ ! -e "$REG/containers/$T.json" ]

run_attach --all --runtime-root "$RB" --policy opt-in
vt_eq "attach --all --policy opt-in: exit 0" 0 "$RC"
vt_check "opt-in: the enable=true one attached" has_line \
  "attached $T (pid $TI): $(vc_attached_names)" "$OUT"
vt_check "opt-in: enable=false skipped" has_text "skipped $F: " "$OUT"
vt_check "opt-in: the unannotated one skipped" has_text "skipped $N: " "$OUT"
vt_eq "opt-in: enable=true sees its 128 MiB" $((128 * 1024)) "$(memtotal_in "$RB" "$T")"
vt_eq "opt-in: the unannotated one still sees the host" "$HOST_MEM" "$(memtotal_in "$RB" "$N")"
vt_eq "opt-in: FUSE mounts (true, false, none)" "$NF 0 0" \
  "$(fuse_mounts "$TI") $(fuse_mounts "$FI") $(fuse_mounts "$NI")"

run_attach --all --runtime-root "$RB" --policy opt-out --config "$VT_TMP/hook.conf"
vt_eq "attach --all --policy opt-out (the flag beats the config file): exit 0" 0 "$RC"
vt_check "opt-out: the enable=true one already attached" has_line \
  "skipped $T: already attached to this vprocd" "$OUT"
vt_check "opt-out: the unannotated one attached" has_line \
  "attached $N (pid $NI): $(vc_attached_names)" "$OUT"
vt_check "opt-out: enable=false still skipped" has_line "skipped $F: vproc.io/enable is \"false\"" "$OUT"
vt_eq "opt-out: the unannotated one sees its 320 MiB" $((320 * 1024)) "$(memtotal_in "$RB" "$N")"
vt_eq "opt-out: enable=false sees the host" "$HOST_MEM" "$(memtotal_in "$RB" "$F")"
vt_eq "opt-out: FUSE mounts (true, false, none): nothing stacked" "$NF 0 $NF" \
  "$(fuse_mounts "$TI") $(fuse_mounts "$FI") $(fuse_mounts "$NI")"
vt_eq "registry records: the --pid one, true and none; not false" "$N.json $P.json $T.json" \
  "$(cd "$REG/containers" && ls | sort | tr '\n' ' ' | sed 's/ $//')"

# --- 4. refusals and failures -------------------------------------------------------------------

sleep 0.01 &
GONE=$!
wait $GONE  # an exited pid (not reused this fast)
run_attach --pid "$GONE"
vt_eq "attach --pid of a pid that does not exist: exit 1" 1 "$RC"
vt_check "... says so" has_line "vproc-hook: attach: pid $GONE: no such process" "$ERR"

sleep 300 &
HOSTPID=$!
vt_kill_on_exit "$HOSTPID"
before=$(vc_host_mounts)
run_attach --pid "$HOSTPID"
vt_eq "attach --pid of a process on the host: exit 1" 1 "$RC"
vt_check "... refused: it shares the host's mount namespace" has_text \
  "vproc-hook: attach: pid $HOSTPID is not in a container: it shares the host's mount namespace" "$ERR"
vt_eq "... nothing printed to stdout" "" "$OUT"
vt_eq "... no mount on the host's /proc/meminfo" 0 "$(vt_mount_count /proc/meminfo)"
vt_eq "... the host's mount table unchanged" "$before" "$(vc_host_mounts)"
vt_eq "... the host's MemTotal unchanged" "$HOST_MEM" "$(vc_host_memtotal)"
kill "$HOSTPID"

out=$("$VPROC_HOOK" attach 2>&1)
vt_eq "attach without --pid or --all: usage error, exit 2" 2 "$?"
vt_check "... naming what is missing" has_text "--pid PID or --all" "$out"

mkdir -p "$VT_TMP/runc-bad/broken"
echo '{"init_process_pid":' >"$VT_TMP/runc-bad/broken/state.json"
run_attach --all --runtime-root "$VT_TMP/runc-bad"
vt_eq "a malformed state.json: exit 1" 1 "$RC"
vt_check "... the error names the file" has_text \
  "container broken: $VT_TMP/runc-bad/broken/state.json: not valid JSON" "$ERR"

runc --root "$RB" kill "$F" KILL
vt_wait_for 5 bash -c "[ \"\$(runc --root '$RB' state '$F' | jq -r .status)\" = stopped ]"
run_attach --all --runtime-root "$RB"
vt_eq "a stopped container in --all: still exit 0" 0 "$RC"
vt_check "... skipped as not running" has_line \
  "skipped $F: not running (its init, pid $FI, is gone)" "$OUT"

# --- 5. the hook itself under --policy opt-in --------------------------------------------------

entry=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG" --log-file "$LOG" --policy opt-in)
declare -A HOOK_OUT
for ann in none true; do
  id=vproc-att-hook-$ann-$VT_UNIQ
  a='.'
  [ $ann = true ] && a='.annotations={"vproc.io/enable":"true"}'
  vc_bundle "$VT_TMP/$id" "$ROOTFS" '.linux.resources={"memory":{"limit":201326592}}' \
    '.process.args=["head","-n1","/proc/meminfo"]' "$a" ".hooks={\"createRuntime\":[$entry]}"
  HOOK_OUT[$ann]=$(vc_runc_run "$id" "$VT_TMP/$id" | vc_memtotal)
done
vt_eq "hook --policy opt-in: an unannotated container keeps the host's MemTotal" \
  "$HOST_MEM" "${HOOK_OUT[none]}"
vt_eq "hook --policy opt-in: enable=true gets its 192 MiB" $((192 * 1024)) "${HOOK_OUT[true]}"

# --- 6. a vprocd restart re-attaches what attach registered -------------------------------------

vt_stop_vprocd_guarded "$VPROCD_PID" "$MP"
vt_start_vprocd "$MP" --registry-dir "$REG" || vt_abort "vprocd restarts"
vt_wait_for 10 bash -c "[ \"\$(runc --root '$RA' exec '$P' head -n1 /proc/meminfo 2>/dev/null |
  awk '{print \$2}')\" = $((256 * 1024)) ]"
vt_eq "after a vprocd restart: the --pid container reads its limit again" $((256 * 1024)) \
  "$(memtotal_in "$RA" "$P")"
vt_eq "after a vprocd restart: the --all container too" $((320 * 1024)) "$(memtotal_in "$RB" "$N")"
vt_eq "after a vprocd restart: still one mount on /proc/meminfo" 1 \
  "$(grep -c ' /proc/meminfo ' "/proc/$PI/mountinfo")"

# --- 7. podman and containerd state, by --pid ------------------------------------------------

if command -v podman >/dev/null; then
  vc_podman_private "$VT_TMP/podman"
  name=vproc-att-pd-$VT_UNIQ
  "${PODMAN[@]}" run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --memory 96m --annotation vproc.io/files=meminfo --name "$name" \
    --rootfs "$ROOTFS" /bin/sleep 1000 >/dev/null 2>"$VT_TMP/podman.err" ||
    sed 's/^/    podman: /' "$VT_TMP/podman.err"
  cid=$("${PODMAN[@]}" inspect --format '{{.Id}}' "$name" 2>/dev/null)
  ppid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$name" 2>/dev/null)
  vt_check "podman (runc) keeps its state in /run/runc" [ -f "/run/runc/$cid/state.json" ]
  run_attach --pid "${ppid:-0}" --runtime-root /run/runc
  vt_eq "podman: attach --pid exits 0" 0 "$RC"
  vt_check "podman: attached with vproc.io/files from its bundle" has_line \
    "attached $cid (pid $ppid): meminfo" "$OUT"
  vt_eq "podman: MemTotal is the 96 MiB limit" $((96 * 1024)) \
    "$("${PODMAN[@]}" exec "$name" head -n1 /proc/meminfo 2>&1 | vc_memtotal)"
  "${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null 2>&1
else
  echo "podman not installed: podman part not run"
fi

if command -v containerd >/dev/null && command -v ctr >/dev/null; then
  SOCK=$VT_TMP/containerd/containerd.sock
  vc_start_containerd "$VT_TMP/containerd" || true
  id=vproc-att-ctr-$VT_UNIQ
  vc_bundle "$VT_TMP/$id" "$ROOTFS" '.linux.resources={"memory":{"limit":117440512}}' \
    '.process.args=["sleep","1000"]'
  vt_on_exit "for c in /sys/fs/cgroup/*/vproc-test-$VT_UNIQ-$id; do rmdir \$c; done"
  vt_on_exit "ctr -a '$SOCK' task kill -s KILL $id; sleep 0.2; ctr -a '$SOCK' task rm -f $id; ctr -a '$SOCK' container rm $id"
  ctr -a "$SOCK" run -d --config "$VT_TMP/$id/config.json" "$id" </dev/null >"$VT_TMP/ctr.out" 2>&1
  cpid=$(ctr -a "$SOCK" task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
  vt_check "containerd's runc shim keeps its state in /run/containerd/runc/default" \
    [ -f "/run/containerd/runc/default/$id/state.json" ]
  run_attach --pid "${cpid:-0}" --runtime-root /run/containerd/runc
  vt_eq "containerd: attach --pid exits 0" 0 "$RC"
  vt_check "containerd: attached by its id" has_text "attached $id (pid $cpid): meminfo," "$OUT"
  vt_eq "containerd: MemTotal is the 112 MiB limit" $((112 * 1024)) \
    "$(ctr -a "$SOCK" task exec --exec-id m "$id" head -n1 /proc/meminfo 2>&1 | vc_memtotal)"
else
  echo "containerd not installed: containerd part not run"
fi

vt_show_logs
vt_finish
