#!/usr/bin/env bash
# Boots a small VM with a pure cgroup v2 kernel and runs vproc live inside it
# (tests/vm/guest_test.sh): vprocd read from a limited cgroup, runc and crun
# with vproc-hook at createRuntime, fail-open and fail-closed.
#
# The guest: Debian's kernel (the package linux-image-amd64 depends on, from
# `apt-get download`) and an initramfs holding static busybox, runc and crun,
# the built vprocd and vproc-hook, the shared libraries of all of them (ldd:
# libfuse3, libseccomp, libstdc++, libasan/libubsan for a sanitizer build ...),
# the kernel modules fuse and virtio_blk with their dependencies, and
# tests/vm/{init,guest_test.sh,guest_checks.sh}. Kernel and initramfs are
# cached under $VPROC_VM_CACHE, keyed on the kernel package version and a hash
# of every file packed; a rebuilt vprocd or an edited script makes a new one.
#
# KVM is used when /dev/kvm works (a KVM boot that never reaches /init falls
# back to software emulation, as it does on machines where KVM guests fail).
# Prints the guest's console and how long the VM ran; exits non-zero when the
# guest's "VM-RESULT: N passed, M failed" line is missing or counts failures.
#
#   VPROC_BUILD_DIR   build tree with vprocd and vproc-hook (default: ./build)
#   VPROC_SOURCE_DIR  source tree (default: this script's ../..)
#   VPROC_VM_CACHE    cache directory (default: /var/cache/vproc/vm)
#   VPROC_VM_TIMEOUT  seconds the VM may run (default: 300)
#   VPROC_VM_ACCEL    auto (default), kvm or tcg
#   VPROC_VM_SHELL=1  boot to an interactive guest shell instead of the tests
set -uo pipefail

SRC=${VPROC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${VPROC_BUILD_DIR:-$(pwd)/build}
CACHE=${VPROC_VM_CACHE:-/var/cache/vproc/vm}
TIMEOUT_S=${VPROC_VM_TIMEOUT:-300}
ACCEL=${VPROC_VM_ACCEL:-auto}
HERE=$SRC/tests/vm
MODULES=(fuse virtio_pci virtio_blk)

say() { echo "vm: $*"; }
die() { echo "vm: FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" -eq 0 ] || die "needs root (cache under $CACHE, /dev/kvm)"
for t in qemu-system-x86_64 cpio gzip dpkg-deb apt-get apt-cache ldd runc crun timeout sha256sum; do
  command -v "$t" >/dev/null || die "'$t' is missing (scripts/install-deps.sh installs it)"
done
BUSYBOX=$(command -v busybox) || die "busybox is missing (busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked; the guest needs busybox-static"
find_bin() { find "$BUILD" -type f -name "$1" -perm -u+x 2>/dev/null | sort | head -n1; }
VPROCD=$(find_bin vprocd)
[ -n "$VPROCD" ] || die "vprocd is not built under $BUILD"
HOOK=$(find_bin vproc-hook)
[ -n "$HOOK" ] || say "vproc-hook is not built under $BUILD: the guest's hook tests will fail"

TMP=$(mktemp -d /tmp/vproc-vm.XXXXXX)
QPID=""
cleanup() {
  if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$CACHE/kernel"
T_START=$(now)

# --- kernel: the Debian package linux-image-amd64 points at ------------------------
# One apt-cache call (each takes seconds here): "Depends: linux-image-X (= V)".
PKG="" VER=""
read -r PKG VER < <(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
  sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) *(= *\([^)]*\)).*/\1 \2/p' | head -n1)
KDIR=""
if [ -n "$PKG" ] && [ -n "$VER" ]; then
  KDIR=$CACHE/kernel/${PKG}_$VER
  if [ ! -e "$KDIR/.complete" ]; then
    say "downloading $PKG $VER"
    mkdir -p "$TMP/deb"
    (cd "$TMP/deb" && apt-get download -q -o APT::Sandbox::User=root "$PKG=$VER" >/dev/null) ||
      die "apt-get download $PKG=$VER failed"
    rm -rf "$KDIR.partial"
    dpkg-deb -x "$TMP"/deb/*.deb "$KDIR.partial" || die "dpkg-deb -x failed"
    rm -rf "$KDIR" && mv "$KDIR.partial" "$KDIR" && touch "$KDIR/.complete"
    rm -rf "$TMP/deb"
    # Keep the two newest kernels.
    ls -dt "$CACHE"/kernel/*/ | tail -n +3 | xargs -r rm -rf
  fi
else
  # apt cannot say (no package lists): take the newest cached kernel.
  KDIR=$(ls -dt "$CACHE"/kernel/*/ 2>/dev/null | head -n1)
  KDIR=${KDIR%/}
  [ -n "$KDIR" ] && [ -e "$KDIR/.complete" ] || die "no kernel: apt-cache knows no linux-image-amd64 and $CACHE/kernel is empty"
  say "apt-cache knows no linux-image-amd64; using cached $(basename "$KDIR")"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n1)
MODDIR=$(ls -d "$KDIR"/lib/modules/*/ | head -n1)
[ -f "$VMLINUZ" ] && [ -d "$MODDIR" ] || die "$KDIR holds no boot/vmlinuz-* and lib/modules"

# --- modules and their dependencies (the package has no modules.dep) ----------------
declare -A MODPATH=() MODSEEN=()
MODORDER=()
while IFS= read -r f; do
  n=${f##*/}
  n=${n%%.ko*}
  MODPATH[${n//-/_}]=$f
done < <(find "$MODDIR" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
mod_cat() {
  case $1 in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -qdc "$1" ;;
    *) cat "$1" ;;
  esac
}
add_module() {
  local n=${1//-/_} d
  [ -n "${MODSEEN[$n]:-}" ] && return 0
  MODSEEN[$n]=1
  if [ -z "${MODPATH[$n]:-}" ]; then
    tr '-' '_' <"$MODDIR/modules.builtin" 2>/dev/null | grep -q "/$n\.ko$" && return 0  # built in
    die "module $n is not in $(basename "$KDIR")"
  fi
  for d in $(mod_cat "${MODPATH[$n]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
    add_module "$d"
  done
  MODORDER+=("$n")
}
for m in "${MODULES[@]}"; do add_module "$m"; done

# --- the initramfs tree ------------------------------------------------------------
ST=$TMP/root
mkdir -p "$ST"/{bin,sbin,usr/bin,usr/sbin,lib64,etc,var/lib,vproc/bin,vproc/tests,vproc/modules}
cp "$BUSYBOX" "$ST/bin/busybox"
ln -s busybox "$ST/bin/sh"  # /init installs the other applets' links
install -m 755 "$HERE/init" "$ST/init"
cp "$HERE/guest_test.sh" "$HERE/guest_checks.sh" "$ST/vproc/tests/"
cp "$VPROCD" "$ST/vproc/bin/vprocd"
[ -n "$HOOK" ] && cp "$HOOK" "$ST/vproc/bin/vproc-hook"
cp "$(command -v runc)" "$ST/usr/sbin/runc"
cp "$(command -v crun)" "$ST/usr/bin/crun"
FUSERMOUNT=$(command -v fusermount3 || true)
[ -n "$FUSERMOUNT" ] && cp "$FUSERMOUNT" "$ST/usr/bin/fusermount3"
for n in "${MODORDER[@]}"; do
  mod_cat "${MODPATH[$n]}" >"$ST/vproc/modules/$n.ko"
  echo "$n.ko" >>"$ST/vproc/modules/order"
done
echo "root:x:0:0:root:/:/bin/sh" >"$ST/etc/passwd"
echo "root:x:0:" >"$ST/etc/group"
# Shared libraries, each at the path ldd resolved it to.
for b in "$ST"/vproc/bin/* "$ST"/usr/sbin/runc "$ST"/usr/bin/*; do
  [ -f "$b" ] || continue
  ldd "$b" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u >"$TMP/libs"
while IFS= read -r lib; do
  mkdir -p "$ST$(dirname "$lib")"
  cp -L "$lib" "$ST$lib"
done <"$TMP/libs"

# Cache key: the kernel, this script, and every file packed (content and path).
KEY=$({
  echo "$(basename "$KDIR")"
  sha256sum "$HERE/run.sh" | cut -d' ' -f1
  cd "$ST" && find . -type l -printf '%p -> %l\n' | sort
  cd "$ST" && find . -type f -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
INITRD=$CACHE/initrd-$KEY.cpio.gz
if [ -f "$INITRD" ]; then
  say "initramfs $INITRD (cached)"
else
  t=$(now)
  (cd "$ST" && find . -print0 | sort -z | cpio --null -o -H newc --quiet | gzip -1 >"$INITRD.partial") ||
    die "packing the initramfs failed"
  mv "$INITRD.partial" "$INITRD"
  # Keep the six newest initramfs images (normal and sanitizer builds alternate).
  ls -t "$CACHE"/initrd-*.cpio.gz | tail -n +7 | xargs -r rm -f
  say "initramfs $INITRD built in $(since "$t") s ($(du -h "$INITRD" | cut -f1))"
fi
rm -rf "$ST"
say "kernel $(basename "$KDIR"), modules ${MODORDER[*]}, vprocd $VPROCD, vproc-hook ${HOOK:-none}"

# --- boot ---------------------------------------------------------------------------
truncate -s 16M "$TMP/disk.img"
APPEND="console=ttyS0 quiet panic=-1 mitigations=off"
[ "${VPROC_VM_SHELL:-0}" = 1 ] && APPEND="$APPEND vproc.shell"
# The kernel hands unknown name=value arguments to /init as environment: the
# sanitizer options of the suite's ASan pass reach vprocd and the hook.
for v in ASAN_OPTIONS UBSAN_OPTIONS; do
  val=${!v:-}
  [ -n "$val" ] && [[ $val != *[[:space:]]* ]] && APPEND="$APPEND $v=$val"
done
qemu_args=(-m 1024 -smp 2 -nographic -no-reboot -net none
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND"
  -drive "file=$TMP/disk.img,if=virtio,format=raw,cache=unsafe")

# run_vm ACCEL SECONDS: boots once; the console goes to $TMP/console.log.
run_vm() {
  local accel_args=(-accel tcg -cpu max)
  [ "$1" = kvm ] && accel_args=(-accel kvm -cpu host)
  if [ "${VPROC_VM_SHELL:-0}" = 1 ]; then
    qemu-system-x86_64 "${accel_args[@]}" "${qemu_args[@]}"
    return
  fi
  timeout -k 5 "$2" qemu-system-x86_64 "${accel_args[@]}" "${qemu_args[@]}" \
    </dev/null >"$TMP/console.log" 2>&1 &
  QPID=$!
  # A KVM guest boots in a second or two; one that has not reached /init
  # after 60 s is hung (as after the decompressor on some hosts).
  if [ "$1" = kvm ]; then
    local waited=0
    while kill -0 "$QPID" 2>/dev/null && ! grep -q "VM-BOOT: stage 2" "$TMP/console.log"; do
      sleep 1
      waited=$((waited + 1))
      if [ "$waited" -ge 60 ]; then kill "$QPID" 2>/dev/null; break; fi
    done
  fi
  wait "$QPID"
  VM_RC=$?
  QPID=""
}

if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm; fi
fi
T_VM=$(now)
run_vm "$ACCEL" "$TIMEOUT_S"
if [ "$ACCEL" = kvm ] && ! grep -q "VM-BOOT: stage 2" "$TMP/console.log"; then
  say "the KVM guest never reached /init (qemu status $VM_RC); software emulation instead"
  sed 's/\r$//' "$TMP/console.log" | tail -n 5 | sed 's/^/vm: kvm: /'
  ACCEL=tcg
  T_VM=$(now)
  run_vm tcg "$TIMEOUT_S"
fi
[ "${VPROC_VM_SHELL:-0}" = 1 ] && exit 0
VM_S=$(since "$T_VM")

echo "----- guest console ($ACCEL) -----"
sed 's/\r$//' "$TMP/console.log"
echo "----- end of guest console -----"
cp "$TMP/console.log" "$BUILD/vm-console.log" 2>/dev/null
say "the VM ran ${VM_S} s (accel $ACCEL, qemu status $VM_RC); whole stage $(since "$T_START") s"
echo "$(date -u +%FT%TZ) vm.cgroup2: VM run ${VM_S} s (accel $ACCEL), whole stage $(since "$T_START") s" \
  >>"$BUILD/itest-figures.txt" 2>/dev/null

result=$(sed 's/\r$//' "$TMP/console.log" | sed -n 's/^VM-RESULT: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n1)
[ "$VM_RC" = 124 ] && say "the VM was stopped after ${TIMEOUT_S} s"
[ -n "$result" ] || die "the guest printed no 'VM-RESULT: N passed, M failed' line"
read -r passed failed <<<"$result"
say "$(sed -n 's/\r$//; s/^VM-INFO: //p' "$TMP/console.log" | head -n1)"
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  die "guest tests: $passed passed, $failed failed"
fi
say "guest tests: $passed passed, 0 failed"
