// The grouped MoE expert kernels of moe_grouped.cu on Hopper's warpgroup MMA (wgmma, sm_90a), for large decode steps
// (by default from ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS launch rows): same arguments, routing data, row layout and
// epilogues (moe_grouped.cu's header comment), so results agree with them to fp32 summation order.
//
// Why: at 64 and more tokens every expert is active and the step reads all expert weights once, yet the mma.sync
// kernels split a slot's tokens into passes of 8–32 (their accumulators live in registers of warps that also split
// K) and reduce across warps in shared memory per item. Here a work item is (slot, 64 weight rows) and one warpgroup
// computes the whole item as Yᵀ = W · Xᵀ: A = 64 weight rows (the wgmma M), B = up to 64 of the slot's tokens (N = 8,
// 16, 32 or 64, the smallest that holds them), K in units of 64 columns. No cross-warp reduction, and a slot with
// more than 64 tokens (the shared expert's chunks at 128 and more) takes another pass, its weights then from L2.
// On the H200 (BENCHMARKS.md round 10, Nsight Compute at batch 64): gate|up 326.6 → 251.0 µs per layer (95 % of the
// read ceiling), down 194.8 → 135.8 (89 %); decode step at batch 64 / 128 / 256 16.9 / 23.1 / 34.5 → 13.3 / 16.0 /
// 21.6 ms, and 13.15 / 15.15 / 20.05 with a unit's copies and descriptors reduced to additions (they were issuing an
// instruction every 5.5 cycles per warp at 8 warps per multiprocessor). Below 16 tokens the NT kernels stay faster
// (too few items per block; variants with 16-token passes and deeper rings, and with 128-token passes, measured slower
// and were removed: scripts/gpu/PERF_NOTES.md R53, R54).
//
// Block: one warpgroup (128 threads). Each unit (item, pass, 64 columns of K) is a stage in shared memory: the A
// matrices (gate and up, or down) and the B matrix (the pass's token rows, gathered: x rows by token for gate|up,
// the slot's h rows for down), each [64 rows × 64 bf16] with the 128-byte swizzle (row r at 128 r, its 16-byte chunk
// c at c ^ (r mod 8)), copied by cp.async (every warp instruction covers 4 rows × 128 bytes, the pattern that streams
// best from DRAM: common.cuh, "Weight tiles staged"), rows past the matrix or the slot's tokens zero-filled. A cursor
// runs STAGES - 1 units ahead of the consumer through the block's whole sequence of items (item, pass, unit), so the
// weight stream does not drain between items; one barrier per unit (the stage just consumed is refilled only after
// it, and every thread waits for its wgmma before reaching it).
//
// PDL: nothing is read before pdl_wait() (every item depends on the routing); gate|up lets its dependents launch at
// once (as the other gate|up kernels), down at its end.
#include "common.cuh"
#include "wgmma.cuh"

#ifdef ERNIE_WGMMA

#define MW_ROWS 64    // weight rows per work item (the wgmma M)
#define MW_TOKENS 64  // tokens per pass (the widest wgmma N used)
#define MW_MAT 8192   // bytes of one [64 × 64] bf16 matrix

// d (m64nN) = A · B (+ d), N the smallest of 8, 16, 32, 64 that holds `n` tokens (uniform over the warpgroup).
__device__ __forceinline__ void mw_mma(float (&d)[32], u64 a, u64 b, int n, int accumulate) {
    if (n <= 8) {
        wg_mma_n8_ss(d, a, b, accumulate);
    } else if (n <= 16) {
        wg_mma_n16_ss(d, a, b, accumulate);
    } else if (n <= 32) {
        wg_mma_n32_ss(d, a, b, accumulate);
    } else {
        wg_mma_n64_ss(d, a, b, accumulate);
    }
}

// Where a block is in its sequence of units: work item (slot, 64-row tile), pass of up to 64 tokens, unit of K.
struct MwCursor {
    MoESlot s;
    int item;    // >= items: the sequence has ended
    int r0;      // first weight row of the item
    int width;   // weight rows of the slot
    int units;   // units of 64 columns of K
    int passes;  // passes of up to 64 tokens
    int pass, unit;
};

// A launch's work items (slot-major: `tiles` per slot, the shared chunks first) and their shapes: weight rows and K
// columns of routed slots and of shared chunks.
struct MwWork {
    int items, tiles;
    const int *offsets, *active;
    int chunks_shared, num_tokens;
    int rows_routed, rows_shared, k_routed, k_shared;
};

// The first item from `it` on (stride gridDim.x) with weight rows in its tile and tokens in its slot.
__device__ __forceinline__ void mw_enter(MwCursor &c, int it, const MwWork &w) {
    for (; it < w.items; it += gridDim.x) {
        const int slot = it / w.tiles;
        const bool routed = slot >= w.chunks_shared;
        const int width = routed ? w.rows_routed : w.rows_shared;
        const int r0 = (it - slot * w.tiles) * MW_ROWS;
        if (r0 >= width) continue;
        const MoESlot s = moe_slot(it, w.tiles, w.offsets, w.active, w.chunks_shared, w.num_tokens);
        if (s.count == 0) continue;
        c.s = s;
        c.r0 = r0;
        c.width = width;
        c.units = ((routed ? w.k_routed : w.k_shared) + 63) / 64;
        c.passes = (s.count + MW_TOKENS - 1) / MW_TOKENS;
        break;
    }
    c.item = it;
    c.pass = 0;
    c.unit = 0;
}

// One unit on; past the item's last unit the next item is entered.
__device__ __forceinline__ void mw_advance(MwCursor &c, const MwWork &w) {
    if (++c.unit < c.units) return;
    c.unit = 0;
    if (++c.pass < c.passes) return;
    mw_enter(c, c.item + gridDim.x, w);
}

// A thread's part of every tile copy: thread `tid` of 128 copies 16-byte chunk tid % 8 of rows tid / 8 + 16 q (q < 4)
// of each [64 × 64] matrix — a warp instruction covers 4 rows × 128 bytes. The shared-memory offsets are the same for
// every unit; the global row pointers are set once per pass (pointing at the thread's chunk of column 0) and step
// 64 columns per unit. Zero-filled by the copy itself (rows past the matrix or the pass's tokens, columns past K).
struct MwRows {
    const bf16 *row[4];
    bool ok[4];
};

__device__ __forceinline__ void mw_copy(smem_addr dst, const u32 (&off)[4], const MwRows &rows, i64 shift, int k0,
                                        bool kok, const bf16 *fallback) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const bool ok = kok && rows.ok[q];
        cp_async16_zfill_at(dst + off[q], ok ? rows.row[q] + shift + k0 : fallback, ok);
    }
}

// h[row, r] = bf16(bf16(silu(g)) * u) as ernie_moe_gate_up_grouped_nt*: work items (slot, 64 rows of its width),
// tiles = ceil(max(I, CW) / 64) per slot. Stage: gate [64 × 64], up, then the pass's x rows (24 KB).
template <int STAGES>
__device__ __forceinline__ void moe_gate_up_wg_impl(
    const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,
    const bf16 *__restrict__ gate_up, const bf16 *__restrict__ gate_up_bias, const bf16 *__restrict__ shared_gate_up,
    const bf16 *__restrict__ shared_bias, bf16 *__restrict__ h, int T, int H, int I, int top_k, int chunks_shared,
    int CW, int S) {
    constexpr int STAGE = 3 * MW_MAT;
    ERNIE_DYNAMIC_SMEM(unsigned char, smem_raw);
    const smem_addr base = smem_align1024(smem_addr_of(smem_raw));
    const u64 desc0 = wg_desc(base, 16, 1024);  // K-major, 128-byte swizzle, 8-row groups 1024 bytes apart
    const int tid = threadIdx.x, lane = tid & 31, wq = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    pdl_launch_dependents();
    pdl_wait();
    const int num_active = ld_dep_i32(meta), num_tokens = ld_dep_i32(meta + 1);
    const int hstride = max(I, CW);
    const int tiles = (hstride + MW_ROWS - 1) / MW_ROWS;
    const int items = (num_active + chunks_shared) * tiles;
    const MwWork work{items, tiles, offsets, active, chunks_shared, num_tokens, I, CW, H, H};

    MwCursor f, c;  // the feeding cursor (STAGES - 1 units ahead) and the consuming one
    mw_enter(f, blockIdx.x, work);
    c = f;
    // This thread's copies: shared-memory offsets, and the feeding cursor's weight and token rows (set at each pass's
    // first unit; the up rows are `up_shift` elements after the gate rows).
    const int c8 = tid & 7;
    u32 off[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) off[q] = wg_swizzled((tid >> 3) + 16 * q, c8);
    MwRows wrows, xrows;
    i64 up_shift = 0;
    auto feed = [&](int stage) {
        if (f.item < items) {
            if (f.unit == 0) {
                const bf16 *gate_base;
                if (f.s.routed) {
                    gate_base = gate_up + (i64)f.s.expert * 2 * I * H;
                    up_shift = (i64)I * H;
                } else {
                    gate_base = shared_gate_up + (i64)f.s.expert * CW * H;
                    up_shift = (i64)S * H;
                }
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const int r = f.r0 + (tid >> 3) + 16 * q;
                    wrows.ok[q] = r < f.width;
                    wrows.row[q] = gate_base + (i64)(wrows.ok[q] ? r : 0) * H + 8 * c8;
                    const int i = f.pass * MW_TOKENS + (tid >> 3) + 16 * q;
                    xrows.ok[q] = i < f.s.count;
                    xrows.row[q] = x + (i64)(xrows.ok[q] ? moe_token(f.s, i, pairs, top_k) : 0) * H + 8 * c8;
                }
            }
            const smem_addr dst = base + stage * STAGE;
            const int k0 = f.unit * 64;
            const bool kok = k0 + 8 * c8 < H;
            mw_copy(dst, off, wrows, 0, k0, kok, gate_up);
            mw_copy(dst + MW_MAT, off, wrows, up_shift, k0, kok, gate_up);
            mw_copy(dst + 2 * MW_MAT, off, xrows, 0, k0, kok, x);
            mw_advance(f, work);
        }
        cp_async_commit();
    };
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) feed(s);

    float ag[32], au[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) ag[i] = au[i] = 0.0f;
    int stage = 0;
    while (c.item < items) {
        cp_async_wait<STAGES - 2>();
        fence_proxy_async_shared();
        __syncthreads();  // stage `stage` complete for everyone; every thread is past the previous unit's wgmma
        feed(stage == 0 ? STAGES - 1 : stage - 1);
        const int n = min(MW_TOKENS, c.s.count - c.pass * MW_TOKENS);
        // Descriptors step with the address (start address >> 4 in their low bits): 2 per k16, 512 per matrix.
        const u64 da = desc0 + (u64)((stage * STAGE) >> 4);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            const int acc = c.unit > 0 || kk > 0;
            mw_mma(ag, da + 2 * kk, da + 1024 + 2 * kk, n, acc);
            mw_mma(au, da + 512 + 2 * kk, da + 1024 + 2 * kk, n, acc);
        }
        wg_commit();
        wg_wait0();
#pragma unroll
        for (int i = 0; i < 32; ++i) {
            wg_hold(ag[i]);
            wg_hold(au[i]);
        }
        if (c.unit == c.units - 1) {
            // Epilogue of the pass: rows r0 + 16 wq + g (+ 8) of the slot's width, tokens 8j + 2t (+ 1).
            const MoEBias bias = moe_gate_up_bias(c.s, gate_up_bias, shared_bias, I, CW, S);
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                if (8 * j >= n) break;
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = c.r0 + 16 * wq + g + 8 * (e >> 1);
                    const int m = 8 * j + 2 * t + (e & 1);
                    if (m >= n || r >= c.width) continue;
                    float gv = round_bf(ag[4 * j + e]), uv = round_bf(au[4 * j + e]);
                    if (bias.gate != nullptr) {
                        gv = round_bf(gv + bf2f(bias.gate[r]));
                        uv = round_bf(uv + bf2f(bias.up[r]));
                    }
                    const float sv = round_bf(gv / (1.0f + expf(-gv)));
                    h[(i64)moe_row(c.s, c.pass * MW_TOKENS + m, T, top_k) * hstride + r] = f2bf(sv * uv);
                }
            }
        }
        mw_advance(c, work);
        stage = stage == STAGES - 1 ? 0 : stage + 1;
    }
    cp_async_wait<0>();
}

// Y[row, col] = h[row, :] · Wd[col, :] (fp32, unrounded) as ernie_moe_down_grouped_nt*: work items (slot, 64 output
// columns of H), tiles = ceil(H / 64) per slot; routed expert e's K is I (rows of Wd e*H + col, I wide), shared chunk
// j's is CW (columns j*CW ... of the shared down matrix [H, S]). Stage: the 64 Wd rows, then the pass's h rows (16 KB).
template <int STAGES>
__device__ __forceinline__ void moe_down_wg_impl(const bf16 *hin, const int *offsets, const int *active,
                                                 const int *meta, const bf16 *__restrict__ down,
                                                 const bf16 *__restrict__ shared_down, float *__restrict__ y, int T,
                                                 int H, int I, int top_k, int chunks_shared, int CW, int S) {
    constexpr int STAGE = 2 * MW_MAT;
    ERNIE_DYNAMIC_SMEM(unsigned char, smem_raw);
    const smem_addr base = smem_align1024(smem_addr_of(smem_raw));
    const u64 desc0 = wg_desc(base, 16, 1024);  // K-major, 128-byte swizzle, 8-row groups 1024 bytes apart
    const int tid = threadIdx.x, lane = tid & 31, wq = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    pdl_wait();
    const int num_active = ld_dep_i32(meta), num_tokens = ld_dep_i32(meta + 1);
    const int hstride = max(I, CW);
    const int tiles = (H + MW_ROWS - 1) / MW_ROWS;
    const int items = (num_active + chunks_shared) * tiles;
    const MwWork work{items, tiles, offsets, active, chunks_shared, num_tokens, H, H, I, CW};

    MwCursor f, c;
    mw_enter(f, blockIdx.x, work);
    c = f;
    const int c8 = tid & 7;
    u32 off[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) off[q] = wg_swizzled((tid >> 3) + 16 * q, c8);
    MwRows wrows, hrows;
    auto feed = [&](int stage) {
        if (f.item < items) {
            const int K = f.s.routed ? I : CW;
            if (f.unit == 0) {
                const bf16 *wbase = f.s.routed ? down + (i64)f.s.expert * H * I : shared_down + (i64)f.s.expert * CW;
                const i64 wstride = f.s.routed ? I : S;
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const int r = f.r0 + (tid >> 3) + 16 * q;
                    wrows.ok[q] = r < H;
                    wrows.row[q] = wbase + (wrows.ok[q] ? r : 0) * wstride + 8 * c8;
                    const int i = f.pass * MW_TOKENS + (tid >> 3) + 16 * q;
                    hrows.ok[q] = i < f.s.count;
                    hrows.row[q] = hin + (i64)(hrows.ok[q] ? moe_row(f.s, i, T, top_k) : 0) * hstride + 8 * c8;
                }
            }
            const smem_addr dst = base + stage * STAGE;
            const int k0 = f.unit * 64;
            const bool kok = k0 + 8 * c8 < K;
            mw_copy(dst, off, wrows, 0, k0, kok, down);
            mw_copy(dst + MW_MAT, off, hrows, 0, k0, kok, hin);
            mw_advance(f, work);
        }
        cp_async_commit();
    };
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) feed(s);

    float acc[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) acc[i] = 0.0f;
    int stage = 0;
    while (c.item < items) {
        cp_async_wait<STAGES - 2>();
        fence_proxy_async_shared();
        __syncthreads();
        feed(stage == 0 ? STAGES - 1 : stage - 1);
        const int n = min(MW_TOKENS, c.s.count - c.pass * MW_TOKENS);
        const u64 da = desc0 + (u64)((stage * STAGE) >> 4);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) mw_mma(acc, da + 2 * kk, da + 512 + 2 * kk, n, c.unit > 0 || kk > 0);
        wg_commit();
        wg_wait0();
#pragma unroll
        for (int i = 0; i < 32; ++i) wg_hold(acc[i]);
        if (c.unit == c.units - 1) {
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                if (8 * j >= n) break;
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = c.r0 + 16 * wq + g + 8 * (e >> 1);
                    const int m = 8 * j + 2 * t + (e & 1);
                    if (m >= n || r >= H) continue;
                    y[(i64)moe_row(c.s, c.pass * MW_TOKENS + m, T, top_k) * H + r] = acc[4 * j + e];
                }
            }
        }
        mw_advance(c, work);
        stage = stage == STAGES - 1 ? 0 : stage + 1;
    }
    cp_async_wait<0>();
    pdl_launch_dependents();
}

// Stages (which the host's GroupedMoEPlan.warpgroupStages must match: they size the dynamic shared memory) and blocks
// per multiprocessor: gate|up 4 × 24 KB at 2 blocks, down 4 × 16 KB at 3.
extern "C" __global__ void __launch_bounds__(128, 2)
    ernie_moe_gate_up_wg(const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,
                         const bf16 *__restrict__ gate_up, const bf16 *__restrict__ gate_up_bias,
                         const bf16 *__restrict__ shared_gate_up, const bf16 *__restrict__ shared_bias,
                         bf16 *__restrict__ h, int T, int H, int I, int top_k, int chunks_shared, int CW, int S) {
    moe_gate_up_wg_impl<4>(x, offsets, active, meta, pairs, gate_up, gate_up_bias, shared_gate_up, shared_bias, h, T,
                           H, I, top_k, chunks_shared, CW, S);
}

extern "C" __global__ void __launch_bounds__(128, 3)
    ernie_moe_down_wg(const bf16 *h, const int *offsets, const int *active, const int *meta,
                      const bf16 *__restrict__ down, const bf16 *__restrict__ shared_down, float *__restrict__ y,
                      int T, int H, int I, int top_k, int chunks_shared, int CW, int S) {
    moe_down_wg_impl<4>(h, offsets, active, meta, down, shared_down, y, T, H, I, top_k, chunks_shared, CW, S);
}

#endif  // ERNIE_WGMMA
