#!/usr/bin/env bash
# Round 10, call 2: the wgmma expert kernels at small steps (threshold) — self-tests with them from 1 token, decode A/B.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 timeout 200 $B cuda selftest --shapes ernie-21b,ernie-300b,small --op moe,forward,decode > $OUT/perf/selftest-wg1.log 2>&1
echo "selftest wg1 21b/300b/small moe/forward/decode: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wg1.log | tail -1)"
grep -h -E '^FAIL|^PASS +moe' $OUT/perf/selftest-wg1.log | cut -c1-150 | head -20
W="--batch 1,2,4,8,16,24,32,48 --steps 12 --context 512 --prefill 0"
for v in off wg1 off wg1; do
  case $v in off) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=0;; wg1) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1;; esac
  env $E timeout 90 $B cuda bench $M $W > $OUT/perf/bench-$v.log 2>&1
  echo "$v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
for v in off on; do
  E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=$([ $v = on ] && echo 1 || echo 0)
  env $E timeout 90 $B cuda profile $M --batch 1,16 --steps 4 --context 512 --no-ceilings > $OUT/perf/profile-small-$v.log 2>&1
  echo "profile $v: rc $?"; grep -E "moe gate|moe down|total" $OUT/perf/profile-small-$v.log | head -12
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
