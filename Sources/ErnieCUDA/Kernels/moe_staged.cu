// The grouped MoE expert kernels of moe_grouped.cu with the weight stream staged through shared memory, for 8 or 16
// tokens of a slot per pass (NT 1 and 2: by default steps of up to 16 / 64 tokens, ERNIE_CUDA_MOE_NT{1,2}_MAX_TOKENS;
// ERNIE_CUDA_MOE_STAGED=0 selects the register-buffered kernels): same
// arguments, work decomposition and epilogues; shapes and row layout: moe_grouped.cu's header comment. The sums over
// K are split differently (a warp owns 64-column units here, 32-column chunks there), so results agree to fp32
// rounding, not bit for bit.
//
// Why: the register kernels load their mma fragments straight from global memory, 8 rows x 64 bytes per warp
// instruction, which streams from DRAM well below the copy ceiling (common.cuh, "Weight tiles staged in shared
// memory"). Here every warp owns a ring of STAGES stages in shared memory; a stage holds one unit (16 rows x 64
// columns of each matrix), copied by cp.async.cg (L2 only, no registers held while in flight) as whole 128-byte row
// pieces, and read back as fragments after cp.async.wait_group and a __syncwarp (the copy's lanes are not the
// fragments' lanes). A stage is refilled after a second __syncwarp, once every lane holds its fragments.
// Measured on the H200 (BENCHMARKS.md, round 6): gate|up 41.9 -> 36.1 us per layer at batch 1 (Nsight Compute), down
// 21.5 -> 23.5 us; through CUDA graphs the step with both staged is faster (batch 1 / 8 / 16: 3.2 / 8.4 / 11.7 ->
// 3.1 / 8.0 / 11.3 ms), while staged gate|up with the register down kernel was slower (3.4 ms at batch 1) and both
// staged at batch 64 with 32 tokens per pass (NT 4: 17.7 -> 18.6 ms), hence NT <= 2 only, and both kernels together.
// Round 7: batch 64 on these nt2 kernels (the shared chunks' 64 tokens in 4 passes) 17.6 -> 17.0 ms, batch 16 on nt1
// 11.2 -> 10.7 ms.
//
// The ring is fed by a per-warp cursor that runs exactly STAGES units ahead of the consumer through the warp's whole
// sequence of units (item, token group, unit): the next item's first units are in flight while the current item
// finishes its last ones and its cross-warp reduction, so the stream does not drain between items. Consumer unit u
// lives in commit group u (the prologue commits STAGES groups, every consumed unit commits one more, empty when the
// stream has ended), so `cp.async.wait_group STAGES-1` before unit u's read is exact. A slot whose token count is 0
// streams one token group of weights and skips its epilogue (the cursor must not depend on the count before it
// reaches the end of the item's first group, which keeps the prologue free of routing data).
//
// PDL: a shared-chunk first item's addresses do not depend on the routing, so its first STAGES units are requested
// before pdl_wait() (when the warp has at least STAGES units per item); everything routed, and every token count, is
// read after it with ld_dep_i32.
#include "common.cuh"

// Units c = warp + j * warps (j = 0 ... n - 1) of a K of `kchunks` units that warp `warp` of `warps` owns.
__device__ __forceinline__ int staged_warp_chunks(int kchunks, int warp, int warps) {
    return (kchunks - warp + warps - 1) / warps;
}

// h = bf16(bf16(silu(g)) * u) as ernie_moe_gate_up_grouped_nt*. Ring stage (per warp): the item's 16 gate rows, then
// its 16 up rows, 64 columns of each (tile_piece layout, 4,096 bytes). Dynamic shared memory: warps * STAGES * 4096
// bytes of rings, then warps * 2 * NT * 8 * 16 floats of reduction.
template <int NT, int STAGES>
__device__ __forceinline__ void moe_gate_up_staged_impl(
    const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,
    const bf16 *__restrict__ gate_up, const bf16 *__restrict__ gate_up_bias, const bf16 *__restrict__ shared_gate_up,
    const bf16 *__restrict__ shared_bias, bf16 *__restrict__ h, int T, int H, int I, int top_k, int chunks_shared,
    int CW, int SW) {
    ERNIE_DYNAMIC_SMEM(unsigned char, smem);
    constexpr int GROUP = NT * 8;
    constexpr int MAT = MOE_ROWS * 128;  // one matrix's 16 rows of a unit
    constexpr int STAGE = 2 * MAT;       // bytes per warp and stage: gate, then up
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int cr = lane >> 3, c8 = lane & 7;  // the copy's row (of 4) and 16-byte piece
    const int width_max = max(I, CW);
    const int tiles = (width_max + MOE_ROWS - 1) / MOE_ROWS;
    const int nw = staged_warp_chunks((H + 63) / 64, warp, warps);  // the same K (H) for every item
    float *red = reinterpret_cast<float *>(smem + warps * STAGES * STAGE);
    const smem_addr ring = smem_addr_of(smem) + warp * STAGES * STAGE;
    {
        // As moe_grouped.cu: a shared-chunk first item's rows go to L2 before the programmatic wait.
        const int r0 = (blockIdx.x % tiles) * MOE_ROWS;
        const int chunk = blockIdx.x / tiles;
        if (chunk < chunks_shared && r0 < CW && (int)threadIdx.x < 2 * MOE_ROWS) {
            const int r = r0 + (threadIdx.x & (MOE_ROWS - 1));
            const int row = (threadIdx.x < MOE_ROWS ? 0 : SW) + chunk * CW + r;
            const bf16 *p = shared_gate_up + (i64)row * H;
            if (r < CW && ((u64)p & 15u) == 0u) prefetch_l2_bulk(p, (u32)H * 2u);
        }
    }
    pdl_launch_dependents();

    // Until the wait only the shared chunks' items are known (their weights do not depend on the routing).
    int items = chunks_shared * tiles;
    int num_tokens = 0;

    // The ring's feeding cursor: unit (f_item, f_group, f_j) and the item's row pointers (this lane's 16 bytes).
    int f_item = 0, f_group = 0, f_groups = 0, f_j = 0, f_expert = 0, f_rows = 0;
    bool f_routed = false;
    const bf16 *f_g = gate_up, *f_u = gate_up;
    // The first item from `it` on (stride gridDim.x) with rows in its slot's width, as the consumer loop skips.
    auto enter = [&](int it) {
        for (; it < items; it += gridDim.x) {
            const int slot = it / tiles;
            if ((it - slot * tiles) * MOE_ROWS < (slot >= chunks_shared ? I : CW)) break;
        }
        f_item = it;
        f_group = 0;
        f_groups = 0;  // not read yet
        f_j = 0;
        if (it >= items) return;
        const int slot = it / tiles;
        f_routed = slot >= chunks_shared;
        f_expert = f_routed ? ld_dep_i32(active + slot - chunks_shared) : slot;
        const int width = f_routed ? I : CW;
        const int r0 = (it - slot * tiles) * MOE_ROWS;
        const bf16 *gate_base, *up_base;
        if (f_routed) {
            gate_base = gate_up + (i64)f_expert * 2 * I * H;
            up_base = gate_base + (i64)I * H;
        } else {
            gate_base = shared_gate_up + (i64)f_expert * CW * H;
            up_base = shared_gate_up + (i64)(SW + f_expert * CW) * H;
        }
        f_rows = width - r0 - cr;  // this lane copies rows r0 + cr + 4q for 4q < f_rows
        f_g = gate_base + (i64)(r0 + cr) * H + 8 * c8;
        f_u = up_base + (i64)(r0 + cr) * H + 8 * c8;
    };
    // The cursor's unit into stage `dst` (nothing once the stream has ended), then one unit on. The end of a token
    // group is handled lazily here: the item's token count is read only when its first group is done.
    auto feed = [&](smem_addr dst) {
        while (f_item < items && f_j >= nw) {
            if (f_groups == 0) {
                const int count = f_routed ? ld_dep_i32(offsets + f_expert + 1) - ld_dep_i32(offsets + f_expert)
                                           : num_tokens;
                f_groups = max(1, (count + GROUP - 1) / GROUP);
            }
            f_j = 0;
            if (++f_group >= f_groups) enter(f_item + gridDim.x);
        }
        if (f_item >= items) return;
        const int off = (warp + f_j * warps) * 64;
        const bool kok = off + 8 * c8 < H;
        const smem_addr d = dst + tile_piece(cr, c8);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const bool ok = kok && 4 * q < f_rows;
            tile_copy16(d + q * 4 * 128, f_g + (ok ? (i64)q * 4 * H + off : 0), ok);
            tile_copy16(d + MAT + q * 4 * 128, f_u + (ok ? (i64)q * 4 * H + off : 0), ok);
        }
        ++f_j;
    };
    auto prologue = [&]() {
        enter(blockIdx.x);
#pragma unroll
        for (int s = 0; s < STAGES; ++s) {
            feed(ring + s * STAGE);
            cp_async_commit();
        }
    };
    // A shared-chunk first item with at least STAGES chunks per warp: its first units need no routing data.
    const bool early = (int)blockIdx.x < items && ((int)blockIdx.x % tiles) * MOE_ROWS < CW && nw >= STAGES;
    if (early) prologue();
    pdl_wait();
    const int num_active = ld_dep_i32(meta);
    num_tokens = ld_dep_i32(meta + 1);
    items = (num_active + chunks_shared) * tiles;
    if (!early) prologue();
    const int hstride = width_max;

    int stage = 0;
    for (int item = blockIdx.x; item < items; item += gridDim.x) {
        {
            const int slot = item / tiles;
            if ((item - slot * tiles) * MOE_ROWS >= (slot >= chunks_shared ? I : CW)) continue;  // uniform
        }
        const MoESlot s = moe_slot(item, tiles, offsets, active, chunks_shared, num_tokens);
        const int groups = max(1, (s.count + GROUP - 1) / GROUP);
        const int e_r0 = s.tile * MOE_ROWS, e_width = s.routed ? I : CW;
        const MoEBias e_bias = moe_gate_up_bias(s, gate_up_bias, shared_bias, I, CW, SW);
        for (int m0 = 0; m0 < groups * GROUP; m0 += GROUP) {
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
            for (int j = 0; j < nw; ++j) {
                const smem_addr a = ring + stage * STAGE;
                cp_async_wait<STAGES - 1>();
                __syncwarp();  // the stage's pieces were copied by other lanes of the warp
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    // 32-column chunk c of the unit: lane (g, t) takes piece 4 * half + t of rows g and g + 8.
                    const int c = 2 * (warp + j * warps) + half;
                    const smem_addr p0 = a + tile_piece(g, 4 * half + t), p8 = p0 + 8 * 128;
                    const uint4 g0 = tile_ld16(p0), g8 = tile_ld16(p8);
                    const uint4 u0 = tile_ld16(p0 + MAT), u8 = tile_ld16(p8 + MAT);
                    const bool kok = c * 32 + 8 * t < H;
                    const u32 G0[4] = {g0.x, g8.x, g0.y, g8.y};
                    const u32 G1[4] = {g0.z, g8.z, g0.w, g8.w};
                    const u32 U0[4] = {u0.x, u8.x, u0.y, u8.y};
                    const u32 U1[4] = {u0.z, u8.z, u0.w, u8.w};
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
                }
                // The stage just read takes the unit STAGES further on, once every lane has its fragments.
                __syncwarp();
                feed(a);
                cp_async_commit();
                stage = stage == STAGES - 1 ? 0 : stage + 1;
            }
            if (m0 >= s.count) continue;  // uniform: a slot without tokens streamed one group for nothing
            // Reduce over the warps (shared memory), then the SiLU·mul epilogue, as moe_grouped.cu.
            moe_store_gate_up_partials<NT>(red, warp, ag, au, g, t);
            __syncthreads();
            const int valid = min(GROUP, s.count - m0);
            moe_gate_up_epilogue<NT>(red, warps, valid, s, m0, e_r0, e_width, e_bias.gate, e_bias.up, h, hstride,
                                     T, top_k);
            __syncthreads();
        }
    }
    cp_async_wait<0>();
}

// Y = h · Wdᵀ (fp32, unrounded) as ernie_moe_down_grouped_nt*. Ring stage (per warp): the item's 16 weight rows, 64
// columns (tile_piece layout, 2,048 bytes). K is I for routed slots and CW for shared ones, so a warp's unit count
// depends on the item. Dynamic shared memory: warps * STAGES * 2048 bytes of rings, then warps * NT * 8 * 16 floats
// of reduction.
template <int NT, int STAGES>
__device__ __forceinline__ void moe_down_staged_impl(const bf16 *h, const int *offsets, const int *active,
                                                     const int *meta, const bf16 *__restrict__ down,
                                                     const bf16 *__restrict__ shared_down, float *__restrict__ y,
                                                     int T, int H, int I, int top_k, int chunks_shared, int CW,
                                                     int SW) {
    ERNIE_DYNAMIC_SMEM(unsigned char, smem);
    constexpr int TILE = NT * 8 * MOE_ROWS;
    constexpr int GROUP = NT * 8;
    constexpr int STAGE = MOE_ROWS * 128;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int cr = lane >> 3, c8 = lane & 7;
    const int tiles = (H + MOE_ROWS - 1) / MOE_ROWS;
    float *red = reinterpret_cast<float *>(smem + warps * STAGES * STAGE);
    const smem_addr ring = smem_addr_of(smem) + warp * STAGES * STAGE;
    {
        // As moe_grouped.cu: a shared-chunk first item's column range goes to L2 before the programmatic wait.
        const int c0row = (blockIdx.x % tiles) * MOE_ROWS;
        const int chunk = blockIdx.x / tiles;
        if (chunk < chunks_shared && (int)threadIdx.x < MOE_ROWS && c0row + (int)threadIdx.x < H) {
            const bf16 *p = shared_down + (i64)(c0row + threadIdx.x) * SW + (i64)chunk * CW;
            if (((u64)p & 15u) == 0u) prefetch_l2_bulk(p, (u32)CW * 2u);
        }
    }
    int items = chunks_shared * tiles;
    int num_tokens = 0;

    int f_item = 0, f_group = 0, f_groups = 0, f_j = 0, f_nw = 0, f_K = 0, f_expert = 0, f_rows = 0;
    int f_stride = 0;
    bool f_routed = false;
    const bf16 *f_w = down;
    auto enter = [&](int it) {
        f_item = it;
        f_group = 0;
        f_groups = 0;
        f_j = 0;
        if (it >= items) return;
        const int slot = it / tiles;
        const int c0row = (it - slot * tiles) * MOE_ROWS;
        f_routed = slot >= chunks_shared;
        f_expert = f_routed ? ld_dep_i32(active + slot - chunks_shared) : slot;
        f_K = f_routed ? I : CW;
        f_nw = staged_warp_chunks((f_K + 63) / 64, warp, warps);
        const bf16 *wbase;
        i64 wstride;
        if (f_routed) {
            wbase = down + (i64)f_expert * H * I;
            wstride = I;
        } else {
            wbase = shared_down + (i64)f_expert * CW;
            wstride = SW;
        }
        f_rows = H - c0row - cr;
        f_stride = (int)wstride;
        f_w = wbase + (c0row + cr) * wstride + 8 * c8;
    };
    auto feed = [&](smem_addr dst) {
        while (f_item < items && f_j >= f_nw) {
            if (f_groups == 0) {
                const int count = f_routed ? ld_dep_i32(offsets + f_expert + 1) - ld_dep_i32(offsets + f_expert)
                                           : num_tokens;
                f_groups = max(1, (count + GROUP - 1) / GROUP);
            }
            f_j = 0;
            if (++f_group >= f_groups) enter(f_item + gridDim.x);
        }
        if (f_item >= items) return;
        const int off = (warp + f_j * warps) * 64;
        const bool kok = off + 8 * c8 < f_K;
        const smem_addr d = dst + tile_piece(cr, c8);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const bool ok = kok && 4 * q < f_rows;
            tile_copy16(d + q * 4 * 128, f_w + (ok ? (i64)(q * 4 * f_stride + off) : 0), ok);
        }
        ++f_j;
    };
    auto prologue = [&]() {
        enter(blockIdx.x);
#pragma unroll
        for (int s = 0; s < STAGES; ++s) {
            feed(ring + s * STAGE);
            cp_async_commit();
        }
    };
    const bool early =
        (int)blockIdx.x < items && staged_warp_chunks((CW + 63) / 64, warp, warps) >= STAGES;
    if (early) prologue();
    pdl_wait();
    const int num_active = ld_dep_i32(meta);
    num_tokens = ld_dep_i32(meta + 1);
    items = (num_active + chunks_shared) * tiles;
    if (!early) prologue();
    const int hstride = max(I, CW);

    int stage = 0;
    for (int item = blockIdx.x; item < items; item += gridDim.x) {
        const MoESlot s = moe_slot(item, tiles, offsets, active, chunks_shared, num_tokens);
        const int K = s.routed ? I : CW;
        const int nw = staged_warp_chunks((K + 63) / 64, warp, warps);
        const int groups = max(1, (s.count + GROUP - 1) / GROUP);
        const int c0row = s.tile * MOE_ROWS;
        for (int m0 = 0; m0 < groups * GROUP; m0 += GROUP) {
            const bf16 *hr[NT];
            bool hok[NT];
            moe_down_inputs<NT>(hr, hok, h, hstride, s, m0, g, t, T, top_k);
            float acc[NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
            for (int j = 0; j < nw; ++j) {
                const smem_addr a = ring + stage * STAGE;
                cp_async_wait<STAGES - 1>();
                __syncwarp();
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const int c = 2 * (warp + j * warps) + half;
                    const smem_addr p0 = a + tile_piece(g, 4 * half + t);
                    const uint4 a0 = tile_ld16(p0), a8 = tile_ld16(p0 + 8 * 128);
                    const bool kok = c * 32 + 8 * t < K;
                    const u32 A0[4] = {a0.x, a8.x, a0.y, a8.y};
                    const u32 A1[4] = {a0.z, a8.z, a0.w, a8.w};
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
                __syncwarp();
                feed(a);
                cp_async_commit();
                stage = stage == STAGES - 1 ? 0 : stage + 1;
            }
            if (m0 >= s.count) continue;  // uniform
            mma_store_partials<NT>(red + warp * TILE, acc, g, t);
            __syncthreads();
            const int valid = min(GROUP, s.count - m0);
            moe_down_epilogue<NT>(red, warps, valid, s, m0, c0row, H, y, T, top_k);
            __syncthreads();
        }
    }
    cp_async_wait<0>();
    pdl_launch_dependents();
}

// GU_BLOCKS / DN_BLOCKS: blocks per multiprocessor the register budget must allow (the host sizes the persistent
// grids from the compiled kernel's registers and shared memory). GU_STAGES / DN_STAGES: ring depth, which the host
// must match when it sizes the dynamic shared memory (GroupedMoEPlan.stagedStages). Only NT 1 and 2 (steps of at
// most 16 tokens): at NT 4 the register kernels measured faster (batch 64: 17.7 against 18.6 ms per step).
#define ERNIE_MOE_STAGED_KERNELS(NT, GU_BLOCKS, GU_STAGES, DN_BLOCKS, DN_STAGES)                                    \
    extern "C" __global__ void __launch_bounds__(256, GU_BLOCKS) ernie_moe_gate_up_staged_nt##NT(                    \
        const bf16 *x, const int *offsets, const int *active, const int *meta, const int *pairs,                    \
        const bf16 *__restrict__ gate_up, const bf16 *__restrict__ gate_up_bias,                                    \
        const bf16 *__restrict__ shared_gate_up, const bf16 *__restrict__ shared_bias, bf16 *__restrict__ h, int T, \
        int H, int I, int top_k, int chunks_shared, int CW, int SW) {                                               \
        moe_gate_up_staged_impl<NT, GU_STAGES>(x, offsets, active, meta, pairs, gate_up, gate_up_bias,              \
                                               shared_gate_up, shared_bias, h, T, H, I, top_k, chunks_shared, CW,  \
                                               SW);                                                                 \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, DN_BLOCKS) ernie_moe_down_staged_nt##NT(                       \
        const bf16 *h, const int *offsets, const int *active, const int *meta, const bf16 *__restrict__ down,       \
        const bf16 *__restrict__ shared_down, float *__restrict__ y, int T, int H, int I, int top_k,                \
        int chunks_shared, int CW, int SW) {                                                                        \
        moe_down_staged_impl<NT, DN_STAGES>(h, offsets, active, meta, down, shared_down, y, T, H, I, top_k,        \
                                            chunks_shared, CW, SW);                                                 \
    }

ERNIE_MOE_STAGED_KERNELS(1, 3, 2, 3, 2)
ERNIE_MOE_STAGED_KERNELS(2, 2, 2, 3, 2)
