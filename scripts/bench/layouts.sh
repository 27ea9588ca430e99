#!/usr/bin/env bash
# Layout sweep: one fresh JVM per layout (layouts run one after another in one JVM disturb each
# other's JIT profiles), printing one markdown row each.
#   scripts/bench/layouts.sh PRESET STEPS WARMUP PROFILE LAYOUT...
#   e.g. scripts/bench/layouts.sh tiny 60 25 h100-nvlink-ib dp1-t2 dp2-t1 dp2-z3-t1 tp2-t1 tp2-sp-t1
# Extra JVM properties via BENCH_OPTS, e.g. BENCH_OPTS=-Dbatch=4.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/jdk25.sh
find_jdk25
[ -f bench/target/benchmarks.jar ] || ./mvnw -B -q -DskipTests install >/dev/null
preset=$1 steps=$2 warmup=$3 profile=$4
jit="" # as ./fourfold: enough JIT compiler threads for many devices on few cores
if [ "$(nproc)" -le 4 ]; then jit="-XX:CICompilerCount=4"; fi
shift 4
first=1
for layout in "$@"; do
  out=$("$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    --sun-misc-unsafe-memory-access=allow --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED \
    -Dchronicle.analytics.disable=true $jit ${BENCH_OPTS:-} -cp bench/target/benchmarks.jar \
    fourfold.bench.LayoutSweep "$preset" "$steps" "$warmup" "$profile" "$layout" 2>/dev/null)
  if [ $first = 1 ]; then printf '%s\n' "$out" | grep -v '^| dp'; first=0; fi
  printf '%s\n' "$out" | grep '^| dp'
done
