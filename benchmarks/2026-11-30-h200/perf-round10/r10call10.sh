#!/usr/bin/env bash
# Round 10, call 10: the wgmma expert kernels with their per-unit instructions trimmed (row pointers and shared offsets
# set once per pass, descriptors stepped by addition, zero-filling copies without branches) against the measured
# version (same names, arguments and shared memory: ERNIE_KERNEL_DIR).
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
cat .device/BUILD
B=".device/ernie"
M="--model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy"
OLD=/tmp/kernels-old; rm -rf $OLD; cp -r .device/ErnieServe_ErnieCUDA.resources/Kernels $OLD; cp .devpkg/old_moe_wgmma.cu $OLD/moe_wgmma.cu
ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1 timeout 120 $B cuda selftest --shapes ernie-21b,ernie-300b,small --op moe,forward,decode > $OUT/perf/selftest-wg1.log 2>&1
echo "selftest wgmma from 1: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wg1.log | tail -1)"
grep -h '^FAIL' $OUT/perf/selftest-wg1.log | cut -c1-150 | head -5
S="--batch 16,32,64,96,128,256 --steps 8 --context 512 --prefill 0"
for v in new old new old; do
  if [ $v = old ]; then E="ERNIE_KERNEL_DIR=$OLD"; else E=""; fi
  env $E timeout 90 $B cuda bench $M $S > $OUT/perf/bench-$v.log 2>&1
  echo "$v: rc $? $(grep -h -E '^decode batch' $OUT/perf/bench-$v.log | awk '{printf "b%s %s  ", $3, $6}')"
done
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
