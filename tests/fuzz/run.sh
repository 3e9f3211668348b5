#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang++-14 (ASan + UBSan,
# aborting on the first report) and runs each for a bounded time on a scratch
# copy of its seed corpus, so the committed corpus never grows in CI.
#
#   tests/fuzz/run.sh [target...]      # default: every target
#
# Environment:
#   VPROC_SOURCE_DIR     repository root (default: two levels above this script)
#   VPROC_FUZZ_SECONDS   seconds per target (default 20)
#   VPROC_FUZZ_JOBS      targets run at once (default 2, 1 on a single CPU)
#   VPROC_FUZZ_BUILD_DIR objects and binaries, reused across runs (default:
#                        $VPROC_BUILD_DIR/fuzz if set, else inside the scratch dir)
#   VPROC_FUZZ_KEEP=1    keep the scratch dir (grown corpora, logs) on success too
#
# Exit status: 0 when every target ran clean; 1 on any crash, sanitizer
# report, failed FUZZ_CHECK, leak, timeout (-timeout=5 per input) or
# out-of-memory (-rss_limit_mb=1024), with the report and the reproducer
# printed; 77 (ctest: skipped) when clang++-14 is missing and cannot be
# installed. Seed files named crash-* are reproducers of fixed bugs: a
# regression fails on them before any fuzzing starts.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${VPROC_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
seconds=${VPROC_FUZZ_SECONDS:-20}
jobs=${VPROC_FUZZ_JOBS:-$(( $(nproc) > 1 ? 2 : 1 ))}
cxx=clang++-14

# clang++-14 and libFuzzer's runtime (libclang-rt-14-dev): a trivial target must link.
can_fuzz() {
  local d rc=0
  command -v "$cxx" >/dev/null || return 1
  d=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
    "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o "$d/probe" >/dev/null 2>&1 || rc=1
  rm -rf "$d"
  return $rc
}
if ! can_fuzz; then
  echo "fuzz: $cxx with libFuzzer not usable; installing clang-14 libclang-rt-14-dev"
  if [[ $(id -u) -ne 0 ]] || ! apt-get install -y clang-14 libclang-rt-14-dev || ! can_fuzz; then
    echo "fuzz: SKIP: $cxx with libFuzzer is missing and could not be installed (needs root and apt)" >&2
    exit 77
  fi
fi

have_hook=0
[[ -f $src/hook/plan.cpp && -f $src/lib/registry/registry.cpp && -f $src/hook/runtimes.cpp ]] && have_hook=1
hook_targets=" oci_state oci_config registry_entry runtime_state "

all=()
for f in "$here"/*.cpp; do
  t=$(basename "$f" .cpp)
  if [[ $have_hook -eq 0 && $hook_targets == *" $t "* ]]; then
    echo "fuzz: hook/ not present, not building $t"
    continue
  fi
  all+=("$t")
done
if (( $# )); then targets=("$@"); else targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
  [[ -f $here/$t.cpp ]] || { echo "fuzz: no target $t (have: ${all[*]})" >&2; exit 2; }
done

# Objects and binaries: kept in VPROC_FUZZ_BUILD_DIR (or $VPROC_BUILD_DIR/fuzz)
# and rebuilt only when a source or header they depend on changed; without
# either, in the scratch dir. Runs (corpus copies, logs, reproducers) always
# go to the scratch dir, which is kept when something failed.
work=$(mktemp -d "${TMPDIR:-/tmp}/vproc-fuzz.XXXXXX")
keep=${VPROC_FUZZ_KEEP:-0}
cleanup() { if [[ $keep == 1 ]]; then echo "fuzz: scratch dir kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
build=${VPROC_FUZZ_BUILD_DIR:-${VPROC_BUILD_DIR:+$VPROC_BUILD_DIR/fuzz}}
build=${build:-$work/build}

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -pthread -I"$src")
[[ $have_hook -eq 1 ]] && flags+=(-DVPROC_FUZZ_HOOK)

# The code under test and what it links against: all of lib/core (pure) and
# lib/cgroup (proc_cgroup calls its pure resolve/ancestors), and lib/base.
lib_srcs=(lib/base/sys_error.cpp lib/base/io.cpp lib/files/files.cpp lib/inject/mountinfo.cpp)
for f in "$src"/lib/core/*.cpp "$src"/lib/cgroup/*.cpp; do lib_srcs+=("${f#"$src"/}"); done
[[ $have_hook -eq 1 ]] && lib_srcs+=(hook/plan.cpp lib/proc/identity.cpp lib/registry/registry.cpp hook/runtimes.cpp)

mkdir -p "$build/obj" "$build/bin"
stamp="$cxx $($cxx --version | head -1) ${flags[*]}"
if [[ $(cat "$build/flags" 2>/dev/null) != "$stamp" ]]; then
  rm -f "$build"/obj/* "$build"/bin/*
  echo "$stamp" >"$build/flags"
fi

stale() {  # stale <object>: missing, or older than a file in its depfile
  local o=$1 dep
  [[ -f $o && -f $o.d ]] || return 0
  for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$o.d"); do
    [[ $dep -nt $o ]] && return 0
  done
  return 1
}
compile() {  # compile <source> <object>
  "$cxx" "${flags[@]}" -MMD -MF "$2.d" -c "$1" -o "$2" 2>"$2.log" ||
    { cat "$2.log" >&2; rm -f "$2"; return 1; }
}

echo "fuzz: building ${#targets[@]} targets with $cxx in $build"
build_start=$SECONDS
pids=()
objs=()
queue() {  # queue <source> <object>: compile in the background if stale, nproc at a time
  stale "$2" || return 0
  compile "$1" "$2" &
  pids+=($!)
  if (( ${#pids[@]} >= $(nproc) )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
}
for s in "${lib_srcs[@]}"; do
  o=$build/obj/$(echo "$s" | tr / _).o
  objs+=("$o")
  queue "$src/$s" "$o"
done
for t in "${targets[@]}"; do queue "$here/$t.cpp" "$build/obj/fuzz_$t.o"; done
for p in "${pids[@]}"; do wait "$p"; done
for t in "${targets[@]}"; do
  bin=$build/bin/$t
  relink=0
  for o in "$build/obj/fuzz_$t.o" "${objs[@]}"; do [[ $o -nt $bin ]] && relink=1; done
  [[ -f $bin && $relink -eq 0 ]] || "$cxx" "${flags[@]}" "$build/obj/fuzz_$t.o" "${objs[@]}" -o "$bin"
done
echo "fuzz: built in $((SECONDS - build_start)) s; running each target for $seconds s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

dict_for() {
  case $1 in
    oci_state|oci_config|registry_entry) echo "$here/dict/json.dict" ;;
    *) [[ -f $here/dict/$1.dict ]] && echo "$here/dict/$1.dict" || echo "$here/dict/kernel.dict" ;;
  esac
}

run_one() {  # run_one <target>: writes $work/<target>.log and .rc
  local t=$1 corpus=$work/corpus/$1 art=$work/artifacts/$1/
  mkdir -p "$corpus" "$art"
  [[ -d $here/corpus/$t ]] && cp -r "$here/corpus/$t/." "$corpus/"
  local dict=() d
  d=$(dict_for "$t")
  [[ -f $d ]] && dict=(-dict="$d")
  local rc=0
  "$build/bin/$t" -max_total_time="$seconds" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "$corpus" \
    >"$work/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if (( running >= jobs )); then wait -n || true; running=$((running - 1)); fi
done
wait

failed=()
printf '%-16s %12s %8s  %s\n' target executions seeds result
for t in "${targets[@]}"; do
  rc=$(cat "$work/$t.rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  seeds=$(find "$here/corpus/$t" -type f 2>/dev/null | wc -l)
  result=ok
  [[ $rc -ne 0 ]] && { result="FAILED (exit $rc)"; failed+=("$t"); }
  printf '%-16s %12s %8s  %s\n' "$t" "${execs:-?}" "$seeds" "$result"
done

for t in "${failed[@]}"; do
  keep=1
  echo
  echo "=== $t: report ==="
  # From the first report line to the end of libFuzzer's output.
  awk '/^==[0-9]+==|runtime error:|FUZZ_CHECK failed|ALARM: working on the last Unit|out-of-memory|deadly signal|terminate called|ERROR: libFuzzer/ {p=1} p' \
    "$work/$t.log" | grep -v '^stat::' | head -120
  for a in "$work/artifacts/$t/"*; do
    [[ -f $a ]] || continue
    case $(basename "$a") in slow-unit-*) continue ;; esac
    echo "--- reproducer: $a ($(stat -c %s "$a") bytes); rerun: $build/bin/$t $a"
    echo "--- base64:"
    base64 -w 76 "$a" | head -40
    echo "--- bytes (od -c, first 512):"
    head -c 512 "$a" | od -An -c | head -40
  done
done
if (( ${#failed[@]} )); then
  echo
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
