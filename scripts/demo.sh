#!/usr/bin/env bash
# vproc demo, as root on a fresh Debian 12 machine:
#   1. installs the build and runtime dependencies (scripts/install-deps.sh);
#   2. builds vprocd and vproc-hook (cmake Release into build/);
#   3. builds, once, a Debian bookworm minbase rootfs with procps and python3
#      (cached at /var/cache/vproc/rootfs-bookworm; ~3 minutes the first time);
#   4. starts vprocd on /var/lib/vproc (or reuses one already serving there);
#   5. runs a real runc container limited to 512 MiB and 1.5 CPUs with
#      vproc-hook in its config.json, and prints what `free -m`, `top`,
#      `uptime` and Python's os.cpu_count() say on the host and inside it;
#   6. cleans up everything it started (container, cgroup, bundle, vprocd).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MP=/var/lib/vproc
BUILD=${VPROC_BUILD_DIR:-$SRC/build}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing dependencies"
"$SRC/scripts/install-deps.sh"

step "building ($BUILD, Release)"
BUILD_LOG=$(mktemp /tmp/vproc-demo-build.XXXXXX.log)
# Warnings stay warnings here, also in a build/ that scripts/test.sh configured with
# -DVPROC_WERROR=ON: GCC 12 at -O3 warns falsely (-Warray-bounds, -Wrestrict) in libstdc++.
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DVPROC_WERROR=OFF &&
       cmake --build "$BUILD" -j"$(nproc)"; } >"$BUILD_LOG" 2>&1; then
  tail -n 30 "$BUILD_LOG" >&2
  echo "demo: build failed; full log in $BUILD_LOG" >&2
  exit 1
fi
rm -f "$BUILD_LOG"
VPROCD=$(find "$BUILD" -type f -name vprocd -perm -u+x | head -n1)
HOOK=$(find "$BUILD" -type f -name vproc-hook -perm -u+x | head -n1)
[ -n "$VPROCD" ] && [ -n "$HOOK" ] || { echo "demo: build did not produce vprocd and vproc-hook" >&2; exit 1; }

step "container rootfs (Debian bookworm minbase + procps + python3, cached)"
ROOTFS=$("$SRC/scripts/build-rootfs.sh" debian)
echo "$ROOTFS"

ID=vproc-demo-$$
WORK=$(mktemp -d /tmp/vproc-demo.XXXXXX)
VPROCD_PID=""
cleanup() {
  set +e
  if runc state "$ID" >/dev/null 2>&1; then
    runc kill "$ID" KILL >/dev/null 2>&1
    runc delete -f "$ID" >/dev/null 2>&1
  fi
  for c in /sys/fs/cgroup/*/"$ID" /sys/fs/cgroup/"$ID"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
  if [ -n "$VPROCD_PID" ]; then
    kill -TERM "$VPROCD_PID" 2>/dev/null
    wait "$VPROCD_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "vprocd on $MP"
if grep -q '^MemTotal:' "$MP/proc/meminfo" 2>/dev/null; then
  echo "reusing the vprocd already serving $MP"
else
  mkdir -p "$MP"
  "$VPROCD" --mountpoint "$MP" 2>"$WORK/vprocd.log" &
  VPROCD_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^MemTotal:' "$MP/proc/meminfo" 2>/dev/null && break
    kill -0 "$VPROCD_PID" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^MemTotal:' "$MP/proc/meminfo" 2>/dev/null ||
    { echo "demo: vprocd did not start:" >&2; cat "$WORK/vprocd.log" >&2; exit 1; }
  echo "started vprocd (pid $VPROCD_PID)"
fi

# The same commands on the host and in the container.
SHOW='echo "\$ free -m"; free -m
echo "\$ top -bn1 | head -5"; top -bn1 | head -5
echo "\$ uptime"; uptime
echo "\$ python3 -c \"import os; print(os.cpu_count())\""; python3 -c "import os; print(os.cpu_count())"'

step "runc container: 512 MiB, 1.5 CPUs, vproc-hook at createRuntime"
mkdir -p "$WORK/bundle"
(cd "$WORK/bundle" && runc spec)
jq --arg root "$ROOTFS" --arg hook "$HOOK" --arg mp "$MP" --arg show "$SHOW" --arg cg "/$ID" '
  .root = {path: $root, readonly: true} |
  .hostname = "vproc-demo" |
  .process.terminal = false |
  .process.args = ["/bin/sh", "-c", $show] |
  .process.env += ["COLUMNS=100"] |
  .linux.cgroupsPath = $cg |
  .linux.resources = {memory: {limit: 536870912}, cpu: {quota: 150000, period: 100000}} |
  .hooks = {createRuntime: [{path: $hook, args: ["vproc-hook", "--mountpoint", $mp]}],
            poststop: [{path: $hook, args: ["vproc-hook", "poststop"]}]}
' "$WORK/bundle/config.json" > "$WORK/config.json"
mv "$WORK/config.json" "$WORK/bundle/config.json"

sh -c "$SHOW" > "$WORK/host.txt" 2>&1
runc run --bundle "$WORK/bundle" "$ID" > "$WORK/container.txt" 2>&1 </dev/null ||
  { echo "demo: the container failed:" >&2; cat "$WORK/container.txt" >&2; exit 1; }

step "host vs container (512 MiB, 1.5 CPUs)"
# Side by side when the terminal is wide enough, one after the other otherwise.
if [ "$(tput cols 2>/dev/null || echo 80)" -ge 200 ]; then
  pr -m -t -w 200 "$WORK/host.txt" "$WORK/container.txt"
else
  echo "--- host ($(nproc --all) CPUs, $(awk '/^MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB)"
  cat "$WORK/host.txt"
  echo
  echo "--- container (limits: 512 MiB, 1.5 CPUs)"
  cat "$WORK/container.txt"
fi
step "done; cleaning up"
