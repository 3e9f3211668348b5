#!/usr/bin/env bash
# limits_test: processes in limited cgroups read their own numbers through a
# real vprocd mount (issue 2, "Must show"; rules in docs/files.md):
#   - 300 MiB, cpuset {1}, quota 0.5 CPU, own pid namespace: MemTotal, one CPU
#     numbered 1 in online/cpuinfo/stat, uptime from the namespace's init,
#     loadavg's last pid inside the namespace, stat counters monotonic over 50
#     reads while it burns CPU (cpu == sum of cpuN);
#   - a sibling (200 MiB, cpuset {0}) reading at the same time sees its own;
#   - a reader in the host's root cgroup, or in a cgroup without limits, sees
#     the host's values;
#   - memory the cgroup uses shows up as used;
#   - quota view on (default) and off (--cpu-view cpuset);
#   - a parent's lower limit binds its child;
#   - diskstats shows the cgroup's own I/O (zeros for a cgroup that did none);
#   - free, getconf, Python, vmstat, uptime and top read the files bind-mounted
#     where they expect them (private mount namespace);
#   - a recycled pid and a moved process get their current cgroup's view.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
vt_preamble limits python vprocd
vt_have_knobs || vt_skip "the memory, cpu and cpuset controllers are not all available here"
{ vt_cpu_online 0 && vt_cpu_online 1; } || vt_skip "needs CPUs 0 and 1 online"
unshare --help 2>/dev/null | grep -q -- --kill-child || vt_skip "unshare lacks --kill-child (util-linux too old)"

CHECK=("$VT_PY" "$HERE/helpers/vcheck.py")
HZ=$(getconf CLK_TCK)
MiB=$((1024 * 1024))
kb() { awk -v k="$1:" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$2"; }
cpus() { "${CHECK[@]}" cpus "$1" "$2" 2>/dev/null || echo "unparsable"; }

MP=$VT_TMP/mnt
vt_serve "$MP"
VPID=$VPROCD_PID

vt_new_cgroup main; CG=$VT_CG
vt_set_memory "$CG" $((300 * MiB))
vt_set_cpuset "$CG" 1
vt_set_quota "$CG" 50000 100000
vt_new_cgroup sibling; SIB=$VT_CG
vt_set_memory "$SIB" $((200 * MiB))
vt_set_cpuset "$SIB" 0

# --- the container: own pid namespace, burner, 50 stat reads ------------------
NS=$VT_TMP/ns SIBD=$VT_TMP/sib
mkdir -p "$NS" "$SIBD"
cat >"$VT_TMP/ns.sh" <<'EOS'
mp=$1 out=$2
r() { timeout 10 cat "$1" >"$2" 2>>"$out/errors" || echo "reading $1 failed ($?)" >>"$out/errors"; }
r "$mp/proc/uptime" "$out/uptime"
echo $$ >"$out/nspid"
r "$mp/proc/meminfo" "$out/meminfo"
r "$mp/proc/swaps" "$out/swaps"
r "$mp/proc/cpuinfo" "$out/cpuinfo"
r "$mp/sys/devices/system/cpu/online" "$out/online"
r "$mp/sys/devices/system/cpu/possible" "$out/possible"
r "$mp/sys/devices/system/cpu/present" "$out/present"
r "$mp/proc/diskstats" "$out/diskstats"
for p in cpu memory io; do
  [ -e "$mp/proc/pressure/$p" ] && r "$mp/proc/pressure/$p" "$out/pressure.$p"
done
r "$mp/proc/loadavg" "$out/loadavg"
cat /proc/sys/kernel/ns_last_pid >"$out/ns_last_pid"
(while :; do :; done) &
burner=$!
sleep 0.3
for i in $(seq -w 1 50); do
  r "$mp/proc/stat" "$out/stat.$i"
  r "$mp/proc/uptime" "$out/uptime.$i"
  r "$mp/proc/diskstats" "$out/diskstats.$i"
  sleep 0.04
done
kill "$burner"
r "$mp/proc/uptime" "$out/uptime.end"
EOS
cat >"$VT_TMP/sib.sh" <<'EOS'
mp=$1 out=$2
for i in $(seq -w 1 50); do
  mkdir -p "$out/$i"
  for f in proc/meminfo proc/cpuinfo proc/stat sys/devices/system/cpu/online; do
    timeout 10 cat "$mp/$f" >"$out/$i/${f##*/}" 2>>"$out/errors" || echo "reading $f failed ($?)" >>"$out/errors"
  done
  sleep 0.03
done
EOS

vt_spawn_in_cgroup "$SIB" bash "$VT_TMP/sib.sh" "$MP" "$SIBD"
SIBPID=$VT_SPAWNED
T0=$(date +%s%N)
vt_in_cgroup "$CG" timeout 120 unshare --pid --fork --mount-proc --kill-child bash "$VT_TMP/ns.sh" "$MP" "$NS"
vt_eq "the container's script ran to the end" 0 "$?"
ELAPSED_S=$((($(date +%s%N) - T0) / 1000000000 + 1))
wait "$SIBPID"

vt_eq "every read in the container succeeded" "" "$(cat "$NS/errors" 2>/dev/null)"
vt_eq "the reader is pid 1 of its own pid namespace" 1 "$(cat "$NS/nspid")"
vt_eq "MemTotal of a 300 MiB cgroup" $((300 * 1024)) "$(kb MemTotal "$NS/meminfo")"
mt=$(kb MemTotal "$NS/meminfo"); mf=$(kb MemFree "$NS/meminfo"); ma=$(kb MemAvailable "$NS/meminfo")
vt_check "0 <= MemFree <= MemAvailable <= MemTotal (got $mf, $ma, $mt)" \
  awk -v f="$mf" -v a="$ma" -v t="$mt" 'BEGIN { exit !(f >= 0 && f <= a && a <= t) }'
st=$(kb SwapTotal "$NS/meminfo")
sw=$(awk 'NR > 1 { s += $3 } END { print s + 0 }' "$NS/swaps")
vt_eq "swaps agrees with meminfo's SwapTotal" "$st" "$sw"
vt_eq "cpuinfo lists exactly one processor, numbered 1" 1 "$(cpus "$NS/cpuinfo" cpuinfo)"
vt_eq "cpuinfo keeps one model name per processor" 1 "$(grep -c '^model name' "$NS/cpuinfo")"
vt_eq "online is '1'" 1 "$(cat "$NS/online")"
vt_eq "online ends with a newline, as the kernel's does" 0a "$(tail -c1 "$NS/online" | od -An -tx1 | tr -d ' ')"
vt_eq "possible is online's list" "$(cat "$NS/online")" "$(cat "$NS/possible")"
vt_eq "present is online's list" "$(cat "$NS/online")" "$(cat "$NS/present")"
vt_eq "cpuinfo's siblings count the one CPU shown" 1 "$(sed -n 's/^siblings\t*: //p' "$NS/cpuinfo")"
vt_eq "cpuinfo's cpu cores count the one core shown" 1 "$(sed -n 's/^cpu cores\t*: //p' "$NS/cpuinfo")"
vt_eq "stat has exactly one cpuN line, cpu1" 1 "$(cpus "$NS/stat.01" stat)"
vt_eq "stat keeps the host's btime" "$(grep '^btime' /proc/stat)" "$(grep '^btime' "$NS/stat.01")"
up=$(awk '{ print $1 }' "$NS/uptime")
vt_check "uptime's first field is the namespace's age, under 5 s (got $up)" \
  awk -v u="$up" 'BEGIN { exit !(u ~ /^[0-9]+(\.[0-9]+)?$/ && u >= 0 && u < 5) }'
idle=$(awk '{ print $2 }' "$NS/uptime")
vt_check "uptime's idle field is a non-negative number (got $idle)" \
  awk -v u="$idle" 'BEGIN { exit !(u ~ /^[0-9]+(\.[0-9]+)?$/) }'
read -r _ _ _ rt lastpid <"$NS/loadavg"
nslast=$(cat "$NS/ns_last_pid")
vt_check "loadavg's last pid is inside the namespace (1 <= $lastpid <= $nslast)" \
  awk -v p="$lastpid" -v m="$nslast" 'BEGIN { exit !(p ~ /^[0-9]+$/ && p >= 1 && p <= m) }'
vt_check "loadavg's running/total field has the kernel's form (got $rt)" \
  awk -v s="$rt" 'BEGIN { exit !(s ~ /^[0-9]+\/[0-9]+$/) }'
vt_eq "diskstats lists the host's devices" \
  "$(awk '{ print $3 }' /proc/diskstats | sort | tr '\n' ' ')" "$(awk '{ print $3 }' "$NS/diskstats" | sort | tr '\n' ' ')"
# PSI: served where the kernel has it for the reader's cgroup (its v2 path; in
# hybrid mode that is the test's own unified path, which the v1 moves keep).
if [ "$(vt_cgroup_mode)" = v2 ]; then psidir=/sys/fs/cgroup$CG
else psidir=/sys/fs/cgroup/unified$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup); fi
for p in cpu memory io; do
  if [ -e "$psidir/$p.pressure" ]; then
    vt_check "pressure/$p is served (the kernel has $psidir/$p.pressure) and starts with 'some avg10='" \
      grep -q '^some avg10=' "$NS/pressure.$p"
  else
    vt_check "pressure/$p is absent (no $psidir/$p.pressure)" test ! -e "$NS/pressure.$p"
  fi
done
# Idle = age x visible CPUs - busy, so no cpu line can total more ticks than the
# container has been alive (plus one second of slack); the host's lines would.
upend=$(awk '{ print int($1) + 1 }' "$NS/uptime.end" 2>/dev/null)
[ -n "$upend" ] || upend=$ELAPSED_S
vt_report < <("${CHECK[@]}" stat-series --cpus 1 --max-ticks $(((upend + 1) * HZ)) "$NS"/stat.??)
vt_report < <("${CHECK[@]}" monotonic uptime "$NS"/uptime.??)
vt_report < <("${CHECK[@]}" monotonic diskstats "$NS"/diskstats.??)

# --- the sibling, reading at the same time ---------------------------------------
vt_eq "every read of the sibling succeeded" "" "$(cat "$SIBD/errors" 2>/dev/null)"
vt_report < <("${CHECK[@]}" same-view --cpus 0 --memtotal $((200 * 1024)) "$SIBD"/??)

# --- a reader in the host's root cgroup --------------------------------------------
HOST=$VT_TMP/host
mkdir -p "$HOST"
vt_in_root_cgroup bash -c 'for f in meminfo uptime loadavg cpuinfo; do timeout 10 cat "$1/proc/$f" >"$2/$f"; done
  timeout 10 cat "$1/sys/devices/system/cpu/online" >"$2/online"
  cat /proc/sys/kernel/ns_last_pid >"$2/ns_last_pid"' _ "$MP" "$HOST"
vt_eq "the root-cgroup reader ran" 0 "$?"
vt_eq "root cgroup: MemTotal is the host's" "$(kb MemTotal /proc/meminfo)" "$(kb MemTotal "$HOST/meminfo")"
vt_eq "root cgroup: online is the host's" "$(cat /sys/devices/system/cpu/online)" "$(cat "$HOST/online")"
vt_eq "root cgroup: cpuinfo lists the host's processors" "$(cpus /proc/cpuinfo cpuinfo)" "$(cpus "$HOST/cpuinfo" cpuinfo)"
# The host's "container" is pid 1: its age from /proc/1/stat's starttime.
init_age=$(awk -v hz="$HZ" -v up="$(cut -d' ' -f1 /proc/uptime)" '{ sub(/.*\) /, ""); print up - $20 / hz }' /proc/1/stat)
hup=$(awk '{ print $1 }' "$HOST/uptime")
vt_check "root cgroup: uptime is the age of pid 1 (got $hup, pid 1 is ${init_age}s old)" \
  awk -v u="$hup" -v a="$init_age" 'BEGIN { d = u - a; if (d < 0) d = -d; exit !(d < 3) }'
hlast=$(awk '{ print $5 }' "$HOST/loadavg")
vt_check "root cgroup: loadavg's last pid is a host pid (1 <= $hlast <= $(cat "$HOST/ns_last_pid"))" \
  awk -v p="$hlast" -v m="$(cat "$HOST/ns_last_pid")" 'BEGIN { exit !(p ~ /^[0-9]+$/ && p >= 1 && p <= m) }'

# --- a cgroup without limits gets the host's values ---------------------------------------
vt_new_cgroup nolimits; NL=$VT_CG
NLD=$VT_TMP/nolimits
mkdir -p "$NLD"
vt_in_cgroup "$NL" bash -c 'for f in proc/meminfo proc/cpuinfo sys/devices/system/cpu/online; do
    timeout 10 cat "$1/$f" >"$2/${f##*/}"; done' _ "$MP" "$NLD"
vt_eq "cgroup without limits: MemTotal is the host's" "$(kb MemTotal /proc/meminfo)" "$(kb MemTotal "$NLD/meminfo")"
vt_eq "cgroup without limits: online is the host's" "$(cat /sys/devices/system/cpu/online)" "$(cat "$NLD/online")"
vt_eq "cgroup without limits: cpuinfo lists the host's processors" "$(cpus /proc/cpuinfo cpuinfo)" "$(cpus "$NLD/cpuinfo" cpuinfo)"

# --- memory the cgroup uses shows up as used ------------------------------------------------
vt_spawn_in_cgroup "$CG" "$VT_PY" -c 'import sys, time
b = bytearray(b"\x01") * (100 << 20)  # 100 MiB, every page touched
print("ready", flush=True)
time.sleep(60)' >"$VT_TMP/hog.out" 2>&1
HOG=$VT_SPAWNED
if vt_wait_for 20 grep -q ready "$VT_TMP/hog.out"; then
  m=$(vt_in_cgroup "$CG" timeout 10 cat "$MP/proc/meminfo")
  used=$(awk '$1 == "MemTotal:" { t = $2 } $1 == "MemFree:" { f = $2 } END { print t - f }' <<<"$m")
  vt_check "a 100 MiB allocation in the cgroup shows as 100..160 MiB used (MemTotal - MemFree = ${used} kB)" \
    test "${used:-0}" -ge $((100 * 1024)) -a "${used:-0}" -le $((160 * 1024))
else
  vt_fail "the 100 MiB allocator in the cgroup started"
fi
{ kill -KILL "$HOG"; wait "$HOG"; } 2>/dev/null

# --- a cpuset that changes under a kept fd ------------------------------------------------
# online, possible and a kept cpuinfo fd re-read at offset 0 after the cpuset
# went from {0,1} to {1}: the second reading is the new set, whole.
if [ "$(nproc --all)" -ge 2 ] && vt_cpu_online 0 && vt_cpu_online 1; then
  vt_new_cgroup cpuchange; CC=$VT_CG
  vt_set_cpuset "$CC" 0-1
  vt_spawn_in_cgroup "$CC" "$VT_PY" -c 'import os, sys, time
mp, flag = sys.argv[1], sys.argv[2]
fds = [os.open(mp + f, os.O_RDONLY) for f in
       ("/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible", "/proc/cpuinfo")]
def read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    out = b""
    while True:
        b = os.read(fd, 65536)
        if not b:
            return out.decode()
        out += b
def line():
    t = [read_all(fd) for fd in fds]
    return "%s %s %d" % (t[0].strip(), t[1].strip(), t[2].count("processor"))
print("first=" + line(), flush=True)
while not os.path.exists(flag):
    time.sleep(0.05)
print("second=" + line(), flush=True)' "$MP" "$VT_TMP/cpuset-changed" >"$VT_TMP/cpuchange.out" 2>&1
  CPID=$VT_SPAWNED
  if vt_wait_for 10 grep -q '^first=' "$VT_TMP/cpuchange.out"; then
    vt_set_cpuset "$CC" 1
    touch "$VT_TMP/cpuset-changed"
    vt_wait_for 10 grep -q '^second=' "$VT_TMP/cpuchange.out"
  fi
  wait "$CPID" 2>/dev/null
  vt_eq "kept fds before the cpuset change: online, possible, cpuinfo processors" "first=0-1 0-1 2" \
    "$(grep '^first=' "$VT_TMP/cpuchange.out")"
  vt_eq "the same fds re-read at 0 after cpuset {0,1} -> {1}" "second=1 1 1" \
    "$(grep '^second=' "$VT_TMP/cpuchange.out")"
fi

# --- quota view on (default) and off ------------------------------------------------
MP2=$VT_TMP/mnt-cpuset
if vt_start_vprocd_guarded "$MP2" --cpu-view cpuset; then
  vt_new_cgroup halfcpu; Q=$VT_CG
  vt_set_cpuset "$Q" 0-1
  vt_set_quota "$Q" 50000 100000
  vt_new_cgroup onehalfcpu; Q2=$VT_CG
  vt_set_cpuset "$Q2" 0-1
  vt_set_quota "$Q2" 150000 100000
  for c in Q Q2; do
    d=$VT_TMP/view-$c
    mkdir -p "$d/quota" "$d/cpuset"
    vt_in_cgroup "${!c}" bash -c 'for v in quota cpuset; do m=$1; [ $v = cpuset ] && m=$2
        for f in proc/cpuinfo proc/stat sys/devices/system/cpu/online sys/devices/system/cpu/possible; do
          timeout 10 cat "$m/$f" >"$3/$v/${f##*/}"
        done
      done' _ "$MP" "$MP2" "$d"
  done
  vt_eq "quota 0.5 of cpuset {0,1}, quota view: online" 0 "$(cat "$VT_TMP/view-Q/quota/online")"
  vt_eq "quota 0.5 of cpuset {0,1}, quota view: cpuinfo processors" 0 "$(cpus "$VT_TMP/view-Q/quota/cpuinfo" cpuinfo)"
  vt_eq "quota 0.5 of cpuset {0,1}, quota view: stat cpuN lines" 0 "$(cpus "$VT_TMP/view-Q/quota/stat" stat)"
  vt_eq "quota 0.5 of cpuset {0,1}, quota view: possible" 0 "$(cat "$VT_TMP/view-Q/quota/possible")"
  vt_eq "quota 0.5 of cpuset {0,1}, --cpu-view cpuset: online" 0-1 "$(cat "$VT_TMP/view-Q/cpuset/online")"
  vt_eq "quota 0.5 of cpuset {0,1}, --cpu-view cpuset: possible" 0-1 "$(cat "$VT_TMP/view-Q/cpuset/possible")"
  vt_eq "quota 0.5 of cpuset {0,1}, --cpu-view cpuset: cpuinfo processors" 0,1 "$(cpus "$VT_TMP/view-Q/cpuset/cpuinfo" cpuinfo)"
  vt_eq "quota 0.5 of cpuset {0,1}, --cpu-view cpuset: stat cpuN lines" 0,1 "$(cpus "$VT_TMP/view-Q/cpuset/stat" stat)"
  vt_eq "quota 1.5 of cpuset {0,1}, quota view: ceil(1.5) = 2 CPUs online" 0-1 "$(cat "$VT_TMP/view-Q2/quota/online")"
  vt_eq "quota 1.5 of cpuset {0,1}, quota view: stat cpuN lines" 0,1 "$(cpus "$VT_TMP/view-Q2/quota/stat" stat)"
else
  vt_fail "vprocd --cpu-view cpuset starts and serves $MP2"
fi

# --- a parent's lower limit binds its child --------------------------------------------
vt_new_cgroup nest; N=$VT_CG
vt_make_child_cgroup "$N" child; NC=$N/child
vt_set_memory "$N" $((250 * MiB))
vt_set_memory "$NC" $((300 * MiB))
vt_eq "parent 250 MiB, child 300 MiB: the child's MemTotal is the parent's limit" $((250 * 1024)) \
  "$(vt_in_cgroup "$NC" timeout 10 cat "$MP/proc/meminfo" | awk '$1 == "MemTotal:" { print $2 }')"

# --- diskstats: the cgroup's own I/O counters ---------------------------------------------
# A file on a real disk is read with O_DIRECT from one cgroup; a quiet twin does
# no I/O. v1 blkio only counts I/O of a cgroup that has a throttle rule, so both
# get a rule far above anything this test does.
IOF=$VT_TMP/io.dat
dd if=/dev/zero of="$IOF" bs=4096 count=64 status=none && sync "$IOF"
src=$(findmnt -no SOURCE -T "$IOF" 2>/dev/null)
dev=${src#/dev/}
if [ -n "$dev" ] && [ -e "/sys/class/block/$dev/partition" ]; then
  dev=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
fi
if [ -z "$dev" ] || [ ! -r "/sys/class/block/$dev/dev" ]; then
  echo "$VT_NAME: note: diskstats I/O check not run: $VT_TMP is not on a block device (${src:-?})"
else
  majmin=$(cat "/sys/class/block/$dev/dev")
  vt_new_cgroup io; IO=$VT_CG
  vt_new_cgroup quiet; QUIET=$VT_CG
  for c in "$IO" "$QUIET"; do
    if [ "$(vt_cgroup_mode)" = v2 ]; then vt_cg_write "$c" io io.max "$majmin rbps=100000000000"
    else vt_cg_write "$c" blkio blkio.throttle.read_bps_device "$majmin 100000000000"; fi
  done
  vt_in_cgroup "$IO" dd if="$IOF" of=/dev/null bs=4096 count=64 iflag=direct status=none
  vt_eq "the O_DIRECT read ran" 0 "$?"
  field() { awk -v d="$dev" -v f="$1" '$3 == d { print $f }'; }
  ds=$(vt_in_cgroup "$IO" timeout 10 cat "$MP/proc/diskstats")
  r=$(field 4 <<<"$ds") sec=$(field 6 <<<"$ds")
  vt_check "diskstats $dev: the reading cgroup shows its 64 O_DIRECT reads (got '$r')" test "${r:-0}" -ge 64
  vt_check "diskstats $dev: ... and their 512 sectors (got '$sec')" test "${sec:-0}" -ge 512
  vt_check "diskstats $dev: ... not the host's counters ($(field 4 </proc/diskstats) reads)" \
    test "${r:-0}" -lt "$(field 4 </proc/diskstats)"
  ds=$(vt_in_cgroup "$QUIET" timeout 10 cat "$MP/proc/diskstats")
  vt_eq "diskstats $dev: a cgroup that did no I/O shows zero reads, sectors read, writes, sectors written" \
    "0 0 0 0" "$(field 4 <<<"$ds") $(field 6 <<<"$ds") $(field 8 <<<"$ds") $(field 10 <<<"$ds")"
fi

# --- real tools read the files where they expect them (private mount namespace) ---------------
cat >"$VT_TMP/tools.sh" <<'EOS'
mp=$1 out=$2
for f in meminfo cpuinfo stat uptime loadavg swaps diskstats; do mount --bind "$mp/proc/$f" "/proc/$f" || exit 3; done
mount --bind "$mp/sys/devices/system/cpu/online" /sys/devices/system/cpu/online || exit 3
free -k >"$out/free"
getconf _NPROCESSORS_ONLN >"$out/getconf"
"$3" -c 'import os; print(os.cpu_count())' >"$out/python"
vmstat 1 2 >"$out/vmstat"
uptime >"$out/uptime"
top -b -n 1 | head -n 5 >"$out/top"
EOS
TOOLS=$VT_TMP/tools
mkdir -p "$TOOLS"
if command -v free >/dev/null && command -v vmstat >/dev/null && command -v top >/dev/null; then
  vt_in_cgroup "$CG" timeout 60 unshare --mount --pid --fork --mount-proc --kill-child \
    bash "$VT_TMP/tools.sh" "$MP" "$TOOLS" "$VT_PY"
  vt_eq "tools ran with the files bind-mounted" 0 "$?"
  vt_eq "free: total is 300 MiB" $((300 * 1024)) "$(awk '$1 == "Mem:" { print $2 }' "$TOOLS/free")"
  vt_eq "getconf _NPROCESSORS_ONLN (glibc sysconf) is 1" 1 "$(cat "$TOOLS/getconf")"
  vt_eq "python os.cpu_count() is 1" 1 "$(cat "$TOOLS/python")"
  # vmstat's second sample is a delta over 1 s: us+sy+id+wa+st must be about 100.
  sum=$(awk 'NR == 4 { print $13 + $14 + $15 + $16 + $17 }' "$TOOLS/vmstat")
  vt_check "vmstat: the 1 s delta's CPU percentages add up to about 100 (got '$sum')" \
    awk -v s="$sum" 'BEGIN { exit !(s ~ /^[0-9]+$/ && s >= 95 && s <= 105) }'
  vt_check "uptime: reports the container's age (up 0 min): '$(cat "$TOOLS/uptime")'" grep -q 'up 0 min' "$TOOLS/uptime"
  vt_check "top: its memory line shows 300.0 total: '$(grep -i '^MiB Mem' "$TOOLS/top")'" grep -Eq 'Mem : +300\.0 total' "$TOOLS/top"
else
  echo "$VT_NAME: note: procps tools (free, vmstat, top) missing: tool check not run"
fi

# --- who is reading: a recycled pid, a moved process ---------------------------------------
first=$(vt_in_cgroup "$CG" timeout 20 "$VT_PY" "$HERE/helpers/readers.py" first "$MP")
read -r P1 M1 <<<"$first"
vt_eq "pid $P1 in the 300 MiB cgroup reads its MemTotal" $((300 * 1024)) "$M1"
reuse=$(vt_in_cgroup "$SIB" timeout 30 "$VT_PY" "$HERE/helpers/readers.py" reuse "$MP" "$P1")
case $reuse in
  NOREUSE*) echo "$VT_NAME: note: recycled-pid check not run: ${reuse#NOREUSE }" ;;
  *) read -r P2 M2 <<<"$reuse"
     vt_eq "recycled pid $P2, now in the 200 MiB cgroup, gets that cgroup's MemTotal" $((200 * 1024)) "$M2" ;;
esac
procs=()
if [ "$(vt_cgroup_mode)" = v2 ]; then procs=("/sys/fs/cgroup$SIB/cgroup.procs")
else for c in memory cpu cpuacct cpuset blkio pids; do
  [ -d "/sys/fs/cgroup/$c$SIB" ] && procs+=("/sys/fs/cgroup/$c$SIB/cgroup.procs"); done
fi
read -r B A <<<"$(vt_in_cgroup "$CG" timeout 20 "$VT_PY" "$HERE/helpers/readers.py" moved "$MP" "${procs[@]}")"
vt_eq "a reader reads MemTotal 300 MiB before moving" $((300 * 1024)) "$B"
vt_eq "the same reader, moved to the 200 MiB cgroup, reads that cgroup's MemTotal 10 ms later" $((200 * 1024)) "$A"

vt_check "vprocd is still running" kill -0 "$VPID"
vt_check_sanitizer_logs
vt_show_logs
vt_finish
