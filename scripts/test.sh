#!/usr/bin/env bash
# The whole test suite, as root on Debian 12: installs what it needs, builds,
# runs every test (unit, fixture and integration with real FUSE, cgroups and
# runtimes), then builds again with ASan+UBSan and runs the suite once more.
#
#   scripts/test.sh            everything
#   VPROC_SKIP_SANITIZE=1 ...  skip the sanitizer pass (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== clang-format and function sizes"
scripts/check-format.sh
scripts/check-function-size.sh

start=$(date +%s)
echo "== build (warnings are errors)"
scripts/build.sh build -DVPROC_WERROR=ON
echo "== tests"
# The fuzz targets run once, here: they are built with their own sanitizers.
# The longer isolation run happens in the ASan+UBSan pass below.
(cd build && VPROC_ISOLATION_SECONDS=20 VPROC_FUZZ_SECONDS=${VPROC_FUZZ_SECONDS:-5} \
  ctest --output-on-failure)
# What the cgroup v2 VM said: its kernel and controllers, and each guest test's
# result (ctest shows a passing test's output only with -V).
echo "== inside the VM (tests/vm)"
sed -n 's/\r$//; s/^.*\(VM-INFO\)/\1/; /^\(VM-INFO\|VM-RESULT\|ok   -\|FAIL -\|--- \)/p' \
  build/vm-console.log 2>/dev/null || true

if [ -z "${VPROC_SKIP_SANITIZE:-}" ]; then
  echo "== build with ASan+UBSan"
  scripts/build.sh build-asan -DVPROC_SANITIZE=ON -DVPROC_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
  echo "== tests under ASan+UBSan"
  # LeakSanitizer needs ptrace, which FUSE daemons under test do not get in
  # every sandbox; leaks are checked by the unit tests' own runs below.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Packaging tests build their own packages from source: once is enough.
  # footprint and lxcfs_crosscheck measure and compare what limits_test
  # already runs under the sanitizers; they run in the plain pass only.
  (cd build-asan && VPROC_ISOLATION_SECONDS=30 \
    ctest --output-on-failure -LE 'fuzz|packaging' -E 'footprint|lxcfs_crosscheck')
  echo "== unit tests with LeakSanitizer"
  ASAN_OPTIONS=detect_leaks=1 build-asan/tests/unit/vproc_unit_tests

  echo "== the multithreaded FUSE loop and the io_uring transport under TSan"
  scripts/build.sh build-tsan -DVPROC_SANITIZE_THREAD=ON -DCMAKE_BUILD_TYPE=Debug
  TSAN_OPTIONS=halt_on_error=1 VPROC_ISOLATION_SECONDS=20 VPROC_BUILD_DIR=$PWD/build-tsan \
    bash tests/integration/isolation_test.sh
  TSAN_OPTIONS=halt_on_error=1 VPROC_BUILD_DIR=$PWD/build-tsan bash tests/integration/uring_test.sh
  build-tsan/tests/unit/vproc_unit_tests
fi
echo "== suite finished in $(( $(date +%s) - start )) s"
