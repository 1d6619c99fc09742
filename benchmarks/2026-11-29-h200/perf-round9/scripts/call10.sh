#!/usr/bin/env bash
# Round 9, call 10: expert streams released at each step's end vs kept — server TPOT at 1K/1K c1, prefill 8192.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
for v in release keep; do
  mkdir -p /tmp/o-$v
  unset ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP; [ $v = keep ] && export ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP=1
  OUT=/tmp/o-$v BUDGET=100 RESERVE=0 SCENARIO_TIMEOUT=90 SCENARIOS="1024:1024:1:10" bash scripts/gpu/perf_run.sh scenarios > /dev/null 2>&1
  echo "== $v: $(grep -h -E "Output token|Mean TTFT|Mean TPOT|Median TPOT" /tmp/o-$v/perf/scenarios/sc-1024-1024-c1.txt | tr -s ' ' | tr '\n' ' ')"
done
unset ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP
for v in release keep streams1 release; do
  E=""; [ $v = keep ] && E="ERNIE_CUDA_MOE_EXPERT_STREAMS_KEEP=1"; [ $v = streams1 ] && E="ERNIE_CUDA_MOE_EXPERT_STREAMS=1"
  env $E timeout 90 .device/ernie cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch 1 --steps 2 --context 16 --prefill 8192 > /tmp/b-$v.log 2>&1
  echo "$v: $(grep -h -E '^prefill 8192 tokens +[0-9]|new prompts:' /tmp/b-$v.log | tr -s ' ' | tr '\n' ' ')"
done
