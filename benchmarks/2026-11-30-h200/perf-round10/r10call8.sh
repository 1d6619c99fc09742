#!/usr/bin/env bash
# Round 10, call 8: the final build — prefill 8192 / 1024 (the attention kernel's helpers moved to wgmma.cuh), decode
# batch 1 / 64, and 1K/1K at 100 streams again.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
for i in 1 2; do
  timeout 90 $B cuda bench $M --batch 1 --steps 2 --context 16 --prefill 8192 > $OUT/perf/bench-prefill8192-$i.log 2>&1
  echo "prefill 8192 run $i: rc $? $(grep -h -E '^prefill' $OUT/perf/bench-prefill8192-$i.log | head -2 | tr '\n' ' ')"
done
timeout 90 $B cuda bench $M --batch 1,64 --steps 12 --context 512 --prefill 1024 > $OUT/perf/bench-final.log 2>&1
echo "final: rc $? $(grep -h -E '^decode batch|^prefill' $OUT/perf/bench-final.log | tr '\n' ' ')"
OUT=$OUT BUDGET=${BUDGET:-200} RESERVE=0 SCENARIO_TIMEOUT=120 SCENARIOS="1024:1024:100:500" bash scripts/gpu/perf_run.sh scenarios 2>&1 | grep -E "^== sc|Output token|Mean TTFT|Mean TPOT"
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
