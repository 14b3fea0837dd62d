#!/usr/bin/env bash
# Installs what is missing, builds the libFuzzer targets (clang, ASan+UBSan)
# and runs each for SECONDS (default 30) from its corpus in the tree
# (fuzz/corpus/<target>/ and fuzz/regressions/<target>/). New inputs go to
# build/fuzz/scratch/<target>/, never into the tree. Exit code 1 when a target
# crashes or breaks an invariant; the crash file's path is printed (replay it
# with `build/fuzz/fuzz/fuzz_<target> FILE`).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
scripts/install-deps.sh

cmake -S . -B build/fuzz -DCAFES_BUILD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j "$(nproc)"

targets=(event_value key log_entry payload protocol uuid_text)
passed=0
failed=0
for target in "${targets[@]}"; do
  scratch="build/fuzz/scratch/$target"
  crashes="build/fuzz/crashes/$target"
  log="build/fuzz/logs/$target.log"
  rm -rf "$crashes"
  mkdir -p "$scratch" "$crashes" "$(dirname "$log")"
  corpora=("fuzz/corpus/$target")
  [ -d "fuzz/regressions/$target" ] && corpora+=("fuzz/regressions/$target")
  echo "== fuzz $target (${seconds} s)"
  # The first corpus directory takes the new inputs: the scratch one.
  if build/fuzz/fuzz/"fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$crashes/" "$scratch" "${corpora[@]}" >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
    passed=$((passed + 1))
  else
    tail -n 40 "$log"
    for file in "$crashes"/*; do
      [ -e "$file" ] && echo "fuzz $target: crash input $file"
    done
    echo "fuzz $target FAILED (whole log: $log)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
