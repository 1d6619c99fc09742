// MoE for decode-sized batches without host round trips (CUDA-graph safe): after the device-side routing and grouping
// of moe_route.cu, grouped expert GEMMs on tensor cores that read each active expert's weights once for all of its
// tokens, and a deterministic weighted combine. The shared expert runs as `C` extra "slots" (column
// chunks of its SwiGLU, weight 1) in the same kernels, so it too is read once for all tokens.
//
// Shapes: T = launch rows (tokens, padding included; the real count is meta[1]), E experts, k choices, H hidden,
// I expert width, S shared width split in C chunks of width CW. Sizes: ids/weights/pairs/row_of [T*k], offsets [E+1],
// active [E], meta [4] = {active experts, real tokens}, logits [T*E] (fp32).
// Expert-activation rows (h, Y): routed pairs at their sorted position 0 ... T*k-1, shared chunk c of token t at
// row T*k + c*T + t.
// Requirements (checked by the host): H % 8 == 0, I % 8 == 0, CW % 8 == 0, E <= 128, k <= 16, T*k <= 4096.
#include "common.cuh"

// h[row, r] = bf16(bf16(silu(g)) * u), g = bf16(x_token · Wg[r]) (+ bias, rounded), u likewise, for every slot's
// tokens and rows r of its width. Persistent blocks (grid ≤ the resident capacity) stride over work items (slot,
// 16-row tile); the block's warps split K; tokens go in groups of 8 * NT. The next item's expert id and first U
// weight chunks are requested before the current item's cross-warp reduction and epilogue, so a block's weight
// stream does not stop between items. Dynamic shared memory: warps * 2 * NT * 8 * 16 floats.
template <int NT>
__device__ __forceinline__ void moe_gate_up_impl(
    const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,
    const bf16 *__restrict__ gate_up,
    const bf16 *__restrict__ gate_up_bias, const bf16 *__restrict__ shared_gate_up,
    const bf16 *__restrict__ shared_bias, bf16 *__restrict__ h, int T, int H, int I, int top_k, int chunks_shared,
    int CW, int S) {
    ERNIE_DYNAMIC_SMEM(float, red);
    constexpr int U = 2;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int width_max = max(I, CW);
    const int tiles = (width_max + MOE_ROWS - 1) / MOE_ROWS;
    {
        // A shared-chunk item (the first chunks_shared * tiles items): its gate and up rows go to L2 before the
        // programmatic wait, one row per thread of the first warp pair.
        const int r0 = (blockIdx.x % tiles) * MOE_ROWS;
        const int chunk = blockIdx.x / tiles;
        if (chunk < chunks_shared && r0 < CW && (int)threadIdx.x < 2 * MOE_ROWS) {
            const int r = r0 + (threadIdx.x & (MOE_ROWS - 1));
            const int row = (threadIdx.x < MOE_ROWS ? 0 : S) + chunk * CW + r;
            const bf16 *p = shared_gate_up + (i64)row * H;
            if (r < CW && ((u64)p & 15u) == 0u) prefetch_l2_bulk(p, (u32)H * 2u);
        }
    }
    // The down kernel may start as soon as every block here has started (its blocks then fill the multiprocessors
    // this grid's last wave leaves idle and prefetch the shared expert's down rows before their own wait).
    pdl_launch_dependents();
    pdl_wait();
    const int num_active = ld_dep_i32(meta), num_tokens = ld_dep_i32(meta + 1);
    const int items = (num_active + chunks_shared) * tiles;
    const int kchunks = (H + 31) / 32;
    const int hstride = width_max;

    // The item being prepared: its rows and first U chunks of gate and up rows (rotating buffers: chunk c's
    // registers are refilled with chunk c + U * warps right after its mma, the same chunk order per accumulator as
    // a plain loop).
    int width = 0, r0 = 0;
    bool ok0 = false, ok8 = false;
    const bf16 *wg0 = gate_up, *wg8 = gate_up, *wu0 = gate_up, *wu8 = gate_up;
    uint4 g0[U], g8[U], u0[U], u8[U];
    auto load_first = [&]() {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = warp + u * warps;
            const bool kok = c < kchunks && c * 32 + 8 * t < H;
            g0[u] = (kok && ok0) ? ldg_stream16(wg0 + c * 32) : zero16();
            g8[u] = (kok && ok8) ? ldg_stream16(wg8 + c * 32) : zero16();
            u0[u] = (kok && ok0) ? ldg_stream16(wu0 + c * 32) : zero16();
            u8[u] = (kok && ok8) ? ldg_stream16(wu8 + c * 32) : zero16();
        }
    };
    // The weights depend on the expert id only: the first U chunks go out before the slot's token range (offsets,
    // one more dependent read) is known.
    auto prepare = [&](int it) {
        if (it >= items) return;
        const int slot = it / tiles;
        const bool routed = slot >= chunks_shared;
        const int expert = routed ? ld_dep_i32(active + slot - chunks_shared) : slot;
        width = routed ? I : CW;
        r0 = (it - slot * tiles) * MOE_ROWS;
        if (r0 >= width) return;  // uniform over the block; the loop skips the item
        const bf16 *gate_base, *up_base;
        if (routed) {
            gate_base = gate_up + (i64)expert * 2 * I * H;
            up_base = gate_base + (i64)I * H;
        } else {
            gate_base = shared_gate_up + (i64)expert * CW * H;
            up_base = shared_gate_up + (i64)(S + expert * CW) * H;
        }
        ok0 = r0 + g < width;
        ok8 = r0 + g + 8 < width;
        wg0 = gate_base + (i64)(ok0 ? r0 + g : 0) * H + 8 * t;
        wg8 = gate_base + (i64)(ok8 ? r0 + g + 8 : 0) * H + 8 * t;
        wu0 = up_base + (i64)(ok0 ? r0 + g : 0) * H + 8 * t;
        wu8 = up_base + (i64)(ok8 ? r0 + g + 8 : 0) * H + 8 * t;
        load_first();
    };

    int item = blockIdx.x;
    prepare(item);
    while (item < items) {
        const int next = item + gridDim.x;
        const MoESlot s = moe_slot(item, tiles, offsets, active, chunks_shared, num_tokens);
        if (r0 >= width || s.count == 0) {  // uniform over the block
            item = next;
            prepare(item);
            continue;
        }
        // This item's epilogue state, from the slot (prepare(next) overwrites the loop's variables).
        const int e_r0 = s.tile * MOE_ROWS, e_width = s.routed ? I : CW;
        const MoEBias e_bias = moe_gate_up_bias(s, gate_up_bias, shared_bias, I, CW, S);
        for (int m0 = 0; m0 < s.count; m0 += NT * 8) {
            const bf16 *xr[NT];
            bool xok[NT];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                const int i = m0 + nt * 8 + g;
                xok[nt] = i < s.count;
                xr[nt] = x + (i64)(xok[nt] ? moe_token(s, i, pairs, top_k) : 0) * H + 8 * t;
            }
            float ag[NT][4], au[NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) ag[nt][i] = au[nt][i] = 0.0f;
            if (m0 != 0) load_first();  // a later token group: the buffers ran empty at the end of the previous one
            for (int c0 = warp; c0 < kchunks; c0 += warps * U) {
#pragma unroll
                for (int u = 0; u < U; ++u) {
                    const int c = c0 + u * warps;
                    if (c >= kchunks) break;  // uniform
                    const bool kok = c * 32 + 8 * t < H;
                    const u32 G0[4] = {g0[u].x, g8[u].x, g0[u].y, g8[u].y};
                    const u32 G1[4] = {g0[u].z, g8[u].z, g0[u].w, g8[u].w};
                    const u32 U0[4] = {u0[u].x, u8[u].x, u0[u].y, u8[u].y};
                    const u32 U1[4] = {u0[u].z, u8[u].z, u0[u].w, u8[u].w};
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        if (m0 + nt * 8 >= s.count) break;  // uniform
                        const uint4 b = (kok && xok[nt]) ? ldg16(xr[nt] + c * 32) : zero16();
                        const u32 B0[2] = {b.x, b.y};
                        const u32 B1[2] = {b.z, b.w};
                        mma_bf16_16816(ag[nt], G0, B0);
                        mma_bf16_16816(ag[nt], G1, B1);
                        mma_bf16_16816(au[nt], U0, B0);
                        mma_bf16_16816(au[nt], U1, B1);
                    }
                    const int cn = c + U * warps;
                    const bool nok = cn < kchunks && cn * 32 + 8 * t < H;
                    g0[u] = (nok && ok0) ? ldg_stream16(wg0 + cn * 32) : zero16();
                    g8[u] = (nok && ok8) ? ldg_stream16(wg8 + cn * 32) : zero16();
                    u0[u] = (nok && ok0) ? ldg_stream16(wu0 + cn * 32) : zero16();
                    u8[u] = (nok && ok8) ? ldg_stream16(wu8 + cn * 32) : zero16();
                }
            }
            // The last token group: the next item's first chunks are requested now and arrive during the reduction.
            if (m0 + NT * 8 >= s.count) prepare(next);
            // Reduce over the warps (shared memory), then the SiLU·mul epilogue.
            moe_store_gate_up_partials<NT>(red, warp, ag, au, g, t);
            __syncthreads();
            const int valid = min(NT * 8, s.count - m0);
            moe_gate_up_epilogue<NT>(red, warps, valid, s, m0, e_r0, e_width, e_bias.gate, e_bias.up, h, hstride,
                                     T, top_k);
            __syncthreads();
        }
        item = next;
    }
}

// Y[row, c] = h[row, :] · Wd[c, :] (fp32, unrounded) for every slot's tokens and output columns c < H. Routed expert
// e: Wd rows e*H + c of width I; shared chunk j: columns j*CW ... of the shared down matrix [H, S]. Persistent blocks
// stride over work items (slot, 16-column tile), K split over the warps; each warp loads U chunks per round. The
// next item's first round of weight loads goes out before the current item's reduction. Dynamic shared memory:
// warps * NT * 8 * 16 floats.
template <int NT, int U>
__device__ __forceinline__ void moe_down_impl(const bf16 *h, const int *offsets, const int *active,
                                              const int *meta, const bf16 *__restrict__ down,
                                              const bf16 *__restrict__ shared_down, float *__restrict__ y, int T,
                                              int H, int I, int top_k, int chunks_shared, int CW, int S) {
    ERNIE_DYNAMIC_SMEM(float, red);
    constexpr int TILE = NT * 8 * MOE_ROWS;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int tiles = (H + MOE_ROWS - 1) / MOE_ROWS;
    {
        // A shared-chunk item (the first chunks_shared * tiles items): its 16 rows' CW-wide column range of the
        // shared down matrix go to L2 before the programmatic wait, one row per thread of the first half-warp.
        const int c0row = (blockIdx.x % tiles) * MOE_ROWS;
        const int chunk = blockIdx.x / tiles;
        if (chunk < chunks_shared && (int)threadIdx.x < MOE_ROWS && c0row + (int)threadIdx.x < H) {
            const bf16 *p = shared_down + (i64)(c0row + threadIdx.x) * S + (i64)chunk * CW;
            if (((u64)p & 15u) == 0u) prefetch_l2_bulk(p, (u32)CW * 2u);
        }
    }
    pdl_wait();
    const int num_active = ld_dep_i32(meta), num_tokens = ld_dep_i32(meta + 1);
    const int items = (num_active + chunks_shared) * tiles;
    const int hstride = max(I, CW);

    // The item being prepared: its weight rows and first round of U chunks. The weights depend on the expert id
    // only: the loads go out before the slot's token range (offsets, one more dependent read) is known.
    int K = 0, kchunks = 0;
    bool ok0 = false, ok8 = false;
    const bf16 *w0 = down, *w8 = down;
    uint4 a0[U], a8[U];
    auto load_round = [&](int cc) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = cc + u * warps;
            const bool kok = c < kchunks && c * 32 + 8 * t < K;
            a0[u] = (kok && ok0) ? ldg_stream16(w0 + c * 32) : zero16();
            a8[u] = (kok && ok8) ? ldg_stream16(w8 + c * 32) : zero16();
        }
    };
    auto prepare = [&](int it) {
        if (it >= items) return;
        const int slot = it / tiles;
        const bool routed = slot >= chunks_shared;
        const int expert = routed ? ld_dep_i32(active + slot - chunks_shared) : slot;
        const int c0row = (it - slot * tiles) * MOE_ROWS;
        K = routed ? I : CW;
        kchunks = (K + 31) / 32;
        const bf16 *wbase;
        i64 wstride;
        if (routed) {
            wbase = down + (i64)expert * H * I;
            wstride = I;
        } else {
            wbase = shared_down + (i64)expert * CW;
            wstride = S;
        }
        ok0 = c0row + g < H;
        ok8 = c0row + g + 8 < H;
        w0 = wbase + (ok0 ? c0row + g : 0) * wstride + 8 * t;
        w8 = wbase + (ok8 ? c0row + g + 8 : 0) * wstride + 8 * t;
        load_round(warp);
    };

    int item = blockIdx.x;
    prepare(item);
    while (item < items) {
        const int next = item + gridDim.x;
        const MoESlot s = moe_slot(item, tiles, offsets, active, chunks_shared, num_tokens);
        if (s.count == 0) {  // uniform
            item = next;
            prepare(item);
            continue;
        }
        const int c0row = s.tile * MOE_ROWS;
        for (int m0 = 0; m0 < s.count; m0 += NT * 8) {
            const bf16 *hr[NT];
            bool hok[NT];
            moe_down_inputs<NT>(hr, hok, h, hstride, s, m0, g, t, T, top_k);
            float acc[NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
            for (int cc = warp; cc < kchunks; cc += warps * U) {
                // The first round of the first token group is already loaded.
                if (m0 != 0 || cc != warp) load_round(cc);
#pragma unroll
                for (int u = 0; u < U; ++u) {
                    const int c = cc + u * warps;
                    if (c >= kchunks) break;  // uniform
                    const bool kok = c * 32 + 8 * t < K;
                    const u32 A0[4] = {a0[u].x, a8[u].x, a0[u].y, a8[u].y};
                    const u32 A1[4] = {a0[u].z, a8[u].z, a0[u].w, a8[u].w};
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        if (m0 + nt * 8 >= s.count) break;  // uniform
                        const uint4 b = (kok && hok[nt]) ? ldg16(hr[nt] + c * 32) : zero16();
                        const u32 B0[2] = {b.x, b.y};
                        const u32 B1[2] = {b.z, b.w};
                        mma_bf16_16816(acc[nt], A0, B0);
                        mma_bf16_16816(acc[nt], A1, B1);
                    }
                }
            }
            // The last token group: the next item's first round is requested now and arrives during the reduction.
            if (m0 + NT * 8 >= s.count) prepare(next);
            mma_store_partials<NT>(red + warp * TILE, acc, g, t);
            __syncthreads();
            const int valid = min(NT * 8, s.count - m0);
            moe_down_epilogue<NT>(red, warps, valid, s, m0, c0row, H, y, T, top_k);
            __syncthreads();
        }
        item = next;
    }
    pdl_launch_dependents();
}

// GU_BLOCKS / DN_BLOCKS: blocks per multiprocessor the register budget must allow (the host sizes the persistent
// grids from the compiled kernel's registers and shared memory, CUDAFunction.residentBlocksPerMultiprocessor);
// DN_U: down's chunks per warp and round. nt1 down: 3 chunks, 64 registers, 4 blocks; nt2 down: 3 chunks at 3
// blocks (measured on the H200 at batch 16: 12.1 ms per step against 12.4 for 4 chunks, which spill 16 bytes once the
// next item's loads are hoisted, and 13.2 for 6 chunks at 2 blocks); nt4 down: 6 chunks at 2 blocks. Gate|up at 3
// blocks spills, so it stays at 2 (nvrtc_check.py reports any spill).
#define ERNIE_MOE_GROUPED_KERNELS(NT, GU_BLOCKS, DN_BLOCKS, DN_U)                                                   \
    extern "C" __global__ void __launch_bounds__(256, GU_BLOCKS) ernie_moe_gate_up_grouped_nt##NT(                     \
        const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,                    \
        const bf16 *__restrict__ gate_up,                                                                           \
        const bf16 *__restrict__ gate_up_bias, const bf16 *__restrict__ shared_gate_up,                             \
        const bf16 *__restrict__ shared_bias, bf16 *__restrict__ h, int T, int H, int I, int top_k,                 \
        int chunks_shared, int CW, int S) {                                                                         \
        moe_gate_up_impl<NT>(x, offsets, active, meta, pairs, gate_up, gate_up_bias, shared_gate_up, shared_bias, h, \
                             T, H, I, top_k, chunks_shared, CW, S);                                                 \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, DN_BLOCKS) ernie_moe_down_grouped_nt##NT(                        \
        const bf16 *h, const int *offsets, const int *active, const int *meta, const bf16 *__restrict__ down,       \
        const bf16 *__restrict__ shared_down,                                                                       \
        float *__restrict__ y, int T, int H, int I, int top_k, int chunks_shared, int CW, int S) {                  \
        moe_down_impl<NT, DN_U>(h, offsets, active, meta, down, shared_down, y, T, H, I, top_k, chunks_shared, CW,  \
                                S);                                                                                 \
    }

ERNIE_MOE_GROUPED_KERNELS(1, 2, 4, 3)
ERNIE_MOE_GROUPED_KERNELS(2, 2, 3, 3)
ERNIE_MOE_GROUPED_KERNELS(4, 2, 2, 6)

// out[t, c] = (sum over the token's choices in increasing expert id of bf16(bf16(y_row (+ bias, rounded)) * w), every
// add rounded to bf16) + bf16(sum of the shared chunks' y (+ shared bias, rounded)), as ernie_moe_combine. Grid
// (T, ceil(H / (4 * blockDim.x))): block (t, j) covers 4 * blockDim.x columns of launch row t, 4 per thread, every
// row's load issued before the sums; padding rows (t >= real tokens) are zeroed. With expert parallelism (--ep-size)
// this rank holds experts e0 ... (down_bias indexed from e0) and a choice of another rank's expert has row_of < 0: it
// adds nothing here (the ranks' outputs are summed by the all-reduce after the MoE block).
#define COMBINE_MAX_K 16
#define COMBINE_SHARED_U 4
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_combine_grouped(const float *y, const int *row_of, const int *ids, const float *weights,
                              const bf16 *__restrict__ down_bias, const bf16 *__restrict__ shared_bias,
                              const int *meta, bf16 *__restrict__ out, int T, int H, int top_k,
                              int chunks_shared, int e0) {
    __shared__ int srow[COMBINE_MAX_K], sexp[COMBINE_MAX_K];
    __shared__ float sw[COMBINE_MAX_K];
    const int t = blockIdx.x;
    const int c = (blockIdx.y * blockDim.x + threadIdx.x) * 4;
    pdl_wait();
    const int num_tokens = meta[1];
    if (t >= num_tokens) {
        if (c < H) {
            uint2 z;
            z.x = z.y = 0u;
            *reinterpret_cast<uint2 *>(out + (i64)t * H + c) = z;
        }
        return;
    }
    // Choice j goes to slot rank(j) = number of the token's choices with a lower expert id (the ids are distinct).
    if ((int)threadIdx.x < top_k) {
        const int j = threadIdx.x;
        const int e = ids[(i64)t * top_k + j];
        int rank = 0;
        for (int i = 0; i < top_k; ++i) rank += ids[(i64)t * top_k + i] < e ? 1 : 0;
        srow[rank] = row_of[(i64)t * top_k + j];
        sexp[rank] = e - e0;
        sw[rank] = weights[(i64)t * top_k + j];
    }
    __syncthreads();
    if (c >= H) return;
    float4 v[COMBINE_MAX_K];
#pragma unroll
    for (int jj = 0; jj < COMBINE_MAX_K; ++jj) {
        // (a choice held by another rank loads row 0 and is skipped below: the loads stay unconditional)
        if (jj < top_k) v[jj] = *reinterpret_cast<const float4 *>(y + (i64)max(srow[jj], 0) * H + c);
    }
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int jj = 0; jj < COMBINE_MAX_K; ++jj) {
        if (jj >= top_k) break;
        if (srow[jj] < 0) continue;
        const float w = sw[jj];
        const float yv[4] = {v[jj].x, v[jj].y, v[jj].z, v[jj].w};
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            float r = round_bf(yv[q]);
            if (down_bias != nullptr) r = round_bf(r + bf2f(down_bias[(i64)sexp[jj] * H + c + q]));
            acc[q] = round_bf(acc[q] + round_bf(r * w));
        }
    }
    if (chunks_shared > 0) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int j0 = 0; j0 < chunks_shared; j0 += COMBINE_SHARED_U) {
            float4 sv[COMBINE_SHARED_U];
#pragma unroll
            for (int u = 0; u < COMBINE_SHARED_U; ++u) {
                if (j0 + u < chunks_shared)
                    sv[u] = *reinterpret_cast<const float4 *>(y + ((i64)T * top_k + (i64)(j0 + u) * T + t) * H + c);
            }
#pragma unroll
            for (int u = 0; u < COMBINE_SHARED_U; ++u) {
                if (j0 + u >= chunks_shared) break;
                s[0] += sv[u].x, s[1] += sv[u].y, s[2] += sv[u].z, s[3] += sv[u].w;
            }
        }
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            float r = round_bf(s[q]);
            if (shared_bias != nullptr) r = round_bf(r + bf2f(shared_bias[c + q]));
            acc[q] = round_bf(acc[q] + r);
        }
    }
    uint2 o;
    o.x = pack_bf16x2(acc[0], acc[1]);
    o.y = pack_bf16x2(acc[2], acc[3]);
    *reinterpret_cast<uint2 *>(out + (i64)t * H + c) = o;
    pdl_launch_dependents();
}
