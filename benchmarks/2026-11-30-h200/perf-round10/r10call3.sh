#!/usr/bin/env bash
# Round 10, call 3: SGLang's scenarios of 16 and more streams with the wgmma expert kernels (default from 16 tokens).
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
cat .device/BUILD
OUT=$OUT BUDGET=${BUDGET:-560} RESERVE=0 SCENARIO_TIMEOUT=200 SCENARIOS="1024:1024:16:80 1024:1024:100:500 8192:1024:16:80 8192:1024:64:320" bash scripts/gpu/perf_run.sh scenarios 2>&1 | grep -E "^== sc|Output token|Mean TTFT|Median TTFT|P99 TTFT|Mean TPOT|Successful"
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
