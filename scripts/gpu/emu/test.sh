#!/usr/bin/env bash
# Runs the ErnieCUDA tests on the CPU emulator of the CUDA stack (no GPU needed):
#   scripts/gpu/emu/test.sh [swift test filter, default ErnieCUDATests]
# Builds the fake libraries into .build-emu/ and uses the core-only build. The NVRTC compile tests are skipped here
# (the emulator's NVRTC is not the real one); scripts/test runs them with the pip NVRTC.
set -euo pipefail
cd "$(dirname "$0")/../../.."
eval "$(scripts/gpu/emu/build.sh .build-emu)"
export ERNIE_CORE_ONLY=1
export ERNIE_EMU_DEVICES=${ERNIE_EMU_DEVICES:-2}  # two emulated GPUs for the tensor-parallel tests
swift build --build-tests 2>&1 | grep -E "error|warning: .*Sources|Compiling|Build complete" | tail -3
swift test --skip-build --filter "${1:-ErnieCUDATests}"
