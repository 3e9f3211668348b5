#!/usr/bin/env bash
# packaging/build.sh builds the .deb and the .rpm from source with the
# distributions' tools (into $VPROC_BUILD_DIR/packages, which
# install_test.sh then reuses); lintian and rpmlint find no error (their
# warnings are printed); both file lists have the documented layout; the
# hooks.d files point at the packaged hook; upgrades reload vprocd rather than
# restart it; the man pages document exactly the options the binaries accept.
# vproc-runtime ships beside vproc-hook in both packages.
. "$(dirname "$0")/../lib/common.sh"
vt_init packaging-build
[ "$(id -u)" -eq 0 ] || vt_skip "needs root (apt-get installs the build tools)"
SRC=${VPROC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PKG=$VPROC_BUILD_DIR/packages

# lintian, rpmlint (and jq, python3 for the checks below) on a fresh machine.
vt_apt_install lintian rpmlint rpm jq python3 || vt_fail "installing lintian rpmlint rpm jq python3"

version=$(vt_project_version "$SRC")
rm -rf "$PKG"
t0=$(date +%s)
"$SRC/packaging/build.sh" "$PKG"
vt_eq "packaging/build.sh exits 0" 0 "$?"
vt_figure "deb + rpm built in $(($(date +%s) - t0)) s"
deb=$(ls "$PKG"/vproc_"$version"_*.deb 2>/dev/null | head -n1)
rpmf=$(ls "$PKG"/vproc-"$version"-*.rpm 2>/dev/null | head -n1)
vt_check "a .deb of version $version" [ -n "$deb" ]
vt_check "an .rpm of version $version" [ -n "$rpmf" ]
if [ -z "$deb" ] || [ -z "$rpmf" ]; then vt_finish; exit; fi

# --- linters --------------------------------------------------------------------
echo "--- lintian $(basename "$deb")"
lintian --info --display-info --tag-display-limit 0 "$deb" >"$VT_TMP/lintian.txt" 2>&1
sed 's/^/    /' "$VT_TMP/lintian.txt"
vt_eq "lintian: no errors" 0 "$(grep -c '^E: ' "$VT_TMP/lintian.txt")"

echo "--- rpmlint $(basename "$rpmf")"
# The rpmlintrc filters only what cannot apply to a local build (signing).
rpmlint -r "$SRC/packaging/rpm/vproc.rpmlintrc" "$rpmf" >"$VT_TMP/rpmlint.txt" 2>&1
sed 's/^/    /' "$VT_TMP/rpmlint.txt"
vt_eq "rpmlint: no errors" 0 "$(grep -c ': E: ' "$VT_TMP/rpmlint.txt")"
vt_check "rpmlint: summary line says 0 errors" grep -qE '[^0-9]0 errors' "$VT_TMP/rpmlint.txt"

# --- layout -----------------------------------------------------------------------
dpkg -c "$deb" | awk '{ p = $6; sub(/^\./, "", p); print p }' >"$VT_TMP/deb.list"
rpm -qlp "$rpmf" >"$VT_TMP/rpm.list" 2>/dev/null
layout=(
  /usr/bin/vprocd
  /usr/libexec/vproc/vproc-hook
  /usr/libexec/vproc/vproc-runtime
  /usr/share/containers/oci/hooks.d/50-vproc.json
  /usr/share/containers/oci/hooks.d/50-vproc-poststop.json
  /usr/lib/systemd/system/vprocd.service
  /usr/lib/tmpfiles.d/vproc.conf
  /etc/vproc/vprocd.conf
  /etc/vproc/hook.conf
  /usr/share/vproc/containerd/make-base-spec.sh
  /usr/share/vproc/containerd/config.toml
  /usr/share/vproc/containerd/containerd-base-spec.json
  /usr/share/vproc/crio/50-vproc.conf
)
for p in "${layout[@]}"; do
  vt_check "deb ships $p" grep -qxF "$p" "$VT_TMP/deb.list"
  vt_check "rpm ships $p" grep -qxF "$p" "$VT_TMP/rpm.list"
done
for m in /usr/share/man/man8/vprocd.8 /usr/share/man/man1/vproc-hook.1 \
         /usr/share/man/man1/vproc-runtime.1; do
  vt_check "deb ships $m (compressed)" grep -qxF "$m.gz" "$VT_TMP/deb.list"
  vt_check "rpm ships $m" grep -qE "^$m(\.gz)?\$" "$VT_TMP/rpm.list"
done
vt_check "deb ships /usr/share/doc/vproc/install.md" grep -qE '^/usr/share/doc/vproc/install\.md(\.gz)?$' "$VT_TMP/deb.list"
vt_eq "no unprefixed hooks.d files (deb)" "" "$(grep -E 'hooks\.d/vproc' "$VT_TMP/deb.list")"
vt_eq "nothing under /var/lib/vproc or /run/vproc is shipped (deb)" "" \
  "$(grep -E '^/(var/lib|run)/vproc' "$VT_TMP/deb.list")"

# Permissions of what runs.
vt_eq "vprocd is 0755 root (deb)" "-rwxr-xr-x root/root" \
  "$(dpkg -c "$deb" | awk '$6 == "./usr/bin/vprocd" { print $1, $2 }')"
vt_eq "vproc-hook is 0755 root (deb)" "-rwxr-xr-x root/root" \
  "$(dpkg -c "$deb" | awk '$6 == "./usr/libexec/vproc/vproc-hook" { print $1, $2 }')"
vt_eq "vproc-runtime is 0755 root (deb)" "-rwxr-xr-x root/root" \
  "$(dpkg -c "$deb" | awk '$6 == "./usr/libexec/vproc/vproc-runtime" { print $1, $2 }')"

# Configs are conffiles / %config(noreplace).
dpkg-deb -e "$deb" "$VT_TMP/DEBIAN"
vt_eq "deb conffiles" "/etc/vproc/hook.conf /etc/vproc/vprocd.conf" \
  "$(sort "$VT_TMP/DEBIAN/conffiles" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
vt_eq "rpm %config(noreplace) files" "/etc/vproc/hook.conf /etc/vproc/vprocd.conf" \
  "$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpmf" 2>/dev/null |
     awk 'NF == 2 && $1 ~ /^[a-z]+$/ && $1 ~ /c/ && $1 ~ /n/ { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//')"

# --- contents -----------------------------------------------------------------------
mkdir -p "$VT_TMP/root"
dpkg-deb -x "$deb" "$VT_TMP/root"
R=$VT_TMP/root
for j in 50-vproc.json 50-vproc-poststop.json; do
  path=$(jq -r .hook.path "$R/usr/share/containers/oci/hooks.d/$j")
  vt_eq "$j runs the packaged hook" /usr/libexec/vproc/vproc-hook "$path"
  vt_eq "$j fires only on vproc.io/enable=true" '^true$' \
    "$(jq -r '.when.annotations["^vproc\\.io/enable$"]' "$R/usr/share/containers/oci/hooks.d/$j")"
done
vt_eq "50-vproc.json stage" createRuntime "$(jq -r '.stages | join(",")' "$R/usr/share/containers/oci/hooks.d/50-vproc.json")"
vt_eq "50-vproc-poststop.json stage" poststop "$(jq -r '.stages | join(",")' "$R/usr/share/containers/oci/hooks.d/50-vproc-poststop.json")"

unit=$R/usr/lib/systemd/system/vprocd.service
for kv in Type=notify NotifyAccess=all "ExecStart=/usr/bin/vprocd --takeover" \
          "ExecReload=/usr/bin/vprocd --takeover --detach" Restart=always RestartSec=100ms \
          "Before=containerd.service crio.service podman.service docker.service" \
          WantedBy=multi-user.target; do
  vt_check "unit: $kv" grep -qxF "$kv" "$unit"
done
for bad in ProtectSystem PrivateTmp ProtectHome PrivateDevices PrivateMounts MountFlags \
           RuntimeDirectory StateDirectory User; do
  vt_eq "unit does not set $bad= (it would hide or break vprocd's mounts)" "" \
    "$(grep -E "^$bad=" "$unit")"
done

# Upgrades reload (takeover) and never stop or restart vprocd.
vt_check "deb postinst reloads on upgrade" grep -q 'deb-systemd-invoke try-reload-or-restart vprocd.service' "$VT_TMP/DEBIAN/postinst"
vt_eq "deb postinst never restarts vprocd" "" "$(grep -E 'deb-systemd-invoke (restart|try-restart)' "$VT_TMP/DEBIAN/postinst")"
vt_eq "deb has no preinst stopping vprocd" "" "$(grep -s 'stop' "$VT_TMP/DEBIAN/preinst")"
vt_check "deb prerm stops vprocd only on remove" grep -q '"$1" = remove' "$VT_TMP/DEBIAN/prerm"
rpm -qp --scripts "$rpmf" >"$VT_TMP/rpm.scripts" 2>/dev/null
vt_check "rpm %posttrans reloads" grep -q 'systemctl try-reload-or-restart vprocd.service' "$VT_TMP/rpm.scripts"
vt_eq "rpm scriptlets never restart vprocd" "" "$(grep -E 'systemctl (try-)?restart' "$VT_TMP/rpm.scripts")"

# --- man pages vs --help ---------------------------------------------------------------
# Every long option the binary accepts is in its man page, and the man page
# documents no option the binary lacks. The packaged binaries run here (their
# libraries are the build dependencies).
opts_of_help() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
opts_of_man() { zcat "$1" | sed 's/\\-/-/g' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
"$R/usr/bin/vprocd" --help 2>&1 | opts_of_help >"$VT_TMP/vprocd.help"
opts_of_man "$R/usr/share/man/man8/vprocd.8.gz" >"$VT_TMP/vprocd.man"
vt_eq "vprocd(8) documents exactly vprocd --help's options" "" \
  "$(diff "$VT_TMP/vprocd.help" "$VT_TMP/vprocd.man" | grep '^[<>]' | tr '\n' ' ')"
hook=$R/usr/libexec/vproc/vproc-hook
{
  "$hook" --help 2>&1
  # Subcommands (attach) have their own options.
  for sub in $("$hook" --help 2>&1 | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
    "$hook" "$sub" --help 2>&1
  done
} | opts_of_help >"$VT_TMP/hook.help"
opts_of_man "$R/usr/share/man/man1/vproc-hook.1.gz" >"$VT_TMP/hook.man"
vt_eq "vproc-hook(1) documents exactly vproc-hook --help's options" "" \
  "$(diff "$VT_TMP/hook.help" "$VT_TMP/hook.man" | grep '^[<>]' | tr '\n' ' ')"
# vproc-runtime's own options are the --vproc-* ones; the rest of its man page
# and help speaks of the real runtime's and the hook's options, which it passes on.
vproc_opts() { grep -oE -- '--vproc-[a-z][a-z0-9-]*' | sort -u; }
"$R/usr/libexec/vproc/vproc-runtime" --vproc-help 2>&1 | vproc_opts >"$VT_TMP/runtime.help"
zcat "$R/usr/share/man/man1/vproc-runtime.1.gz" | sed 's/\\-/-/g' | vproc_opts >"$VT_TMP/runtime.man"
vt_check "vproc-runtime --vproc-help lists options" [ -s "$VT_TMP/runtime.help" ]
vt_eq "vproc-runtime(1) documents exactly vproc-runtime --vproc-help's options" "" \
  "$(diff "$VT_TMP/runtime.help" "$VT_TMP/runtime.man" | grep '^[<>]' | tr '\n' ' ')"
vt_eq "vproc-runtime(1) carries the version" "vproc $version" \
  "$(zcat "$R/usr/share/man/man1/vproc-runtime.1.gz" | sed -n 's/^\.TH [^"]*"[^"]*" "\([^"]*\)".*/\1/p')"
vt_eq "vprocd(8) carries the version" "vproc $version" \
  "$(zcat "$R/usr/share/man/man8/vprocd.8.gz" | sed -n 's/^\.TH [^"]*"[^"]*" "\([^"]*\)".*/\1/p')"
for m in "$R/usr/share/man/man8/vprocd.8.gz" "$R/usr/share/man/man1/vproc-hook.1.gz" \
         "$R/usr/share/man/man1/vproc-runtime.1.gz"; do
  vt_eq "$(basename "$m"): no groff warnings" "" \
    "$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null)"
done

vt_finish
