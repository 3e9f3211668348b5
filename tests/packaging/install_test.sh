#!/usr/bin/env bash
# Installs the .deb on this machine (real /usr and /etc) with apt-get, checks
# the installed unit with systemd-analyze, starts vprocd the way the unit
# does (its ExecStart= line, its capability bounding set, NoNewPrivileges,
# RestrictAddressFamilies= and LimitNOFILE, a notify socket; there is no
# systemd as PID 1 here), checks the capabilities of vprocd and its unmounter
# and that the loadavg sampler's netlink socket is allowed, runs podman
# containers through the DEFAULT hooks.d directory, hands over to a new vprocd
# with the unit's ExecReload= line (what a package upgrade does) while a
# container runs, stops vprocd with SIGTERM, then purges the package and
# checks that nothing of it remains.
#
# The machine is restored whatever happens: the exit trap purges the package,
# stops every vprocd this test started (by pid) and puts back /run/vproc and
# /var/lib/vproc as they were. The test refuses to run (and fails) when
# something is mounted on /var/lib/vproc, when vproc is already installed, or
# when a file of the package already exists (a `cmake --install` to /usr).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
vt_init packaging-install
vt_require_root
command -v apt-get >/dev/null || vt_skip "not a Debian system (apt-get missing)"
command -v podman >/dev/null || vt_skip "podman not installed"
command -v runc >/dev/null || vt_skip "runc not installed"
SRC=$VC_SOURCE_DIR
PKG=$VPROC_BUILD_DIR/packages
MP=/var/lib/vproc
UNIT=/usr/lib/systemd/system/vprocd.service

abort() { vt_fail "$*"; vt_finish; exit 1; }

# --- preconditions ------------------------------------------------------------------
if awk -v d="$MP" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
  abort "something is mounted on $MP (see /proc/self/mountinfo); this test installs the vproc package, whose vprocd serves there. Stop it and unmount $MP first."
fi
if dpkg-query -W -f='${Status}' vproc 2>/dev/null | grep -q "ok installed"; then
  abort "the vproc package is already installed; this test installs and purges it. Run 'apt-get purge vproc' first."
fi

vt_apt_install systemd jq python3 util-linux libcap2-bin || abort "installing systemd jq python3 util-linux libcap2-bin failed"

# The .deb: the one build_test.sh made, when built from these very sources.
version=$(vt_project_version "$SRC")
deb=$(ls "$PKG"/vproc_"$version"_*.deb 2>/dev/null | head -n1)
if [ -z "$deb" ] || [ "$(cat "$PKG/SOURCE-STAMP" 2>/dev/null)" != "$("$SRC/packaging/build.sh" --stamp)" ]; then
  echo "building the .deb (none from these sources in $PKG)"
  rm -rf "$PKG"
  "$SRC/packaging/build.sh" --deb "$PKG" || abort "packaging/build.sh --deb failed"
  deb=$(ls "$PKG"/vproc_"$version"_*.deb 2>/dev/null | head -n1)
fi
[ -n "$deb" ] || abort "no vproc_${version}_*.deb in $PKG"

# No file of the package may exist yet: purging would delete it.
for p in $(dpkg -c "$deb" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }'); do
  [ -e "$p" ] && abort "$p already exists (installed by hand?); this test would overwrite and then delete it"
done

# --- restore the machine at exit (cleanups run last-registered first) ---------------------
# /run/vproc and /var/lib/vproc as they were (other vprocds on this machine
# may use the default registry).
had_mp=no; [ -d "$MP" ] && had_mp=yes
had_run=no
if [ -d /run/vproc ]; then
  had_run=yes
  tar -C /run -cpf "$VT_TMP/run-vproc.tar" --one-file-system vproc
fi
vt_on_exit "[ $had_run = no ] || { [ -d /run/vproc ] || tar -C /run -xpf '$VT_TMP/run-vproc.tar'; }"
vt_on_exit "[ $had_mp = no ] || mkdir -p '$MP'"
vt_on_exit "dpkg-query -W -f='\${Status}' vproc 2>/dev/null | grep -q 'ok installed\|config-files' && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q vproc"

# vprocds this test starts: SIGTERM, then SIGKILL, only while the pid is
# still the same vprocd process (start time), then unmount what is left.
stop_vprocd() {
  local pid=$1 st=$2 i
  [ "$(vt_starttime "$pid")" = "$st" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do [ "$(vt_starttime "$pid")" = "$st" ] || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
}
track_vprocd() {
  local st
  st=$(vt_starttime "$1")
  [ -n "$st" ] && vt_on_exit "stop_vprocd $1 $st; while [ \$(vt_mount_count $MP) -gt 0 ]; do umount -l $MP || break; done"
}

# --- install ----------------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$VT_TMP/apt-install.log" 2>&1
rc=$?
vt_eq "apt-get install ./$(basename "$deb") exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || { sed 's/^/    /' "$VT_TMP/apt-install.log"; vt_finish; exit 1; }
dpkg -L vproc >"$VT_TMP/files"
vt_check "the unit is installed at $UNIT" [ -f "$UNIT" ]
vt_check "vprocd(8) is installed" man -w vprocd >/dev/null
vt_check "/etc/vproc/vprocd.conf is a conffile" grep -q '^ /etc/vproc/vprocd.conf ' <(dpkg-query -W -f='${Conffiles}\n' vproc)

out=$(systemd-analyze verify "$UNIT" 2>&1)
vt_eq "systemd-analyze verify $UNIT exits 0" 0 "$?"
[ -z "$out" ] || echo "$out" | sed 's/^/    systemd-analyze: /'
vt_eq "systemd-analyze verify prints nothing" "" "$out"

# --- the unit, emulated -------------------------------------------------------------------
# unit_value KEY: the value of KEY= in [Service] (the last one wins).
unit_value() { sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | sed -n "s/^$1=//p" | tail -n1; }
exec_start=$(unit_value ExecStart | sed 's/^[-@:+!]*//')
exec_reload=$(unit_value ExecReload | sed 's/^[-@:+!]*//')
vt_eq "ExecStart=" "/usr/bin/vprocd --takeover" "$exec_start"
vt_eq "ExecReload=" "/usr/bin/vprocd --takeover --detach" "$exec_reload"
# CapabilityBoundingSet=CAP_A CAP_B -> setpriv's -all,+a,+b
caps=$(unit_value CapabilityBoundingSet | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -)
nnp=$(unit_value NoNewPrivileges)
nofile=$(unit_value LimitNOFILE)
vt_check "the unit sets a capability bounding set" [ -n "$caps" ]
launcher=(setpriv --bounding-set "-all,$caps")
[ "$nnp" = yes ] && launcher+=(--no-new-privs)
# RestrictAddressFamilies= (systemd refuses socket() for other families with
# EAFNOSUPPORT): emulated by a seccomp filter of vproc_restrict_af.
families=$(unit_value RestrictAddressFamilies)
RESTRICT_AF=$VPROC_BUILD_DIR/tests/unit/vproc_restrict_af
vt_check "the unit restricts address families ($families)" [ -n "$families" ]
[ -x "$RESTRICT_AF" ] || abort "$RESTRICT_AF is not built"
# shellcheck disable=SC2206
launcher=("$RESTRICT_AF" $families -- "${launcher[@]}")

# A notify socket, as systemd gives a Type=notify service: each datagram is
# appended to notify.log.
NOTIFY_SOCK=$VT_TMP/notify.sock
"$VT_PY" - "$NOTIFY_SOCK" "$VT_TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
PY
vt_kill_on_exit $!
vt_wait_for 5 test -S "$NOTIFY_SOCK" || abort "the notify listener did not start"

# "${as_unit[@]}" CMDLINE... runs CMDLINE with the unit's limits and notify
# socket. A simple command, so that `... &` gives $! = the pid of vprocd itself
# (env, bash and setpriv each exec the next).
as_unit=(env --default-signal=INT NOTIFY_SOCKET="$NOTIFY_SOCK"
         bash -c 'ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; shift; exec "$@"'
         _ "${nofile:-1024}" "${launcher[@]}")
# Without CAP_SYS_RESOURCE (some sandboxes) the hard limit caps LimitNOFILE.
if [ -n "$nofile" ] && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$nofile" ]; then
  echo "$VT_NAME: note: LimitNOFILE=$nofile emulated as $(ulimit -Hn), this shell's hard limit"
fi
# shellcheck disable=SC2086
"${as_unit[@]}" $exec_start 2>"$VT_TMP/vprocd.start.log" &
pid1=$!
track_vprocd "$pid1"
if vt_wait_serving "$MP" "$pid1" 20; then
  vt_pass "vprocd started from ExecStart= serves $MP"
else
  vt_fail "vprocd started from ExecStart= serves $MP"
  sed 's/^/    /' "$VT_TMP/vprocd.start.log"
fi
vt_wait_for 10 grep -q "READY=1" "$VT_TMP/notify.log"
vt_check "vprocd notified READY=1" grep -q "READY=1" "$VT_TMP/notify.log"
vt_check "vprocd notified MAINPID=$pid1" grep -q "MAINPID=$pid1\b" "$VT_TMP/notify.log"
# Under the unit's bounding set, vprocd could still drop to the two
# capabilities it keeps (fsd/sandbox.cpp needs CAP_SETPCAP for that), and its
# unmounter to CAP_SYS_ADMIN alone.
capeff() { capsh --decode="$(sed -n 's/^CapEff:\t//p' "/proc/$1/status" 2>/dev/null)" 2>/dev/null | sed 's/.*=//'; }
vt_eq "vprocd runs with its two capabilities" "cap_dac_read_search,cap_sys_ptrace" "$(capeff "$pid1")"
vt_eq "its unmounter keeps cap_sys_admin alone" "cap_sys_admin" \
  "$(capeff "$(pgrep -P "$pid1" -x vprocd-umount | head -n1)")"
# The loadavg sampler's taskstats netlink socket is allowed by the unit (else
# vprocd logs its fallback to counting tasks files); and the check can fail:
# under AF_UNIX alone, the fallback is logged.
vt_eq "under the unit's address families, the taskstats netlink sampler is on" "" \
  "$(grep 'no taskstats netlink' "$VT_TMP/vprocd.start.log")"
"$RESTRICT_AF" AF_UNIX -- "$VPROCD" --mountpoint "$VT_TMP/af-mp" --registry-dir "$VT_TMP/af-reg" \
  --no-reattach 2>"$VT_TMP/vprocd.af.log" &
af_pid=$!
track_vprocd "$af_pid"
vt_wait_serving "$VT_TMP/af-mp" "$af_pid" 20
kill -TERM "$af_pid"; wait "$af_pid"
vt_check "control: under AF_UNIX alone vprocd falls back (no netlink)" \
  grep -q 'no taskstats netlink' "$VT_TMP/vprocd.af.log"

# --- podman, default hooks.d ------------------------------------------------------------
ROOTFS=$VT_TMP/rootfs
vc_rootfs "$ROOTFS"
# Private storage, no --hooks-dir: podman reads the packaged
# /usr/share/containers/oci/hooks.d files. A short path: podman wants a
# runroot path of at most 50 characters.
PD=$(mktemp -d /tmp/vpkg.XXXXXX)
vt_on_exit "rm -rf '$PD'"
vc_podman_private "$PD"
RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --memory 300m)

out=$("${PODMAN[@]}" "${RUN[@]}" --annotation vproc.io/enable=true --rootfs "$ROOTFS" \
      head -n1 /proc/meminfo 2>&1)
vt_eq "vproc.io/enable=true, --memory 300m: MemTotal 307200 kB" 307200 "$(echo "$out" | vc_memtotal)"
[ -n "$(echo "$out" | vc_memtotal)" ] || echo "$out" | sed 's/^/    /'
out=$("${PODMAN[@]}" "${RUN[@]}" --rootfs "$ROOTFS" head -n1 /proc/meminfo 2>&1)
vt_eq "no annotation: the host's MemTotal" "$(vc_host_memtotal)" "$(echo "$out" | vc_memtotal)"

# --- reload: what a package upgrade does ----------------------------------------------------
name=vproc-pkg-$VT_UNIQ
"${PODMAN[@]}" run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --memory 300m --annotation vproc.io/enable=true --name "$name" --rootfs "$ROOTFS" \
  /bin/sleep 120 >/dev/null 2>&1
in_ctr() { "${PODMAN[@]}" exec "$name" head -n1 /proc/meminfo 2>&1 | vc_memtotal; }
vt_eq "running container: MemTotal 307200 kB" 307200 "$(in_ctr)"
# shellcheck disable=SC2086
"${as_unit[@]}" $exec_reload 2>"$VT_TMP/vprocd.reload.log"
vt_eq "ExecReload= exits 0" 0 "$?"
pid2=$(grep -o 'MAINPID=[0-9]*' "$VT_TMP/notify.log" | tail -n1 | cut -d= -f2)
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && track_vprocd "$pid2"
vt_check "the new vprocd notified a new MAINPID" [ -n "$pid2" -a "$pid2" != "$pid1" ]
vt_check "the old vprocd exits after draining" vt_wait_for 40 bash -c "! kill -0 $pid1 2>/dev/null"
vt_check "$MP is served after the handover" vt_serving "$MP"
vt_eq "$MP has one mount after the handover" 1 "$(vt_mount_count "$MP")"
vt_eq "running container after the handover: MemTotal 307200 kB" 307200 "$(in_ctr)"
"${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null 2>&1

# --- stop -------------------------------------------------------------------------------------
if [ -n "$pid2" ] && kill -0 "$pid2" 2>/dev/null; then
  kill -TERM "$pid2"
  vt_check "vprocd exits on SIGTERM" vt_wait_for 10 bash -c "! kill -0 $pid2 2>/dev/null"
fi
vt_eq "no mount left on $MP" 0 "$(vt_mount_count "$MP")"
[ "$VT_FAILED" -eq 0 ] || { for f in "$VT_TMP"/vprocd.*.log; do echo "--- $f"; sed 's/^/    /' "$f"; done; }

# --- purge ------------------------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q vproc >"$VT_TMP/apt-purge.log" 2>&1
vt_eq "apt-get purge -y vproc exits 0" 0 "$?"
vt_eq "dpkg no longer knows vproc" "" "$(dpkg-query -W -f='${Status}' vproc 2>/dev/null | grep -v not-installed)"
left=()
while IFS= read -r p; do
  [ -d "$p" ] && [ ! -L "$p" ] && continue   # shared directories (/usr/bin, ...) stay
  [ -e "$p" ] || [ -L "$p" ] && left+=("$p")
done <"$VT_TMP/files"
vt_eq "no file of the package remains" "" "${left[*]}"
for d in /etc/vproc /usr/libexec/vproc /usr/share/vproc /usr/share/doc/vproc /run/vproc "$MP"; do
  vt_check "$d is gone" [ ! -e "$d" ]
done
vt_eq "no vprocd mount remains under $MP or /run/vproc" "" \
  "$(awk -v d="$MP" 'index($5, d) == 1 || index($5, "/run/vproc") == 1' /proc/self/mountinfo)"
vt_eq "no vprocd this test started is running" "" \
  "$(for p in $pid1 ${pid2:-}; do kill -0 "$p" 2>/dev/null && echo "$p"; done)"

vt_finish
