#!/usr/bin/env bash
# Round 9, call 7: is decode at batch 1 slower with this round's switches? (server TPOT 3.10 against 3.02 in round 8)
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
OFF="ERNIE_CUDA_MOE_EXPERT_STREAMS=1 ERNIE_CUDA_MOE_ROUTER_GEMM=0 ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=0"
for v in on off on off; do
  if [ $v = on ]; then E=""; else E="$OFF"; fi
  env $E timeout 90 .device/ernie cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch 1,16 --steps 32 --context 1024 --prefill 1024 > $OUT/perf/bench-$v.log 2>&1
  echo "$v: $(grep -h -E '^decode batch|^prefill 1024 tokens +[0-9]' $OUT/perf/bench-$v.log | tr '\n' ' ')"
done
nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
