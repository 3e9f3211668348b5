#!/usr/bin/env bash
# Docker (issue 18) with a real dockerd (Debian's docker.io 20.10, tests/lib/docker.sh):
# vproc-runtime registered as the "vproc" runtime and as the default runtime.
#   - `--runtime vproc` with --memory, --cpus, --cpuset-cpus: the container's own figures;
#   - `-e VPROC_ENABLE=false` and `--runtime runc`: the host's, untouched;
#   - poststop: a --rm container leaves no registry record;
#   - kill -9 of vprocd with one wrapper container and one `-v` container running: both
#     read their limits again within 3 s of the new vprocd's start, nobody runs attach.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/containers.sh"
. "$(dirname "$0")/../lib/docker.sh"
vt_preamble hook-docker cmd:runc hook
why=$(vd_available)
[ -z "$why" ] || vt_skip "$why"
VPROC_RUNTIME=$(vt_find_binary vproc-runtime) || vt_abort "vproc-runtime is built under $VPROC_BUILD_DIR"

MP=$VT_TMP/mp
REG=$VT_TMP/registry
vt_serve "$MP" --registry-dir "$REG"
MAIN_PID=$VPROCD_PID
BUSY=$VT_TMP/busybox-rootfs
vc_rootfs "$BUSY"
vd_start "{\"vproc\": $(vd_runtime_entry "$MP" "$REG")}" vproc || vt_abort "dockerd starts"
IMG=vproc-busybox:$VT_UNIQ
vd_import "$BUSY" "$IMG" || vt_abort "docker import of the busybox rootfs"
HOST_KB=$(vc_host_memtotal)
HOST_ONLINE=$(cat /sys/devices/system/cpu/online)

# run ARGS... -- CMD...: docker run --rm, stdout only.
run() { timeout 60 "${DOCKER[@]}" run --rm --network none "$@" 2>"$VT_TMP/run.err"; }
memtotal() { vc_memtotal; }
records() { find "$REG/containers" -name '*.json' 2>/dev/null | wc -l; }

vt_eq "--runtime vproc --memory 256m: MemTotal" 262144 \
  "$(run --runtime vproc --memory 256m "$IMG" cat /proc/meminfo | memtotal)"
vt_eq "--runtime vproc --cpuset-cpus 1: online" 1 \
  "$(run --runtime vproc --cpuset-cpus 1 "$IMG" cat /sys/devices/system/cpu/online)"
vt_eq "--runtime vproc --cpus 1: online" 0 \
  "$(run --runtime vproc --cpus 1 "$IMG" cat /sys/devices/system/cpu/online)"
vt_eq "--runtime vproc --cpus 1: the CPU directory lists one cpuN" cpu0 \
  "$(run --runtime vproc --cpus 1 "$IMG" ls /sys/devices/system/cpu | grep -x 'cpu[0-9]*' | tr '\n' ' ' | xargs)"
vt_eq "default runtime (vproc), --memory 200m: MemTotal" 204800 \
  "$(run --memory 200m "$IMG" cat /proc/meminfo | memtotal)"
vt_eq "-e VPROC_ENABLE=false: the host's MemTotal" "$HOST_KB" \
  "$(run -e VPROC_ENABLE=false --memory 256m "$IMG" cat /proc/meminfo | memtotal)"
vt_eq "--runtime runc opts out: the host's MemTotal" "$HOST_KB" \
  "$(run --runtime runc --memory 256m "$IMG" cat /proc/meminfo | memtotal)"
vt_eq "--runtime runc: the host's online" "$HOST_ONLINE" \
  "$(run --runtime runc --cpuset-cpus 1 "$IMG" cat /sys/devices/system/cpu/online)"
vt_eq "poststop: no registry record left by the --rm containers" 0 "$(records)"

# --- restart survival: a wrapper container and a -v container ---------------------------------
"${DOCKER[@]}" run -d --name "w-$VT_UNIQ" --network none --memory 200m "$IMG" sleep 300 >/dev/null ||
  vt_abort "docker run -d (wrapper): $(cat "$VT_TMP/run.err")"
"${DOCKER[@]}" run -d --name "v-$VT_UNIQ" --network none --runtime runc --memory 128m \
  -v "$MP/proc/meminfo:/proc/meminfo:ro" "$IMG" sleep 300 >/dev/null || vt_abort "docker run -d (-v)"
inside() { timeout 10 "${DOCKER[@]}" exec "$1-$VT_UNIQ" cat /proc/meminfo 2>/dev/null | memtotal; }
vt_eq "the wrapper container reads its limit" 204800 "$(inside w)"
vt_eq "the -v container reads its limit" 131072 "$(inside v)"
vt_eq "the wrapper container is registered, the -v one is not" 1 "$(records)"

vt_kill9_vprocd "$MAIN_PID"
vt_check "after kill -9 the -v container's meminfo fails" [ -z "$(inside v)" ]
t0=$(date +%s%N)
vt_launch_vprocd "$MP" --registry-dir "$REG"
back() { [ "$(inside w)" = 204800 ] && [ "$(inside v)" = 131072 ]; }
vt_wait_for 15 back
ms=$((($(date +%s%N) - t0) / 1000000))
vt_eq "the wrapper container reads its limit again" 204800 "$(inside w)"
vt_eq "the -v container reads its limit again" 131072 "$(inside v)"
vt_check "... both within 3 s of the new vprocd's start ($ms ms, docker exec included)" [ "$ms" -le 3000 ]
vt_figure "docker: a --runtime vproc container and a -v container back ${ms} ms after vprocd's restart"
grep -E "re-attach|adopt" "$VT_LAUNCHED_LOG" | sed 's/^/    | /'
vt_check "the new vprocd re-attached the registered one" \
  grep -q "re-attach: 1 attached, 0 pruned, 0 failed" "$VT_LAUNCHED_LOG"
vt_check "... and adopted the -v one" grep -q "adopt: 1 unregistered container" "$VT_LAUNCHED_LOG"

"${DOCKER[@]}" rm -f "w-$VT_UNIQ" "v-$VT_UNIQ" >/dev/null
no_records() { [ "$(records)" -eq 0 ]; }
vt_wait_for 10 no_records
vt_eq "poststop: docker rm -f removes the wrapper container's record" 0 "$(records)"
vt_finish
