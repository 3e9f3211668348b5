# Assertions on vprocd's files, in POSIX sh (busybox ash, dash, bash), so they
# run anywhere: inside the test VM (no bash, python or jq there) or on a host.
# Source it; every gc_* check prints "ok   - ..." or "FAIL - ..." and counts.
#
#   gc_snapshot MP OUT [CGDIR]   a reader copies MP's files into OUT (and, with
#                                CGDIR, its cgroup's cpu.pressure before/after)
#   gc_check_limited OUT KB CPU  the snapshot of a reader limited to KB kB of
#                                memory and the single visible CPU id CPU
#   gc_check_container OUT KB CPU  the output of gc_container_script
#   gc_oci_config ...            a minimal OCI config.json (no jq needed)

GC_PASSED=0
GC_FAILED=0

gc_pass() { GC_PASSED=$((GC_PASSED + 1)); echo "ok   - $*"; }
gc_fail() { GC_FAILED=$((GC_FAILED + 1)); echo "FAIL - $*"; }
# gc_eq DESCRIPTION EXPECTED ACTUAL
gc_eq() {
  if [ "$2" = "$3" ]; then gc_pass "$1"; else gc_fail "$1 (expected '$2', got '$3')"; fi
}
# gc_check DESCRIPTION COMMAND...
gc_check() {
  _gc_what=$1
  shift
  if "$@"; then gc_pass "$_gc_what"; else gc_fail "$_gc_what"; fi
}
# gc_awk DESCRIPTION AWK-CONDITION var=value...: passes when the condition holds.
gc_awk() {
  _gc_what=$1 _gc_cond=$2
  shift 2
  if awk "$@" "BEGIN { exit !($_gc_cond) }"; then gc_pass "$_gc_what"; else gc_fail "$_gc_what"; fi
}
gc_summary() { echo "$GC_PASSED passed, $GC_FAILED failed"; }

# gc_kb KEY FILE: a meminfo value (kB), "missing" when absent.
gc_kb() { awk -v k="$1:" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$2"; }
# gc_cpuinfo_ids FILE / gc_stat_ids FILE: the CPU ids listed, comma-separated.
gc_cpuinfo_ids() {
  awk -F: '/^processor/ { gsub(/[ \t]/, "", $2); s = s (s == "" ? "" : ",") $2 } END { print s }' "$1"
}
gc_stat_ids() {
  awk '$1 ~ /^cpu[0-9]+$/ { s = s (s == "" ? "" : ",") substr($1, 4) } END { print s }' "$1"
}
# gc_psi_shape FILE: the file with every number replaced by N.
gc_psi_shape() { sed 's/[0-9][0-9.]*/N/g' "$1"; }
# gc_psi_total FILE LINE: the total= of the "some" or "full" line.
gc_psi_total() { awk -v l="$2" '$1 == l { for (i = 2; i <= NF; i++) if ($i ~ /^total=/) print substr($i, 7) }' "$1"; }

# gc_snapshot MP OUT [CGDIR]: run by the reader (in its cgroup and pid
# namespace). Reads every file vprocd serves; with CGDIR, the cgroup's own
# cpu.pressure just before and just after vprocd's pressure/cpu.
gc_snapshot() {
  _mp=$1 _out=$2 _cg=${3:-}
  mkdir -p "$_out"
  : >"$_out/errors"
  for _f in proc/meminfo proc/swaps proc/cpuinfo proc/stat proc/uptime proc/diskstats \
      sys/devices/system/cpu/online; do
    timeout 10 cat "$_mp/$_f" >"$_out/${_f##*/}" 2>>"$_out/errors" || echo "reading $_f failed" >>"$_out/errors"
  done
  for _p in cpu memory io; do
    [ -n "$_cg" ] && cat "$_cg/$_p.pressure" >"$_out/cg-before.$_p" 2>/dev/null
    if [ -e "$_mp/proc/pressure/$_p" ]; then
      timeout 10 cat "$_mp/proc/pressure/$_p" >"$_out/pressure.$_p" 2>>"$_out/errors" || echo "reading pressure/$_p failed" >>"$_out/errors"
    fi
    [ -n "$_cg" ] && cat "$_cg/$_p.pressure" >"$_out/cg-after.$_p" 2>/dev/null
  done
  cat /proc/sys/kernel/ns_last_pid >"$_out/ns_last_pid_before"
  timeout 10 cat "$_mp/proc/loadavg" >"$_out/loadavg" 2>>"$_out/errors" || echo "reading loadavg failed" >>"$_out/errors"
  cat /proc/sys/kernel/ns_last_pid >"$_out/ns_last_pid"
}

# gc_check_limited OUT KB CPU: a snapshot taken by a reader in its own pid
# namespace, limited to KB kB and to the single visible CPU id CPU.
gc_check_limited() {
  _o=$1 _kb=$2 _cpu=$3
  gc_eq "every read succeeded" "" "$(cat "$_o/errors")"
  gc_eq "meminfo: MemTotal is the memory.max" "$_kb" "$(gc_kb MemTotal "$_o/meminfo")"
  _mt=$(gc_kb MemTotal "$_o/meminfo") _mf=$(gc_kb MemFree "$_o/meminfo") _ma=$(gc_kb MemAvailable "$_o/meminfo")
  gc_awk "meminfo: 0 <= MemFree <= MemAvailable <= MemTotal (got $_mf, $_ma, $_mt)" \
    'f ~ /^[0-9]+$/ && f + 0 <= a + 0 && a + 0 <= t + 0' -v f="$_mf" -v a="$_ma" -v t="$_mt"
  _st=$(gc_kb SwapTotal "$_o/meminfo")
  gc_eq "swaps agrees with meminfo's SwapTotal" "$_st" "$(awk 'NR > 1 { s += $3 } END { print s + 0 }' "$_o/swaps")"
  gc_eq "online is '$_cpu'" "$_cpu" "$(cat "$_o/online")"
  gc_eq "cpuinfo lists one processor, numbered $_cpu" "$_cpu" "$(gc_cpuinfo_ids "$_o/cpuinfo")"
  gc_eq "stat has one cpuN line, cpu$_cpu" "$_cpu" "$(gc_stat_ids "$_o/stat")"
  gc_eq "stat: the cpu line is the sum of the cpuN lines" \
    "$(awk '$1 ~ /^cpu[0-9]+$/ { $1 = ""; print }' "$_o/stat")" "$(awk '$1 == "cpu" { $1 = ""; print }' "$_o/stat")"
  gc_eq "stat keeps the host's btime" "$(grep '^btime' /proc/stat)" "$(grep '^btime' "$_o/stat")"
  _up=$(awk '{ print $1 }' "$_o/uptime")
  gc_awk "uptime is the namespace's age, under 30 s (got $_up)" 'u ~ /^[0-9]+\.[0-9]+$/ && u + 0 < 30' -v u="$_up"
  set -- $(cat "$_o/loadavg")
  gc_awk "loadavg has the kernel's five fields (got $*)" \
    'n == 5 && rt ~ /^[0-9]+\/[0-9]+$/' -v n="$#" -v rt="${4:-}"
  _lp=${5:-x} _lo=$(cat "$_o/ns_last_pid_before") _hi=$(cat "$_o/ns_last_pid")
  gc_awk "loadavg's last pid is inside the namespace ($_lo <= $_lp <= $_hi)" \
    'p ~ /^[0-9]+$/ && p + 0 >= lo + 0 && p + 0 <= hi + 0' -v p="$_lp" -v lo="$_lo" -v hi="$_hi"
  gc_eq "diskstats lists the host's devices" \
    "$(awk '{ print $3 }' /proc/diskstats | tr '\n' ' ')" "$(awk '{ print $3 }' "$_o/diskstats" | tr '\n' ' ')"
}

# gc_check_diskstats OUT IOSTAT: diskstats' reads / sectors read / writes /
# sectors written agree with the cgroup's io.stat (copied to IOSTAT after the
# snapshot); devices missing from io.stat show zeros.
gc_check_diskstats() {
  _o=$1 _io=$2
  while read -r _maj _min _dev _rest; do
    set -- $_rest
    _want=$(awk -v d="$_maj:$_min" '$1 == d {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%d %d %d %d", v["rios"], v["rbytes"] / 512, v["wios"], v["wbytes"] / 512; f = 1 }
      END { if (!f) print "0 0 0 0" }' "$_io")
    gc_eq "diskstats $_dev: reads, sectors read, writes, sectors written are the cgroup's io.stat" \
      "$_want" "$1 $3 $5 $7"
  done <"$_o/diskstats"
}

# gc_check_psi OUT: pressure/{cpu,memory,io} have the kernel's shape and the
# "some" total lies between the cgroup's own totals read just before and after.
gc_check_psi() {
  _o=$1
  for _p in cpu memory io; do
    if [ ! -e "$_o/cg-before.$_p" ]; then
      gc_check "pressure/$_p: absent, as the cgroup has no $_p.pressure" [ ! -e "$_o/pressure.$_p" ]
      continue
    fi
    gc_eq "pressure/$_p has the shape of the cgroup's $_p.pressure" \
      "$(gc_psi_shape "$_o/cg-after.$_p")" "$(gc_psi_shape "$_o/pressure.$_p" 2>/dev/null)"
    _b=$(gc_psi_total "$_o/cg-before.$_p" some) _v=$(gc_psi_total "$_o/pressure.$_p" some)
    _a=$(gc_psi_total "$_o/cg-after.$_p" some)
    gc_awk "pressure/$_p: some total is the cgroup's ($_b <= $_v <= $_a)" \
      'v ~ /^[0-9]+$/ && b + 0 <= v + 0 && v + 0 <= a + 0' -v b="$_b" -v v="$_v" -v a="$_a"
  done
}

# gc_container_script: what a container runs; gc_check_container parses it.
gc_container_script() {
  echo 'head -n1 /proc/meminfo; echo online=$(cat /sys/devices/system/cpu/online); echo cpus=$(grep -c ^processor /proc/cpuinfo); echo stat=$(grep -c ^cpu[0-9] /proc/stat); echo mounts=$(grep -c fuse /proc/self/mountinfo); echo uptime=$(cut -d. -f1 /proc/uptime);' \
    'echo cpudirs=$(ls /sys/devices/system/cpu | grep -E ^cpu[0-9]+$); echo possible=$(cat /sys/devices/system/cpu/possible) present=$(cat /sys/devices/system/cpu/present); echo nprocall=$(nproc --all);' \
    'echo psimount=$(grep -c .*/proc/pressure/cpu.*fuse.vprocd /proc/self/mountinfo)'
}
# gc_check_container LABEL OUTPUT KB CPULIST NCPUS [MOUNTS]
gc_check_container() {
  _l=$1 _out=$2
  gc_eq "$_l: MemTotal" "$3" "$(echo "$_out" | awk '$1 == "MemTotal:" { print $2 }')"
  gc_eq "$_l: online" "online=$4" "$(echo "$_out" | grep '^online=')"
  gc_eq "$_l: cpuinfo processors" "cpus=$5" "$(echo "$_out" | grep '^cpus=')"
  gc_eq "$_l: stat cpuN lines" "stat=$5" "$(echo "$_out" | grep '^stat=')"
  if [ -n "${6:-}" ]; then
    gc_eq "$_l: FUSE mounts in the container" "mounts=$6" "$(echo "$_out" | grep '^mounts=')"
  fi
  if [ "${6:-0}" -gt 0 ]; then
    # The hook gave it its own CPU directory: only its CPUs' cpuN entries,
    # possible and present equal to online, and busybox nproc --all counts them.
    gc_eq "$_l: cpuN entries of its CPU directory" "cpudirs=cpu$4" "$(echo "$_out" | grep '^cpudirs=')"
    gc_eq "$_l: possible and present" "possible=$4 present=$4" "$(echo "$_out" | grep '^possible=')"
    gc_eq "$_l: nproc --all" "nprocall=$5" "$(echo "$_out" | grep '^nprocall=')"
    if [ -d /proc/pressure ]; then
      gc_eq "$_l: /proc/pressure/cpu is vprocd's" "psimount=1" "$(echo "$_out" | grep '^psimount=')"
    else
      gc_eq "$_l: no PSI on this kernel, nothing mounted on /proc/pressure/cpu" "psimount=0" \
        "$(echo "$_out" | grep '^psimount=')"
    fi
  fi
}

# gc_nfiles: the files the hook injects here (the pressure files only with PSI).
gc_nfiles() { if [ -d /proc/pressure ]; then echo 13; else echo 10; fi; }

# gc_oci_config ROOTFS SCRIPT CGROUPS_PATH RESOURCES_JSON HOOKS_JSON: a minimal
# OCI runtime config (runc 1.1 / crun 1.8) on stdout. SCRIPT runs under sh -c
# and must not contain double quotes or backslashes.
gc_oci_config() {
  cat <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh", "-c", "$2" ],
    "env": [ "PATH=/bin" ],
    "cwd": "/",
    "noNewPrivileges": true
  },
  "root": { "path": "$1", "readonly": false },
  "hostname": "vproc-vm-container",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] }
  ],
  "hooks": $5,
  "linux": {
    "cgroupsPath": "$3",
    "resources": $4,
    "namespaces": [ { "type": "pid" }, { "type": "ipc" },
                    { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" } ],
    "maskedPaths": [ "/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware" ],
    "readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" ]
  }
}
EOF
}
