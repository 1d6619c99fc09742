#!/usr/bin/env bash
# Compiles scripts/gpu/check_abi.c against the real CUDA 13 headers (cuda.h, nvrtc.h, and cublasLt.h when present):
# fails if any function-pointer type or constant in Sources/CErnieCUDA/include/CErnieCUDA.h disagrees with them.
# Exits 0 with "SKIP" when no headers are found.
# Header search: $CUDA_HOME/include, /usr/local/cuda/include, then pip wheels (nvidia/cu13/include).
set -euo pipefail
cd "$(dirname "$0")/../.."
cands=()
[ -n "${CUDA_HOME:-}" ] && cands+=("$CUDA_HOME/include")
cands+=(/usr/local/cuda/include)
while IFS= read -r d; do cands+=("$d/nvidia/cu13/include"); done < <(python3 -c \
    'import site,sys; print("\n".join(site.getsitepackages()+[site.getusersitepackages()]))' 2>/dev/null || true)
inc=""
for d in "${cands[@]}"; do [ -f "$d/cuda.h" ] && [ -f "$d/nvrtc.h" ] && { inc=$d; break; }; done
if [ -z "$inc" ]; then echo "check_abi: SKIP (no cuda.h + nvrtc.h in: ${cands[*]})"; exit 0; fi
extra=()
parts="driver, NVRTC"
if [ -f "$inc/cublasLt.h" ]; then extra+=(-DERNIE_CHECK_CUBLASLT); parts="$parts, cuBLASLt"; fi
stub=$(mktemp -d); trap 'rm -rf "$stub"' EXIT
# The pip wheels lack crt/host_defines.h and CCCL's nv/target, which cublas_api.h pulls in: borrow or stub them.
if [ ! -f "$inc/crt/host_defines.h" ]; then
    hd=$(find "$(dirname "$(dirname "$(dirname "$inc")")")" /usr/local/cuda* -path '*crt/host_defines.h' 2>/dev/null \
        | head -1 || true)
    [ -n "$hd" ] && extra+=(-I "$(dirname "$(dirname "$hd")")")
fi
mkdir -p "$stub/nv"; [ -f "$inc/cccl/nv/target" ] && extra+=(-I "$inc/cccl") || touch "$stub/nv/target"
${CC:-cc} -std=c11 -fsyntax-only -Werror -Wall -Wno-unused-variable -I Sources/CErnieCUDA/include -I "$inc" \
    "${extra[@]}" -I "$stub" scripts/gpu/check_abi.c
echo "check_abi: OK ($parts; headers: $inc)"
