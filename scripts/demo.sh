#!/usr/bin/env bash
# Installs what is missing, builds, and runs the concurrency demo on embedded
# RocksDB. Extra arguments go to the demo (for example: --db /tmp/cafes-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCAFES_BUILD_TESTS=OFF \
  -DCAFES_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target concurrency_demo -j "$(nproc)"
exec build/release/examples/concurrency_demo "$@"
