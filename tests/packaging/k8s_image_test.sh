#!/usr/bin/env bash
# The Kubernetes node agent (packaging/k8s/): checks the DaemonSet manifest,
# builds the image with podman from local files only, and runs it the way the
# DaemonSet does (privileged, host pid namespace, the DaemonSet's own volume
# mounts and env, read from the YAML). Then: a misconfigured agent (no shared
# propagation) refuses clearly; the readiness probe passes; annotated
# containers (hooks.d from the default dirs, and the CDI device) see their
# limits; a SIGKILLed agent restarts and recovers a running container; a
# second agent takes over without a failed read (a rolling update with
# maxSurge); and a stopped agent leaves nothing behind on the host.
#
# The agent installs onto the real host paths (/usr/libexec/vproc,
# /usr/share/containers/oci/hooks.d, /etc/containers/oci/hooks.d, /var/run/cdi)
# and mounts vprocd on /var/lib/vproc. The test skips when something is
# mounted on /var/lib/vproc already (a vprocd of the deb test, say), moves any
# vproc file found on those paths aside and puts it back at exit (CTest runs
# packaging tests serially).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_init k8s-image
vt_require_root
SRC=$VC_SOURCE_DIR
quiet() { "$@" >/dev/null 2>&1; }
DS=$SRC/packaging/k8s/vproc-daemonset.yaml

# --- what the test needs (CI is a fresh Debian 12) --------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v jq >/dev/null || missing+=(jq)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v readelf >/dev/null || missing+=(binutils)
{ [ -x /bin/busybox ] && ! readelf -l /bin/busybox 2>/dev/null | grep -q INTERP; } || missing+=(busybox-static)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
[ ${#missing[@]} -eq 0 ] || vt_apt_install "${missing[@]}"

# --- the manifest -----------------------------------------------------------------
VERSION=$("$VPROCD" --version | awk '{ print $2 }')
ARGS_FILE=$VT_TMP/podman-args
vt_report < <(/usr/bin/python3 "$SRC/tests/packaging/k8s_manifest.py" "$DS" \
  "$SRC/packaging/k8s/Containerfile" "$VERSION" "$ARGS_FILE")
# The checker must catch the mistake that makes a DaemonSet crash-loop: a host
# directory mounted over the image's binaries (as an lxcfs DaemonSet that
# mounts host /usr/local over the image's /usr/local does).
/usr/bin/python3 - "$DS" "$VT_TMP/hiding.yaml" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
for d in docs:
    if d and d.get("kind") == "DaemonSet":
        pod = d["spec"]["template"]["spec"]
        pod["volumes"].append({"name": "opt", "hostPath": {"path": "/opt"}})
        pod["containers"][0]["volumeMounts"].append({"name": "opt", "mountPath": "/opt"})
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
hiding=$(/usr/bin/python3 "$SRC/tests/packaging/k8s_manifest.py" "$VT_TMP/hiding.yaml" \
  "$SRC/packaging/k8s/Containerfile" "$VERSION" /dev/null | grep '^FAIL' || true)
vt_check "the checker flags a host /opt mounted over the image's /opt/vproc/bin" \
  grep -q "no volume is mounted on or above the image's /opt/vproc/bin" <<<"$hiding"
mapfile -t DS_ARGS <"$ARGS_FILE"
vt_eq "runtimeclass-vproc.yaml: RuntimeClass vproc, handler vproc (node.k8s.io/v1)" "node.k8s.io/v1 RuntimeClass vproc vproc" \
  "$(/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1]))
print(d["apiVersion"], d["kind"], d["metadata"]["name"], d["handler"])' "$SRC/packaging/k8s/runtimeclass-vproc.yaml" 2>&1)"

# --- host paths: in use? ----------------------------------------------------------
MP=/var/lib/vproc
HOOK=/usr/libexec/vproc/vproc-hook
STATE=/usr/libexec/vproc/.vproc-agent-installed
HOST_FILES=("$HOOK" "$STATE"
  /usr/share/containers/oci/hooks.d/50-vproc.json /usr/share/containers/oci/hooks.d/50-vproc-poststop.json
  /etc/containers/oci/hooks.d/50-vproc.json /etc/containers/oci/hooks.d/50-vproc-poststop.json
  /var/run/cdi/vproc.json)
if [ "$(vt_mount_count "$MP")" -gt 0 ]; then
  vt_skip "$MP is a mountpoint already (a vprocd serves it, or a mount was left there):" \
    "this test runs the agent on it and will not touch it; $(grep " $MP " /proc/self/mountinfo | head -n1)"
fi
# $MP itself is the agent's to make (the DaemonSet mounts /var/lib read-only;
# the agent goes through the host's root): removed at exit if the agent made it.
MP_WAS_THERE=no
[ -d "$MP" ] && MP_WAS_THERE=yes
[ $MP_WAS_THERE = yes ] || vt_on_exit "rmdir '$MP' 2>/dev/null || true"
# Directories the DaemonSet's hostPath volumes would create (DirectoryOrCreate):
# made here if missing, removed at exit if still empty.
for d in /run/vproc /usr/libexec/vproc /usr/share/containers/oci/hooks.d \
  /etc/containers/oci/hooks.d /var/run/cdi; do
  created=()
  p=$d
  while [ ! -e "$p" ]; do created=("$p" "${created[@]}"); p=$(dirname "$p"); done
  for p in "${created[@]}"; do
    mkdir "$p"
    vt_on_exit "rmdir '$p'"
  done
done
# Files: moved aside, put back at exit (after whatever the agent left is removed).
mkdir -p "$VT_TMP/aside"
for f in "${HOST_FILES[@]}" /run/vproc/vprocd.pid; do
  if [ -e "$f" ]; then
    echo "k8s-image: moving $f aside for the test (restored at exit)"
    aside="$VT_TMP/aside/$(echo "$f" | tr / _)"
    mv "$f" "$aside"
    vt_on_exit "mv '$aside' '$f'"
  fi
  vt_on_exit "rm -f '$f'"  # runs first
done

# The DaemonSet mounts the host's /var/lib with Bidirectional propagation,
# which needs it on a shared mount (systemd makes / shared; this machine's / is
# private): bind it onto itself (recursively, hiding nothing), shared.
# top_mount DIR: "ID shared" or "ID private" for the mount DIR is on.
top_mount() {
  awk -v d="$1" '{ mp = $5; pre = (mp == "/") ? "/" : mp "/"
      if ((d == mp || index(d, pre) == 1) && length(mp) >= best) {
        best = length(mp); id = $1; s = ($0 ~ / shared:[0-9]+ .* - /) ? "shared" : "private" } }
    END { print id, s }' /proc/self/mountinfo
}
if [ "$(top_mount /var/lib | cut -d' ' -f2)" != shared ]; then
  echo "k8s-image: /var/lib is not on a shared mount here; binding it onto itself, shared (as mount --make-rshared / would)"
  mount --rbind /var/lib /var/lib
  mount --make-shared /var/lib
  bind_id=$(top_mount /var/lib | cut -d' ' -f1)
  # Only our bind, never a /var/lib the machine mounted.
  vt_on_exit "[ \"\$(top_mount /var/lib | cut -d' ' -f1)\" = $bind_id ] && umount -l /var/lib"
fi
# At exit: whatever is mounted on $MP (a FUSE mount a killed agent left) goes.
vt_on_exit "while [ \"\$(vt_mount_count $MP)\" -gt 0 ]; do umount -l $MP || break; done"

# --- podman, private storage --------------------------------------------------------
vc_podman_private "$VT_TMP/podman"

TAG=localhost/vproc-node-agent:test-$VT_UNIQ
start=$(date +%s)
if PODMAN="${PODMAN[*]}" "$SRC/packaging/k8s/build-image.sh" --tag "$TAG" >"$VT_TMP/build.log" 2>&1; then
  vt_pass "build-image.sh builds the image with podman, from local files ($(($(date +%s) - start)) s)"
else
  vt_fail "build-image.sh builds the image"
  sed 's/^/    /' "$VT_TMP/build.log"
  vt_finish
  exit 1
fi
sed 's/^/    /' "$VT_TMP/build.log" | grep -E 'built|WARNING' || true
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$TAG")
size_kib=$((size / 1024))
vt_check "the image is small (${size_kib} KiB < 40 MiB)" [ "$size_kib" -lt 40960 ]
ep=$("${PODMAN[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$TAG")
vt_eq "its entrypoint is the agent under /opt/vproc/bin" '["/opt/vproc/bin/vproc-agent"]' "$ep"

# Common flags of every run here (podman needs the ulimits on this machine).
RUNF=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# The agent checks the host's mount table and enters the host's namespaces
# through /proc/<pid>; pid 1 stands for the host. Where pid 1's namespaces are
# off limits (this VM's init), this test's own shell stands in.
HOST_PID_ENV=()
if ! readlink /proc/1/ns/mnt >/dev/null 2>&1; then
  echo "k8s-image: /proc/1/ns is unreadable here; the agent gets VPROC_HOST_PID=$$ (this shell, in the host's namespaces)"
  HOST_PID_ENV=(-e "VPROC_HOST_PID=$$")
fi

# --- a misconfigured agent fails clearly and leaves nothing behind ------------------
# The same run without shared propagation on /var/lib: vprocd's FUSE mount
# would stay inside the pod, invisible to the runtime.
PRIVATE_ARGS=()
for a in "${DS_ARGS[@]}"; do
  [ "$a" = /var/lib:/var/lib:ro,rshared ] && a=/var/lib:/var/lib:ro
  PRIVATE_ARGS+=("$a")
done
rc=0
out=$(timeout 60 "${PODMAN[@]}" run --rm --name "vproc-agent-private-$VT_UNIQ" "${RUNF[@]}" \
  "${PRIVATE_ARGS[@]}" "${HOST_PID_ENV[@]}" "$TAG" 2>&1) || rc=$?
vt_check "without Bidirectional propagation the agent exits non-zero (status $rc)" [ "$rc" -ne 0 ]
vt_check "... saying why: $(echo "$out" | tail -n1 | cut -c1-110)..." \
  grep -qE "not on a shared mount|did not reach the host" <<<"$out"
left=$(for f in "${HOST_FILES[@]}"; do [ -e "$f" ] && echo "$f"; done; true)
vt_eq "... and leaves no file on the host" "" "$left"
vt_eq "... and no FUSE mount on $MP" "" "$(awk -v d="$MP" '$5 == d && / - fuse/' /proc/self/mountinfo)"

# --- the agent, as the DaemonSet runs it ------------------------------------------
# start_agent NAME: runs the image as the DaemonSet does and waits for its
# readiness probe; prints "yes" when ready. --cgroupns=private: what a pod gets
# on cgroup v2 (the agent then runs vprocd in the host's cgroup namespace).
start_agent() {
  "${PODMAN[@]}" run -d --name "$1" --cgroupns=private "${RUNF[@]}" "${DS_ARGS[@]}" \
    "${HOST_PID_ENV[@]}" "$TAG" >/dev/null || { echo no; return; }
  for _ in $(seq 1 120); do
    if "${PODMAN[@]}" exec "$1" /opt/vproc/bin/vproc-agent probe >/dev/null 2>&1; then echo yes; return; fi
    [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$1")" = true ] || break
    sleep 0.5
  done
  echo no
}
agent_log() { "${PODMAN[@]}" logs "$1" 2>&1 | sed 's/^/    /'; }
AGENT=vproc-agent-$VT_UNIQ
ready=$(start_agent "$AGENT")
vt_eq "the agent's readiness probe passes" yes "$ready"
if [ "$ready" != yes ]; then
  agent_log "$AGENT"
  vt_finish
  exit 1
fi
vt_eq "the host sees vprocd's FUSE mount on $MP" fuse.vprocd \
  "$(awk -v d="$MP" '$5 == d { t = $9 } END { print t }' /proc/self/mountinfo)"
vt_check "the host's $MP serves proc/meminfo" vt_serving "$MP"
[ $MP_WAS_THERE = yes ] ||
  vt_check "the agent made the missing $MP (through the host's root: /var/lib is read-only in the pod)" [ -d "$MP" ]
probe=/var/lib/vproc-agent-write-probe-$VT_UNIQ
rc=0
out=$("${PODMAN[@]}" exec "$AGENT" /bin/busybox touch "$probe" 2>&1) || rc=$?
vt_check "the pod cannot write the host's /var/lib (touch fails: $(echo "$out" | tail -n1 | cut -c1-60))" \
  [ "$rc" -ne 0 -a ! -e "$probe" ]
rm -f "$probe"
vt_check "the hook binary is installed at $HOOK" [ -x "$HOOK" ]
vt_check "... and runs on the host" quiet "$HOOK" --version
for f in /usr/share/containers/oci/hooks.d/50-vproc.json /usr/share/containers/oci/hooks.d/50-vproc-poststop.json \
  /etc/containers/oci/hooks.d/50-vproc.json /var/run/cdi/vproc.json; do
  vt_check "installed $f (valid JSON naming $HOOK)" \
    quiet jq -e --arg h "$HOOK" '[.. | strings | select(. == $h)] | length > 0' "$f"
done
leftovers=$(find /usr/libexec/vproc /usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d \
  /var/run/cdi -name '*.vproc-agent.tmp' 2>/dev/null)
vt_eq "no temporary file left from the atomic installs" "" "$leftovers"

# --- annotated containers get vproc ---------------------------------------------------
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
CMD=(/bin/sh -c 'head -n1 /proc/meminfo; echo online=$(cat /sys/devices/system/cpu/online)')
# No --hooks-dir: podman reads the default dirs, where the agent installed.
rc=0
out=$("${PODMAN[@]}" run --rm "${RUNF[@]}" --memory 300m --cpus 1 --annotation vproc.io/enable=true \
  --rootfs "$ROOTFS" "${CMD[@]}" 2>&1) || rc=$?
vt_eq "annotated container (hooks.d): runs" 0 "$rc"
vt_eq "annotated container (hooks.d): MemTotal is its 300 MiB limit" 307200 "$(vc_memtotal <<<"$out")"
vt_eq "annotated container (hooks.d): online is one CPU" online=0 "$(grep ^online= <<<"$out" || true)"
[ "$(vc_memtotal <<<"$out")" = 307200 ] || sed 's/^/    /' <<<"$out"

rc=0
out=$("${PODMAN[@]}" run --rm "${RUNF[@]}" --memory 300m --device vproc.io/proc=all \
  --rootfs "$ROOTFS" "${CMD[@]}" 2>&1) || rc=$?
vt_eq "CDI device vproc.io/proc=all (spec installed by the agent): MemTotal 307200 kB" \
  307200 "$(vc_memtotal <<<"$out")"
[ "$(vc_memtotal <<<"$out")" = 307200 ] || sed 's/^/    /' <<<"$out"

out=$("${PODMAN[@]}" run --rm "${RUNF[@]}" --memory 300m --rootfs "$ROOTFS" "${CMD[@]}" 2>&1 || true)
vt_eq "container without the annotation: the host's MemTotal" "$(vc_host_memtotal)" "$(vc_memtotal <<<"$out")"

# A container that reads its meminfo every 50 ms; read_log NAME prints what it
# read that was not its 300 MiB, counted (nothing when every read was right).
start_reader() {
  "${PODMAN[@]}" run -d --name "$1" "${RUNF[@]}" --memory 300m --annotation vproc.io/enable=true \
    --rootfs "$ROOTFS" /bin/sh -c 'while :; do head -n1 /proc/meminfo 2>&1 || echo READ-FAILED; sleep 0.05; done' >/dev/null
}
reads() { "${PODMAN[@]}" logs "$1" 2>&1 || true; }
wrong_reads() { reads "$1" | grep -v '^MemTotal: *307200 kB$' | sort | uniq -c | head -n3 || true; }

# --- the agent is killed, the kubelet restarts it -----------------------------------------
READER1=vproc-reader1-$VT_UNIQ
start_reader "$READER1"
sleep 0.5
"${PODMAN[@]}" kill -s KILL "$AGENT" >/dev/null
# runc kills the rest of a host-pid container when it deletes it; make sure.
old=$(cut -d' ' -f1 /run/vproc/vprocd.pid 2>/dev/null || true)
for _ in $(seq 1 50); do [ -n "$old" ] && [ -d "/proc/$old" ] || break; sleep 0.1; done
[ -n "$old" ] && [ -d "/proc/$old" ] && grep -q vprocd "/proc/$old/comm" 2>/dev/null && kill -KILL "$old" || true
stale=no
for _ in $(seq 1 50); do vt_serving "$MP" || { stale=yes; break; }; sleep 0.1; done
vt_eq "after SIGKILL the host's $MP is a dead FUSE mount (readers fail)" yes "$stale"
"${PODMAN[@]}" start "$AGENT" >/dev/null
ready=no
for _ in $(seq 1 120); do
  "${PODMAN[@]}" exec "$AGENT" /opt/vproc/bin/vproc-agent probe >/dev/null 2>&1 && { ready=yes; break; }
  sleep 0.5
done
vt_eq "the restarted agent gets ready (vprocd detached the dead mount on the host too)" yes "$ready"
vt_check "the host's $MP serves again" vt_serving "$MP"
sleep 1
last=$(reads "$READER1" | tail -n1)
vt_eq "the running container reads its own meminfo again (re-attached)" "MemTotal:         307200 kB" "$last"
failed=$(reads "$READER1" | grep -vc '^MemTotal: *307200 kB$' || true)
vt_figure "reads that failed while the agent was down and restarting: $failed"
"${PODMAN[@]}" rm -f -t 0 "$READER1" >/dev/null 2>&1 || true

# --- rolling update (maxSurge): a second agent takes over ---------------------------------
if "$VPROCD" --help | grep -q -- --takeover; then
  READER2=vproc-reader2-$VT_UNIQ
  start_reader "$READER2"
  sleep 1
  AGENT2=vproc-agent2-$VT_UNIQ
  ready=$(start_agent "$AGENT2")
  vt_eq "a second agent (the new pod of a rolling update) gets ready while the first runs" yes "$ready"
  id2=$("${PODMAN[@]}" exec "$AGENT2" hostname)
  vt_eq "the second agent owns the installation now" "owner $id2" "$(head -n1 "$STATE" 2>/dev/null)"
  idle=no
  for _ in $(seq 1 100); do
    "${PODMAN[@]}" logs "$AGENT" 2>&1 | grep -q 'idle until stopped' && { idle=yes; break; }
    sleep 0.1
  done
  vt_eq "the first agent's vprocd drains and exits; the agent idles (no restart that would take over back)" yes "$idle"
  rc=0
  "${PODMAN[@]}" stop -t 30 "$AGENT" >/dev/null || rc=$?
  vt_eq "the first agent stops: podman stop status, exit code" "0 0" "$rc $("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$AGENT")"
  left=$(for f in "${HOST_FILES[@]}"; do [ -e "$f" ] || echo "$f"; done; true)
  vt_eq "... and leaves the second agent's files in place" "" "$left"
  vt_check "the second agent serves the host's $MP" vt_serving "$MP"
  sleep 0.5
  n=$(reads "$READER2" | grep -c '^MemTotal:' || true)
  vt_eq "a container reading meminfo every 50 ms across the handover: $n reads, all 307200 kB" "" "$(wrong_reads "$READER2")"
  "${PODMAN[@]}" rm -f -t 0 "$READER2" >/dev/null 2>&1 || true
  if [ "$VT_FAILED" -gt 0 ]; then
    echo "--- first agent"; agent_log "$AGENT"
    echo "--- second agent"; agent_log "$AGENT2"
  fi
  AGENT=$AGENT2
else
  echo "k8s-image: this vprocd has no --takeover; the rolling-update part is left out"
fi

# --- stop: uninstall ---------------------------------------------------------------------
rc=0
"${PODMAN[@]}" stop -t 30 "$AGENT" >/dev/null || rc=$?
vt_eq "podman stop (SIGTERM) succeeds" 0 "$rc"
vt_eq "the agent exits with status 0" 0 "$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$AGENT")"
left=$(for f in "${HOST_FILES[@]}"; do [ -e "$f" ] && echo "$f"; done; true)
vt_eq "the hook binary, hooks.d JSON, CDI spec and state file are gone from the host" "" "$left"
vt_eq "no FUSE mount left on $MP" "" "$(awk -v d="$MP" '$5 == d && / - fuse/' /proc/self/mountinfo)"
out=$("${PODMAN[@]}" run --rm "${RUNF[@]}" --memory 300m --annotation vproc.io/enable=true \
  --rootfs "$ROOTFS" "${CMD[@]}" 2>&1 || true)
vt_eq "after the agent is gone an annotated container starts, with the host's MemTotal" \
  "$(vc_host_memtotal)" "$(vc_memtotal <<<"$out")"
if [ "$VT_FAILED" -gt 0 ]; then
  echo "--- agent log"
  "${PODMAN[@]}" logs "$AGENT" 2>&1 | sed 's/^/    /'
fi

vt_finish
