#!/bin/sh
# vproc node agent: the entrypoint of the node-agent image (packaging/k8s/).
#
# Runs in a privileged, hostPID pod (or `podman run --privileged --pid=host`).
# The image keeps its own files under /opt/vproc, a path no host volume is
# mounted on, so a hostPath mount can never hide them (an lxcfs DaemonSet that
# mounts host /usr/local over the image's /usr/local crash-loops: the mount
# hides its binary). Host directories are mounted under /host: the host's path P is
# /host/P here. The exception is the directory that holds vprocd's mountpoint
# (the host's /var/lib): it is mounted at the same path on both sides, with
# Bidirectional propagation, so that the FUSE mount vprocd makes here appears
# on the host, where the hook looks for it, at the path the hook's registry
# records. It must be the parent, not /var/lib/vproc itself: a runtime binds
# whatever is mounted on the host path when the pod starts, and after a crash
# (a stale FUSE mount) or during a rolling update (the old pod's live one) that
# is a FUSE mount; mounts and unmounts on top of a bind of it stay in the pod.
#
#   vproc-agent [run]         start vprocd, wait until it serves, install the
#                             hook binary, the hooks.d JSON and the CDI spec on
#                             the host (temp file + rename each), then
#                             supervise vprocd; on SIGTERM/SIGINT uninstall and
#                             stop vprocd (it unmounts)
#   vproc-agent probe         readiness: the mountpoint is vprocd's FUSE mount,
#                             serves proc/meminfo, and the hook is installed
#   vproc-agent probe --live  liveness: only the FUSE mount and the read
#   vproc-agent uninstall-hooks
#                             preStop: remove the hooks.d JSON and CDI spec so
#                             no new container asks for vproc while vprocd stops
#
# Settings (environment; the defaults are what the DaemonSet mounts):
#   VPROC_MOUNTPOINT      /var/lib/vproc (same path here and on the host; the
#                         installed hooks.d files use the hook's default, this one)
#   VPROC_HOST_PREFIX     /host          where host paths are mounted here
#   VPROC_HOOK_PATH       /usr/libexec/vproc/vproc-hook   host path of the hook
#   VPROC_HOOKS_DIRS      "/usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d"
#                         host hooks.d dirs to install into ("" for none)
#   VPROC_CDI_DIR         /var/run/cdi   host CDI spec dir ("" for none)
#   VPROC_CGROUP_ROOT     /host/sys/fs/cgroup   the host's cgroup tree, here
#   VPROC_REGISTRY_DIR    /run/vproc     vprocd's registry (shared with the host,
#                         where the hook writes it)
#   VPROC_HOST_PID        1   a process in the host's mount and cgroup namespaces
#                         (tests on machines whose pid 1 is off limits)
#   VPROC_AGENT_ID        who owns the installation (the DaemonSet passes the
#                         pod's uid; default: this container's hostname)
#   VPROC_KEEP_HOOK       true: leave the hook binary on the host at exit (for
#                         containerd's base_runtime_spec, which names the hook
#                         for every container: a missing binary fails them all)
#   VPROC_FORCE_INSTALL   true: overwrite a hook binary the agent did not install
#   VPROCD_ARGS           extra vprocd arguments (word-split)
set -eu

BIN=/opt/vproc/bin
SHARE=/opt/vproc/share
MP=${VPROC_MOUNTPOINT:-/var/lib/vproc}
HOST=${VPROC_HOST_PREFIX:-/host}
HOOK=${VPROC_HOOK_PATH:-/usr/libexec/vproc/vproc-hook}
HOOKS_DIRS=${VPROC_HOOKS_DIRS-/usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d}
CDI_DIR=${VPROC_CDI_DIR-/var/run/cdi}
CGROUP_ROOT=${VPROC_CGROUP_ROOT:-/host/sys/fs/cgroup}
HOST_PID=${VPROC_HOST_PID:-1}
REGISTRY=${VPROC_REGISTRY_DIR:-/run/vproc}
AGENT_ID=${VPROC_AGENT_ID:-$(hostname)}
KEEP_HOOK=${VPROC_KEEP_HOOK:-false}
FORCE=${VPROC_FORCE_INSTALL:-false}
# What this agent installed, next to the hook on the host: an "owner" line,
# then one host path per line (written before the files it lists, so a crash
# half-way leaves nothing unaccounted for).
STATE="$HOST$(dirname "$HOOK")/.vproc-agent-installed"
READY=/tmp/vproc-agent.ready

vpid=""  # vprocd, once started

log() { echo "vproc-agent: $*" >&2; }
# die MESSAGE: once vprocd runs, also uninstall and stop it (it unmounts), so
# that a failed start leaves neither files nor a dead mount on the host.
die() {
  log "$*"
  if [ -n "$vpid" ]; then
    uninstall
    kill -TERM "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
  fi
  exit 1
}

# mount_type DIR [PID]: the filesystem type of the top mount at DIR in the
# mount namespace of PID (default: this process).
mount_type() {
  awk -v d="$1" '{ for (i = 7; $i != "-"; i++); if ($5 == d) t = $(i + 1) } END { print t }' \
    "/proc/${2:-self}/mountinfo"
}

# 0 when the mount that holds directory $1 (the top mount at $1 or at its
# closest ancestor) is shared (has a peer group): what makes a mount made on a
# subdirectory of $1 propagate to the host.
dir_on_shared_mount() {
  awk -v d="$1" '{
      mp = $5; pre = (mp == "/") ? "/" : mp "/"
      if (d == mp || index(d, pre) == 1) if (length(mp) >= best) {
        best = length(mp); s = 0
        for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) s = 1
      }
    } END { exit s ? 0 : 1 }' /proc/self/mountinfo
}

serving() {
  case $(mount_type "$MP") in fuse | fuse.*) ;; *) return 1 ;; esac
  timeout 5 head -n1 "$MP/proc/meminfo" 2>/dev/null | grep -q '^MemTotal:'
}

# Our vprocd serves: during a takeover the mountpoint serves from the start
# (the previous vprocd), so also wait until vprocd's pid record names ours.
ours_serving() {
  serving || return 1
  [ "$pid_record" = yes ] || return 0
  [ "$(cut -d' ' -f1 "$REGISTRY/vprocd.pid" 2>/dev/null)" = "$vpid" ]
}

owner() { sed -n 's/^owner //p' "$STATE" 2>/dev/null | head -n1 || true; }

# install_file SRC HOSTPATH MODE [SED-EXPR]: written to a temp file in the
# same directory, then renamed (readers see the old file or the new one, never
# a partial one). With SED-EXPR the text is rewritten on the way.
install_file() {
  dst=$HOST$2
  tmp="$(dirname "$dst")/.$(basename "$dst").vproc-agent.tmp"
  if { if [ $# -ge 4 ]; then sed "$4" "$1"; else cat "$1"; fi; } >"$tmp" &&
    chmod "$3" "$tmp" && mv -f "$tmp" "$dst"; then
    log "installed $2"
  else
    rm -f "$tmp"
    die "cannot install $2 on the host"
  fi
}

# A file at HOSTPATH that is not in our state file belongs to someone else
# (a package, an administrator).
foreign() { [ -e "$HOST$1" ] && ! grep -qxF "$1" "$STATE" 2>/dev/null; }

install_all() {
  files="" hook_dir="$HOST$(dirname "$HOOK")"
  [ -d "$hook_dir" ] || die "$(dirname "$HOOK") (the host's) is not mounted at $hook_dir"
  if foreign "$HOOK" && [ "$FORCE" != true ]; then
    die "the host already has $HOOK, not installed by this agent (a vproc package?):" \
      "remove it from the node, or set VPROC_FORCE_INSTALL=true to replace it"
  fi
  for d in $HOOKS_DIRS; do
    [ -d "$HOST$d" ] || die "hooks dir $d (the host's) is not mounted at $HOST$d"
    for f in "$SHARE"/hooks.d/*.json; do
      p="$d/$(basename "$f")"
      if foreign "$p"; then
        log "leaving $p alone: not installed by this agent (it takes precedence as is)"
      else
        files="$files $p"
      fi
    done
  done
  if [ -n "$CDI_DIR" ]; then
    [ -d "$HOST$CDI_DIR" ] || die "CDI dir $CDI_DIR (the host's) is not mounted at $HOST$CDI_DIR"
    if foreign "$CDI_DIR/vproc.json"; then
      log "leaving $CDI_DIR/vproc.json alone: not installed by this agent"
    else
      files="$files $CDI_DIR/vproc.json"
    fi
  fi

  # Record first, then install: the binary before the files that name it.
  { echo "owner $AGENT_ID"; echo "$HOOK"; for p in $files; do echo "$p"; done; } >"$STATE.tmp"
  mv -f "$STATE.tmp" "$STATE"
  install_file "$BIN/vproc-hook" "$HOOK" 0755
  # The hook runs on the host, with the host's libraries: prove it starts there.
  if ! out=$("$BIN/nsenter" -t "$HOST_PID" -m -- "$HOOK" --version 2>&1); then
    die "the installed hook does not run on this host: $out"
  fi
  for p in $files; do
    case $p in
      "$CDI_DIR"/*) src=$SHARE/cdi/vproc.json ;;
      *) src=$SHARE/hooks.d/$(basename "$p") ;;
    esac
    # The shipped files name /usr/libexec/vproc/vproc-hook.
    install_file "$src" "$p" 0644 "s#/usr/libexec/vproc/vproc-hook#$HOOK#g"
  done
}

# uninstall [hooks]: removes what this agent installed, if it still owns the
# installation (after a rolling update with maxSurge the new pod owns it and
# the old one must leave it). "hooks": only the files that make runtimes call
# the hook; the binary stays for containers being created right now.
uninstall() {
  rm -f "$READY"
  [ -f "$STATE" ] || return 0
  o=$(owner)
  if [ "$o" != "$AGENT_ID" ]; then
    log "the installation now belongs to agent $o; leaving it"
    return 0
  fi
  while read -r p; do
    case $p in
      "owner "* | "$HOOK") ;;
      *) if [ -e "$HOST$p" ]; then rm -f "$HOST$p"; log "removed $p"; fi ;;
    esac
  done <"$STATE"
  if [ "${1:-}" = hooks ]; then return 0; fi
  if [ "$KEEP_HOOK" = true ]; then
    log "keeping $HOOK (VPROC_KEEP_HOOK=true)"
  elif [ -e "$HOST$HOOK" ]; then
    rm -f "$HOST$HOOK"
    log "removed $HOOK"
  fi
  rm -f "$STATE"
}

probe() {
  serving || { echo "vprocd does not serve $MP"; return 1; }
  [ "${1:-}" = --live ] && return 0
  [ -f "$READY" ] || { echo "the hook is not installed (yet)"; return 1; }
}

run() {
  [ "$$" != 1 ] || die "needs the host's pid namespace (hostPID: true): vprocd must see" \
    "the pids of the processes that read its files"
  [ -c /dev/fuse ] || die "/dev/fuse is missing: run privileged, or mount the host's /dev/fuse"
  [ -d "$CGROUP_ROOT" ] || die "$CGROUP_ROOT is missing: mount the host's /sys/fs/cgroup there"
  parent=$(dirname "$MP")
  dir_on_shared_mount "$parent" || die "$parent is not on a shared mount in this container, so" \
    "vprocd's mount on $MP would not reach the host: mount the host's $parent at $parent with" \
    "mountPropagation: Bidirectional (podman: -v $parent:$parent:rshared), from a host path on a" \
    "shared mount (mount --make-rshared /)"
  # The DaemonSet mounts the host's /var/lib read-only: a missing mountpoint
  # is made through the host's root instead (the same directory).
  [ -d "$MP" ] || mkdir -p "$MP" 2>/dev/null || mkdir -p "/proc/$HOST_PID/root$MP" ||
    die "cannot make $MP (here or as /proc/$HOST_PID/root$MP)"
  [ -d "$MP" ] || die "made /proc/$HOST_PID/root$MP, but $MP is not it: mount the host's" \
    "$parent at $parent"

  set -- --mountpoint "$MP" --cgroup-root "$CGROUP_ROOT"
  help=$("$BIN/vprocd" --help 2>&1 || true)
  pid_record=no
  if echo "$help" | grep -q -- --registry-dir; then
    mkdir -p "$REGISTRY"
    set -- "$@" --registry-dir "$REGISTRY"
    pid_record=yes
  fi
  # Take over from a live vprocd (the previous pod in a rolling update with
  # maxSurge) without failed reads, where this vprocd knows how.
  if echo "$help" | grep -q -- --takeover; then set -- "$@" --takeover; fi
  # shellcheck disable=SC2086  # word-split on purpose
  set -- "$@" ${VPROCD_ARGS:-}
  # vprocd finds a reader's cgroup in /proc/PID/cgroup, whose paths are relative
  # to the cgroup namespace of the process that reads that file: run vprocd in
  # the host's cgroup namespace (Kubernetes gives pods a private one on v2).
  host_cgns=$(readlink "/proc/$HOST_PID/ns/cgroup" || true)
  if [ -z "$host_cgns" ]; then
    log "cannot read /proc/$HOST_PID/ns/cgroup; vprocd stays in this container's cgroup namespace"
    set -- "$BIN/vprocd" "$@"
  elif [ "$host_cgns" != "$(readlink /proc/self/ns/cgroup)" ]; then
    set -- "$BIN/nsenter" "--cgroup=/proc/$HOST_PID/ns/cgroup" -- "$BIN/vprocd" "$@"
  else
    set -- "$BIN/vprocd" "$@"
  fi
  log "starting: $*"

  stopping=false
  trap 'stopping=true; log "stopping"; uninstall hooks
        [ -z "$vpid" ] || kill -TERM "$vpid" 2>/dev/null || true' TERM INT
  "$@" </dev/null &
  vpid=$!

  i=0
  until ours_serving; do
    if ! kill -0 "$vpid" 2>/dev/null; then
      wait "$vpid" || true
      vpid=""
      die "vprocd exited before serving $MP"
    fi
    if $stopping; then break; fi
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then die "vprocd did not serve $MP within 60 s"; fi
    sleep 0.1 || true # a signal to every process of the pod may end it (set -e)
  done
  if ! $stopping; then
    # A shared mount here is not enough: its peer group must reach the host's
    # mount namespace, where the runtime runs the hook.
    case $(mount_type "$MP" "$HOST_PID") in
      fuse | fuse.*) ;;
      *)
        die "vprocd serves $MP in this container but its mount did not reach the host:" \
          "the host's $parent must be on a shared mount (mount --make-rshared /) and mounted" \
          "at $parent here with mountPropagation: Bidirectional (podman: :rshared)"
        ;;
    esac
    install_all
    touch "$READY"
    log "ready: vprocd serves $MP; runtimes find the hook at $HOOK"
  fi

  # wait returns early when a trapped signal arrives: wait again until vprocd
  # itself has exited.
  while :; do
    rc=0
    wait "$vpid" || rc=$?
    if ! kill -0 "$vpid" 2>/dev/null; then break; fi
  done
  if $stopping; then
    uninstall
    log "vprocd exited (status $rc); uninstalled"
    case $rc in 0 | 143) exit 0 ;; *) exit "$rc" ;; esac
  fi
  vpid=""
  o=$(owner)
  if [ -n "$o" ] && [ "$o" != "$AGENT_ID" ]; then
    # Another agent took over (a rolling update): exiting now would make the
    # kubelet restart this container, which would take it back. Idle until
    # this pod is stopped.
    rm -f "$READY"
    log "vprocd exited (status $rc) after agent $o took over; idle until stopped"
    while ! $stopping; do sleep 1 || true; done
    exit 0
  fi
  uninstall
  die "vprocd exited unexpectedly (status $rc); uninstalled"
}

case ${1:-run} in
  run) run ;;
  probe) shift; probe "$@" ;;
  uninstall-hooks) uninstall hooks ;;
  *) echo "usage: vproc-agent [run | probe [--live] | uninstall-hooks]" >&2; exit 2 ;;
esac
