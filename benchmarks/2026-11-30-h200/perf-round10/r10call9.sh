#!/usr/bin/env bash
# Round 10, call 9: why the wgmma gate|up kernel streams 4.1 TB/s at batch 64 and 3.5 at 128 — Nsight Compute sections
# (speed of light, memory workload, warp states) for one layer's gate|up and down at batch 64 and 128.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2> /dev/null | head -1)
for b in 64 128; do
  ERNIE_CUDA_GRAPHS=0 timeout 100 $NCU -k regex:ernie_moe_.*_wg --launch-skip 80 --launch-count 2 --clock-control none \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats \
    .device/ernie cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch $b --steps 2 \
    --context 512 --prefill 0 > $OUT/perf/ncu-sections-b$b.txt 2>&1
  echo "b$b: rc $?"
  grep -E "ernie_moe|Duration|DRAM Throughput|Memory Throughput|L2 Hit|L1/TEX Hit|Stall|Achieved Occupancy|Warp Cycles Per Issued|Compute \(SM\)" $OUT/perf/ncu-sections-b$b.txt | head -40
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
