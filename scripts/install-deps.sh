#!/usr/bin/env bash
# Installs what vproc needs to build, test and demo on Debian 12 (as root).
# Idempotent: packages already present are not fetched again.
#
#   scripts/install-deps.sh          the project's whole list
#   scripts/install-deps.sh PKG...   only these (tests that need more, e.g. lintian)
set -euo pipefail
pkgs=(build-essential cmake pkg-config git clang-format
      libfuse3-dev fuse3 nlohmann-json3-dev libseccomp-dev libcli11-dev doctest-dev
      runc podman containerd lxcfs busybox-static debootstrap util-linux procps
      python3 jq iproute2 psmisc qemu-system-x86 cpio crun pmccabe)
[ $# -eq 0 ] || pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# lxcfs's package starts a daemon where systemd runs; vproc's tests start
# their own lxcfs on a private mountpoint when they need one.
