#!/usr/bin/env bash
# Round 10, call 4: every check with the wgmma expert kernels on by default, then the 1K/8K scenarios of 16 and 64 streams.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
cat .device/BUILD
OUT=$OUT BUDGET=${BUDGET:-565} RESERVE=0 SCENARIO_TIMEOUT=260 SCENARIOS="1024:8192:64:64 1024:8192:16:32" bash scripts/gpu/perf_run.sh checks scenarios 2>&1 | grep -E "^== sc|Output token|Mean TTFT|Median TTFT|P99 TTFT|Mean TPOT|Successful|PASS|FAIL|passed|failed|every fast"
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
