#!/usr/bin/env bash
# Installs what is missing, builds in Release, runs the benchmark and plots
# it: bench/results.json and bench/throughput.png (shown in the README).
# Extra arguments go to cafes-bench (for example --quick or --repeats 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCAFES_BUILD_TESTS=OFF \
  -DCAFES_BUILD_BENCH=ON >/dev/null
cmake --build build/release --target cafes-bench -j "$(nproc)"
# The etcd case's two 3-member clusters (scripts/etcd-cluster.sh), stopped
# on the way out.
etcd_a=(env CAFES_ETCD_DIR="$PWD/build/release/etcd-a" CAFES_ETCD_PORT=23891)
etcd_b=(env CAFES_ETCD_DIR="$PWD/build/release/etcd-b" CAFES_ETCD_PORT=23921)
trap '"${etcd_a[@]}" scripts/etcd-cluster.sh stop; "${etcd_b[@]}" scripts/etcd-cluster.sh stop' EXIT
first="$("${etcd_a[@]}" scripts/etcd-cluster.sh start)"
second="$("${etcd_b[@]}" scripts/etcd-cluster.sh start)"
build/release/bench/cafes-bench --json bench/results.json \
  --data build/release/bench-throughput.dat --etcd "$first" --etcd-second "$second" "$@"
gnuplot -e "data='build/release/bench-throughput.dat'; out='bench/throughput.png'" bench/plot.gp
echo "wrote bench/results.json and bench/throughput.png"
