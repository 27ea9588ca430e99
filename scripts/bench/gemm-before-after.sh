#!/usr/bin/env bash
# Two builds of the GEMM alternated in one JVM (fourfold.bench.GemmBeforeAfter): before/after ratios
# that survive this machine's drifting speed.
#
#   cp bench/target/benchmarks.jar /tmp/before.jar      # before the change
#   ... change, then: ./mvnw -B -q -DskipTests install
#   scripts/bench/gemm-before-after.sh /tmp/before.jar bench/target/benchmarks.jar nn_1024_1024_1024_t1 tn_768_128_384_t1
#
# CASE = variant_M_N_K_tWORKERS as in GemmBench. -Dseconds (per turn, default 0.5) and -Drounds (default 20)
# go in GEMM_AB_OPTS.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/jdk25.sh
find_jdk25 >/dev/null
[ $# -ge 3 ] || { echo "usage: $0 BEFORE.jar AFTER.jar CASE..." >&2; exit 2; }
for jar in "$1" "$2"; do [ -f "$jar" ] || { echo "$0: $jar does not exist" >&2; exit 2; }; done
exec "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  --sun-misc-unsafe-memory-access=allow --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED \
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-exports=java.base/sun.nio.ch=ALL-UNNAMED \
  -Dchronicle.analytics.disable=true ${GEMM_AB_OPTS:-} -cp "$2" fourfold.bench.GemmBeforeAfter "$@"
