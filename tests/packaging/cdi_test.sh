#!/usr/bin/env bash
# The CDI spec (packaging/cdi/vproc.json) with this machine's podman 4.3 and
# runc: checks the shipped spec, then installs a copy whose paths point at a
# private vprocd and the built hook (kind vproc.io/test-<unique>, so it never
# clashes with an installed vproc.io/proc) and runs containers with
# `--device KIND=all` (the hook) and `--device KIND=mounts` (runc binds only).
#
# Shows, rather than skips, the limits of the mounts-only form: runc refuses a
# bind onto any /proc file outside the lxcfs set (here /proc/pressure/cpu),
# and a container asking for the mounts cannot start while vprocd is down,
# where the hook form starts it with the host's /proc (fail-open).
#
# podman 4.3 reads specs only from /etc/cdi and /var/run/cdi (it has no flag
# for another directory and ignores containers.conf cdi_spec_dirs), so the copy
# goes to /var/run/cdi under a unique name and is removed at exit.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_init cdi
vt_require_root
SRC=$VC_SOURCE_DIR
SPEC=$SRC/packaging/cdi/vproc.json
quiet() { "$@" >/dev/null 2>&1; }

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v jq >/dev/null || missing+=(jq)
command -v busybox >/dev/null || missing+=(busybox-static)
[ ${#missing[@]} -eq 0 ] || vt_apt_install "${missing[@]}"
[ -n "$VPROC_HOOK" ] || vt_abort "vproc-hook is built under $VPROC_BUILD_DIR"

# --- the shipped spec ---------------------------------------------------------------
vt_check "the spec is valid JSON" quiet jq -e . "$SPEC"
vt_eq "cdiVersion 0.5.0 (podman 4.3's CDI library refuses 0.6.0 specs)" 0.5.0 "$(jq -r .cdiVersion "$SPEC")"
vt_eq "kind vproc.io/proc" vproc.io/proc "$(jq -r .kind "$SPEC")"
vt_eq "devices: all, mounts" "all,mounts" "$(jq -r '[.devices[].name] | join(",")' "$SPEC")"
vt_eq "all: vproc-hook at createRuntime and poststop" \
  "createRuntime /usr/libexec/vproc/vproc-hook vproc-hook create;poststop /usr/libexec/vproc/vproc-hook vproc-hook poststop" \
  "$(jq -r '[.devices[] | select(.name == "all") | .containerEdits.hooks[] |
      "\(.hookName) \(.path) \(.args | join(" "))"] | join(";")' "$SPEC")"
# The mounts cover the hook's files (docs/hook.md), each from the same path
# under /var/lib/vproc, read-only.
want="/proc/cpuinfo /proc/diskstats /proc/loadavg /proc/meminfo /proc/stat /proc/swaps /proc/uptime /sys/devices/system/cpu/online"
vt_eq "mounts: the hook's eight files" "$want" \
  "$(jq -r '[.devices[] | select(.name == "mounts") | .containerEdits.mounts[].containerPath] | sort | join(" ")' "$SPEC")"
vt_eq "mounts: each from /var/lib/vproc<path>, bind, ro" "" \
  "$(jq -r '.devices[] | select(.name == "mounts") | .containerEdits.mounts[] |
      select(.hostPath != "/var/lib/vproc" + .containerPath or (.options | index("bind") | not)
             or (.options | index("ro") | not)) | .containerPath' "$SPEC")"

# --- a copy of it for this test ---------------------------------------------------------
MP=$VT_TMP/mp
REG=$VT_TMP/reg
LOG=$VT_TMP/hook.log
vt_serve "$MP"
KIND=vproc.io/test-$VT_UNIQ
CDI_DIR=/var/run/cdi
if [ ! -d "$CDI_DIR" ]; then
  mkdir -p "$CDI_DIR"
  vt_on_exit "rmdir '$CDI_DIR'"
fi
TEST_SPEC=$CDI_DIR/vproc-test-$VT_UNIQ.json
vt_on_exit "rm -f '$TEST_SPEC'"
# Paths rewritten, test-only hook arguments added, and one more device that
# binds a /proc file outside runc's allow-list.
jq --arg kind "$KIND" --arg mp "$MP" --arg hook "$VPROC_HOOK" --arg reg "$REG" --arg log "$LOG" '
  .kind = $kind
  | (.devices[].containerEdits.mounts // [] | .[].hostPath) |= sub("^/var/lib/vproc"; $mp)
  | (.devices[].containerEdits.hooks // [] | .[]) |= (.path = $hook
      | .args += ["--mountpoint", $mp, "--registry-dir", $reg, "--log-file", $log])
  | .devices += [{name: "pressure", containerEdits: {mounts: [{hostPath: ($mp + "/proc/pressure/cpu"),
      containerPath: "/proc/pressure/cpu", options: ["bind", "ro"]}]}}]' "$SPEC" >"$TEST_SPEC.tmp"
mv "$TEST_SPEC.tmp" "$TEST_SPEC"

ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
vc_podman_private "$VT_TMP/podman"
RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --memory 300m --cpus 1)
CMD=(/bin/sh -c 'head -n1 /proc/meminfo; echo online=$(cat /sys/devices/system/cpu/online)')

# run_with DEVICE...: runs CMD with each --device; sets OUT and RC.
run_with() {
  local devs=() d
  for d in "$@"; do devs+=(--device "$d"); done
  RC=0
  OUT=$("${PODMAN[@]}" "${RUN[@]}" "${devs[@]}" --rootfs "$ROOTFS" "${CMD[@]}" 2>&1) || RC=$?
}
show() { sed 's/^/    /' <<<"$OUT"; }

# --- the hook form -----------------------------------------------------------------------
run_with "$KIND=all"
vt_eq "$KIND=all: podman run exits 0" 0 "$RC"
vt_eq "$KIND=all: MemTotal is the 300 MiB limit" 307200 "$(vc_memtotal <<<"$OUT")"
vt_eq "$KIND=all: online is one CPU" online=0 "$(grep ^online= <<<"$OUT" || true)"
[ "$RC" = 0 ] && [ "$(vc_memtotal <<<"$OUT")" = 307200 ] || show

name=vproc-cdi-reg-$VT_UNIQ
"${PODMAN[@]}" run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --name "$name" --device "$KIND=all" --rootfs "$ROOTFS" /bin/sleep 30 >/dev/null
cid=$("${PODMAN[@]}" inspect --format '{{.Id}}' "$name")
vt_check "$KIND=all: the hook registered the running container" [ -f "$REG/containers/$cid.json" ]
"${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null
for _ in $(seq 1 50); do [ -e "$REG/containers/$cid.json" ] || break; sleep 0.1; done
vt_check "$KIND=all: the poststop hook dropped the record" [ ! -e "$REG/containers/$cid.json" ]

# --- the mounts form -------------------------------------------------------------------------
run_with "$KIND=mounts"
vt_eq "$KIND=mounts: podman run exits 0" 0 "$RC"
vt_eq "$KIND=mounts: MemTotal is the 300 MiB limit" 307200 "$(vc_memtotal <<<"$OUT")"
vt_eq "$KIND=mounts: online is one CPU (runc binds under /sys freely)" online=0 "$(grep ^online= <<<"$OUT" || true)"
[ "$RC" = 0 ] || show

run_with "$KIND=pressure"
refused=no
[ "$RC" -ne 0 ] && grep -q 'cannot be mounted because it is inside /proc' <<<"$OUT" && refused=yes
vt_eq "a bind onto /proc/pressure/cpu is refused by runc (the hook mounts after runc's check)" yes "$refused"
echo "    runc: $(grep -o '"/[^"]*/proc/pressure/cpu" cannot be mounted because it is inside /proc' <<<"$OUT" || echo "$OUT")"

run_with
vt_eq "no CDI device: the host's MemTotal" "$(vc_host_memtotal)" "$(vc_memtotal <<<"$OUT")"

# --- vprocd down --------------------------------------------------------------------------------
vt_stop_vprocd_guarded "$VPROCD_PID" "$MP"
run_with "$KIND=all"
vt_eq "vprocd down, $KIND=all: the container starts (fail-open)" 0 "$RC"
vt_eq "vprocd down, $KIND=all: with the host's MemTotal" "$(vc_host_memtotal)" "$(vc_memtotal <<<"$OUT")"
run_with "$KIND=mounts"
vt_check "vprocd down, $KIND=mounts: the container cannot start (exit $RC)" [ "$RC" -ne 0 ]
echo "    podman: $(grep -m1 -o 'error mounting.*' <<<"$OUT" || tail -n1 <<<"$OUT")"

vt_finish
