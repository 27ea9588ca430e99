#!/usr/bin/env bash
# Pipeline schedules against the single-device run: one `fourfold train` per layout (a fresh JVM
# each), one markdown row each: wall tokens/s (mean of the steps after WARMUP), simulated step
# time, measured pp_bubble and the formula for equal stages ((p-1)/(v·m+p-1); zb-h1 with
# F = B = W: (p-1)/(3m+p-1)).
#   scripts/bench/pipeline.sh PRESET BATCH STEPS WARMUP PROFILE "PP SCHEDULE M [V]"...
#   e.g. scripts/bench/pipeline.sh tiny 16 12 4 h100-nvlink-ib "1 - 1" "2 1f1b 8" "2 interleaved 8 2"
#   PIPELINE_DEVICE_MEMORY=1g for larger models (default 256m per device)
set -euo pipefail
cd "$(dirname "$0")/../.."
preset=$1 batch=$2 steps=$3 warmup=$4 profile=$5
shift 5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| pp | schedule | M | v | tokens/s (wall) | simulated step (ms) | pp_bubble | formula |"
echo "|---|---|---|---|---|---|---|---|"
for layout in "$@"; do
  read -r pp schedule m v <<<"$layout"
  v=${v:-1}
  args=(--preset "$preset" --batch "$batch" --steps "$steps" --warmup 0 --eval-every 0 --eval-windows 1
        --profile "$profile" --device-memory "${PIPELINE_DEVICE_MEMORY:-256m}" --no-progress --out "$tmp/ck" --metrics-out "$tmp/m.jsonl" --pp "$pp")
  if [ "$schedule" != - ]; then args+=(--schedule "$schedule" --micro-batches "$m" --virtual-stages "$v"); fi
  ./fourfold train "${args[@]}" >/dev/null 2>"$tmp/err" || { echo "| $pp | $schedule | $m | $v | failed: $(tail -1 "$tmp/err") |"; continue; }
  python3 - "$tmp/m.jsonl" "$warmup" "$pp" "$schedule" "$m" "$v" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
warm, pp, sched, m, v = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
timed = lines[warm:]
tps = sum(l["tokens_per_s"] for l in timed) / len(timed)
sim = sum(l["sim_step_s"] for l in timed) / len(timed) * 1e3
bubble = sum(l.get("pp_bubble", 0) for l in timed) / len(timed)
if sched == "-":
    formula = "-"
elif sched == "zb-h1":  # F = B = W: (p-1) idle units against 3m of work
    formula = "%.3f" % ((pp - 1) / (3 * int(m) + pp - 1))
else:
    formula = "%.3f" % ((pp - 1) / (v * int(m) + pp - 1))
print("| %d | %s | %s | %d | %.0f | %.2f | %s | %s |" % (pp, sched, m, v, tps, sim, "%.3f" % bubble if pp > 1 else "-", formula))
PY
done
