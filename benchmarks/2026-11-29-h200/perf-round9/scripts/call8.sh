#!/usr/bin/env bash
# Round 9, call 8: 1K/1K at one stream with this round's switches off, then on (server TPOT question).
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
for v in off on; do
  mkdir -p /tmp/o-$v
  if [ $v = off ]; then export ERNIE_CUDA_MOE_EXPERT_STREAMS=1 ERNIE_CUDA_MOE_ROUTER_GEMM=0 ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=0; else unset ERNIE_CUDA_MOE_EXPERT_STREAMS ERNIE_CUDA_MOE_ROUTER_GEMM ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS; fi
  OUT=/tmp/o-$v BUDGET=120 RESERVE=0 SCENARIO_TIMEOUT=100 SCENARIOS="1024:1024:1:10" bash scripts/gpu/perf_run.sh scenarios > /dev/null 2>&1
  echo "== $v"; grep -h -E "Output token|Mean TTFT|Mean TPOT|Median TPOT" /tmp/o-$v/perf/scenarios/sc-1024-1024-c1.txt
  mkdir -p $OUT/$v && cp /tmp/o-$v/perf/scenarios/sc-1024-1024-c1.txt /tmp/o-$v/perf/scenarios/serve.log $OUT/$v/ 2>/dev/null
done
