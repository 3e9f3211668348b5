#!/usr/bin/env bash
# Fair shares between tenants (issue #17): 4 victims, each in its own cgroups
# and pid namespace, read meminfo through the per-reader mount, first alone
# (VPROC_TENANT_CALM seconds, default 3), then while tenants attack
# (VPROC_TENANT_ATTACK, default 5):
#   - a tenant holds cpuinfo handles until vprocd refuses one: it must be
#     refused with EMFILE (its share) before 16384 handles;
#   - a half-CPU tenant with 2000 sleeping threads reads /proc/loadavg in 8
#     loops and churns pid namespaces (unshare --pid readers of stat and
#     uptime in a loop): loadavg answers from the sampler's table, churn
#     evicts only the churner's own entries.
# The victims must keep >= 40% of their calm reads/s, with no error and only
# whole reads; vprocd's RSS stays <= 64 MiB throughout; vprocd is alive and
# serving afterwards. (A hanging FUSE mount during re-attach is
# tests/hook/reattach_hang_test.sh.)
. "$(dirname "$0")/../lib/common.sh"
vt_preamble tenant vprocd python cmd:unshare
[ "$(vt_cgroup_mode)" = v1 ] || [ -f /sys/fs/cgroup/cgroup.subtree_control ] || vt_skip "no cgroup controllers"

calm=${VPROC_TENANT_CALM:-3}
attack=${VPROC_TENANT_ATTACK:-5}
mp=$VT_TMP/mnt
tools=$(dirname "$0")/helpers/tenant_tools.py
vt_serve "$mp"
vpid=$VPROCD_PID

for i in 1 2 3 4; do vt_new_cgroup "victim$i"; done

# victims PHASE SECONDS: runs the 4 victims for SECONDS; their lines in
# $VT_TMP/PHASE.N.
victims() {
  local i pids=()
  for i in 1 2 3 4; do
    vt_in_cgroup "/vproc-test-$VT_UNIQ/victim$i" unshare --pid --fork \
      "$VT_PY" "$tools" victim "$mp" "$2" >"$VT_TMP/$1.$i" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$2"; }

victims calm "$calm"

# The attackers.
vt_new_cgroup holder; holder=$VT_CG
vt_new_cgroup tenant; tenant=$VT_CG
vt_set_quota "$tenant" 50000 100000
coproc HOLD { vt_in_cgroup "$holder" "$VT_PY" "$tools" hold "$mp" 20000; }
hold_pid=$HOLD_PID
vt_kill_on_exit "$hold_pid"
read -r -t 60 held <&"${HOLD[0]}" || held="timeout"
vt_spawn_in_cgroup "$tenant" "$VT_PY" "$tools" threads 2000 >"$VT_TMP/threads.out"
sleeper=$VT_SPAWNED
vt_wait_for 30 grep -q threads "$VT_TMP/threads.out" || vt_fail "2000 threads start in 30 s"
for _ in 1 2 3 4 5 6 7 8; do vt_spawn_in_cgroup "$tenant" "$VT_PY" "$tools" loop "$mp" loadavg; done
vt_spawn_in_cgroup "$tenant" bash -c \
  "while :; do unshare --pid --fork cat '$mp/proc/stat' '$mp/proc/uptime' >/dev/null 2>&1; done"
churn=$VT_SPAWNED

# RSS of vprocd every 0.2 s while attacked.
( peak=0
  while kill -0 "$vpid" 2>/dev/null; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$vpid/status" 2>/dev/null)
    [ "${r:-0}" -gt "$peak" ] && { peak=$r; echo "$peak" >"$VT_TMP/rss.peak"; }
    sleep 0.2
  done ) &
rss_watch=$!
vt_on_exit "kill $rss_watch"
sleep 1  # the attack is under way
victims attacked "$attack"
threads=$(ls "/proc/$sleeper/task" 2>/dev/null | wc -l)
lline=$(vt_in_cgroup "$tenant" timeout 5 cat "$mp/proc/loadavg")

# Stop the attackers (by pid) before judging: the checks below read the mount.
kill -KILL "$churn"
for p in $(cat "/sys/fs/cgroup/cpu$tenant/cgroup.procs" "/sys/fs/cgroup$tenant/cgroup.procs" 2>/dev/null); do
  kill -KILL "$p" 2>/dev/null
done
exec {HOLD[1]}>&-
wait "$hold_pid" 2>/dev/null
kill "$rss_watch"

n=${held#held }; n=${n%% *}
vt_figure "held handles: $held (one tenant; global --max-open 65536)"
vt_check "the holding tenant was refused with EMFILE ($held)" grep -q "errno=EMFILE" <<<"$held"
vt_check "refused before 16384 handles ($n)" [ "${n:-99999}" -lt 16384 ]
vt_figure "attacking tenant: $threads threads, loadavg read in it: $lline"
vt_check "the attacking tenant had 2000 sleeping threads ($threads)" [ "$threads" -ge 2000 ]

total_calm=0 total_attacked=0
for i in 1 2 3 4; do
  c=$(field rate "$VT_TMP/calm.$i") a=$(field rate "$VT_TMP/attacked.$i")
  total_calm=$((total_calm + ${c:-0})) total_attacked=$((total_attacked + ${a:-0}))
  vt_figure "victim $i: ${c:-?} reads/s calm, ${a:-?} reads/s attacked"
  for phase in calm attacked; do
    out=$(cat "$VT_TMP/$phase.$i")
    if [[ "$out" =~ errors=0\ partial=0 ]] && [ "$(field reads "$VT_TMP/$phase.$i")" -gt 0 ]; then
      vt_pass "victim $i ($phase): whole reads, no error"
    else
      vt_fail "victim $i ($phase): $out"
    fi
  done
  vt_check "victim $i keeps >= 40% of its calm reads/s under attack (${a:-0} vs ${c:-0})" \
    [ "$((${a:-0} * 100))" -ge "$((${c:-1} * 40))" ]
done
pct=$((total_attacked * 100 / (total_calm > 0 ? total_calm : 1)))
vt_figure "victims: $total_calm reads/s calm, $total_attacked reads/s attacked ($pct%)"

peak=$(cat "$VT_TMP/rss.peak" 2>/dev/null || echo 0)
vt_figure "vprocd peak RSS under attack: $((peak / 1024)) MiB"
if ldd "$VPROCD" | grep -qE 'lib(a|t)san'; then
  echo "tenant: RSS bound not applied: this vprocd is built with a sanitizer (shadow memory)"
else
  vt_check "vprocd RSS <= 64 MiB throughout (${peak} kB)" [ "$peak" -le $((64 * 1024)) ]
fi
vt_check "vprocd is alive" kill -0 "$vpid"
vt_check "vprocd is serving after the attacks" vt_serving "$mp"
vt_check_sanitizer_logs
vt_show_logs
vt_finish
