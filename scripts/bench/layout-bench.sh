#!/usr/bin/env bash
# JMH LayoutBench: one training step of `tiny` (batch 16 x 64) per layout of 8 and 16 devices and
# on one device, then the table of step times and throughput ratios to the single device.
#   scripts/bench/layout-bench.sh [RESULTS.json] [extra JMH options, e.g. -p layout=single,dp8]
# Writes the JMH results to RESULTS.json (default: layout-bench.json) and prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/jdk25.sh
find_jdk25
out=${1:-layout-bench.json}
[ $# -gt 0 ] && shift
[ -f bench/target/benchmarks.jar ] || ./mvnw -B -q -DskipTests install >/dev/null
"$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp bench/target/benchmarks.jar org.openjdk.jmh.Main LayoutBench -rf json -rff "$out" "$@"
python3 - "$out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
ms = {r["params"]["layout"]: (r["primaryMetric"]["score"], r["primaryMetric"]["scoreError"]) for r in rows}
single = ms.get("single", (None, None))[0]
print()
print("| layout | ms per step (± 99.9% error) | throughput vs single |")
print("|---|---|---|")
for layout, (score, err) in ms.items():
    ratio = "%.2f" % (single / score) if single else ""
    print("| %s | %.2f ± %.2f | %s |" % (layout, score, err, ratio))
PY
