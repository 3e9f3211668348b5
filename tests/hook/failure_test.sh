#!/usr/bin/env bash
# Failure policy through runc. vprocd down (nothing mounted) or hung
# (SIGSTOPped): fail-open, the container starts with the host's view and the
# log names the container; --fail-closed (flag, env, config file): runc fails
# with the reason in its error output. A hung vprocd must not hang creation
# past the hook's deadline.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-failure cmd:runc

ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
LOG=$VT_TMP/hook.log
HOST_MEM=$(vc_host_memtotal)
DOWN=$VT_TMP/not-served   # an empty dir: vprocd is not running there
mkdir -p "$DOWN"
LIMITS='.linux.resources={"memory":{"limit":268435456}}'
ARGS='.process.args=["head","-n1","/proc/meminfo"]'

# run_case NAME HOOK-ENTRY [extra jq] -> sets OUT and RC
run_case() {
  local id=vproc-fail-$1-$VT_UNIQ
  vc_bundle "$VT_TMP/$id" "$ROOTFS" "$LIMITS" "$ARGS" ".hooks={\"createRuntime\":[$2]}" ${3:+"$3"}
  local t0=$(date +%s%N)
  OUT=$(vc_runc_run "$id" "$VT_TMP/$id")
  RC=$?
  MS=$((($(date +%s%N) - t0) / 1000000))
}

run_case down-open "$(vc_hook_entry --mountpoint "$DOWN" --log-file "$LOG" --registry-dir "$VT_TMP/reg")"
vt_eq "vprocd down, fail-open: container runs" 0 "$RC"
vt_eq "vprocd down, fail-open: host's MemTotal" "$HOST_MEM" "$(echo "$OUT" | vc_memtotal)"
vt_check "vprocd down, fail-open: log names the container and the policy" \
  grep -q "container vproc-fail-down-open-$VT_UNIQ: vprocd is not serving .*fail-open" "$LOG"

run_case down-closed "$(vc_hook_entry --mountpoint "$DOWN" --fail-closed --registry-dir "$VT_TMP/reg")"
vt_check "vprocd down, fail-closed: runc fails" [ "$RC" != 0 ]
vt_check "vprocd down, fail-closed: the reason is in runc's output" \
  grep -q "vprocd is not serving .*fail-closed" <<<"$OUT"
vt_check "vprocd down, fail-closed: the workload never ran" [ -z "$(echo "$OUT" | vc_memtotal)" ]

run_case down-env "$(vc_hook_entry --mountpoint "$DOWN" --registry-dir "$VT_TMP/reg" | jq -c '.env=["VPROC_HOOK_FAIL_CLOSED=1"]')"
vt_check "fail-closed from the environment" grep -q "(fail-closed)" <<<"$OUT"

printf 'fail-closed = true\n' > "$VT_TMP/hook.conf"
run_case down-conf "$(vc_hook_entry --config "$VT_TMP/hook.conf" --mountpoint "$DOWN" --registry-dir "$VT_TMP/reg")"
vt_check "fail-closed from a config file" grep -q "(fail-closed)" <<<"$OUT"

# Dead vprocd: SIGKILLed, its mount left behind (ENOTCONN).
STALE=$VT_TMP/stale
if vt_start_vprocd "$STALE"; then
  kill -KILL "$VPROCD_PID"
  wait "$VPROCD_PID" 2>/dev/null
  run_case stale-open "$(vc_hook_entry --mountpoint "$STALE" --log-file "$LOG" --registry-dir "$VT_TMP/reg")"
  vt_eq "vprocd dead (stale mount), fail-open: container runs" 0 "$RC"
  vt_eq "vprocd dead, fail-open: host's MemTotal" "$HOST_MEM" "$(echo "$OUT" | vc_memtotal)"
  vt_check "vprocd dead: log says stale FUSE mount" \
    grep -q "vproc-fail-stale-open-$VT_UNIQ: vprocd is not running (stale FUSE mount" "$LOG"
  umount -l "$STALE"
else
  vt_fail "vprocd starts (stale case)"
fi

# Hung vprocd: stopped with SIGSTOP; reads of its files block.
MP=$VT_TMP/mp
if vt_start_vprocd "$MP"; then
  kill -STOP "$VPROCD_PID"
  vt_on_exit "kill -CONT $VPROCD_PID"
  run_case hung-open "$(vc_hook_entry --mountpoint "$MP" --timeout-ms 500 --log-file "$LOG" --registry-dir "$VT_TMP/reg")"
  vt_eq "vprocd hung, fail-open: container runs" 0 "$RC"
  vt_eq "vprocd hung, fail-open: host's MemTotal" "$HOST_MEM" "$(echo "$OUT" | vc_memtotal)"
  vt_check "vprocd hung: creation bounded by the deadline (${MS} ms < 3000)" [ "$MS" -lt 3000 ]
  vt_check "vprocd hung: log says timed out" grep -q "vproc-fail-hung-open-$VT_UNIQ: timed out" "$LOG"
  run_case hung-closed "$(vc_hook_entry --mountpoint "$MP" --timeout-ms 500 --fail-closed --registry-dir "$VT_TMP/reg")"
  vt_check "vprocd hung, fail-closed: runc fails" [ "$RC" != 0 ]
  vt_check "vprocd hung, fail-closed: reason in runc's output" grep -q "timed out" <<<"$OUT"
  kill -CONT "$VPROCD_PID"
  run_case alive "$(vc_hook_entry --mountpoint "$MP" --registry-dir "$VT_TMP/reg")"
  vt_eq "vprocd resumed: virtualized again" 262144 "$(echo "$OUT" | vc_memtotal)"
else
  vt_fail "vprocd starts"
fi

# A failure after the mounts were made (the registry cannot be written: its
# dir is a regular file), hook run by hand against a running container:
# fail-closed undoes this run's mounts; fail-open keeps them and says why.
if [ -n "${VPROCD_PID:-}" ] && kill -0 "$VPROCD_PID" 2>/dev/null; then
  id=vproc-fail-undo-$VT_UNIQ
  vc_bundle "$VT_TMP/$id" "$ROOTFS" '.process.args=["sleep","30"]'
  vc_runc_detach "$id" "$VT_TMP/$id"
  pid=$(vc_runc state "$id" | jq -r .pid)
  touch "$VT_TMP/not-a-dir"
  state=$(printf '{"id":"%s","pid":%s,"bundle":"%s","status":"running"}' "$id" "$pid" "$VT_TMP/$id")
  out=$("$VPROC_HOOK" --mountpoint "$MP" --registry-dir "$VT_TMP/not-a-dir" --fail-closed <<<"$state" 2>&1)
  vt_eq "late failure, fail-closed: exit 1" 1 "$?"
  vt_check "late failure, fail-closed: reason given ($out)" grep -q "mkdir .*not-a-dir/containers" <<<"$out"
  vt_eq "late failure, fail-closed: this run's mounts undone" 0 "$(grep -c fuse /proc/$pid/mountinfo)"
  vt_eq "late failure, fail-closed: its CPU directory undone" 0 "$(vc_cpu_dirs "$pid")"
  out=$("$VPROC_HOOK" --mountpoint "$MP" --registry-dir "$VT_TMP/not-a-dir" <<<"$state" 2>&1)
  vt_eq "late failure, fail-open: exit 0" 0 "$?"
  vt_eq "late failure, fail-open: mounts kept" "$(vc_nfiles)" "$(grep -c fuse /proc/$pid/mountinfo)"
  vt_eq "late failure, fail-open: its CPU directory kept" 1 "$(vc_cpu_dirs "$pid")"
  vt_check "late failure, fail-open: says the files stay ($out)" grep -q "stay injected but unregistered" <<<"$out"
  vc_runc_cleanup "$id"
fi

# A host without PSI: vprocd serves no pressure files, the hook skips them
# with a reason and the container starts with the others. Where the host has
# PSI, a vprocd whose --proc-root is a bind of /proc with an empty tmpfs over
# its pressure directory stands in for one (the host's /proc is untouched).
if [ -d /proc/pressure ]; then
  NOPSI=$VT_TMP/proc-nopsi
  mkdir -p "$NOPSI"
  mount --bind /proc "$NOPSI" && vt_on_exit "umount -l '$NOPSI'"
  mount -t tmpfs -o size=4k,mode=555 vproc-test-nopsi "$NOPSI/pressure" && vt_on_exit "umount '$NOPSI/pressure'"
  MPN=$VT_TMP/mp-nopsi
  if vt_start_vprocd "$MPN" --proc-root "$NOPSI"; then
    vt_check "no PSI: vprocd serves no proc/pressure" [ ! -e "$MPN/proc/pressure" ]
    ARGS='.process.args=["sh","-c","head -n1 /proc/meminfo; echo mounts=$(grep -c fuse /proc/self/mountinfo); echo psi=$(grep -c \" /proc/pressure/cpu .* fuse\" /proc/self/mountinfo)"]'
    run_case nopsi "$(vc_hook_entry --mountpoint "$MPN" --log-file "$LOG" --registry-dir "$VT_TMP/reg" --fail-closed)"
    vt_eq "no PSI, even fail-closed: the container runs" 0 "$RC"
    vt_eq "no PSI: MemTotal is the 256 MiB limit" 262144 "$(echo "$OUT" | vc_memtotal)"
    vt_eq "no PSI: the 10 other files mounted" mounts=10 "$(echo "$OUT" | grep ^mounts=)"
    vt_eq "no PSI: nothing on /proc/pressure/cpu" psi=0 "$(echo "$OUT" | grep ^psi=)"
    vt_check "no PSI: the log says why the pressure files were skipped" \
      grep -q "vproc-fail-nopsi-$VT_UNIQ: skipped proc/pressure/cpu: vprocd does not serve it (the host has no PSI)" "$LOG"
  else
    vt_fail "vprocd starts with a /proc without PSI"
  fi
fi

vt_finish
