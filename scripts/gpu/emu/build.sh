#!/usr/bin/env bash
# Builds the CPU emulator of the CUDA stack (fake libcuda.so.1, libnvrtc.so.13, libcublasLt.so.13, libnccl.so.2) into
# ${1:-.build-emu} and prints the environment that points ErnieCUDA at it:
#   eval "$(scripts/gpu/emu/build.sh)"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../../.build-emu}
mkdir -p "$out"; out=$(cd "$out" && pwd)
cxx=${CXX:-g++}
$cxx -std=c++17 -O2 -fPIC -shared -Wl,-soname,libcuda.so.1 "$here/fake_cuda.cpp" -o "$out/libcuda.so.1" -ldl
sum=$(cksum < "$here/emu_device.h" | cut -d' ' -f1)
$cxx -std=c++17 -O2 -fPIC -shared -DEMU_DIR="\"$here\"" -DEMU_DEVICE_SUM="${sum}ull" "$here/fake_nvrtc.cpp" \
    -o "$out/libnvrtc.so.13"
$cxx -std=c++17 -O2 -fPIC -shared "$here/fake_cublaslt.cpp" -o "$out/libcublasLt.so.13"
$cxx -std=c++17 -O2 -fPIC -shared -Wl,-soname,libnccl.so.2 "$here/fake_nccl.cpp" -o "$out/libnccl.so.2" -ldl -lpthread
echo "export ERNIE_CUDA_PATH=$out/libcuda.so.1 ERNIE_NVRTC_PATH=$out/libnvrtc.so.13" \
    "ERNIE_CUBLASLT_PATH=$out/libcublasLt.so.13 ERNIE_NCCL_PATH=$out/libnccl.so.2 ERNIE_KERNEL_CACHE=$out/kernel-cache"
