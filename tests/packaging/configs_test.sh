#!/usr/bin/env bash
# The configuration the packages ship, checked against the real programs:
# - /etc/vproc/vprocd.conf and hook.conf: every key is commented out, every
#   key is an option the binary accepts from a config file, and every value
#   shown is the binary's actual default;
# - containerd: make-base-spec.sh adds vproc-hook (createRuntime + poststop,
#   --policy opt-in) to `ctr oci spec`, keeps other hooks, is idempotent; the
#   shipped base spec matches it; containerd parses config.toml and applies
#   base_runtime_spec and pod_annotations to the runc runtime;
# - CRI-O: the drop-in parses as TOML and lists both hooks.d directories.
. "$(dirname "$0")/../lib/common.sh"
vt_init packaging-configs
SRC=${VPROC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
P=$SRC/packaging
command -v jq >/dev/null || vt_skip "jq is missing"
vt_require_python
[ -n "$VPROCD" ] && [ -n "$VPROC_HOOK" ] || vt_skip "vprocd or vproc-hook not built under $VPROC_BUILD_DIR"

# --- vprocd.conf / hook.conf ----------------------------------------------------------
# check_conf FILE BINARY [ARGS...]: BINARY --config F ARGS accepts the file with
# every key uncommented.
check_conf() {
  local conf=$1 bin=$2; shift 2
  local name keys
  name=$(basename "$conf")
  vt_eq "$name: every line is a comment or blank" "" "$(grep -vE '^[[:space:]]*(#|$)' "$conf")"
  # "# key = value" lines are the settings.
  grep -E '^# [a-z][a-z0-9-]* = ' "$conf" | sed 's/^# //' >"$VT_TMP/$name.on"
  keys=$(cut -d' ' -f1 "$VT_TMP/$name.on" | tr '\n' ' ')
  vt_check "$name: has settings" [ -s "$VT_TMP/$name.on" ]
  # CLI11 ignores unknown keys: each must be a long option of the binary.
  local k
  for k in $keys; do
    vt_check "$name: $k is an option of $(basename "$bin")" grep -qE -- "--$k([ =]|\$)" <("$bin" --help 2>&1)
  done
  # Tests must not write the machine's logs.
  sed -i "s|^log-file = .*|log-file = \"$VT_TMP/$name.log\"|" "$VT_TMP/$name.on"
  "$bin" --config "$VT_TMP/$name.on" "$@" </dev/null >"$VT_TMP/$name.out" 2>&1
  local rc=$?
  vt_eq "$name: $(basename "$bin") accepts every value uncommented ($keys)" 0 "$rc"
  [ "$rc" -eq 0 ] || sed 's/^/    /' "$VT_TMP/$name.out"
  # Each value shown is the default that --help reports ("=VALUE" after the
  # option); booleans must be shown as false (flags are off by default).
  local key val help line
  help=$("$bin" --help 2>&1)
  while IFS= read -r line; do
    key=${line%% = *}
    val=${line#* = }
    val=${val#\"}
    val=${val%\"}
    [ "$key" = log-file ] && continue
    if [ "$val" = false ] || [ "$val" = true ]; then
      vt_eq "$name: $key is a flag, off by default" false "$val"
      continue
    fi
    if echo "$help" | grep -E -- "--$key[ =]" | grep -qE -- "=$val( |\$)"; then
      vt_pass "$name: $key = $val is $(basename "$bin")'s default"
    else
      vt_fail "$name: $key = $val is not what --help shows: $(echo "$help" | grep -E -- "--$key[ =]")"
    fi
  done <"$VT_TMP/$name.on"
}
# vprocd: --version ends the run after the config file was parsed.
check_conf "$P/config/vprocd.conf" "$VPROCD" --version
# The hook: poststop on an empty state fails open (exit 0) once the config
# parsed; a config error is a usage error (exit 2).
check_conf "$P/config/hook.conf" "$VPROC_HOOK" poststop

# A bad value is refused once the file is parsed, so the checks above can fail.
printf 'threads = 999\n' >"$VT_TMP/bad.conf"
"$VPROCD" --config "$VT_TMP/bad.conf" --version >/dev/null 2>&1
vt_check "vprocd refuses an out-of-range value in its config file" [ "$?" -ne 0 ]
printf 'timeout-ms = 0\n' >"$VT_TMP/bad-hook.conf"
"$VPROC_HOOK" --config "$VT_TMP/bad-hook.conf" poststop </dev/null >/dev/null 2>&1
vt_eq "vproc-hook: a bad value in its config file is a usage error" 2 "$?"

# --- containerd -------------------------------------------------------------------------
spec_hooks() { jq -c '[.hooks.createRuntime[]?, .hooks.poststop[]?] | map(select(.path == "/usr/libexec/vproc/vproc-hook"))' "$1"; }
want='[{"path":"/usr/libexec/vproc/vproc-hook","args":["vproc-hook","create","--policy","opt-in"]},{"path":"/usr/libexec/vproc/vproc-hook","args":["vproc-hook","poststop","--policy","opt-in"]}]'
vt_eq "shipped containerd-base-spec.json carries the hook (opt-in)" "$want" \
  "$(spec_hooks "$P/containerd/containerd-base-spec.json")"
if command -v ctr >/dev/null; then
  "$P/containerd/make-base-spec.sh" "$VT_TMP/base.json" 2>/dev/null
  vt_eq "make-base-spec.sh exits 0" 0 "$?"
  vt_eq "make-base-spec.sh: hook at createRuntime and poststop, opt-in" "$want" "$(spec_hooks "$VT_TMP/base.json")"
  vt_eq "make-base-spec.sh: the rest is ctr oci spec" "$(ctr oci spec | jq -S 'del(.hooks)')" \
    "$(jq -S 'del(.hooks)' "$VT_TMP/base.json")"
  vt_eq "shipped base spec = make-base-spec.sh output (regenerate it when containerd changes)" \
    "$(jq -S . "$P/containerd/containerd-base-spec.json")" "$(jq -S . "$VT_TMP/base.json")"
  # Idempotent, and other hooks stay.
  jq '.hooks.createRuntime = [{"path": "/usr/bin/other-hook"}] + .hooks.createRuntime' \
    "$VT_TMP/base.json" >"$VT_TMP/other.json"
  "$P/containerd/make-base-spec.sh" --from "$VT_TMP/other.json" "$VT_TMP/again.json" 2>/dev/null
  vt_eq "make-base-spec.sh --from: other hooks kept, ours not doubled" \
    '["/usr/bin/other-hook","/usr/libexec/vproc/vproc-hook"]' \
    "$(jq -c '[.hooks.createRuntime[].path]' "$VT_TMP/again.json")"
  vt_eq "make-base-spec.sh --from: one poststop entry" 1 "$(jq '.hooks.poststop | length' "$VT_TMP/again.json")"
else
  echo "$VT_NAME: ctr not installed; make-base-spec.sh not run"
fi
if command -v containerd >/dev/null; then
  containerd --config "$P/containerd/config.toml" config dump >"$VT_TMP/dump.toml" 2>"$VT_TMP/dump.err"
  vt_eq "containerd parses config.toml" 0 "$?"
  "$VT_PY" - "$VT_TMP/dump.toml" >"$VT_TMP/runc.json" <<'PY'
import json, sys, tomllib
cfg = tomllib.load(open(sys.argv[1], "rb"))
runc = cfg["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"]
print(json.dumps({k: runc.get(k) for k in ("runtime_type", "base_runtime_spec", "pod_annotations")}))
PY
  vt_eq "containerd applies the snippet to the runc runtime" \
    '{"runtime_type": "io.containerd.runc.v2", "base_runtime_spec": "/etc/vproc/containerd-base-spec.json", "pod_annotations": ["vproc.io/*"]}' \
    "$(cat "$VT_TMP/runc.json")"
else
  echo "$VT_NAME: containerd not installed; config.toml not parsed by it"
fi

# --- CRI-O -------------------------------------------------------------------------------
vt_eq "CRI-O drop-in: hooks_dir" \
  '["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]' \
  "$("$VT_PY" -c 'import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],"rb"))["crio"]["runtime"]["hooks_dir"]))' "$P/crio/50-vproc.conf")"
vt_eq "CRI-O drop-in sets no allowed_annotations (CRI-O refuses unknown ones)" "" \
  "$(grep -E '^[[:space:]]*allowed_annotations' "$P/crio/50-vproc.conf")"

vt_finish
