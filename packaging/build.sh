#!/usr/bin/env bash
# Builds vproc's .deb and .rpm from this source tree into OUTDIR, with the
# distributions' own tools: dpkg-buildpackage (packaging/debian/) and rpmbuild
# (packaging/rpm/vproc.spec). The version is the project() version of the
# top-level CMakeLists.txt.
#
#   packaging/build.sh OUTDIR          both packages
#   packaging/build.sh --deb OUTDIR    only the .deb
#   packaging/build.sh --rpm OUTDIR    only the .rpm
#   packaging/build.sh --stamp         print a hash of the sources (OUTDIR/SOURCE-STAMP
#                                      holds the one the packages there were built from)
#
# The sources are the files git knows (tracked, plus untracked ones not
# ignored), so local changes are built but build directories are not; outside
# a git checkout, the whole tree minus build*/. As root on Debian, missing
# build tools and build dependencies are installed with apt-get.
# Environment: VPROC_PKG_JOBS (parallel jobs, default: nproc), VPROC_PKG_KEEP=1
# (keep the temporary build tree and its logs, for debugging).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)

# The source files, NUL-separated, relative to $src.
source_files() {
  if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
      (cd "$src" && xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh)
  else
    (cd "$src" && find . -path ./.git -prune -o -path './build*' -prune -o -type f -printf '%P\0')
  fi
}
source_stamp() {
  source_files | (cd "$src" && xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

want_deb=yes want_rpm=yes
case ${1:-} in
  --deb) want_rpm=no; shift ;;
  --rpm) want_deb=no; shift ;;
  --stamp) source_stamp; exit 0 ;;
esac
if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
  sed -n '2,19s/^# \{0,1\}//p' "$0" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
jobs=${VPROC_PKG_JOBS:-$(nproc)}
version=$(sed -n 's/^project(vproc VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "build.sh: no project(vproc VERSION ...) in $src/CMakeLists.txt" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

# --- tools and build dependencies ---------------------------------------------
need=(dpkg-dev debhelper fakeroot cmake g++ pkg-config libfuse3-dev libseccomp-dev
      nlohmann-json3-dev libcli11-dev doctest-dev)
[ "$want_rpm" = yes ] && need+=(rpm)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "missing packages: ${missing[*]} (install them, or run as root on Debian)"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

work=$(mktemp -d /tmp/vproc-pkg.XXXXXX)
if [ -n "${VPROC_PKG_KEEP:-}" ]; then log "keeping $work"; else trap 'rm -rf "$work"' EXIT; fi

# --- source tarball -------------------------------------------------------------
# Commit time (or now) dates the changelogs, so rebuilds of one commit match.
commit="" epoch=$(date +%s)
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || true)
  epoch=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
fi
source_files >"$work/files"
tar -C "$src" --null -T "$work/files" --transform "s,^,vproc-$version/," \
  -czf "$work/vproc-$version.tar.gz"
stamp=$(source_stamp)
export SOURCE_DATE_EPOCH=$epoch
note="Package built from the vproc source tree${commit:+ at commit $commit}."
maint="vproc maintainers <maintainers@users.noreply.r-seed-31ad3d86.example>"

# --- .deb -----------------------------------------------------------------------
if [ "$want_deb" = yes ]; then
  log "building vproc_${version} (.deb)"
  mkdir -p "$work/deb"
  tar -C "$work/deb" -xzf "$work/vproc-$version.tar.gz"
  tree=$work/deb/vproc-$version
  rm -rf "$tree/debian"
  cp -a "$src/packaging/debian" "$tree/debian"
  cat >"$tree/debian/changelog" <<EOF
vproc ($version) unstable; urgency=medium

  * $note

 -- $maint  $(LC_ALL=C date -u -R -d "@$epoch")
EOF
  (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc) >"$work/deb.log" 2>&1 ||
    { tail -n 60 "$work/deb.log" >&2; log "dpkg-buildpackage failed"; exit 1; }
  cp "$work"/deb/vproc_"$version"_*.deb "$out/"
  log "wrote $(cd "$work/deb" && ls vproc_"$version"_*.deb)"
fi

# --- .rpm -----------------------------------------------------------------------
if [ "$want_rpm" = yes ]; then
  log "building vproc-${version} (.rpm)"
  top=$work/rpm
  mkdir -p "$top"/{BUILD,RPMS,SOURCES,SPECS,SRPMS}
  cp "$work/vproc-$version.tar.gz" "$top/SOURCES/"
  # --nodeps: the build dependencies come from apt, which rpm's database does
  # not know about.
  rpmbuild -bb --nodeps \
    --define "_topdir $top" \
    --define "packager $maint" \
    --define "vproc_version $version" \
    --define "vproc_date $(LC_ALL=C date -u -d "@$epoch" '+%a %b %d %Y')" \
    --define "_smp_mflags -j$jobs" \
    "$src/packaging/rpm/vproc.spec" >"$work/rpm.log" 2>&1 ||
    { tail -n 60 "$work/rpm.log" >&2; log "rpmbuild failed"; exit 1; }
  find "$top/RPMS" -name "vproc-$version-*.rpm" ! -name '*debug*' -exec cp {} "$out/" \;
  log "wrote $(cd "$out" && ls vproc-"$version"-*.rpm)"
fi
echo "$stamp" >"$out/SOURCE-STAMP"
