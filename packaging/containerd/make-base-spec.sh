#!/bin/bash
# Writes the base OCI runtime spec that makes containerd's CRI plugin run
# vproc-hook for every container (see install.md, installed as
# /usr/share/doc/vproc/install.md, in the source tree docs/install.md).
#
#   make-base-spec.sh [--from SPEC] [--hook PATH] [OUT]
#
#   OUT          where to write (default /etc/vproc/containerd-base-spec.json;
#                "-" for standard output). Written to a temporary file in the
#                same directory, then renamed.
#   --from SPEC  start from SPEC (an existing base_runtime_spec, say) instead
#                of the output of `ctr oci spec`
#   --hook PATH  the hook's path (default /usr/libexec/vproc/vproc-hook)
#
# The spec keeps everything it had, including other hooks; vproc-hook entries
# already there are replaced, so running the script twice changes nothing.
# The hook runs with --policy opt-in: it is in every container's spec, and
# only pods annotated vproc.io/enable=true get vprocd's files.
set -euo pipefail

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

from="" hook=/usr/libexec/vproc/vproc-hook out=/etc/vproc/containerd-base-spec.json
while [ $# -gt 0 ]; do
  case $1 in
    --from) from=${2:?--from needs a file}; shift 2 ;;
    --hook) hook=${2:?--hook needs a path}; shift 2 ;;
    -h|--help) usage 0 ;;
    -) out=-; shift ;;
    -*) echo "make-base-spec.sh: unknown option $1" >&2; usage 2 >&2 ;;
    *) out=$1; shift ;;
  esac
done
command -v jq >/dev/null || { echo "make-base-spec.sh: needs jq (apt-get install jq)" >&2; exit 1; }

if [ -n "$from" ]; then
  spec=$(cat "$from")
else
  command -v ctr >/dev/null || { echo "make-base-spec.sh: needs ctr (containerd), or --from SPEC" >&2; exit 1; }
  spec=$(ctr oci spec)
fi

merged=$(jq --arg hook "$hook" '
  def entry(stage): {path: $hook, args: ["vproc-hook", stage, "--policy", "opt-in"]};
  def without_vproc: map(select(.path != $hook));
  .hooks = (.hooks // {})
  | .hooks.createRuntime = ((.hooks.createRuntime // []) | without_vproc) + [entry("create")]
  | .hooks.poststop = ((.hooks.poststop // []) | without_vproc) + [entry("poststop")]
' <<<"$spec")

if [ "$out" = - ]; then
  printf '%s\n' "$merged"
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$merged" >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "make-base-spec.sh: wrote $out; restart containerd to load it" >&2
