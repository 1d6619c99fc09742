#!/usr/bin/env bash
# Round 10, call 6: the one-stream scenarios at the final defaults, then per-kernel times (Nsight Compute) of the
# batch-64 and batch-1 decode steps.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
cat .device/BUILD
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
OUT=$OUT BUDGET=${BUDGET:-270} RESERVE=0 SCENARIO_TIMEOUT=120 SCENARIOS="1024:1024:1:10 8192:1024:1:10 1024:8192:1:3" bash scripts/gpu/perf_run.sh scenarios 2>&1 | grep -E "^== sc|Output token|Mean TTFT|Median TTFT|P99 TTFT|Mean TPOT|Successful"
mkdir -p $OUT/perf/ncu
timeout 200 bash scripts/gpu/ncu_step.sh $OUT/perf/ncu 64 2>&1 | tail -25
timeout 120 bash scripts/gpu/ncu_step.sh $OUT/perf/ncu 1 2>&1 | tail -25
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
