#!/usr/bin/env bash
# Round 9, call 4: the wgmma prefill attention — self-tests (two V-descriptor variants), then prefill timings.
cd "$(dirname "$0")/.." && bash scripts/gpu/devpkg.sh unpack > /dev/null || exit 1
mkdir -p $OUT/perf
export ERNIE_KERNEL_CACHE=/tmp/ernie-kernel-cache
K=.device/ErnieServe_ErnieCUDA.resources/Kernels
cp -r $K /tmp/kswap && sed -i 's/^#define WG_V_LBO 8192/#define WG_V_LBO 1024/; s/^#define WG_V_SBO 1024/#define WG_V_SBO 8192/' /tmp/kswap/prefill_attention_wgmma.cu
grep -n "define WG_V_" /tmp/kswap/prefill_attention_wgmma.cu
for v in default swap; do
  if [ $v = swap ]; then export ERNIE_KERNEL_DIR=/tmp/kswap; else unset ERNIE_KERNEL_DIR; fi
  ERNIE_CUDA_FLASH_PREFILL_WGMMA=1 timeout 120 .device/ernie cuda selftest --shapes ernie-21b --op attention,forward > $OUT/perf/selftest-wg-$v.log 2>&1
  echo "== $v: rc $? $(grep -h '^selftest:' $OUT/perf/selftest-wg-$v.log | tail -1)"
  grep -h -E '^(PASS|FAIL)' $OUT/perf/selftest-wg-$v.log | cut -c1-170 | head -12
done
unset ERNIE_KERNEL_DIR
for v in 1 0 1; do
  ERNIE_CUDA_FLASH_PREFILL_WGMMA=$v timeout 90 .device/ernie cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch 1 --steps 2 --context 16 --prefill 8192 > $OUT/perf/bench-wg$v.log 2>&1
  echo "wgmma=$v rc $?: $(grep -h -E '^prefill 8192 tokens +[0-9]' $OUT/perf/bench-wg$v.log)"
done
ERNIE_CUDA_FLASH_PREFILL_WGMMA=1 timeout 100 .device/ernie cuda profile --model-path models/configs/ERNIE-4.5-21B-A3B-PT --load-format dummy --batch '' --prefill 8192 > $OUT/perf/profile-wg.log 2>&1
grep -E "prefill attention|total" $OUT/perf/profile-wg.log
cd $OUT && tar czf perf-logs.tgz perf && rm -rf perf
