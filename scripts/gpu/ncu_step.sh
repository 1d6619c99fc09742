#!/usr/bin/env bash
# GPU time per kernel of one decode step, free of launch gaps and timing-event overhead: Nsight Compute's
# gpu__time_duration for every kernel of `ernie cuda bench` with graphs off (each launch is one kernel; clocks and
# caches left as they are), the last step's kernels — after the second-to-last sampling kernel — summed per name.
# The sum against the step time through graphs (same command without ncu, printed first) is the launch overhead.
#
#   bash scripts/gpu/ncu_step.sh OUTDIR BATCH [CONTEXT]       (needs .device/ernie and ncu on the PATH or in CUDA)
#   PREFILL=8192 bash scripts/gpu/ncu_step.sh OUTDIR 1 16    (the last step is then a prefill of PREFILL tokens)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR=$1
BATCH=$2
CONTEXT=${3:-512}
BIN=${ERNIE_BIN:-$PWD/.device/ernie}
MODEL=${MODEL:-models/configs/ERNIE-4.5-21B-A3B-PT}
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2> /dev/null | head -1)
mkdir -p "$OUTDIR"
PREFILL=${PREFILL:-0}
BENCH=(cuda bench --model-path "$MODEL" --batch "$BATCH" --steps 2 --context "$CONTEXT" --prefill "$PREFILL")
TAG=b$BATCH$([ "$PREFILL" -gt 0 ] && echo "-prefill$PREFILL")
"$BIN" "${BENCH[@]}" > "$OUTDIR/bench-$TAG.log" 2>&1
grep -E "^decode batch|^prefill" "$OUTDIR/bench-$TAG.log" | sed 's/^/through graphs: /'
if [ -z "$NCU" ]; then
    echo "no ncu found"
    exit 2
fi
ERNIE_CUDA_GRAPHS=0 timeout -k 5 240 "$NCU" --metrics gpu__time_duration.sum --csv --print-units base \
    --cache-control none --clock-control none "$BIN" "${BENCH[@]}" > "$OUTDIR/ncu-$TAG.csv" 2> "$OUTDIR/ncu-$TAG.err"
echo "ncu rc $?"
python3 - "$OUTDIR/ncu-$TAG.csv" "$TAG" <<'PY'
import csv, sys, collections
rows = []
with open(sys.argv[1]) as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        rows.append((int(r["ID"]), r["Kernel Name"], float(r["Metric Value"].replace(",", ""))))
rows.sort()
samples = [i for i, (_, name, _) in enumerate(rows) if "sample" in name]
if len(samples) < 2:
    sys.exit(f"fewer than two sampling kernels among {len(rows)} kernels")
step = rows[samples[-2] + 1 : samples[-1] + 1]
per = collections.OrderedDict()
for _, name, ns in step:
    short = name.split("(")[0][:70]
    count, total = per.get(short, (0, 0.0))
    per[short] = (count + 1, total + ns)
total = sum(ns for _, _, ns in step)
print(f"{sys.argv[2]}: {len(step)} kernels, {total / 1000:.1f} us of kernel time in the last step")
print(f"| kernel | launches | us/step | us/launch | share |")
print(f"| --- | ---: | ---: | ---: | ---: |")
for name, (count, ns) in sorted(per.items(), key=lambda kv: -kv[1][1]):
    print(f"| {name} | {count} | {ns / 1000:.1f} | {ns / 1000 / count:.2f} | {100 * ns / total:.1f}% |")
PY
