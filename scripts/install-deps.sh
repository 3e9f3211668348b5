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
# Docker (issue 18's tests start their own dockerd): without recommends, and
# with service starts refused while it installs, so no system dockerd is left
# running with the default data-root and iptables rules.
if [ $# -eq 0 ] && ! dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: installing docker.io"
  policy=/usr/sbin/policy-rc.d
  had_policy=no
  [ -e "$policy" ] && had_policy=yes
  [ $had_policy = yes ] || printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null ||
    { [ $had_policy = yes ] || rm -f "$policy"; exit 1; }
  [ $had_policy = yes ] || rm -f "$policy"
fi
# lxcfs's package starts a daemon where systemd runs; vproc's tests start
# their own lxcfs on a private mountpoint when they need one.
