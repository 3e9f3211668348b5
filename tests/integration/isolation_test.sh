#!/usr/bin/env bash
# Isolation and load: 20 readers, each in its own cgroup with its own memory
# limit and pid namespace, read meminfo concurrently for VPROC_ISOLATION_SECONDS
# (default 60): every read must show the reader's own limit, with no error.
# Meanwhile 1000 files are held open: vprocd must stay within 64 threads and
# 32 MiB RSS and keep serving; and a second vprocd with --max-open 64 refuses
# the 65th open with ENFILE. (tests/hook/isolation_test.sh does the same with
# 20 runc containers.)
. "$(dirname "$0")/../lib/common.sh"
vt_preamble isolation python
[ "$(vt_cgroup_mode)" = v1 ] || [ -f /sys/fs/cgroup/cgroup.subtree_control ] || vt_skip "no memory controller"

secs=${VPROC_ISOLATION_SECONDS:-60}
mp=$VT_TMP/mnt
vt_start_vprocd "$mp"
helpers=$(dirname "$0")/helpers

# vprocd confined itself once mounted: a seccomp filter and few capabilities.
vt_eq "vprocd runs under a seccomp filter" "2" "$(awk '/^Seccomp:/ {print $2}' "/proc/$VPROCD_PID/status")"
# CAP_SYS_PTRACE (bit 19) and CAP_DAC_READ_SEARCH (bit 2): 0x80004. No
# CAP_SYS_ADMIN (bit 21, 0x200000): the unmounter, a child forked before the
# jail, keeps it alone and unmounts at exit (fsd/unmounter.h).
for set in CapEff CapPrm CapBnd; do
  vt_eq "vprocd $set: only CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH" \
    "0000000000080004" "$(awk -v f="$set:" '$1 == f {print $2}' "/proc/$VPROCD_PID/status")"
done
umounter=$(pgrep -P "$VPROCD_PID" -x vprocd-umount)
vt_check "vprocd has one unmounter child ($umounter)" [ "$(wc -w <<<"$umounter")" -eq 1 ]
vt_eq "the unmounter keeps CAP_SYS_ADMIN alone" \
  "0000000000200000" "$(awk '/^CapEff:/ {print $2}' "/proc/${umounter:-0}/status" 2>/dev/null)"

pids=()
for i in $(seq 1 20); do
  vt_new_cgroup "iso$i"
  limit_mib=$((100 + 10 * i))
  vt_set_memory "$VT_CG" $((limit_mib * 1024 * 1024))
  vt_in_cgroup "$VT_CG" unshare --pid --fork \
    "$VT_PY" "$helpers/meminfo_reader.py" "$mp" $((limit_mib * 1024)) "$secs" \
    >"$VT_TMP/reader$i.out" 2>&1 &
  pids+=($!)
done

# 1000 files held open by a reader in its own limited cgroup.
vt_new_cgroup holder
vt_set_memory "$VT_CG" $((256 * 1024 * 1024))
coproc HOLD { vt_in_cgroup "$VT_CG" "$VT_PY" "$helpers/hold_open.py" "$mp" 1000; }
hold_pid=$HOLD_PID
vt_on_exit "kill $hold_pid"
read -r -t 60 line <&"${HOLD[0]}" || line="timeout"
vt_eq "1000 files held open at once" "opened 1000" "$line"
threads=$(ls "/proc/$VPROCD_PID/task" | wc -l)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$VPROCD_PID/status")
vt_figure "with 1000 files open: $threads threads, RSS $((rss_kb / 1024)) MiB"
vt_check "at most 64 threads with 1000 files open ($threads)" [ "$threads" -le 64 ]
if ldd "$VPROCD" | grep -qE 'lib(a|t)san'; then
  echo "isolation: RSS bound not applied: this vprocd is built with a sanitizer (shadow memory)"
else
  vt_check "RSS at most 32 MiB with 1000 files open (${rss_kb} kB)" [ "$rss_kb" -le $((32 * 1024)) ]
fi
vt_check "still serving with 1000 files open" vt_serving "$mp"
exec {HOLD[1]}>&-

# The cap on open files (memory per open is bounded; the number of opens too).
vt_start_vprocd_guarded "$VT_TMP/capped" --max-open 64
vt_report < <("$VT_PY" "$helpers/open_cap.py" "$VT_TMP/capped" 64)

total=0
for i in $(seq 1 20); do
  wait "${pids[$((i - 1))]}"
  out=$(cat "$VT_TMP/reader$i.out")
  reads=$(sed -n 's/.*reads=\([0-9]*\).*/\1/p' <<<"$out")
  total=$((total + ${reads:-0}))
  if [[ "$out" =~ wrong=0\ errors=0 ]] && [ "${reads:-0}" -gt 0 ]; then
    vt_pass "reader $i ($((100 + 10 * i)) MiB) saw only its own limit in $reads reads"
  else
    vt_fail "reader $i: $out"
  fi
done
vt_figure "20 readers, ${secs} s: $total reads in all"
vt_check "vprocd still alive" kill -0 "$VPROCD_PID"
vt_show_logs
vt_finish
