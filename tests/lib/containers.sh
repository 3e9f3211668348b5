# Container helpers for vproc's hook tests (bash), on top of tests/lib/common.sh.
# Everything created here is registered with vt_on_exit and undone at exit.
#
#   vc_rootfs DIR                 busybox rootfs (scripts/build-rootfs.sh, cached)
#   vc_bundle DIR ROOTFS JQ...    runc bundle: config.json from `runc spec`,
#                                 terminal off, private cgroup, then each JQ filter
#   vc_hook_entry ARGS...         one OCI hook object running vproc-hook ARGS
#   vc_runc ARGS...               runc with a private --root under $VT_TMP
#   vc_runc_run ID BUNDLE         runs to completion; stdout+stderr on stdout
#   vc_runc_detach ID BUNDLE      runc run -d
#   vc_runc_start_batched ID BUNDLE  runc run -d in the background, four at a
#                                 time; vc_runc_wait_started after the last one
#   vc_podman_private DIR [ARGS...]  PODMAN=(podman, storage in DIR, ARGS)
#   vc_host_mounts                the host mounts this test could cause, without
#                                 the ids that churn (for before/after comparisons)

VC_SOURCE_DIR=${VPROC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

vc_rootfs() {
  "$VC_SOURCE_DIR/scripts/build-rootfs.sh" busybox "$1" >/dev/null
}

vc_bundle() {
  local dir=$1 rootfs=$2 f
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && rm -f config.json && runc spec)
  local id
  id=$(basename "$dir")
  jq --arg r "$rootfs" --arg cg "/vproc-test-$VT_UNIQ-$id" \
    '.root.path=$r | .root.readonly=false | .process.terminal=false | .linux.cgroupsPath=$cg |
     .hostname="vproc-test"' "$dir/config.json" > "$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
  for f in "$@"; do
    jq "$f" "$dir/config.json" > "$dir/config.json.new" || return 1
    mv "$dir/config.json.new" "$dir/config.json"
  done
}

# vc_hook_entry ARGS... -> {"path": HOOK, "args": ["vproc-hook", ARGS...]}
vc_hook_entry() {
  printf '%s\n' vproc-hook "$@" | jq -R . | jq -cs --arg p "$VPROC_HOOK" '{path: $p, args: .}'
}

vc_runc() {
  mkdir -p "$VT_TMP/runc-root"
  runc --root "$VT_TMP/runc-root" "$@"
}

vc_runc_cleanup() {
  vc_runc kill "$1" KILL 2>/dev/null
  vc_runc delete -f "$1" 2>/dev/null
  local c
  for c in /sys/fs/cgroup/*/"vproc-test-$VT_UNIQ-$1"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
  return 0
}

# vc_runc_run ID BUNDLE: foreground run; prints the container's output and
# returns runc's exit status.
vc_runc_run() {
  local id=$1 bundle=$2
  vt_on_exit "vc_runc_cleanup $id"
  vc_runc run --bundle "$bundle" "$id" </dev/null 2>&1
}

# vc_runc_detach ID BUNDLE: started in the background (runc run -d).
vc_runc_detach() {
  local id=$1 bundle=$2
  vt_on_exit "vc_runc_cleanup $id"
  vc_runc run -d --bundle "$bundle" "$id" </dev/null >"$VT_TMP/$id.out" 2>&1
}

# vc_runc_start_batched ID BUNDLE: runc run -d in the background (output in
# $VT_TMP/ID.out); once four are pending, waits for them. vc_runc_wait_started
# waits for the rest. The caller registers the cleanup (vc_runc_cleanup ID, or
# its own for many containers at once).
VC_PENDING=()
vc_runc_start_batched() {
  vc_runc run -d --bundle "$2" "$1" </dev/null >"$VT_TMP/$1.out" 2>&1 &
  VC_PENDING+=($!)
  [ ${#VC_PENDING[@]} -lt 4 ] || vc_runc_wait_started
}
vc_runc_wait_started() {
  local p
  for p in "${VC_PENDING[@]}"; do wait "$p"; done
  VC_PENDING=()
}

# vc_podman_private DIR [ARGS...]: sets PODMAN to a podman command line with
# the test's own storage in DIR/root and DIR/run (podman wants a runroot path
# of at most 50 characters), vfs, cgroupfs, runc, then ARGS. At
# exit its containers go, then its images, its storage is unmounted, and the
# libpod_parent cgroups podman makes are removed unless they were there before.
vc_podman_private() {
  local dir=$1 had_parent=no
  shift
  [ -d /sys/fs/cgroup/memory/libpod_parent ] && had_parent=yes
  PODMAN=(podman --root "$dir/root" --runroot "$dir/run"
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime runc "$@")
  vt_on_exit "[ $had_parent = yes ] || for c in /sys/fs/cgroup/*/libpod_parent; do rmdir \$c/conmon; rmdir \$c; done"
  vt_on_exit "umount -R '$dir/run' '$dir/root'"
  vt_on_exit "${PODMAN[*]} rmi -af"
  vt_on_exit "${PODMAN[*]} rm -fa -t 0"
}

vc_host_mounts() {
  # Only what this test could have caused: mounts on paths under $VT_TMP and
  # binds of single /proc or /sys files (what the hook makes). Other suites
  # may mount and unmount elsewhere on the host at the same time.
  awk -v t="$VT_TMP" 'index($5, t) == 1 || $4 ~ "^/(proc|sys)/." {
      $1 = ""; $2 = ""; print }' /proc/self/mountinfo | sort
}

# The files the hook injects by default on this host, as `vproc-hook attach`
# names them, and their targets: the pressure files only where the host has PSI.
vc_file_names() {
  local psi=""
  [ -d /proc/pressure ] && psi=", pressure/cpu, pressure/memory, pressure/io"
  echo "meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats, online$psi, possible, present"
}
vc_file_targets() {
  local n
  for n in $(vc_file_names | tr -d ,); do
    case $n in
      online | possible | present) echo "/sys/devices/system/cpu/$n" ;;
      *) echo "/proc/$n" ;;
    esac
  done
}
vc_nfiles() { vc_file_targets | wc -l; }
# What `vproc-hook attach` lists for a container it gave its CPU directory and files.
vc_attached_names() { echo "$(vc_file_names), cpu/"; }
# vc_cpu_dirs PID: how many vproc CPU directories (tmpfs "vproc-cpu") PID's mount table has.
vc_cpu_dirs() { awk '{ for (s = 7; $s != "-"; s++) {} } $(s + 1) == "tmpfs" && $(s + 2) == "vproc-cpu"' "/proc/$1/mountinfo" | wc -l; }

# Value of MemTotal (kB) in a meminfo text on stdin.
vc_memtotal() { awk '/^MemTotal:/ {print $2}'; }
vc_host_memtotal() { vc_memtotal < /proc/meminfo; }

# vc_start_containerd DIR: a containerd of the test's own (private config,
# root, state and sockets under DIR; CRI off), stopped by the exit trap.
# Sets VC_CTR_SOCK; returns non-zero (with the log's tail on stderr) when it
# does not answer within 10 s.
vc_start_containerd() {
  local cd=$1 pid i
  VC_CTR_SOCK=$cd/containerd.sock
  mkdir -p "$cd"
  cat >"$cd/config.toml" <<TOML
version = 2
root = "$cd/root"
state = "$cd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$VC_CTR_SOCK"
[ttrpc]
  address = "$VC_CTR_SOCK.ttrpc"
[debug]
  address = "$cd/debug.sock"
[metrics]
  address = ""
TOML
  containerd --config "$cd/config.toml" >"$cd/log" 2>&1 &
  pid=$!
  vt_on_exit "kill $pid; wait $pid; umount -R '$cd/state' '$cd/root'"
  for i in $(seq 1 100); do ctr -a "$VC_CTR_SOCK" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -n5 "$cd/log" >&2
  return 1
}
