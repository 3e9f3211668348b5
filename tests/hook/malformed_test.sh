#!/usr/bin/env bash
# Malformed input to the real vproc-hook binary: empty stdin, not JSON,
# missing pid, a pid that exited, a bundle without config.json, a hostile id,
# a bad vproc.io/files. Each gives one clear line, no mount, no crash, and the
# exit status of the policy (0 fail-open, 1 fail-closed). Also --version,
# --help, opt-out, and poststop without a pid.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_preamble hook-malformed hook

MP=$VT_TMP/mp
REG=$VT_TMP/reg
vt_serve "$MP"
BUNDLE=$VT_TMP/bundle
mkdir -p "$BUNDLE/rootfs/proc"
echo '{"root":{"path":"rootfs"}}' > "$BUNDLE/config.json"
mkdir -p "$VT_TMP/noconfig"
sleep 0.01 & GONE=$!
wait $GONE   # an exited pid (not reused this fast)

# case NAME STDIN EXPECTED-MESSAGE-REGEX
check_case() {
  local name=$1 input=$2 msg=$3 before out rc
  before=$(vc_host_mounts)
  out=$(printf '%s' "$input" | "$VPROC_HOOK" --mountpoint "$MP" --registry-dir "$REG" 2>&1)
  rc=$?
  vt_eq "$name: fail-open exits 0" 0 "$rc"
  vt_check "$name: one clear line ($out)" bash -c '[ "$(wc -l <<<"$1")" = 1 ] && grep -Eq "$2" <<<"$1"' _ "$out" "$msg"
  out=$(printf '%s' "$input" | "$VPROC_HOOK" --mountpoint "$MP" --registry-dir "$REG" --fail-closed 2>&1)
  rc=$?
  vt_eq "$name: fail-closed exits 1" 1 "$rc"
  vt_check "$name: fail-closed says so" grep -q "(fail-closed)" <<<"$out"
  vt_eq "$name: no mount" "$before" "$(vc_host_mounts)"
}

check_case empty "" "container \?: state: empty input; .*fail-open"
check_case not-json "hello" "container \?: state: not valid JSON"
check_case truncated '{"id":"c1","pid":' "state: not valid JSON"
check_case array '[]' "state: not a JSON object"
check_case no-id '{"pid":1,"bundle":"/x"}' 'state: missing "id"'
check_case bad-id '{"id":"../../etc/x","pid":1,"bundle":"/x"}' 'invalid container id'
check_case missing-pid "{\"id\":\"c1\",\"bundle\":\"$BUNDLE\"}" 'container c1: state: missing "pid"'
check_case pid-string "{\"id\":\"c1\",\"pid\":\"1\",\"bundle\":\"$BUNDLE\"}" 'container c1: state: "pid" is not a valid pid'
check_case pid-gone "{\"id\":\"c1\",\"pid\":$GONE,\"bundle\":\"$BUNDLE\"}" "container c1: container init pid $GONE is gone"
check_case no-config "{\"id\":\"c1\",\"pid\":$$,\"bundle\":\"$VT_TMP/noconfig\"}" 'container c1: .*/noconfig/config.json: does not exist'
check_case no-bundle "{\"id\":\"c1\",\"pid\":$$}" 'container c1: state: missing "bundle"'
check_case bad-files "{\"id\":\"c1\",\"pid\":$$,\"bundle\":\"$BUNDLE\",\"annotations\":{\"vproc.io/files\":\"meminfo,passwd\"}}" 'unknown file "passwd"'
check_case bad-enable "{\"id\":\"c1\",\"pid\":$$,\"bundle\":\"$BUNDLE\",\"annotations\":{\"vproc.io/enable\":\"yes\"}}" 'expected "true" or "false"'

out=$(echo "{\"id\":\"c1\",\"pid\":$GONE,\"bundle\":\"$VT_TMP/noconfig\",\"annotations\":{\"vproc.io/enable\":\"false\"}}" |
      "$VPROC_HOOK" --mountpoint "$MP" --fail-closed 2>&1)
vt_eq "opted out: exit 0 and silent, even fail-closed" "0:" "$?:$out"
mkdir -p "$REG/containers"
echo '{}' > "$REG/containers/c9.json"
out=$(echo '{"id":"c9","status":"stopped","bundle":"/nonexistent"}' | "$VPROC_HOOK" poststop --registry-dir "$REG" 2>&1)
vt_eq "poststop without pid: exit 0, silent" "0:" "$?:$out"
vt_check "poststop removed the entry" [ ! -e "$REG/containers/c9.json" ]
vt_check "--version prints the version" bash -c "'$VPROC_HOOK' --version | grep -q '^vproc-hook [0-9]'"
vt_check "--help mentions --fail-closed" bash -c "'$VPROC_HOOK' --help | grep -q -- --fail-closed"
"$VPROC_HOOK" --bogus </dev/null >/dev/null 2>&1
vt_eq "unknown flag is a usage error" 2 "$?"
"$VPROC_HOOK" bogus-stage </dev/null >/dev/null 2>&1
vt_eq "unknown stage is a usage error" 2 "$?"

vt_finish
