# Shared helpers for vproc's integration tests (bash). Source it, then call
# vt_init NAME. Everything started or created through these helpers is undone
# by the EXIT trap, in reverse order, even when a test fails half-way.
#
#   VPROC_BUILD_DIR   build tree holding vprocd and vproc-hook (default: ./build)
#
# Results: vt_pass/vt_fail print one line each; vt_finish prints
# "N passed, N failed" and returns non-zero when anything failed.

set -u
VT_NAME=""
VT_PASSED=0
VT_FAILED=0
VT_CLEANUPS=()
VT_UNIQ="$$-$RANDOM"

vt_init() {
  VT_NAME=$1
  VPROC_BUILD_DIR=${VPROC_BUILD_DIR:-$(pwd)/build}
  VPROCD=$(vt_find_binary vprocd)
  VPROC_HOOK=$(vt_find_binary vproc-hook || true)
  VT_TMP=$(mktemp -d "/tmp/vproc-test-$VT_NAME.XXXXXX")
  vt_on_exit "rm -rf '$VT_TMP'"
  trap vt_run_cleanups EXIT
  trap 'exit 130' INT TERM
}

vt_find_binary() {
  local f
  f=$(find "$VPROC_BUILD_DIR" -type f -name "$1" -perm -u+x 2>/dev/null | head -n1)
  [ -n "$f" ] || { echo "$VT_NAME: cannot find $1 under $VPROC_BUILD_DIR" >&2; return 1; }
  echo "$f"
}

# Registers a shell command to run at exit (last registered runs first).
vt_on_exit() { VT_CLEANUPS+=("$1"); }

vt_run_cleanups() {
  local i
  for ((i = ${#VT_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${VT_CLEANUPS[$i]}" >/dev/null 2>&1 || true
  done
  VT_CLEANUPS=()
}

vt_pass() { VT_PASSED=$((VT_PASSED + 1)); echo "ok   - $*"; }
vt_fail() { VT_FAILED=$((VT_FAILED + 1)); echo "FAIL - $*"; }
vt_skip() { echo "$VT_NAME: SKIP: $*"; exit 0; }

# vt_check "description" test-expression...
vt_check() {
  local what=$1; shift
  if "$@"; then vt_pass "$what"; else vt_fail "$what"; fi
}

# vt_eq "description" expected actual
vt_eq() {
  if [ "$2" = "$3" ]; then vt_pass "$1"; else vt_fail "$1 (expected '$2', got '$3')"; fi
}

vt_finish() {
  echo "$VT_NAME: $VT_PASSED passed, $VT_FAILED failed"
  [ "$VT_FAILED" -eq 0 ]
}

vt_require_root() {
  [ "$(id -u)" -eq 0 ] || vt_skip "needs root"
  [ -c /dev/fuse ] || vt_skip "/dev/fuse is missing on this machine"
}

# vt_abort WHAT: a failure the test cannot go on after: fails WHAT, prints the
# logs, the summary, and exits non-zero.
vt_abort() {
  vt_fail "$*"
  vt_show_logs
  vt_finish
  exit 1
}

# vt_preamble NAME [NEED...]: the start of a root test: vt_init NAME, skip
# without root or /dev/fuse, then each NEED in order:
#   python    skip without python3
#   cmd:PROG  skip without PROG on PATH ("PROG not installed")
#   vprocd    fail (vt_abort) unless vprocd is built
#   hook      fail (vt_abort) unless vproc-hook is built
vt_preamble() {
  vt_init "$1"
  shift
  vt_require_root
  local need
  for need in "$@"; do
    case $need in
      python) vt_require_python ;;
      cmd:*) command -v "${need#cmd:}" >/dev/null || vt_skip "${need#cmd:} not installed" ;;
      vprocd) [ -n "$VPROCD" ] || vt_abort "vprocd is built under $VPROC_BUILD_DIR" ;;
      hook) [ -n "$VPROC_HOOK" ] || vt_abort "vproc-hook is built under $VPROC_BUILD_DIR" ;;
      *) vt_abort "vt_preamble: unknown need '$need'" ;;
    esac
  done
}

# --- vprocd -------------------------------------------------------------------

# vt_start_vprocd MOUNTPOINT [vprocd args...]: starts vprocd in the background,
# waits until it serves, sets VPROCD_PID. Its stderr goes to $VT_TMP/vprocd.N.log;
# the exit trap stops it (see vt_start_vprocd_guarded below).
vt_start_vprocd() {
  vt_start_vprocd_guarded "$@" || return 1
  VPROCD_PID=$VT_LAUNCHED_PID
}

# vt_serve MOUNTPOINT [vprocd args...]: vt_start_vprocd, or vt_abort when
# vprocd does not serve.
vt_serve() { vt_start_vprocd "$@" || vt_abort "vprocd starts and serves $1"; }

# --- cgroups (v1, hybrid or v2) -------------------------------------------------

vt_cgroup_mode() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi
}

# The v1 hierarchies vprocd reads (those present are used).
VT_V1_CONTROLLERS="memory cpu cpuacct cpuset blkio pids"

# vt_make_cgroup NAME: creates cgroup NAME (unique per test run) in every
# controller vprocd reads; prints its path relative to the hierarchy roots.
# The per-run parent /vproc-test-UNIQ is made here; NAME below it by
# vt_make_child_cgroup, which registers the cleanup.
vt_make_cgroup() {
  local top="/vproc-test-$VT_UNIQ" c
  if [ "$(vt_cgroup_mode)" = v2 ]; then
    mkdir -p "/sys/fs/cgroup$top"
  else
    for c in $VT_V1_CONTROLLERS; do
      [ -d "/sys/fs/cgroup/$c" ] && mkdir -p "/sys/fs/cgroup/$c$top"
    done
    if [ -d /sys/fs/cgroup/cpuset ]; then
      cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$top/cpuset.cpus"
      cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$top/cpuset.mems"
    fi
  fi
  vt_make_child_cgroup "$top" "$1"
  echo "$top/$1"
}

# Moves every task out of a cgroup dir (to the root) and removes it and its parent.
vt_remove_cgroup_dir() {
  local d=$1 p
  [ -d "$d" ] || return 0
  local root=${d%%/vproc-test-*}
  for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo "$p" > "$root/cgroup.procs" 2>/dev/null || true; done
  rmdir "$d" 2>/dev/null || true
  rmdir "$(dirname "$d")" 2>/dev/null || true
}

# vt_cg_write CGPATH CONTROLLER FILE VALUE (v1: under the controller's hierarchy)
vt_cg_write() {
  local rel=$1 ctrl=$2 file=$3 val=$4
  if [ "$(vt_cgroup_mode)" = v2 ]; then echo "$val" > "/sys/fs/cgroup$rel/$file"
  else echo "$val" > "/sys/fs/cgroup/$ctrl$rel/$file"; fi
}

# vt_cg_enter CGPATH PID: moves PID into the cgroup in every controller.
vt_cg_enter() {
  local rel=$1 pid=$2 c
  if [ "$(vt_cgroup_mode)" = v2 ]; then echo "$pid" > "/sys/fs/cgroup$rel/cgroup.procs"; return; fi
  for c in $VT_V1_CONTROLLERS; do
    [ -d "/sys/fs/cgroup/$c$rel" ] && echo "$pid" > "/sys/fs/cgroup/$c$rel/cgroup.procs"
  done
}

# vt_in_cgroup CGPATH CMD...: runs CMD inside the cgroup (a subshell moves
# itself in first, then execs).
vt_in_cgroup() {
  local rel=$1; shift
  bash -c 'rel=$1; shift; . "'"${BASH_SOURCE[0]}"'"; vt_cg_enter "$rel" $$ >/dev/null && exec "$@"' _ "$rel" "$@"
}

# --- more helpers (added with tests/integration) --------------------------------
# Nothing above changes behaviour; these only add functions.

# Python for helper scripts: the distro interpreter when present.
VT_PY=$(command -v /usr/bin/python3 || command -v python3 || true)
# vt_apt_install PKG...: installs the Debian packages among PKG that are missing
# (scripts/install-deps.sh); returns its status.
vt_apt_install() { "$(dirname "${BASH_SOURCE[0]}")/../../scripts/install-deps.sh" "$@"; }

# vt_project_version [SRC]: the version in SRC's (default: this checkout's) CMakeLists.txt.
vt_project_version() {
  local src=${1:-${VPROC_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}}
  sed -n 's/^project(vproc VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt"
}

vt_require_python() { [ -n "$VT_PY" ] || vt_skip "python3 is missing"; }

# vt_mount_count DIR: how many mounts sit on DIR in this mount namespace.
vt_mount_count() { awk -v d="$1" '$5 == d { n++ } END { print n + 0 }' /proc/self/mountinfo; }

# vt_wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds; 1 on timeout.
vt_wait_for() {
  local secs=$1; shift
  local end=$(($(date +%s%N) + secs * 1000000000))
  until "$@"; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# vt_is_vprocd PID MP: PID is alive and is a vprocd started with MP (guards the
# cleanup against a recycled pid).
vt_is_vprocd() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$2"
}

# vt_stop_vprocd_guarded PID MP: SIGTERM, then SIGKILL, only while PID is still
# our vprocd; then lazily unmounts whatever is left on MP.
vt_stop_vprocd_guarded() {
  local pid=$1 mp=$2 i
  if vt_is_vprocd "$pid" "$mp"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do vt_is_vprocd "$pid" "$mp" || break; sleep 0.05; done
    vt_is_vprocd "$pid" "$mp" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  while [ "$(vt_mount_count "$mp")" -gt 0 ]; do umount -l "$mp" 2>/dev/null || break; done
}

# vt_unmount_all DIR: detaches every mount stacked on DIR.
vt_unmount_all() {
  while [ "$(vt_mount_count "$1")" -gt 0 ]; do umount -l "$1" 2>/dev/null || break; done
}

# vt_launch_vprocd MP [ARGS...]: starts vprocd in the background and returns at
# once (no wait). Sets VT_LAUNCHED_PID and VT_LAUNCHED_LOG (its stderr). SIGINT
# is reset to the default first, as systemd does (bash ignores it in background
# jobs, and libfuse keeps an ignored SIGINT ignored).
VT_LAUNCHES=0
vt_launch_vprocd() {
  local mp=$1; shift
  mkdir -p "$mp"
  VT_LAUNCHES=$((VT_LAUNCHES + 1))
  VT_LAUNCHED_LOG="$VT_TMP/vprocd.$VT_LAUNCHES.log"
  # The test's own registry (as its hooks use), never the machine's /run/vproc.
  case " $* " in *" --registry-dir "*) ;; *) set -- --registry-dir "$VT_TMP/reg" "$@" ;; esac
  # Its container view (REGISTRY_DIR/view): a vprocd killed with -9 leaves it
  # mounted. Registered first, so it runs after the stop below.
  local a reg=""
  for a in "$@"; do
    [ "$reg" = next ] && reg=$a
    [ "$a" = --registry-dir ] && reg=next
  done
  [ -n "$reg" ] && [ "$reg" != next ] && vt_on_exit "vt_unmount_all '$reg/view'"
  if env --default-signal=INT true 2>/dev/null; then
    env --default-signal=INT "$VPROCD" --mountpoint "$mp" "$@" 2>"$VT_LAUNCHED_LOG" &
  else
    "$VPROCD" --mountpoint "$mp" "$@" 2>"$VT_LAUNCHED_LOG" &
  fi
  VT_LAUNCHED_PID=$!
  vt_on_exit "vt_stop_vprocd_guarded $VT_LAUNCHED_PID '$mp'"
}

# vt_serving MP: MP serves a meminfo (read by this shell, with a timeout).
vt_serving() { timeout 5 grep -q "^MemTotal:" "$1/proc/meminfo" 2>/dev/null; }

# vt_wait_serving MP PID [SECONDS]: waits until MP serves while PID lives.
vt_wait_serving() {
  local mp=$1 pid=$2 secs=${3:-10}
  local end=$(($(date +%s%N) + secs * 1000000000))
  until vt_serving "$mp"; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# vt_start_vprocd_guarded MP [ARGS...]: launch + wait; on failure prints the log.
vt_start_vprocd_guarded() {
  local mp=$1
  vt_launch_vprocd "$@"
  if ! vt_wait_serving "$mp" "$VT_LAUNCHED_PID" 10; then
    echo "$VT_NAME: vprocd on $mp did not start serving; its log:" >&2
    cat "$VT_LAUNCHED_LOG" >&2
    return 1
  fi
}

# vt_in_root_cgroup CMD...: runs CMD in the root cgroup of every hierarchy (the
# host's own cgroup).
vt_in_root_cgroup() {
  bash -c '
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo $$ >/sys/fs/cgroup/cgroup.procs || exit 97
    else
      for c in memory cpu cpuacct cpuset blkio pids; do
        [ -d /sys/fs/cgroup/$c ] && { echo $$ >/sys/fs/cgroup/$c/cgroup.procs || exit 97; }
      done
    fi
    exec "$@"' _ "$@"
}

# Limits, by meaning rather than by file name (v1 or v2).
# vt_set_memory CG BYTES
vt_set_memory() {
  if [ "$(vt_cgroup_mode)" = v2 ]; then vt_cg_write "$1" memory memory.max "$2"
  else vt_cg_write "$1" memory memory.limit_in_bytes "$2"; fi
}
# vt_set_quota CG QUOTA_US PERIOD_US
vt_set_quota() {
  if [ "$(vt_cgroup_mode)" = v2 ]; then vt_cg_write "$1" cpu cpu.max "$2 $3"
  else vt_cg_write "$1" cpu cpu.cfs_period_us "$3" && vt_cg_write "$1" cpu cpu.cfs_quota_us "$2"; fi
}
# vt_set_cpuset CG CPULIST
vt_set_cpuset() { vt_cg_write "$1" cpuset cpuset.cpus "$2"; }

# vt_have_knobs: the controllers the limits tests need exist here.
vt_have_knobs() {
  if [ "$(vt_cgroup_mode)" = v2 ]; then
    local c
    for c in cpu cpuset memory; do
      grep -qw "$c" /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || return 1
    done
  else
    [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/cpuset ] && [ -d /sys/fs/cgroup/cpu ]
  fi
}

# vt_make_child_cgroup CGPATH NAME: creates CGPATH/NAME in every hierarchy
# (removed before its parent). Call it directly, not in $(...), so that the
# cleanup registers; the path is CGPATH/NAME.
vt_make_child_cgroup() {
  local rel="$1/$2" c
  if [ "$(vt_cgroup_mode)" = v2 ]; then
    echo "+cpu +cpuset +memory +io +pids" >"/sys/fs/cgroup$1/cgroup.subtree_control" 2>/dev/null || true
    mkdir -p "/sys/fs/cgroup$rel"
    vt_on_exit "vt_remove_cgroup_dir /sys/fs/cgroup$rel"
  else
    for c in $VT_V1_CONTROLLERS; do
      [ -d "/sys/fs/cgroup/$c$1" ] || continue
      mkdir -p "/sys/fs/cgroup/$c$rel"
      if [ "$c" = cpuset ]; then
        cat "/sys/fs/cgroup/cpuset$1/cpuset.cpus" >"/sys/fs/cgroup/cpuset$rel/cpuset.cpus"
        cat "/sys/fs/cgroup/cpuset$1/cpuset.mems" >"/sys/fs/cgroup/cpuset$rel/cpuset.mems"
      fi
      vt_on_exit "vt_remove_cgroup_dir /sys/fs/cgroup/$c$rel"
    done
  fi
}

# vt_new_cgroup NAME: vt_make_cgroup without a subshell (so its cleanup
# registers); sets VT_CG to the new cgroup's path.
vt_new_cgroup() {
  vt_make_cgroup "$1" >/dev/null
  VT_CG="/vproc-test-$VT_UNIQ/$1"
}

# vt_cpu_online ID: the host has CPU ID online.
vt_cpu_online() {
  "$VT_PY" - "$1" <<'PY' 2>/dev/null
import sys
ids = set()
for part in open("/sys/devices/system/cpu/online").read().strip().split(","):
    a, _, b = part.partition("-")
    ids.update(range(int(a), int(b or a) + 1))
sys.exit(0 if int(sys.argv[1]) in ids else 1)
PY
}

# vt_figure TEXT: prints a measured figure and appends it to
# $VPROC_BUILD_DIR/itest-figures.txt (never asserted).
vt_figure() {
  echo "FIGURE $VT_NAME: $*"
  echo "$(date -u +%FT%TZ) $VT_NAME: $*" >>"${VPROC_BUILD_DIR:-.}/itest-figures.txt" 2>/dev/null || true
}

# vt_show_logs: prints vprocd's logs (call before vt_finish when anything failed).
vt_show_logs() {
  [ "$VT_FAILED" -eq 0 ] && return 0
  local f
  for f in "$VT_TMP"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

# vt_report: turns "PASS what" / "FAIL what (why)" lines on stdin (as printed by
# tests/integration/helpers/*.py) into results; any other line is echoed.
# Use as: vt_report < <(cmd) so that the counters update in this shell.
vt_report() {
  local line seen=0
  while IFS= read -r line; do
    case $line in
      "PASS "*) vt_pass "${line#PASS }"; seen=1 ;;
      "FAIL "*) vt_fail "${line#FAIL }"; seen=1 ;;
      *) echo "$line" ;;
    esac
  done
  [ "$seen" = 1 ] || vt_fail "checker printed no result"
}

# vt_starttime PID: the process's start time (clock ticks since boot), or "".
vt_starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'; }

# vt_kill9_vprocd PID: SIGKILLs a vprocd this shell started and reaps it, then
# waits out the container view's attribute lifetime (--view-max-age-ms, 100 ms
# by default): until then the kernel still serves a view file's last rendering
# from the page cache without asking anyone, so a read right after the kill can
# succeed (docs/files.md). After this, reads through its mounts fail.
vt_kill9_vprocd() {
  kill -KILL "$1"
  wait "$1" 2>/dev/null
  sleep "${VT_VIEW_MAX_AGE_WAIT:-0.3}"
}

# vt_kill_on_exit PID: SIGKILLs PID at exit if it is still the same process.
vt_kill_on_exit() {
  local st
  st=$(vt_starttime "$1")
  [ -n "$st" ] && vt_on_exit "[ \"\$(vt_starttime $1)\" = '$st' ] && kill -KILL $1"
}

# vt_spawn_in_cgroup CGPATH CMD...: starts CMD in the background inside the
# cgroup; VT_SPAWNED is CMD's own pid (vt_in_cgroup ... & would leave $!
# naming a subshell whose child is CMD). Killed at exit if still running.
vt_spawn_in_cgroup() {
  local rel=$1; shift
  (vt_cg_enter "$rel" "$BASHPID" >/dev/null && exec "$@") &
  VT_SPAWNED=$!
  vt_kill_on_exit "$VT_SPAWNED"
}

# vt_check_sanitizer_logs: no sanitizer report (ASan, UBSan, TSan) in any log
# under $VT_TMP so far (a sanitized build aborts on the first; this names it).
vt_check_sanitizer_logs() {
  local hits
  hits=$(grep -lE 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
    "$VT_TMP"/*.log 2>/dev/null | tr '\n' ' ')
  vt_eq "no sanitizer report in vprocd's logs" "" "$hits"
}

# --- vprocd restarts --------------------------------------------------------------

# vt_reattach_line LOG SECONDS: prints vprocd's re-attach summary line ("vprocd:
# re-attach: A attached, P pruned, F failed, S skipped in T ms") once LOG has it;
# 1 when it does not come within SECONDS.
vt_reattach_line() {
  vt_wait_for "$2" grep -qE "vprocd: re-attach: [0-9]+ attached" "$1" || return 1
  grep -m1 -E "vprocd: re-attach: [0-9]+ attached" "$1"
}

# vt_exited PID: our child PID has exited (a zombie, or reaped).
vt_exited() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -z "$st" ] || [ "$st" = Z ]
}

# vt_top_dev DIR: device (major:minor) of the top mount on DIR in this mount namespace.
vt_top_dev() { awk -v d="$1" '$5 == d { dev = $3 } END { print dev }' /proc/self/mountinfo; }
