#!/usr/bin/env bash
# Builds the vproc node-agent image (packaging/k8s/Containerfile) with podman,
# from local files only: FROM scratch plus a rootfs tarball assembled here.
#
#   build-image.sh [--tag TAG] [--save FILE]
#
#   --tag TAG    image name (default localhost/vproc-node-agent:VERSION)
#   --save FILE  also write the image as an OCI archive, for nodes without a
#                registry: `ctr -n k8s.io images import FILE`, `podman load -i FILE`
#
# Environment:
#   VPROC_BUILD_DIR        take vprocd and vproc-hook from this build tree;
#                          unset: configure and build in Release into
#                          VPROC_IMAGE_BUILD_DIR (default <source>/build-image)
#   PODMAN                 the podman command line (word-split; default
#                          "podman"), e.g. with --root/--runroot for tests
#
# The image holds: /opt/vproc/bin/{vprocd,vproc-hook,nsenter,vproc-agent}, the
# shared libraries vprocd and nsenter need (as ldd lists them), busybox-static
# as /bin/sh and the tools the agent script uses, /opt/vproc/share/hooks.d/50-vproc*.json
# and /opt/vproc/share/cdi/vproc.json. vproc-hook is linked statically (from
# the build tree's objects) because the agent copies it onto the host, where
# it runs with whatever C library the node has.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TAG="" SAVE=""
while [ $# -gt 0 ]; do
  case $1 in
    --tag) TAG=$2; shift 2 ;;
    --save) SAVE=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
read -r -a PODMAN_CMD <<<"${PODMAN:-podman}"

say() { echo "build-image: $*" >&2; }
die() { say "$*"; exit 1; }

command -v "${PODMAN_CMD[0]}" >/dev/null || die "podman is missing (apt-get install podman)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && ! readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP ||
  die "a static busybox is needed for the image's shell (apt-get install busybox-static)"
NSENTER=$(command -v nsenter || true)
[ -n "$NSENTER" ] || die "nsenter is missing (apt-get install util-linux)"

# --- binaries -------------------------------------------------------------------
if [ -n "${VPROC_BUILD_DIR:-}" ]; then
  BUILD=$VPROC_BUILD_DIR
else
  BUILD=${VPROC_IMAGE_BUILD_DIR:-$SRC/build-image}
  say "building vprocd and vproc-hook (Release) in $BUILD"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target vprocd vproc-hook >/dev/null
fi
find_binary() {
  if [ -x "$BUILD/$2/$1" ]; then echo "$BUILD/$2/$1"; return; fi
  find "$BUILD" -type f -name "$1" -perm -u+x 2>/dev/null | head -n1
}
VPROCD=$(find_binary vprocd fsd)
HOOK=$(find_binary vproc-hook hook)
[ -n "$VPROCD" ] && [ -n "$HOOK" ] || die "vprocd or vproc-hook is missing under $BUILD"
VERSION=$("$VPROCD" --version | awk '{ print $2 }')
TAG=${TAG:-localhost/vproc-node-agent:$VERSION}

WORK=$(mktemp -d /tmp/vproc-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q INTERP; }

# vproc-hook runs on the host: link it statically from the objects CMake built
# (the link line CMake wrote, plus -static). When that fails (a sanitizer
# build, say), ship the dynamic one and say which C library it needs.
HOOK_OUT=$WORK/vproc-hook
if ! is_dynamic "$HOOK"; then
  cp "$HOOK" "$HOOK_OUT"
else
  link_txt=$(dirname "$HOOK")/CMakeFiles/vproc-hook.dir/link.txt
  if [ -f "$link_txt" ] &&
    (cd "$(dirname "$HOOK")" && sh -c "$(sed 's/ -o vproc-hook / /' "$link_txt") -static -o '$HOOK_OUT'") \
      >"$WORK/static-link.log" 2>&1 && ! is_dynamic "$HOOK_OUT" && "$HOOK_OUT" --version >/dev/null; then
    say "linked vproc-hook statically"
  else
    need=$(objdump -T "$HOOK" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n1)
    say "WARNING: could not link vproc-hook statically (see below); the image carries the"
    say "dynamic one, which runs only on nodes with glibc >= ${need#GLIBC_}"
    cat "$WORK/static-link.log" >&2 2>/dev/null || true
    cp "$HOOK" "$HOOK_OUT"
  fi
fi

# --- rootfs ---------------------------------------------------------------------
R=$WORK/rootfs
mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev,run,host,var/lib/vproc} \
  "$R"/opt/vproc/{bin,share/hooks.d,share/cdi}
chmod 1777 "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
  # util-linux nsenter (in /opt/vproc/bin) knows cgroup namespaces; busybox's does not.
  case $a in busybox | nsenter) continue ;; esac
  ln -s busybox "$R/bin/$a"
done
# Stripped: a RelWithDebInfo or Debug tree would triple the image.
strip --strip-unneeded -o "$R/opt/vproc/bin/vprocd" "$VPROCD"
strip --strip-unneeded -o "$R/opt/vproc/bin/vproc-hook" "$HOOK_OUT"
chmod 0755 "$R/opt/vproc/bin/vprocd" "$R/opt/vproc/bin/vproc-hook"
install -m 0755 "$NSENTER" "$R/opt/vproc/bin/nsenter"
install -m 0755 "$SRC/packaging/k8s/vproc-agent.sh" "$R/opt/vproc/bin/vproc-agent"
# hooks.d files under their own names, the ones the deb and rpm install
# (runtimes apply them in name order; a file of the same name in
# /etc/containers/oci/hooks.d masks the one in /usr/share/containers/oci/hooks.d).
install -m 0644 "$SRC"/oci-hooks.d/*.json "$R/opt/vproc/share/hooks.d/"
install -m 0644 "$SRC/packaging/cdi/vproc.json" "$R/opt/vproc/share/cdi/vproc.json"
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"

# Shared libraries, at the paths ldd resolves them to (the dynamic linker's
# default directories, so no ld.so.cache is needed).
for elf in "$R"/opt/vproc/bin/*; do
  is_dynamic "$elf" || continue
  ldd "$elf" | awk '/not found/ { print "MISSING " $1; next } { for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' |
    while read -r lib; do
      case $lib in MISSING*) die "$elf: ${lib#MISSING } not found" ;; esac
      [ -e "$R$lib" ] && continue
      mkdir -p "$R$(dirname "$lib")"
      cp -L "$lib" "$R$lib"
    done
done

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$R" -cf "$WORK/rootfs.tar" .
cp "$SRC/packaging/k8s/Containerfile" "$WORK/Containerfile"

# --- image ----------------------------------------------------------------------
say "podman build -t $TAG (FROM scratch, no pulls)"
"${PODMAN_CMD[@]}" build --pull=never --network=none \
  --label "org.opencontainers.image.title=vproc node agent" \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.source=packaging/k8s" \
  -f "$WORK/Containerfile" -t "$TAG" "$WORK" >"$WORK/build.log" 2>&1 ||
  { cat "$WORK/build.log" >&2; die "podman build failed"; }
size=$("${PODMAN_CMD[@]}" image inspect --format '{{.Size}}' "$TAG")
say "built $TAG ($((size / 1024)) KiB)"
if [ -n "$SAVE" ]; then
  rm -f "$SAVE"
  "${PODMAN_CMD[@]}" save --quiet --format oci-archive -o "$SAVE" "$TAG"
  say "saved $TAG to $SAVE"
fi
echo "$TAG"
