#!/usr/bin/env bash
# Installs what is missing, builds, and runs cafes-bank (the bank service and
# its client). Arguments go to cafes-bank, for example:
#   scripts/bank.sh serve --db /tmp/bank --http 127.0.0.1:8080
#   scripts/bank.sh open --owner ada
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCAFES_BUILD_TESTS=OFF \
  -DCAFES_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target cafes-bank -j "$(nproc)" >/dev/null
exec build/release/examples/cafes-bank "$@"
