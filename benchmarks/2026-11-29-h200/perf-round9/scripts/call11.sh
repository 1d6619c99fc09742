#!/usr/bin/env bash
# Round 9, call 11: the final defaults — 1K/1K c1, 8K/1K c1 and c16.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
OUT=$OUT BUDGET=200 RESERVE=0 SCENARIO_TIMEOUT=100 SCENARIOS="1024:1024:1:10 8192:1024:1:10 8192:1024:16:80" bash scripts/gpu/perf_run.sh scenarios 2>&1 | grep -E "^== sc|Output token|Mean TTFT|Mean TPOT"
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
