#!/usr/bin/env bash
# Round 9, call 3: router logits on tensor cores (3 bf16 parts) + expert streams — self-tests, then prefill A/B.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
timeout 150 .device/ernie cuda selftest --shapes ernie-21b --op moe,forward > $OUT/perf/selftest-21b-moe-forward.log 2>&1
echo "selftest 21b moe/forward: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-21b-moe-forward.log | tail -1)"
grep -h '^FAIL' $OUT/perf/selftest-21b-moe-forward.log | head
SKIP='gemm-prepare-off|graphs-off|moe-persistent-off|decode-attention-tc-off|gemm-tune-on|moe-staged-off|decode-rope-fused-off|decode-min-chunk-128|moe-tiles-round6|moe-nt1-to-8|wide|wide-nt2-to-128|skinny-gemv-on|grouped-moe-off|flash-prefill-off|reference-path|ctx4096-.*|prefill512|prefill.*-gemm-prepare-off|prefill8192-routing-overlap-off.*|prefill640-routing-overlap-off|prefill4096-routing-overlap-off|prefill8192-moe-batched-on|prefill2048-moe-batched-on|prefill4096-shared-gemm-algos|prefill8192-flash-wide-off|prefill8192-flash-off|prefill8192-expert-streams-2|prefill8192-expert-streams-8|prefill4096-expert-streams-1|prefill640-expert-streams-1'
OUT=$OUT BUDGET=${BUDGET:-330} RESERVE=0 AB_SKIP="$SKIP" bash scripts/gpu/perf_run.sh ab
timeout 100 .device/ernie cuda profile --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch '' --prefill 8192 > $OUT/perf/profile-prefill8192.log 2>&1
grep -E "moe router|moe route|total" $OUT/perf/profile-prefill8192.log
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
