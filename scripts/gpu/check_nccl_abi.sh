#!/usr/bin/env bash
# Compiles scripts/gpu/check_nccl_abi.c against the real nccl.h and cuda.h: fails if any function-pointer type,
# constant or struct layout in Sources/CErnieCUDA/include/CErnieNCCL.h disagrees with them. Exits 0 with "SKIP" when
# either header is missing. Header search: $NCCL_HOME/include, /usr/include, /usr/local/cuda/include, then pip wheels
# (nvidia/nccl/include for nccl.h; $CUDA_HOME/include, /usr/local/cuda/include, nvidia/cu13/include for cuda.h).
set -euo pipefail
cd "$(dirname "$0")/../.."
sites=$(python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
    2> /dev/null || true)
nccl_dirs=()
[ -n "${NCCL_HOME:-}" ] && nccl_dirs+=("$NCCL_HOME/include")
nccl_dirs+=(/usr/include /usr/local/cuda/include)
cuda_dirs=()
[ -n "${CUDA_HOME:-}" ] && cuda_dirs+=("$CUDA_HOME/include")
cuda_dirs+=(/usr/local/cuda/include)
while IFS= read -r d; do
    [ -n "$d" ] || continue
    nccl_dirs+=("$d/nvidia/nccl/include")
    cuda_dirs+=("$d/nvidia/cu13/include")
done <<< "$sites"
nccl_inc=""
for d in "${nccl_dirs[@]}"; do [ -f "$d/nccl.h" ] && { nccl_inc=$d; break; }; done
cuda_inc=""
for d in "${cuda_dirs[@]}"; do [ -f "$d/cuda.h" ] && { cuda_inc=$d; break; }; done
if [ -z "$nccl_inc" ] || [ -z "$cuda_inc" ]; then
    echo "check_nccl_abi: SKIP (nccl.h: ${nccl_inc:-not found}; cuda.h: ${cuda_inc:-not found})"
    exit 0
fi
# nccl.h includes cuda_runtime.h and cuda_fp16.h / cuda_bf16.h; the pip wheels may lack what those pull in.
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
extra=()
if [ ! -f "$cuda_inc/crt/host_defines.h" ]; then
    hd=$(find /usr/local/cuda* "$(dirname "$(dirname "$(dirname "$cuda_inc")")")" -path '*crt/host_defines.h' \
        2> /dev/null | head -1 || true)
    [ -n "$hd" ] && extra+=(-I "$(dirname "$(dirname "$hd")")")
fi
mkdir -p "$stub/nv"
[ -f "$cuda_inc/cccl/nv/target" ] && extra+=(-I "$cuda_inc/cccl") || touch "$stub/nv/target"
${CC:-cc} -std=c11 -fsyntax-only -Werror -Wall -Wno-unused-variable -I Sources/CErnieCUDA/include -I "$cuda_inc" \
    -I "$nccl_inc" "${extra[@]}" -I "$stub" scripts/gpu/check_nccl_abi.c
echo "check_nccl_abi: OK (nccl.h: $nccl_inc; cuda.h: $cuda_inc)"
