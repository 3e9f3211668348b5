#!/usr/bin/env bash
# lifecycle_test: vprocd as a program and as a file system (issue 2, "What to
# build" 2): --help/--version, SIGTERM/SIGINT unmount and exit 0, a busy
# mountpoint is refused while the first instance keeps serving, a stale
# mountpoint (kill -9) is recovered, /dev/fuse missing is a clear error;
# read-only semantics, exact listings without duplicates, sane stat, ENOENT
# outside the served set; reads at odd offsets and sizes (dd, Python) agree
# byte for byte with one cat by the same reader.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
vt_preamble lifecycle python vprocd
FS=("$VT_PY" "$HERE/helpers/fscheck.py")
MiB=$((1024 * 1024))
has() { [[ $2 == *"$1"* ]]; }
has_i() { [[ ${2,,} == *"${1,,}"* ]]; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
# reap PID: waits for our child PID (in this shell, not in a $(...) subshell,
# which cannot wait for it) and sets RC to its exit status.
reap() { RC=0; wait "$1" || RC=$?; }

# --- command line ---------------------------------------------------------------
out=$("$VPROCD" --help 2>&1); rc=$?
vt_eq "--help exits 0" 0 "$rc"
vt_check "--help documents --mountpoint" has --mountpoint "$out"
vt_check "--help documents --cgroup-root and --proc-root" eval 'has --cgroup-root "$out" && has --proc-root "$out"'
vt_check "--help documents --cpu-view" has --cpu-view "$out"
version=$(vt_project_version)
out=$("$VPROCD" --version 2>&1); rc=$?
vt_eq "--version exits 0" 0 "$rc"
vt_check "--version prints the project version '$version' (got '$out')" eval '[ -n "$version" ] && has "$version" "$out"'
out=$(timeout 10 "$VPROCD" --mountpoint "$VT_TMP/never" --no-such-option 2>&1); rc=$?
vt_check "an unknown option exits non-zero at once (got $rc)" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
vt_eq "an unknown option mounts nothing" 0 "$(vt_mount_count "$VT_TMP/never")"

# --- SIGTERM and SIGINT -------------------------------------------------------------
for sig in TERM INT; do
  mp=$VT_TMP/mnt-$sig
  if vt_start_vprocd_guarded "$mp"; then
    pid=$VT_LAUNCHED_PID
    vt_eq "SIG$sig: mounted once while serving" 1 "$(vt_mount_count "$mp")"
    # Serving without CAP_SYS_ADMIN (bit 21); its unmounter child unmounts.
    capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
    vt_check "SIG$sig: vprocd serves without CAP_SYS_ADMIN (CapEff $capeff)" \
      [ $((0x$capeff & (1 << 21))) -eq 0 ]
    umounter=$(pgrep -P "$pid" -x vprocd-umount)
    vt_check "SIG$sig: vprocd has an unmounter child" [ -n "$umounter" ]
    vt_eq "SIG$sig: the container view is mounted" 1 "$(vt_mount_count "$VT_TMP/reg/view")"
    kill -"$sig" "$pid"
    vt_check "SIG$sig: vprocd exits within 5 s" vt_wait_for 5 dead "$pid"
    reap "$pid"
    vt_eq "SIG$sig: exit status 0" 0 "$RC"
    vt_eq "SIG$sig: the mountpoint is gone from /proc/self/mountinfo" 0 "$(vt_mount_count "$mp")"
    vt_eq "SIG$sig: so is the container view" 0 "$(vt_mount_count "$VT_TMP/reg/view")"
    vt_check "SIG$sig: the unmounter exited too" vt_wait_for 5 dead "${umounter:-0}"
    vt_check "SIG$sig: the mountpoint directory is usable again" eval "ls '$mp' >/dev/null"
  else
    vt_fail "SIG$sig: vprocd starts and serves $mp"
  fi
done

# --- busy mountpoint ------------------------------------------------------------------
MP=$VT_TMP/mnt
if vt_start_vprocd_guarded "$MP"; then
  FIRST=$VT_LAUNCHED_PID
  vt_launch_vprocd "$MP"
  second=$VT_LAUNCHED_PID second_log=$VT_LAUNCHED_LOG
  if vt_wait_for 15 dead "$second"; then
    reap "$second"; rc=$RC
    vt_check "a second vprocd on a busy mountpoint exits non-zero (got $rc)" test "$rc" -ne 0
    msg=$(cat "$second_log")
    vt_check "... with a message naming the mountpoint or why: '$(head -c 300 "$second_log" | tr '\n' ' ')'" \
      eval 'has "$MP" "$msg" || has_i busy "$msg" || has_i "already" "$msg" || has_i "in use" "$msg"'
  else
    vt_fail "a second vprocd on a busy mountpoint exits within 15 s (still running)"
  fi
  vt_check "the first vprocd is still running" alive "$FIRST"
  vt_check "the first vprocd still serves" vt_serving "$MP"
  vt_eq "the mountpoint holds exactly one mount" 1 "$(vt_mount_count "$MP")"
  # The root is 0711: another host user reaches the files but cannot list them (issue 17).
  vt_eq "the mount's root has mode 711" 711 "$(stat -c %a "$MP")"
  chmod o+x "$VT_TMP"
  vt_check "another user cannot list the root" \
    bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups ls '$MP' >/dev/null 2>&1"
  vt_check "... but reads a file by its path" \
    setpriv --reuid=65534 --regid=65534 --clear-groups grep -q '^MemTotal:' "$MP/proc/meminfo"
else
  vt_fail "vprocd starts and serves $MP"
fi

# --- stale mountpoint after kill -9 -------------------------------------------------------
MPS=$VT_TMP/mnt-stale
if vt_start_vprocd_guarded "$MPS"; then
  pid=$VT_LAUNCHED_PID
  kill -KILL "$pid"; wait "$pid" 2>/dev/null
  err=$(LC_ALL=C stat "$MPS/proc/meminfo" 2>&1 >/dev/null)
  vt_check "after kill -9 the mountpoint is stale ('$err')" has "Transport endpoint is not connected" "$err"
  if vt_start_vprocd_guarded "$MPS"; then
    vt_pass "a new vprocd recovers the stale mountpoint and serves"
    pid=$VT_LAUNCHED_PID
    vt_eq "after recovery the mountpoint holds exactly one mount (the stale one is gone)" 1 "$(vt_mount_count "$MPS")"
    kill -TERM "$pid"
    vt_wait_for 5 dead "$pid"
    reap "$pid"
    vt_eq "the recovering vprocd exits 0 on SIGTERM" 0 "$RC"
    vt_eq "... and leaves no mount (stale or not) behind" 0 "$(vt_mount_count "$MPS")"
  else
    vt_fail "a new vprocd recovers the stale mountpoint and serves (its log: $(tr '\n' ' ' <"$VT_LAUNCHED_LOG"))"
  fi
else
  vt_fail "vprocd starts and serves $MPS"
fi

# --- /dev/fuse missing ----------------------------------------------------------------------
MPD=$VT_TMP/mnt-nodev
mkdir -p "$MPD"
out=$(timeout 20 unshare --mount --propagation private bash -c \
  'mount -t tmpfs nodev /dev && exec "$@"' _ "$VPROCD" --mountpoint "$MPD" 2>&1); rc=$?
vt_check "without /dev/fuse vprocd exits non-zero, promptly (got $rc)" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
vt_check "... with a message about fuse: '$(head -c 300 <<<"$out" | tr '\n' ' ')'" has_i fuse "$out"
vt_eq "... and nothing is mounted on its mountpoint" 0 "$(vt_mount_count "$MPD")"

# --- read-only file system semantics ----------------------------------------------------------
if [ "$(vt_mount_count "$MP")" -eq 1 ]; then
  vt_new_cgroup reader; CG=$VT_CG
  vt_set_memory "$CG" $((300 * MiB))
  vt_set_cpuset "$CG" 1 2>/dev/null || true
  if [ "$(vt_cgroup_mode)" = v2 ]; then psidir=/sys/fs/cgroup$CG
  else psidir=/sys/fs/cgroup/unified$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup); fi
  psi=0; [ -e "$psidir/cpu.pressure" ] && psi=1
  vt_report < <(vt_in_cgroup "$CG" timeout 60 "${FS[@]}" listing "$MP" "$psi")
  vt_report < <(vt_in_cgroup "$CG" timeout 60 "${FS[@]}" enoent "$MP")
  vt_report < <(vt_in_cgroup "$CG" timeout 60 "${FS[@]}" readonly "$MP")
  for d in "" proc sys sys/devices sys/devices/system sys/devices/system/cpu; do
    dups=$(ls -fa "$MP/$d" | sort | uniq -d | tr '\n' ' ')
    vt_eq "ls -fa $MP/$d shows no name twice (. and .. included)" "" "$dups"
  done
  vt_check "shell: echo > proc/meminfo fails" eval "! (echo 1 >'$MP/proc/meminfo') 2>/dev/null"
  vt_check "shell: touch proc/new fails" eval "! touch '$MP/proc/new' 2>/dev/null"
  vt_check "shell: mkdir proc/new fails" eval "! mkdir '$MP/proc/new' 2>/dev/null"
  vt_check "shell: rm proc/stat fails" eval "! rm -f '$MP/proc/stat' 2>/dev/null && test -e '$MP/proc/stat'"

  # Odd offsets and sizes: dd by the same reader, in the same cgroup, as one cat.
  cat >"$VT_TMP/dd.sh" <<'EOS'
mp=$1 out=$2
for f in proc/cpuinfo proc/swaps sys/devices/system/cpu/online proc/meminfo proc/stat; do
  n=${f##*/}
  cat "$mp/$f" >"$out/$n.cat"
  cat "$mp/$f" >"$out/$n.cat2"
  for bs in 1 7 13 4096 65536; do dd if="$mp/$f" of="$out/$n.bs$bs" bs=$bs status=none; done
  dd if="$mp/$f" of="$out/$n.skip" bs=7 skip=3 status=none
  dd if="$mp/$f" of="$out/$n.mid" bs=5 skip=2 count=9 status=none
  dd if="$mp/$f" of="$out/$n.past" bs=4096 skip=1000 status=none
done
EOS
  DD=$VT_TMP/dd
  mkdir -p "$DD"
  vt_in_cgroup "$CG" timeout 120 bash "$VT_TMP/dd.sh" "$MP" "$DD"
  vt_eq "dd reads by the cgroup's reader completed" 0 "$?"
  nomhz() { grep -v '^cpu MHz' "$1"; }
  for n in cpuinfo swaps online; do
    ref=$DD/$n.cat
    f="cat"
    if ! cmp -s "$DD/$n.cat" "$DD/$n.cat2"; then
      # only cpuinfo's "cpu MHz" may move between two renders
      f=nomhz
      vt_check "$n: two cats differ only in 'cpu MHz' lines" eval "cmp -s <(nomhz $DD/$n.cat) <(nomhz $DD/$n.cat2)"
    fi
    vt_check "$n: is not empty" test -s "$ref"
    for bs in 1 7 13 4096 65536; do
      vt_check "$n: dd bs=$bs is byte-identical to cat" eval "cmp -s <($f $ref) <($f $DD/$n.bs$bs)"
    done
    vt_check "$n: dd bs=7 skip=3 is cat from byte 21" eval "cmp -s <(tail -c +22 $ref | $f /dev/stdin) <($f $DD/$n.skip)"
    vt_check "$n: dd bs=5 skip=2 count=9 is cat's bytes 10..54" eval "cmp -s <(tail -c +11 $ref | head -c 45) $DD/$n.mid"
    vt_check "$n: dd past the end reads nothing" test ! -s "$DD/$n.past"
  done
  # meminfo and stat change between renders; each single read must still be a
  # well-formed file with the same lines as cat's (no torn or mixed renders).
  for n in meminfo stat; do
    keys() { awk '{ print $1 }' "$1"; }
    for bs in 1 7 13 4096; do
      vt_check "$n: dd bs=$bs gives the same line keys as cat" eval "cmp -s <(keys $DD/$n.cat) <(keys $DD/$n.bs$bs)"
    done
  done
  for bs in 1 7 13; do
    vt_check "meminfo: dd bs=$bs read is well formed (every line 'Key: N [kB]')" \
      eval "! grep -Evq '^[A-Za-z0-9_()]+: +[0-9]+( kB)?$' $DD/meminfo.bs$bs"
  done
  vt_report < <(vt_in_cgroup "$CG" timeout 60 "${FS[@]}" pyread "$MP")
  vt_check "the first vprocd is still running after all of this" alive "$FIRST"
fi

vt_check_sanitizer_logs
vt_show_logs
vt_finish
