#!/usr/bin/env bash
# Kernel times of decode steps *inside* the CUDA graphs (what the per-launch profile cannot see: it turns graphs off
# and brackets every launch with events), from Nsight Systems when the machine has it:
#   bash scripts/gpu/nsys_decode.sh OUT_DIR [batch ...]        (default batches: 1 64)
# Per batch: `ernie cuda bench` of 24 timed decode steps at context 512 under `nsys profile --cuda-graph-trace=node`,
# then nsys' per-kernel summary as CSV in OUT_DIR/nsys-bBATCH*.csv (it counts every step of the run: the bench's
# warm-up and graph-capture steps too, so divide by the instance count per step, not by 24).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$1
shift
mkdir -p "$OUT"
BIN=${ERNIE_BIN:-.device/ernie}
MODEL=${MODEL:-models/configs/ERNIE-4.5-21B-A3B-PT}
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2> /dev/null | head -1)
if [ -z "$NSYS" ]; then
    echo "no nsys on this machine"
    exit 0
fi
"$NSYS" --version
for b in "${@:-1 64}"; do
    for batch in $b; do
        timeout -k 5 120 "$NSYS" profile --cuda-graph-trace=node --trace=cuda --sample=none --cpuctxsw=none \
            -o "$OUT/nsys-b$batch" --force-overwrite true \
            "$BIN" cuda bench --model-path "$MODEL" --load-format dummy --batch "$batch" --steps 24 --context 512 \
            --prefill 0 > "$OUT/nsys-b$batch.log" 2>&1
        echo "nsys b$batch rc $?"
        timeout -k 5 120 "$NSYS" stats --report cuda_gpu_kern_sum --format csv -o "$OUT/nsys-b$batch" \
            "$OUT/nsys-b$batch.nsys-rep" > /dev/null 2>&1
        rm -f "$OUT/nsys-b$batch.nsys-rep" "$OUT/nsys-b$batch.sqlite"
        ls "$OUT"/nsys-b"$batch"*.csv 2> /dev/null
    done
done
