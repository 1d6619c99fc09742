// Skinny GEMMs for decode-sized batches: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias), bf16 in and out, fp32 accumulation
// on tensor cores (mma.sync m16n8k16), M ≤ 64. Memory-bound by design: every weight byte is read once, 16 bytes per
// load, several loads in flight per thread, K split over the warps of a block when the matrix has few rows.
//
// Register-direct fragments (no shared memory for the operands): thread (g = lane / 4, t = lane % 4) loads 16
// contiguous bytes (8 bf16) of weight rows g and g + 8 at k = 32c + 8t, and 16 bytes of token g's activation at the
// same k. That assigns physical k 8t+{0,1} to the fragment's logical k 2t+{0,1} and 8t+{2,3} to 2t+{8,9} in a first
// mma, 8t+{4..7} likewise in a second one; the assignment is the same for A and B, so each mma pair computes the
// exact dot product over the 32-wide chunk (the summation order differs from a plain loop, as in any GEMM).
#include "common.cuh"

#define GEMV_ROWS 16
#define GEMV_UNROLL 5

// Each block covers `blockDim.x / 32 / kw` row tiles of 16 weight rows; the `kw` warps of a row tile split its
// 32-wide K chunks round-robin. Requirements (checked by the host): K % 8 == 0, M ≤ 8 * NT, kw divides the block's
// warps. Dynamic shared memory: warps * NT * 8 * 16 floats when kw > 1.
template <int NT>
__device__ __forceinline__ void gemv_impl(const bf16 *x, const bf16 *__restrict__ w,
                                          const bf16 *__restrict__ bias, bf16 *__restrict__ y, int M, int N, int K,
                                          int kw) {
    ERNIE_DYNAMIC_SMEM(float, red);
    const int lane = threadIdx.x & 31, warp_in_block = threadIdx.x >> 5;
    const int tiles_per_block = (blockDim.x >> 5) / kw;
    const int tile_in_block = warp_in_block / kw;
    const int warp = warp_in_block - tile_in_block * kw, warps = kw;
    const int g = lane >> 2, t = lane & 3;
    const int n0 = (blockIdx.x * tiles_per_block + tile_in_block) * GEMV_ROWS;
    const int chunks = (K + 31) / 32;
    const bool r0ok = n0 + g < N, r8ok = n0 + g + 8 < N;
    const bf16 *w0 = w + (i64)(r0ok ? n0 + g : 0) * K + 8 * t;
    const bf16 *w8 = w + (i64)(r8ok ? n0 + g + 8 : 0) * K + 8 * t;
    const bf16 *xr[NT];
    bool xok[NT];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        const int m = nt * 8 + g;
        xok[nt] = m < M;
        xr[nt] = x + (i64)(xok[nt] ? m : 0) * K + 8 * t;
    }
    float acc[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
    // The first round of weight loads goes out before the programmatic wait: the weights do not depend on the
    // previous kernel, so they stream in while it finishes.
    uint4 a0[GEMV_UNROLL], a8[GEMV_UNROLL];
#pragma unroll
    for (int u = 0; u < GEMV_UNROLL; ++u) {
        const int c = warp + u * warps;
        const bool kok = c < chunks && c * 32 + 8 * t < K;
        a0[u] = (kok && r0ok) ? ldg_stream16(w0 + c * 32) : zero16();
        a8[u] = (kok && r8ok) ? ldg_stream16(w8 + c * 32) : zero16();
    }
    pdl_wait();

    for (int c0 = warp; c0 < chunks; c0 += warps * GEMV_UNROLL) {
        if (c0 != warp) {
#pragma unroll
            for (int u = 0; u < GEMV_UNROLL; ++u) {
                const int c = c0 + u * warps;
                const bool kok = c < chunks && c * 32 + 8 * t < K;
                a0[u] = (kok && r0ok) ? ldg_stream16(w0 + c * 32) : zero16();
                a8[u] = (kok && r8ok) ? ldg_stream16(w8 + c * 32) : zero16();
            }
        }
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; ++u) {
            const int c = c0 + u * warps;  // uniform over the warp
            if (c >= chunks) break;
            const bool kok = c * 32 + 8 * t < K;
            const u32 A0[4] = {a0[u].x, a8[u].x, a0[u].y, a8[u].y};
            const u32 A1[4] = {a0[u].z, a8[u].z, a0[u].w, a8[u].w};
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                if (nt * 8 >= M) break;  // uniform
                const uint4 b = (kok && xok[nt]) ? ldg16(xr[nt] + c * 32) : zero16();
                const u32 B0[2] = {b.x, b.y};
                const u32 B1[2] = {b.z, b.w};
                mma_bf16_16816(acc[nt], A0, B0);
                mma_bf16_16816(acc[nt], A1, B1);
            }
        }
    }
    pdl_launch_dependents();

    if (warps == 1) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int r = g + (i >= 2 ? 8 : 0);
                const int m = nt * 8 + 2 * t + (i & 1);
                if (m < M && n0 + r < N) {
                    float v = acc[nt][i];
                    if (bias != nullptr) v = round_bf(v) + bf2f(bias[n0 + r]);
                    y[(i64)m * N + n0 + r] = f2bf(v);
                }
            }
        }
        return;
    }
    constexpr int TILE = NT * 8 * GEMV_ROWS;
    red += tile_in_block * warps * TILE;
    mma_store_partials<NT>(red + warp * TILE, acc, g, t);
    __syncthreads();
    for (int idx = warp * 32 + lane; idx < TILE; idx += warps * 32) {
        const int m = idx / GEMV_ROWS, r = idx - m * GEMV_ROWS;
        if (m >= M || n0 + r >= N) continue;
        float v = 0.0f;
        for (int ww = 0; ww < warps; ++ww) v += red[ww * TILE + idx];
        if (bias != nullptr) v = round_bf(v) + bf2f(bias[n0 + r]);
        y[(i64)m * N + n0 + r] = f2bf(v);
    }
}

#define ERNIE_GEMV_KERNEL(NT)                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 1) ernie_gemv_nt##NT(                                            \
        const bf16 *x, const bf16 *__restrict__ w, const bf16 *__restrict__ bias, bf16 *__restrict__ y,             \
        int M, int N, int K, int kw) {                                                                             \
        gemv_impl<NT>(x, w, bias, y, M, N, K, kw);                                                                 \
    }

ERNIE_GEMV_KERNEL(1)
ERNIE_GEMV_KERNEL(2)
ERNIE_GEMV_KERNEL(4)
ERNIE_GEMV_KERNEL(8)
