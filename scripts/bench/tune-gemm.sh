#!/usr/bin/env bash
# Picks GEMM block sizes for a machine; portable.sh copies it next to run-gemm.sh (run it there).
#
#   DIR/tune-gemm.sh        run-gemm.sh on CASES once per K block size (-Dfourfold.gemm.kc in KCS),
#                           then with the best of them once per A block size (-Dfourfold.gemm.mc in MCS)
#
# "Best" is the highest mean over CASES of the median ratio to OpenBLAS. Prints every table, then
# one summary line per setting. Environment: KCS (default "256 384 512 768 1024"), MCS (default
# none; multiples of the tile's rows), CASES (default "nn_1024_1024_1024_t1 nn_512_512_512_t1"),
# and run-gemm.sh's SECS and OPENBLAS_CORETYPE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cases=${CASES:-"nn_1024_1024_1024_t1 nn_512_512_512_t1"}
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

# run OPTS: prints run-gemm.sh's table, records "OPTS: mean ratio M" in the summary.
run() {
  local out mean
  out=$(JAVA_OPTS="$1" "$here/run-gemm.sh" $cases)
  echo "$out"
  mean=$(echo "$out" | awk -F'|' '/^\| [a-z][a-z]_[0-9]/ {s += $5; n++} END {if (n) printf "%.3f", s / n; else print 0}')
  echo "$1: mean ratio $mean" >> "$summary"
}

best_kc="" best=-1
for kc in ${KCS:-256 384 512 768 1024}; do
  run "-Dfourfold.gemm.kc=$kc"
  mean=$(tail -1 "$summary" | awk '{print $NF}')
  if awk -v a="$mean" -v b="$best" 'BEGIN {exit !(a > b)}'; then best=$mean best_kc=$kc; fi
done
for mc in ${MCS:-}; do
  run "-Dfourfold.gemm.kc=$best_kc -Dfourfold.gemm.mc=$mc"
done
echo "== summary (cases: $cases)"
cat "$summary"
echo "best K block: $best_kc"
