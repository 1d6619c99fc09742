// Residual add + RMSNorm with 16-byte accesses and the row held in registers (one pass over HBM per operand).
#include "common.cuh"

#define NORM_VPT 4

// residual_out = bf16(x + residual) (or x when residual is null);
// normed = bf16(bf16(residual_out * rsqrt(mean(residual_out^2) + eps)) * weight)   (transformers' rounding order,
// exactly ernie_add_rmsnorm's arithmetic). One block per row; thread i owns 8-element vectors i, i + blockDim, ...
// (at most NORM_VPT of them). Requirements (host): width % 8 == 0, width <= 8 * NORM_VPT * blockDim.x.
extern "C" __global__ void __launch_bounds__(1024)
    ernie_add_rmsnorm_vec(const bf16 *x, const bf16 *residual, const bf16 *__restrict__ weight,
                          bf16 *__restrict__ normed, bf16 *__restrict__ residual_out, int width, float eps) {
    __shared__ float scratch[32];
    const i64 base = (i64)blockIdx.x * width;
    const int vectors = width / 8;
    // The norm weight does not depend on the previous kernel: its loads go out before the programmatic wait.
    uint4 wraw[NORM_VPT];
#pragma unroll
    for (int v = 0; v < NORM_VPT; ++v) {
        const int i = threadIdx.x + v * blockDim.x;
        if (i < vectors) wraw[v] = *reinterpret_cast<const uint4 *>(weight + i * 8);
    }
    pdl_wait();
    float z[NORM_VPT][8];
    float squares = 0.0f;
#pragma unroll
    for (int v = 0; v < NORM_VPT; ++v) {
        const int i = threadIdx.x + v * blockDim.x;
        if (i >= vectors) continue;
        float a[8];
        unpack8(*reinterpret_cast<const uint4 *>(x + base + i * 8), a);
        if (residual != nullptr) {
            float r[8];
            unpack8(*reinterpret_cast<const uint4 *>(residual + base + i * 8), r);
#pragma unroll
            for (int e = 0; e < 8; ++e) a[e] += r[e];
        }
        uint4 packed;
        packed.x = pack_bf16x2(a[0], a[1]);
        packed.y = pack_bf16x2(a[2], a[3]);
        packed.z = pack_bf16x2(a[4], a[5]);
        packed.w = pack_bf16x2(a[6], a[7]);
        *reinterpret_cast<uint4 *>(residual_out + base + i * 8) = packed;
        unpack8(packed, z[v]);
#pragma unroll
        for (int e = 0; e < 8; ++e) squares += z[v][e] * z[v][e];
    }
    const float total = block_sum(squares, scratch);
    const float inv = 1.0f / sqrtf(total / (float)width + eps);
#pragma unroll
    for (int v = 0; v < NORM_VPT; ++v) {
        const int i = threadIdx.x + v * blockDim.x;
        if (i >= vectors) continue;
        float w[8];
        unpack8(wraw[v], w);
        float y[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) y[e] = round_bf(z[v][e] * inv) * w[e];
        uint4 packed;
        packed.x = pack_bf16x2(y[0], y[1]);
        packed.y = pack_bf16x2(y[2], y[3]);
        packed.z = pack_bf16x2(y[4], y[5]);
        packed.w = pack_bf16x2(y[6], y[7]);
        *reinterpret_cast<uint4 *>(normed + base + i * 8) = packed;
    }
    pdl_launch_dependents();
}

// out[r, c] = bf16(bf16(silu(gu[r, c])) * gu[r, inter + c]) for the fused [rows, 2*inter] gate|up projection, 8
// columns per thread (inter % 8 == 0), exactly ernie_silu_mul's arithmetic. Grid-stride over rows * inter / 8.
extern "C" __global__ void __launch_bounds__(256)
    ernie_silu_mul_vec(const bf16 *gate_up, bf16 *__restrict__ out, int inter, i64 total_vectors) {
    pdl_wait();
    const int per_row = inter / 8;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total_vectors; i += (i64)gridDim.x * blockDim.x) {
        const i64 r = i / per_row;
        const int c = (int)(i - r * per_row) * 8;
        float g[8], u[8], y[8];
        unpack8(*reinterpret_cast<const uint4 *>(gate_up + r * 2 * inter + c), g);
        unpack8(*reinterpret_cast<const uint4 *>(gate_up + r * 2 * inter + inter + c), u);
#pragma unroll
        for (int e = 0; e < 8; ++e) y[e] = round_bf(g[e] / (1.0f + expf(-g[e]))) * u[e];
        uint4 packed;
        packed.x = pack_bf16x2(y[0], y[1]);
        packed.y = pack_bf16x2(y[2], y[3]);
        packed.z = pack_bf16x2(y[4], y[5]);
        packed.w = pack_bf16x2(y[6], y[7]);
        *reinterpret_cast<uint4 *>(out + r * inter + c) = packed;
    }
    pdl_launch_dependents();
}

// The largest element of a bf16 row block, for ceilings: reads `count` 16-byte vectors (grid-stride) and writes one
// value per block so the reads cannot be optimised away. Used to measure the read bandwidth.
extern "C" __global__ void __launch_bounds__(256)
    ernie_read_bandwidth(const uint4 *__restrict__ data, i64 count, u32 *__restrict__ sink) {
    u32 acc = 0;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (i64)gridDim.x * blockDim.x) {
        const uint4 v = ldg_stream16(data + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x9E3779B9u) sink[blockIdx.x] = acc;  // practically never taken; keeps the loads alive
}
