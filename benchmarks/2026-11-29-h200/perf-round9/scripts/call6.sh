#!/usr/bin/env bash
# Round 9, call 6: every check with the new defaults, then SGLang's prefill-heavy scenarios.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
OUT=$OUT BUDGET=${BUDGET:-545} RESERVE=0 SCENARIO_TIMEOUT=200 SCENARIOS="1024:1024:1:10 8192:1024:1:10 1024:1024:16:80 8192:1024:16:80 8192:1024:64:320 1024:1024:100:500" bash scripts/gpu/perf_run.sh checks scenarios
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
