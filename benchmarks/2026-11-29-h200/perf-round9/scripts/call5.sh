#!/usr/bin/env bash
# Round 9, call 5: wgmma prefill attention with 2 / 3 warpgroups and three stages — self-tests, then prefill timings.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
for w in 2 3; do
  ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=$w timeout 120 .device/ernie cuda selftest --shapes ernie-21b,ernie-0.3b,ernie-300b --op attention > $OUT/perf/selftest-wg$w.log 2>&1
  echo "== wg$w: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wg$w.log | tail -1)"
  grep -h -E '^(PASS|FAIL)' $OUT/perf/selftest-wg$w.log | grep -v "vs reference" | cut -c1-150 | head -8
  ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=$w timeout 60 .device/ernie cuda selftest --shapes ernie-21b --op forward > $OUT/perf/selftest-fwd-wg$w.log 2>&1
  echo "   forward: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-fwd-wg$w.log | tail -1)"
done
for w in 3 2 0 3 2 0; do
  for n in 8192 2048; do
    ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=$w timeout 90 .device/ernie cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch 1 --steps 2 --context 16 --prefill $n > $OUT/perf/bench-wg$w-$n.log 2>&1
    echo "wg=$w prefill $n rc $?: $(grep -h -E '^prefill [0-9]+ tokens +[0-9]' $OUT/perf/bench-wg$w-$n.log)"
  done
done
for w in 2 3; do
ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS=$w timeout 100 .device/ernie cuda profile --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch '' --prefill 8192 > $OUT/perf/profile-wg$w.log 2>&1
echo "wg$w: $(grep -E "prefill attention" $OUT/perf/profile-wg$w.log)"
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
