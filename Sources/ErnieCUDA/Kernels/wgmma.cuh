// Hopper's warpgroup MMA (wgmma, sm_90a) for the kernels that use it (prefill_attention_wgmma.cu, moe_wgmma.cu):
// shared-memory matrix descriptors with the 128-byte swizzle, the fence / commit / wait of the asynchronous MMA, and
// the m64nNk16 bf16 products with fp32 accumulators. Under the CPU emulator (scripts/gpu/emu) the products are
// computed in software from the same descriptors. A kernel file includes this after common.cuh and compiles its
// wgmma kernels only where ERNIE_WGMMA is defined (sm_90a or the emulator).
#pragma once

#if defined(ERNIE_EMULATOR) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define ERNIE_WGMMA 1

// Byte offset of 16-byte chunk `chunk` (columns 8 chunk ... 8 chunk + 7) of row `row` in a [rows × 64] bf16 matrix with
// the 128-byte swizzle: rows of 128 bytes, the chunk stored at chunk ^ (row mod 8) — the layout the descriptors below
// name (mode 1), from a 1024-byte-aligned start.
__device__ __forceinline__ u32 wg_swizzled(int row, int chunk) { return (u32)(row * 128 + ((chunk ^ (row & 7)) << 4)); }

// A shared-memory matrix descriptor with the 128-byte swizzle (the emulator's start address: relative to the block's
// dynamic shared memory).
__device__ __forceinline__ u64 wg_desc(smem_addr address, u32 leading, u32 stride) {
#ifdef ERNIE_EMULATOR
    const u64 a = (u64)(address - ernie_emu_dynamic_smem());
#else
    const u64 a = address;
#endif
    return ((a & 0x3FFFFull) >> 4) | ((u64)(leading >> 4) << 16) | ((u64)(stride >> 4) << 32) | (1ull << 62);
}

#ifdef ERNIE_EMULATOR
__device__ __forceinline__ void wg_fence() {}
__device__ __forceinline__ void wg_commit() {}
__device__ __forceinline__ void wg_wait0() {}
__device__ __forceinline__ void wg_hold(float &) {}
__device__ __forceinline__ void wg_hold(u32 &) {}
#else
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }

// Keeps the compiler from touching registers an asynchronous wgmma reads or writes before the wait that follows it.
__device__ __forceinline__ void wg_hold(float &x) { asm volatile("" : "+f"(x)::"memory"); }
__device__ __forceinline__ void wg_hold(u32 &x) { asm volatile("" : "+r"(x)::"memory"); }
#endif

#define WG_F4(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])

// d (m64nN, fp32) = A · B (+ d when accumulate), A and B K-major from shared memory, for N = 8, 16, 32, 64: thread
// (warp w of the warpgroup, lane 4g + t) holds rows 16w + g and 16w + g + 8, columns 8c + 2t and 8c + 2t + 1 for
// c < N / 8, as d[4c] (g, 2t), d[4c + 1] (g, 2t + 1), d[4c + 2] (g + 8, 2t), d[4c + 3] (g + 8, 2t + 1); the
// narrower shapes use the first N / 2 elements of the same array.
__device__ __forceinline__ void wg_mma_n64_ss(float (&d)[32], u64 a, u64 b, int accumulate) {
#ifdef ERNIE_EMULATOR
    ernie_emu_wgmma_ss(d, a, b, 64, accumulate);
#else
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "%32, %33, p, 1, 1, 0, 0;\n}\n"
        : WG_F4(0), WG_F4(4), WG_F4(8), WG_F4(12), WG_F4(16), WG_F4(20), WG_F4(24), WG_F4(28)
        : "l"(a), "l"(b), "r"(accumulate));
#endif
}

__device__ __forceinline__ void wg_mma_n32_ss(float (&d)[32], u64 a, u64 b, int accumulate) {
#ifdef ERNIE_EMULATOR
    ernie_emu_wgmma_ss(d, a, b, 32, accumulate);
#else
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, "
        "%16, %17, p, 1, 1, 0, 0;\n}\n"
        : WG_F4(0), WG_F4(4), WG_F4(8), WG_F4(12)
        : "l"(a), "l"(b), "r"(accumulate));
#endif
}

__device__ __forceinline__ void wg_mma_n16_ss(float (&d)[32], u64 a, u64 b, int accumulate) {
#ifdef ERNIE_EMULATOR
    ernie_emu_wgmma_ss(d, a, b, 16, accumulate);
#else
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1, 0, 0;\n}\n"
        : WG_F4(0), WG_F4(4)
        : "l"(a), "l"(b), "r"(accumulate));
#endif
}

__device__ __forceinline__ void wg_mma_n8_ss(float (&d)[32], u64 a, u64 b, int accumulate) {
#ifdef ERNIE_EMULATOR
    ernie_emu_wgmma_ss(d, a, b, 8, accumulate);
#else
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3}, %4, %5, p, 1, 1, 0, 0;\n}\n"
        : WG_F4(0)
        : "l"(a), "l"(b), "r"(accumulate));
#endif
}

// d (m64n128, fp32) += A · B, A from registers (bf16 fragments), B MN-major from shared memory (transposed read).
__device__ __forceinline__ void wg_mma_n128_rs(float (&d)[64], const u32 (&a)[4], u64 b) {
#ifdef ERNIE_EMULATOR
    ernie_emu_wgmma_n128_rs(d, a, b);
#else
    asm volatile(
        "{\n.reg .pred p;\nsetp.eq.u32 p, 1, 1;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : WG_F4(0), WG_F4(4), WG_F4(8), WG_F4(12), WG_F4(16), WG_F4(20), WG_F4(24), WG_F4(28), WG_F4(32),
          WG_F4(36), WG_F4(40), WG_F4(44), WG_F4(48), WG_F4(52), WG_F4(56), WG_F4(60)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

#endif  // ERNIE_WGMMA
