#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice: a
# normal build, then an AddressSanitizer + UndefinedBehaviorSanitizer build;
# then fuzzes every decoder for 20 s (scripts/fuzz.sh).
# For quicker local runs: CAFES_SKIP_SANITIZE=1 skips the sanitizer build,
# CAFES_SKIP_FUZZ=1 skips fuzzing (CTest still replays the fuzz corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc)"

run_suite() { # build-dir, extra cmake flags...
  local dir="$1"; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAFES_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

# Line tables only (-g1), not full debug information: backtraces and
# sanitizer reports still name files and lines, and the two builds take
# less time (CI's budget).
echo "== tests (RelWithDebInfo)"
run_suite build/test -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
if [ "${CAFES_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
  (export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
   run_suite build/sanitize -DCAFES_SANITIZE=ON -DCAFES_BUILD_BENCH=OFF \
     -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
fi
if [ "${CAFES_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh 20
fi
