#!/usr/bin/env bash
# GemmBench (fourfold, JMH) and OpenBLAS sgemm (numpy) on the same cases, one table with ratios.
#
#   scripts/bench/gemm.sh                        all cases of GemmBench (about 10 minutes)
#   scripts/bench/gemm.sh -p shape=nt_768_512_512_t1,nn_1024_1024_1024_t2 -wi 3 -i 5
#
#   scripts/bench/gemm.sh --interleaved [case...]   fourfold and OpenBLAS alternated call by call in one
#                                                   process (GemmBench$Interleaved): robust ratios on a busy machine
#
# Arguments go to JMH (-p shape=... picks cases; -wi/-i/-w/-r change warm-up and measurement).
# The reference runs right after, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset and
# OPENBLAS_NUM_THREADS equal to the case's worker count. Results land in $GEMM_BENCH_OUT
# (default target/bench-gemm/): jmh.json, openblas_t1.json, openblas_t2.json, table.md.
# -Djmh.ignoreLock: other JMH runs on a shared machine hold /tmp/jmh.lock (their timings then disturb ours anyway).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/jdk25.sh
find_jdk25
out="${GEMM_BENCH_OUT:-target/bench-gemm}"
mkdir -p "$out"
PY=/usr/bin/python3 # Debian's python: it has numpy on OpenBLAS (pyenv's python3 has not)
"$PY" -c "import numpy" 2>/dev/null || { echo "gemm.sh: $PY cannot import numpy (apt-get install python3-numpy libopenblas0-pthread)" >&2; exit 1; }

if [ ! -f bench/target/benchmarks.jar ] || [ -n "${GEMM_BENCH_BUILD:-}" ]; then
  ./mvnw -B -o -q -pl bench -am package -DskipTests
fi

if [ "${1:-}" = "--interleaved" ]; then
  shift
  exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector \
    --enable-native-access=ALL-UNNAMED -Dchronicle.analytics.disable=true -cp bench/target/benchmarks.jar \
    'fourfold.bench.GemmBench$Interleaved' "$@"
fi

"$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Djmh.ignoreLock=true \
  -jar bench/target/benchmarks.jar 'fourfold.bench.GemmBench' -rf json -rff "$out/jmh.json" "$@"

cases=$("$PY" -c 'import json,sys; print(" ".join(dict.fromkeys(r["params"]["shape"] for r in json.load(open(sys.argv[1])))))' "$out/jmh.json")
for t in 1 2; do
  sel=$(printf '%s\n' $cases | grep "_t$t\$" || true)
  [ -n "$sel" ] || continue
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$t \
    "$PY" scripts/bench/openblas_gemm.py --json "$out/openblas_t$t.json" $sel
done

"$PY" - "$out" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
jmh = json.load(open(os.path.join(out, "jmh.json")))
ref, info = {}, None
for t in (1, 2):
    p = os.path.join(out, f"openblas_t{t}.json")
    if os.path.exists(p):
        d = json.load(open(p))
        ref.update(d["gflops"])
        info = info or d["openblas"]
rows, ours = [], {}
for r in jmh:
    case = r["params"]["shape"]
    _, m, n, k, _ = case.split("_")
    us = r["primaryMetric"]["score"]
    g = 2.0 * int(m) * int(n) * int(k) / (us * 1e3)
    ours[case] = g
    o = ref.get(case)
    rows.append(f"| {case} | {us:.1f} | {g:.1f} | {o:.1f} | {g / o:.2f} |" if o else f"| {case} | {us:.1f} | {g:.1f} | - | - |")
lines = ["| case | fourfold us/call | fourfold GFLOP/s | OpenBLAS GFLOP/s | ratio |", "|---|---|---|---|---|"] + rows
t1, t2 = ours.get("nn_1024_1024_1024_t1"), ours.get("nn_1024_1024_1024_t2")
if t1 and t2:
    lines.append(f"\n2 workers vs 1 at 1024^3: {t2 / t1:.2f}x")
if info:
    lines.append(f"\nOpenBLAS: {info.get('config', '?')}, core {info.get('corename', '?')}")
text = "\n".join(lines)
open(os.path.join(out, "table.md"), "w").write(text + "\n")
print(text)
PYEOF
