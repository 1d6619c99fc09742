#!/usr/bin/env bash
# Round 10, call 1: warpgroup (wgmma) expert kernels for large decode steps — self-tests, then decode A/B and profiles.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
timeout 200 $B cuda selftest --shapes ernie-21b --op moe,forward,decode > $OUT/perf/selftest-21b.log 2>&1
echo "selftest 21b moe/forward/decode: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-21b.log | tail -1)"
grep -h -E '^FAIL|T=160|T=64 ' $OUT/perf/selftest-21b.log | head
timeout 100 $B cuda selftest --shapes small --op moe > $OUT/perf/selftest-small.log 2>&1
echo "selftest small moe: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-small.log | tail -1)"
W="--batch 16,32,64,96,128,256 --steps 8 --context 512 --prefill 0"
for v in off wg65 off wg65 wg1 wg33; do
  case $v in off) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=0;; wg65) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=65;; wg1) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1;; wg33) E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=33;; esac
  env $E timeout 90 $B cuda bench $M $W > $OUT/perf/bench-$v.log 2>&1
  echo "$v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
for v in off on; do
  E=ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=$([ $v = on ] && echo 1 || echo 0)
  env $E timeout 90 $B cuda profile $M --batch 64,128 --steps 4 --context 512 --no-ceilings > $OUT/perf/profile-$v.log 2>&1
  echo "profile $v: rc $?"; grep -E "moe gate|moe down|total|^batch|^== " $OUT/perf/profile-$v.log | head -12
done
nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
