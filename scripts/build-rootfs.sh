#!/usr/bin/env bash
# Builds (once) and caches a container rootfs for vproc's tests and demo.
#
#   build-rootfs.sh busybox DIR   busybox-static rootfs copied into DIR (fast;
#                                 cached under /var/cache/vproc/rootfs-busybox-<hash>,
#                                 keyed by the busybox binary and this script)
#   build-rootfs.sh debian        Debian bookworm minbase with procps and
#                                 python3-minimal, cached at
#                                 /var/cache/vproc/rootfs-bookworm (~3 min the
#                                 first time); prints its path. Use it read-only.
#
# Both have /proc and /sys directories for the runtime to mount on.
set -euo pipefail
CACHE=${VPROC_CACHE_DIR:-/var/cache/vproc}
kind=${1:-}

busybox_rootfs() {
  local dest=$1 bb key cached tmp a
  bb=$(command -v busybox)
  [ -x "$bb" ] || { echo "build-rootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
  key=$(cat "$bb" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
  cached="$CACHE/rootfs-busybox-$key"
  if [ ! -d "$cached" ]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/.busybox.XXXXXX")
    mkdir -p "$tmp"/{bin,proc,sys,dev,tmp,etc,root}
    chmod 1777 "$tmp/tmp"
    cp "$bb" "$tmp/bin/busybox"
    for a in $("$bb" --list); do
      [ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"
    done
    echo "root:x:0:0:root:/root:/bin/sh" > "$tmp/etc/passwd"
    echo "root:x:0:" > "$tmp/etc/group"
    mv -T "$tmp" "$cached" 2>/dev/null || rm -rf "$tmp"  # lost a race: use the winner's
  fi
  mkdir -p "$dest"
  cp -a "$cached/." "$dest/"
}

debian_rootfs() {
  local cached="$CACHE/rootfs-bookworm" tmp
  if [ ! -x "$cached/usr/bin/python3" ]; then
    command -v debootstrap >/dev/null || { echo "build-rootfs: debootstrap missing (scripts/install-deps.sh)" >&2; exit 1; }
    mkdir -p "$CACHE"
    tmp="$CACHE/.rootfs-bookworm.tmp"
    rm -rf "$tmp"
    echo "build-rootfs: debootstrap bookworm minbase into $cached (a few minutes, once)" >&2
    debootstrap --variant=minbase --include=procps,python3-minimal bookworm "$tmp" \
      http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
      { echo "build-rootfs: debootstrap failed; see $CACHE/debootstrap.log" >&2; exit 1; }
    rm -rf "$cached"
    mv -T "$tmp" "$cached"
  fi
  echo "$cached"
}

case "$kind" in
  busybox) [ $# -eq 2 ] || { echo "usage: $0 busybox DIR" >&2; exit 2; }; busybox_rootfs "$2" ;;
  debian) debian_rootfs ;;
  *) echo "usage: $0 busybox DIR | debian" >&2; exit 2 ;;
esac
