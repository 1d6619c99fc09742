// Shared device helpers for every ErnieCUDA kernel. Header-free: NVRTC needs no include path.
#pragma once

typedef unsigned short bf16;  // bfloat16 storage (raw bits)
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#ifdef ERNIE_EMULATOR
#define ERNIE_DYNAMIC_SMEM(T, name) T *name = reinterpret_cast<T *>(ernie_emu_dynamic_smem())
#else
#define ERNIE_DYNAMIC_SMEM(T, name)                                  \
    extern __shared__ __align__(16) unsigned char ernie_dynamic_smem[]; \
    T *name = reinterpret_cast<T *>(ernie_dynamic_smem)
#endif

#define ERNIE_NEG_INF (__int_as_float(0xff800000))

__device__ __forceinline__ float bf2f(bf16 h) { return __uint_as_float(((u32)h) << 16); }

// float -> bf16, round to nearest even (NaN stays NaN).
__device__ __forceinline__ bf16 f2bf(float f) {
#ifdef ERNIE_EMULATOR
    return ernie_emu_f2bf(f);
#else
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
#endif
}

// The value f takes once stored as bf16.
__device__ __forceinline__ float round_bf(float f) { return bf2f(f2bf(f)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the total. blockDim.x must be a multiple of 32 and every thread must call.
// `scratch` holds at least 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : ERNIE_NEG_INF;
    return warp_max(r);
}

// Exclusive prefix sum of one unsigned per thread over the block; `scratch` holds 32 unsigned. Returns the exclusive
// prefix; *total receives the block total. blockDim.x must be a multiple of 32.
__device__ __forceinline__ u32 block_exclusive_scan(u32 v, u32 *scratch, u32 *total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    u32 inclusive = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        u32 n = __shfl_up_sync(0xffffffffu, inclusive, o);
        if (lane >= o) inclusive += n;
    }
    __syncthreads();
    if (lane == 31) scratch[warp] = inclusive;
    __syncthreads();
    u32 warp_prefix = 0, all = 0;
    for (int w = 0; w < warps; ++w) {
        u32 s = scratch[w];
        if (w < warp) warp_prefix += s;
        all += s;
    }
    *total = all;
    return warp_prefix + inclusive - v;
}

// Counter-based random numbers (splitmix64). Shared with the host: Sources/ErnieCUDA/Backend/RandomWeights.swift and
// Sources/ErnieModel/Sampling.swift (`SamplingRandom.uniform`).
__device__ __forceinline__ u64 splitmix64_mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Exactly `SamplingRandom.uniform(seed:counter:index:)`: a float in (0, 1).
__device__ __forceinline__ float sampling_uniform(u64 seed, u64 counter, u32 index) {
    u64 z = seed + counter * 0x9E3779B97F4A7C15ull + (u64)index * 0xD1B54A32D192ED03ull;
    z = splitmix64_mix(z);
    return ((float)(z >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

// Orderable key of a float: a > b (as floats, no NaN) iff key(a) > key(b) (as unsigned).
__device__ __forceinline__ u32 float_key(float f) {
    u32 u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float key_float(u32 k) {
    u32 u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    return __uint_as_float(u);
}
