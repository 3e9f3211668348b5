# A private dockerd for vproc's Docker tests and bench (bash, on top of
# tests/lib/common.sh). Debian's docker.io 20.10, started without systemd with
# a fresh data-root under $VT_TMP, no iptables, no bridge; images come from
# `docker import` of a local rootfs. Everything is undone at exit: its
# containers, the daemon (by pid), the mounts under its data-root, the
# /run/docker/netns/default mount and /etc/docker/key.json when it made them.
#
#   vd_start RUNTIMES_JSON [DEFAULT_RUNTIME]   starts dockerd; sets DOCKER=(docker -H SOCK)
#   vd_import ROOTFS TAG                       imports a rootfs directory as an image
#   vd_runtime_entry MP REG                    the "runtimes" object for vproc-runtime

VD_DOCKERD=${VD_DOCKERD:-/usr/sbin/dockerd}
VD_CLIENT=${VD_CLIENT:-/usr/bin/docker}  # the 20.10 client (a newer one may be first on PATH)

# vd_available: prints why Docker cannot run here, or nothing.
vd_available() {
  [ -x "$VD_DOCKERD" ] || { echo "dockerd is not installed ($VD_DOCKERD; apt-get install docker.io)"; return; }
  [ -x "$VD_CLIENT" ] || echo "the docker client is not installed ($VD_CLIENT)"
}

# vd_runtime_entry MP REG: vproc-runtime with the test's hook, mountpoint and registry.
vd_runtime_entry() {
  jq -nc --arg p "$VPROC_RUNTIME" --arg h "$VPROC_HOOK" --arg mp "$1" --arg reg "$2" \
    '{path: $p, runtimeArgs: ["--vproc-hook=" + $h, "--vproc-hook-arg=--mountpoint=" + $mp,
      "--vproc-hook-arg=--registry-dir=" + $reg]}'
}

vd_stop() {
  local c
  if [ -n "${VD_PID:-}" ] && kill -0 "$VD_PID" 2>/dev/null; then
    for c in $("${DOCKER[@]}" ps -aq 2>/dev/null); do "${DOCKER[@]}" rm -f "$c" >/dev/null 2>&1; done
    kill -TERM "$VD_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$VD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$VD_PID" 2>/dev/null && kill -KILL "$VD_PID"
    wait "$VD_PID" 2>/dev/null
  fi
  # What a stopped (or killed) dockerd can leave mounted under its own directories.
  awk -v d="$VD_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  if [ "$VD_HAD_NETNS" = no ] && mountpoint -q /run/docker/netns/default 2>/dev/null; then
    umount -l /run/docker/netns/default 2>/dev/null
    rm -f /run/docker/netns/default
  fi
  [ "$VD_HAD_KEY" = yes ] || rm -f /etc/docker/key.json
  # The directories dockerd makes outside its roots: only empty ones go.
  [ "$VD_HAD_RUN" = yes ] || { rmdir /run/docker/plugins /run/docker/netns /run/docker 2>/dev/null; }
  if [ "$VD_HAD_CGROUP" = no ]; then
    for c in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
  fi
  return 0
}

# vd_start RUNTIMES_JSON [DEFAULT_RUNTIME]
vd_start() {
  VD_DIR=$VT_TMP/docker
  mkdir -p "$VD_DIR/data" "$VD_DIR/exec"
  VD_HAD_NETNS=no
  [ -e /run/docker/netns/default ] && VD_HAD_NETNS=yes
  VD_HAD_KEY=no
  [ -e /etc/docker/key.json ] && VD_HAD_KEY=yes
  VD_HAD_RUN=no
  [ -e /run/docker ] && VD_HAD_RUN=yes
  VD_HAD_CGROUP=no
  compgen -G "/sys/fs/cgroup/*/docker" >/dev/null && VD_HAD_CGROUP=yes
  [ -d /sys/fs/cgroup/docker ] && VD_HAD_CGROUP=yes
  jq -n --arg d "$VD_DIR/data" --arg e "$VD_DIR/exec" --argjson r "$1" --arg dflt "${2:-runc}" \
    '{"data-root": $d, "exec-root": $e, "iptables": false, "bridge": "none",
      "storage-driver": "overlay2", "runtimes": $r, "default-runtime": $dflt}' >"$VD_DIR/daemon.json"
  local sock=$VD_DIR/docker.sock
  DOCKER=("$VD_CLIENT" -H "unix://$sock")
  "$VD_DOCKERD" --config-file "$VD_DIR/daemon.json" -H "unix://$sock" \
    --pidfile "$VD_DIR/dockerd.pid" >"$VD_DIR/dockerd.log" 2>&1 &
  VD_PID=$!
  vt_on_exit vd_stop
  vt_wait_for 30 "${DOCKER[@]}" info >/dev/null 2>&1 || {
    tail -20 "$VD_DIR/dockerd.log" >&2
    return 1
  }
}

# vd_import ROOTFS TAG
vd_import() {
  tar -C "$1" -c . | "${DOCKER[@]}" import - "$2" >/dev/null
}
