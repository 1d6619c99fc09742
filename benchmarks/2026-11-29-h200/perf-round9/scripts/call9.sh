#!/usr/bin/env bash
# Round 9, call 9: which of this round's switches moves the server's decode TPOT (1K/1K, one stream)?
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
for v in streams1 routeroff wg0; do
  mkdir -p /tmp/o-$v
  unset ERNIE_CUDA_MOE_EXPERT_STREAMS ERNIE_CUDA_MOE_ROUTER_GEMM ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS
  case $v in
    streams1) export ERNIE_CUDA_MOE_EXPERT_STREAMS=1 ;;
    routeroff) export ERNIE_CUDA_MOE_ROUTER_GEMM=0 ;;
    wg0) export ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=0 ;;
  esac
  OUT=/tmp/o-$v BUDGET=100 RESERVE=0 SCENARIO_TIMEOUT=90 SCENARIOS="1024:1024:1:10" bash scripts/gpu/perf_run.sh scenarios > /dev/null 2>&1
  echo "== $v: $(grep -h -E "Output token|Mean TTFT|Mean TPOT" /tmp/o-$v/perf/scenarios/sc-1024-1024-c1.txt | tr -s ' ' | tr '\n' ' ')"
done
