#!/usr/bin/env bash
# Round 10, call 5: 16-token warpgroup expert kernels with deeper rings (wg16) for small steps — self-tests, A/B.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
for w in 16 4096; do
  ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=$w timeout 150 $B cuda selftest --shapes ernie-21b,ernie-300b,small --op moe,forward,decode > $OUT/perf/selftest-wide$w.log 2>&1
  echo "selftest wgmma from 1, 64 per pass from $w: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wide$w.log | tail -1)"
  grep -h '^FAIL' $OUT/perf/selftest-wide$w.log | cut -c1-150 | head -5
done
S="--batch 1,2,4,8,12,16,24,32 --steps 12 --context 512 --prefill 0"
for v in off mix all16 off mix; do
  case $v in off) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=0";; mix) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=16";; all16) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=4096";; esac
  env $E timeout 90 $B cuda bench $M $S > $OUT/perf/bench-$v.log 2>&1
  echo "$v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
L="--batch 48,64,128 --steps 8 --context 512 --prefill 0"
for v in wide all16; do
  case $v in wide) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1";; all16) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=4096";; esac
  env $E timeout 90 $B cuda bench $M $L > $OUT/perf/bench-large-$v.log 2>&1
  echo "large $v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-large-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
for v in off mix; do
  case $v in off) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=0";; mix) E="ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1";; esac
  env $E timeout 90 $B cuda profile $M --batch 1,8 --steps 4 --context 512 --no-ceilings > $OUT/perf/profile-$v.log 2>&1
  echo "profile $v: rc $?"; grep -E "moe gate|moe down|total" $OUT/perf/profile-$v.log | head -6
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
