#!/usr/bin/env bash
# Round 10, call 7: 128-token passes (wg128: the shared expert's chunks in one pass) — self-tests, decode A/B.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=1 timeout 150 $B cuda selftest --shapes ernie-21b,ernie-300b,small --op moe,forward,decode > $OUT/perf/selftest-wg128.log 2>&1
echo "selftest wg128 from 1 token: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wg128.log | tail -1)"
grep -h '^FAIL' $OUT/perf/selftest-wg128.log | cut -c1-150 | head -5
S="--batch 16,32,64,96,128,192,256 --steps 8 --context 512 --prefill 0"
for v in wg64 wg128 wg64 wg128; do
  case $v in wg64) E="ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=4096";; wg128) E="ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=1";; esac
  env $E timeout 90 $B cuda bench $M $S > $OUT/perf/bench-$v.log 2>&1
  echo "$v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
for v in wg64 wg128; do
  case $v in wg64) E="ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=4096";; wg128) E="ERNIE_CUDA_MOE_WGMMA_WIDE_MIN_TOKENS=1";; esac
  env $E timeout 90 $B cuda profile $M --batch 128 --steps 4 --context 512 --no-ceilings > $OUT/perf/profile-$v.log 2>&1
  echo "profile $v: rc $?"; grep -E "moe gate|moe down|total" $OUT/perf/profile-$v.log | head -3
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
