#!/usr/bin/env bash
# Re-attach with a deadline per container (issue 17): three runc containers
# with vproc-hook; the second one gets a FUSE mount of its own over /proc
# whose server reads every request and never answers (tools/hangfs.cpp).
# After kill -9 of vprocd and a new one:
#   - the re-attach pass gives up on the hanging container, logs it, and
#     still reports (READY) within 2 s;
#   - the other two read their own limits again within 2 s of the start;
#   - the new vprocd serves, and once the hanging server is gone, the worker
#     that waited on it is gone too.
# Also: the create hook refuses a "container" whose mount namespace is the
# host's (a state naming a host process), and mounts nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-reattach-hang cmd:runc hook
HANGFS=$VPROC_BUILD_DIR/tests/hook/vproc_test_hangfs
[ -x "$HANGFS" ] || vt_abort "the test server is built ($HANGFS)"

MP=$VT_TMP/mp
REG=$VT_TMP/registry
vt_serve "$MP" --registry-dir "$REG"
BUSY=$VT_TMP/busybox-rootfs
vc_rootfs "$BUSY"
entry=$(vc_hook_entry --mountpoint "$MP" --registry-dir "$REG" --log-file "$VT_TMP/hook.log")
declare -A PID LIMIT_KB
for i in 1 2 3; do
  id=vproc-hang-$i-$VT_UNIQ
  LIMIT_KB[$i]=$(((64 + 32 * i) * 1024))
  vc_bundle "$VT_TMP/$id" "$BUSY" \
    ".linux.resources={\"memory\":{\"limit\":$((LIMIT_KB[$i] * 1024))}}" \
    '.process.args=["sleep","300"]' ".hooks={\"createRuntime\":[$entry]}"
  vc_runc_detach "$id" "$VT_TMP/$id" || vt_abort "runc run -d $id"
  PID[$i]=$(vc_runc state "$id" | jq -r .pid)
done
# memof I: MemTotal as container I reads it (through its own root, from the host).
memof() { timeout 2 awk '/^MemTotal:/ { print $2 }' "/proc/${PID[$1]}/root/proc/meminfo" 2>/dev/null; }
for i in 1 2 3; do vt_eq "container $i reads its limit" "${LIMIT_KB[$i]}" "$(memof "$i")"; done

# Container 2's own FUSE mount over /proc, which never answers.
"$HANGFS" "${PID[2]}" /proc >"$VT_TMP/hangfs.out" 2>&1 &
HPID=$!
vt_kill_on_exit "$HPID"
vt_wait_for 5 grep -q ready "$VT_TMP/hangfs.out"
# A read that reached the server waits, unkillably, for an answer: probe in the background and
# let the probe end when hangfs does.
cat "/proc/${PID[2]}/root/proc/meminfo" >/dev/null 2>&1 &
PROBE=$!
sleep 1
vt_check "container 2's /proc hangs (a read does not finish within 1 s)" kill -0 "$PROBE"

kill -KILL "$VPROCD_PID"
wait "$VPROCD_PID" 2>/dev/null
t0=$(date +%s%N)
vt_launch_vprocd "$MP" --registry-dir "$REG"
NEW_PID=$VT_LAUNCHED_PID
line=$(vt_reattach_line "$VT_LAUNCHED_LOG" 15)
vt_check "the new vprocd logs its re-attach pass ($line)" test -n "$line"
vt_check "... two attached, one failed" grep -q "re-attach: 2 attached, 0 pruned, 1 failed" <<<"$line"
pass_ms=$(sed -n 's/.* in \([0-9]*\) ms.*/\1/p' <<<"$line")
vt_check "... the pass took at most 2 s (${pass_ms:-?} ms)" [ "${pass_ms:-99999}" -le 2000 ]
vt_check "... and names the hanging container" \
  grep -q "vproc-hang-2-$VT_UNIQ (pid ${PID[2]}): re-attach skipped: no answer within" \
  "$VT_LAUNCHED_LOG"
# back I: container I reads its limit (a function, so that every try reads again).
back() { [ "$(memof "$1")" = "${LIMIT_KB[$1]}" ]; }
for i in 1 3; do
  vt_wait_for 5 back "$i"
  ms=$((($(date +%s%N) - t0) / 1000000))
  vt_eq "container $i reads its limit again" "${LIMIT_KB[$i]}" "$(memof "$i")"
  vt_check "... within 2 s of the new vprocd's start ($ms ms)" [ "$ms" -le 2000 ]
done
vt_figure "re-attach with one hanging container: pass ${pass_ms} ms; the others back within ${ms} ms"
vt_check "the new vprocd serves" vt_serving "$MP"
vt_check "... and is alive" kill -0 "$NEW_PID"

# Once the server is gone, its mount answers ENOTCONN at once.
kill -KILL "$HPID"
wait "$HPID" 2>/dev/null
wait "$PROBE" 2>/dev/null
vt_check "container 2's /proc no longer hangs (the dead server answers ENOTCONN)" \
  [ "$(timeout 2 cat "/proc/${PID[2]}/root/proc/meminfo" >/dev/null 2>&1; echo $?)" != 124 ]

# --- the create hook refuses the host's mount namespace -------------------------------------
sleep 300 &
HOST_PID=$!
vt_kill_on_exit "$HOST_PID"
hb=$VT_TMP/host-bundle
mkdir -p "$hb"
vc_bundle "$hb" "$BUSY"
state=$(jq -nc --arg b "$hb" --argjson p "$HOST_PID" \
  '{ociVersion: "1.0.2", id: "vproc-hostns", status: "creating", pid: $p, bundle: $b}')
before=$(vt_mount_count /proc/meminfo)
out=$("$VPROC_HOOK" create --mountpoint "$MP" --registry-dir "$REG" <<<"$state" 2>&1)
echo "$out" | sed 's/^/    | /'
vt_check "create hook: says it refuses the host's mount namespace" grep -q "host's mount namespace" <<<"$out"
vt_eq "create hook: nothing mounted on the host's /proc/meminfo" "$before" "$(vt_mount_count /proc/meminfo)"
vt_check "create hook: no registry record" test ! -e "$REG/containers/vproc-hostns.json"
vt_finish
