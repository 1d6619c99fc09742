// MoE for decode-sized batches without host round trips (CUDA-graph safe): device-side routing and grouping of
// (token, choice) pairs by expert, grouped expert GEMMs on tensor cores that read each active expert's weights once
// for all of its tokens, and a deterministic weighted combine. The shared expert runs as `C` extra "slots" (column
// chunks of its SwiGLU, weight 1) in the same kernels, so it too is read once for all tokens.
//
// Shapes: T = launch rows (tokens, padding included; the real count is meta[1]), E experts, k choices, H hidden,
// I expert width, S shared width split in C chunks of width CW. Sizes: ids/weights/pairs/row_of [T*k], offsets [E+1],
// active [E], meta [4] = {active experts, real tokens}, logits [T*E] (fp32).
// Expert-activation rows (h, Y): routed pairs at their sorted position 0 ... T*k-1, shared chunk c of token t at
// row T*k + c*T + t.
// Requirements (checked by the host): H % 8 == 0, I % 8 == 0, CW % 8 == 0, E <= 128, k <= 16, T*k <= 4096.
#include "common.cuh"

#define MOE_MAX_EXPERTS 128
#define MOE_ROWS 16

__device__ __forceinline__ float volatile_load(const float *p) { return *(const volatile float *)p; }

// Router + grouping. Grid (ceil(E / 2), ceil(T / 8)), 256 threads. Block (x, y) computes the FP32 logits of experts
// 2x, 2x + 1 for the 8 tokens 8y ... 8y + 7: warps 4j ... 4j + 3 split K of expert 2x + j (lane l of warp q reads
// floats 4(32q + l) + 512r ... of the router row, one load per row read for all 8 tokens), summed in a fixed order.
// The router row is read before the programmatic wait (it does not depend on the previous kernel). The last block
// of column y (ticket 1 + y) routes those 8 tokens, one warp each (softmax, top-k of p + bias with ties to the lower
// id, renormalised unbiased weights rounded to bf16, as ernie_moe_route); the last column to finish (ticket 0) counts
// pairs per expert and lists each expert's pairs in increasing pair index. Every ticket is reset by its last user.
// Dependents are released at the start (griddepcontrol.wait in them still waits for this grid's completion).
#define ROUTER_KS 4
#define ROUTER_EPB 2
#define ROUTER_TG 8
#define ROUTER_U 5

__device__ __forceinline__ int volatile_load_int(const int *p) { return *(const volatile int *)p; }

__device__ __forceinline__ float4 zero_float4() {
    float4 z;
    z.x = z.y = z.z = z.w = 0.0f;
    return z;
}

// Routes token t (one warp): ids / weights of its top_k choices.
__device__ __forceinline__ void moe_route_token(const float *logits, const float *bias, int *ids, float *weights,
                                                int t, int experts, int top_k, float norm_min, int lane) {
    float p[4], b[4];
    float mx = ERNIE_NEG_INF;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const int e = lane + 32 * q;
        p[q] = e < experts ? volatile_load(logits + (i64)t * experts + e) : ERNIE_NEG_INF;
        b[q] = (e < experts && bias != nullptr) ? bias[e] : 0.0f;
        mx = fmaxf(mx, p[q]);
    }
    mx = warp_max(mx);
    float sum = 0.0f;
#pragma unroll
    for (int q = 0; q < 4; ++q) sum += lane + 32 * q < experts ? expf(p[q] - mx) : 0.0f;
    sum = warp_sum(sum);
#pragma unroll
    for (int q = 0; q < 4; ++q) p[q] = lane + 32 * q < experts ? expf(p[q] - mx) / sum : 0.0f;
    unsigned taken = 0;
    int my_id = -1;
    float my_p = 0.0f, total = 0.0f;
    for (int j = 0; j < top_k; ++j) {
        float best = ERNIE_NEG_INF;
        int best_id = 0x7fffffff;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int e = lane + 32 * q;
            if (e >= experts || (taken >> q) & 1u) continue;
            const float score = p[q] + b[q];
            if (score > best || (score == best && e < best_id)) {
                best = score;
                best_id = e;
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float other = __shfl_xor_sync(0xffffffffu, best, o);
            const int other_id = __shfl_xor_sync(0xffffffffu, best_id, o);
            if (other > best || (other == best && other_id < best_id)) {
                best = other;
                best_id = other_id;
            }
        }
        const int owner = best_id & 31;
        const int slot = (best_id >> 5) & 3;  // uniform over the warp
        const float mine = slot == 0 ? p[0] : slot == 1 ? p[1] : slot == 2 ? p[2] : p[3];
        const float chosen_p = __shfl_sync(0xffffffffu, mine, owner);
        if (lane == owner) taken |= 1u << slot;
        if (lane == j) {
            my_id = best_id;
            my_p = chosen_p;
        }
        total += chosen_p;
    }
    const float denom = fmaxf(total, norm_min);
    if (lane < top_k) {
        ids[(i64)t * top_k + lane] = my_id;
        weights[(i64)t * top_k + lane] = round_bf(my_p / denom);
    }
}

// FP32 router logits of launch rows t0 ... t0 + 7 (the real ones: fewer than num_tokens) for experts 2 blockIdx.x,
// 2 blockIdx.x + 1 (see ernie_moe_router_grouped). The router rows are requested before the programmatic wait.
// num_tokens_ptr == nullptr: every launch row is real.
__device__ __forceinline__ void moe_router_logits(const bf16 *x, const float *__restrict__ router,
                                                  float *__restrict__ logits, const int *num_tokens_ptr, int T,
                                                  int hidden, int experts, int t0,
                                                  float (&part)[ROUTER_KS * ROUTER_EPB][ROUTER_TG]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int e = blockIdx.x * ROUTER_EPB + warp / ROUTER_KS;
    const bool has_e = e < experts;
    const float *w = router + (i64)(has_e ? e : 0) * hidden;
    constexpr int stride = 128 * ROUTER_KS;
    const int first = ((warp % ROUTER_KS) * 32 + lane) * 4;
    float4 wv[ROUTER_U];
#pragma unroll
    for (int u = 0; u < ROUTER_U; ++u) {
        const int i = first + u * stride;
        wv[u] = (has_e && i < hidden) ? *reinterpret_cast<const float4 *>(w + i) : zero_float4();
    }
    pdl_wait();
    const int num_tokens = num_tokens_ptr != nullptr ? min(*num_tokens_ptr, T) : T;
    const int nt = min(ROUTER_TG, num_tokens - t0);
    float s[ROUTER_TG];
#pragma unroll
    for (int k = 0; k < ROUTER_TG; ++k) s[k] = 0.0f;
    for (int base = first; base < hidden; base += ROUTER_U * stride) {
        if (base != first) {
#pragma unroll
            for (int u = 0; u < ROUTER_U; ++u) {
                const int i = base + u * stride;
                wv[u] = (has_e && i < hidden) ? *reinterpret_cast<const float4 *>(w + i)
                                              : zero_float4();
            }
        }
#pragma unroll
        for (int u = 0; u < ROUTER_U; ++u) {
            const int i = base + u * stride;
            if (i >= hidden) break;  // uniform over the lane's later u
#pragma unroll
            for (int k = 0; k < ROUTER_TG; ++k) {
                if (k >= nt) break;  // uniform
                const uint2 xv = *reinterpret_cast<const uint2 *>(x + (i64)(t0 + k) * hidden + i);
                s[k] += __uint_as_float(xv.x << 16) * wv[u].x + __uint_as_float(xv.x & 0xffff0000u) * wv[u].y +
                        __uint_as_float(xv.y << 16) * wv[u].z + __uint_as_float(xv.y & 0xffff0000u) * wv[u].w;
            }
        }
    }
#pragma unroll
    for (int k = 0; k < ROUTER_TG; ++k) {
        const float v = warp_sum(s[k]);
        if (lane == 0) part[warp][k] = v;
    }
    __syncthreads();
    if (threadIdx.x < ROUTER_EPB * ROUTER_TG) {
        const int j = threadIdx.x / ROUTER_TG, k = threadIdx.x - j * ROUTER_TG;
        const int ej = blockIdx.x * ROUTER_EPB + j;
        if (ej < experts && k < nt) {
            float v = 0.0f;
#pragma unroll
            for (int q = 0; q < ROUTER_KS; ++q) v += part[j * ROUTER_KS + q][k];
            logits[(i64)(t0 + k) * experts + ej] = v;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256) ernie_moe_router_grouped(
    const bf16 *x, const float *__restrict__ router, const float *__restrict__ bias,
    float *__restrict__ logits, unsigned *__restrict__ ticket, int *__restrict__ ids, float *__restrict__ weights,
    int *__restrict__ offsets, int *__restrict__ active, int *__restrict__ meta, int *__restrict__ pairs,
    int *__restrict__ row_of, const int *__restrict__ num_tokens_ptr, int T, int hidden, int experts, int top_k,
    float norm_min) {
    __shared__ float part[ROUTER_KS * ROUTER_EPB][ROUTER_TG];
    __shared__ int counts[MOE_MAX_EXPERTS];
    __shared__ int starts[MOE_MAX_EXPERTS + 1];
    __shared__ int sid[4096];
    __shared__ unsigned last;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int t0 = blockIdx.y * ROUTER_TG;
    // The gate|up kernel may start now: it only prefetches shared-expert weights before its programmatic wait.
    pdl_launch_dependents();
    moe_router_logits(x, router, logits, num_tokens_ptr, T, hidden, experts, t0, part);
    const int num_tokens = min(*num_tokens_ptr, T);
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(ticket + 1 + blockIdx.y, 1u) == gridDim.x - 1 ? 1u : 0u;
    __syncthreads();
    if (last == 0u) return;
    __threadfence();

    // This column's tokens, one warp each.
    for (int t = t0 + warp; t < min(t0 + ROUTER_TG, T); t += warps) {
        if (t >= num_tokens) {
            for (int j = lane; j < top_k; j += 32) {
                ids[(i64)t * top_k + j] = -1;
                weights[(i64)t * top_k + j] = 0.0f;
            }
        } else {
            moe_route_token(logits, bias, ids, weights, t, experts, top_k, norm_min, lane);
        }
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        ticket[1 + blockIdx.y] = 0u;
        last = atomicAdd(ticket, 1u) == gridDim.y - 1 ? 1u : 0u;
    }
    __syncthreads();
    if (last == 0u) return;
    __threadfence();

    // Grouping (the last column): counts, offsets and the active list, then each expert's pairs in order.
    const int P = T * top_k;
    for (int e = threadIdx.x; e < experts; e += blockDim.x) counts[e] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        const int e = volatile_load_int(ids + i);
        sid[i] = e;
        if (e >= 0) atomicAdd(&counts[e], 1);
    }
    __syncthreads();
    if (warp == 0) {
        // Lane l owns experts 4l ... 4l + 3 (E <= 128).
        int c[4], run = 0, nact = 0;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int e = 4 * lane + q;
            c[q] = e < experts ? counts[e] : 0;
            run += c[q];
            nact += c[q] > 0 ? 1 : 0;
        }
        int run_incl = run, act_incl = nact;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int a = __shfl_up_sync(0xffffffffu, run_incl, o);
            const int b = __shfl_up_sync(0xffffffffu, act_incl, o);
            if (lane >= o) {
                run_incl += a;
                act_incl += b;
            }
        }
        int pos = run_incl - run, n = act_incl - nact;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int e = 4 * lane + q;
            if (e < experts) {
                starts[e] = pos;
                offsets[e] = pos;
                if (c[q] > 0) active[n++] = e;
            }
            pos += c[q];
        }
        if (lane == 31) {
            starts[experts] = run_incl;
            offsets[experts] = run_incl;
            meta[0] = act_incl;
            meta[1] = num_tokens;
        }
    }
    __syncthreads();
    for (int e = warp; e < experts; e += warps) {
        if (counts[e] == 0) continue;  // uniform over the warp
        int base = starts[e];
        for (int c = 0; c < P; c += 32) {
            const int i = c + lane;
            const bool hit = i < P && sid[i] == e;
            const unsigned mask = __ballot_sync(0xffffffffu, hit);
            if (hit) {
                const int pos = base + __popc(mask & ((1u << lane) - 1u));
                pairs[pos] = i;
                row_of[i] = pos;
            }
            base += __popc(mask);
        }
    }
    if (threadIdx.x == 0) *ticket = 0u;
}

// Routing of MoE steps too large for the grouped path (the host groups their pairs), not launched programmatically:
// ernie_moe_router_logits computes logits[t, e] = x[t] · router[e] (fp32, each output summed over k in order) with a
// 64-token × 64-expert tile per block of 256 threads (4 × 4 outputs each), K in tiles of 32 through shared memory,
// the next tile's loads in registers while the current one is multiplied; grid (ceil(T / 64), ceil(E / 64)).
// ernie_moe_route_rows then routes one launch row per warp (softmax + biased top-k, moe_route_token); grid
// ceil(T / 8), 256 threads.
#define RL_BT 64
#define RL_BE 64
#define RL_BK 32
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_router_logits(const bf16 *x, const float *__restrict__ router, float *__restrict__ logits, int T,
                            int hidden, int experts) {
    __align__(16) __shared__ float xs[RL_BK][RL_BT + 4];
    __align__(16) __shared__ float ws[RL_BK][RL_BE + 4];
    const int t0 = blockIdx.x * RL_BT, e0 = blockIdx.y * RL_BE;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;  // outputs: tokens 4 ty ..., experts 4 tx ...
    const int row = threadIdx.x >> 2, kk = (threadIdx.x & 3) * 8;  // loads: token / expert `row`, k kk ... kk + 7
    const int t = t0 + row, e = e0 + row;
    float xv[8], wv[8];
    auto load = [&](int k0) {
#pragma unroll
        for (int q = 0; q < 8; ++q) {
            const int k = k0 + kk + q;
            xv[q] = (t < T && k < hidden) ? bf2f(x[(i64)t * hidden + k]) : 0.0f;
            wv[q] = (e < experts && k < hidden) ? router[(i64)e * hidden + k] : 0.0f;
        }
    };
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
    load(0);
    for (int k0 = 0; k0 < hidden; k0 += RL_BK) {
#pragma unroll
        for (int q = 0; q < 8; ++q) {
            xs[kk + q][row] = xv[q];
            ws[kk + q][row] = wv[q];
        }
        __syncthreads();
        if (k0 + RL_BK < hidden) load(k0 + RL_BK);
#pragma unroll 8
        for (int k = 0; k < RL_BK; ++k) {
            const float4 a = *reinterpret_cast<const float4 *>(&xs[k][4 * ty]);
            const float4 b = *reinterpret_cast<const float4 *>(&ws[k][4 * tx]);
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int tt = t0 + 4 * ty + i;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int ee = e0 + 4 * tx + j;
            if (tt < T && ee < experts) logits[(i64)tt * experts + ee] = acc[i][j];
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_route_rows(const float *logits, const float *__restrict__ bias, int *__restrict__ ids,
                         float *__restrict__ weights, int T, int experts, int top_k, float norm_min) {
    const int t = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (t < T) moe_route_token(logits, bias, ids, weights, t, experts, top_k, norm_min, threadIdx.x & 31);
}

// The slot of work item `item` (slot-major over `tiles` row tiles): the shared chunks first (their weights are known
// before the routing, so the gate|up blocks prefetch them while the router runs), then the routed experts.
struct MoESlot {
    bool routed;
    int expert;  // routed: expert id; shared: chunk index
    int base;    // routed: first sorted pair; shared: 0
    int count;   // tokens
    int tile;
};

__device__ __forceinline__ MoESlot moe_slot(int item, int tiles, const int *offsets, const int *active,
                                            int chunks_shared, int num_tokens) {
    MoESlot s;
    const int slot = item / tiles;
    s.tile = item - slot * tiles;
    s.routed = slot >= chunks_shared;
    if (s.routed) {
        s.expert = ld_dep_i32(active + slot - chunks_shared);
        s.base = ld_dep_i32(offsets + s.expert);
        s.count = ld_dep_i32(offsets + s.expert + 1) - s.base;
    } else {
        s.expert = slot;
        s.base = 0;
        s.count = num_tokens;
    }
    return s;
}

// Asks the TMA unit to bring `bytes` (a multiple of 16, 16-byte aligned) into L2 without waiting (sm_90).
__device__ __forceinline__ void prefetch_l2_bulk(const void *p, u32 bytes) {
#if !defined(ERNIE_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
#endif
}

// Row of h / Y for the slot's token number `i`.
__device__ __forceinline__ int moe_row(const MoESlot &s, int i, int T, int top_k) {
    return s.routed ? s.base + i : T * top_k + s.expert * T + i;
}

// Token of the slot's token number `i`.
__device__ __forceinline__ int moe_token(const MoESlot &s, int i, const int *pairs, int top_k) {
    return s.routed ? ld_dep_i32(pairs + s.base + i) / top_k : i;
}

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
    constexpr int TILE = NT * 8 * MOE_ROWS;
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
        const bf16 *e_gbias = s.routed ? (gate_up_bias != nullptr ? gate_up_bias + (i64)s.expert * 2 * I : nullptr)
                                       : (shared_bias != nullptr ? shared_bias + s.expert * CW : nullptr);
        const bf16 *e_ubias = e_gbias == nullptr ? nullptr : e_gbias + (s.routed ? I : S);
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
            float *mine = red + warp * 2 * TILE;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int r = g + (i >= 2 ? 8 : 0);
                    const int m = nt * 8 + 2 * t + (i & 1);
                    mine[m * MOE_ROWS + r] = ag[nt][i];
                    mine[TILE + m * MOE_ROWS + r] = au[nt][i];
                }
            }
            __syncthreads();
            const int valid = min(NT * 8, s.count - m0);
            for (int idx = threadIdx.x; idx < valid * MOE_ROWS; idx += blockDim.x) {
                const int m = idx / MOE_ROWS, r = idx - m * MOE_ROWS;
                if (e_r0 + r >= e_width) continue;
                float gv = 0.0f, uv = 0.0f;
                for (int ww = 0; ww < warps; ++ww) {
                    gv += red[ww * 2 * TILE + idx];
                    uv += red[ww * 2 * TILE + TILE + idx];
                }
                gv = round_bf(gv);
                uv = round_bf(uv);
                if (e_gbias != nullptr) {
                    gv = round_bf(gv + bf2f(e_gbias[e_r0 + r]));
                    uv = round_bf(uv + bf2f(e_ubias[e_r0 + r]));
                }
                const float sv = round_bf(gv / (1.0f + expf(-gv)));
                h[(i64)moe_row(s, m0 + m, T, top_k) * hstride + e_r0 + r] = f2bf(sv * uv);
            }
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
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                const int i = m0 + nt * 8 + g;
                hok[nt] = i < s.count;
                hr[nt] = h + (i64)(hok[nt] ? moe_row(s, i, T, top_k) : 0) * hstride + 8 * t;
            }
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
            float *mine = red + warp * TILE;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int r = g + (i >= 2 ? 8 : 0);
                    const int m = nt * 8 + 2 * t + (i & 1);
                    mine[m * MOE_ROWS + r] = acc[nt][i];
                }
            }
            __syncthreads();
            const int valid = min(NT * 8, s.count - m0);
            for (int idx = threadIdx.x; idx < valid * MOE_ROWS; idx += blockDim.x) {
                const int m = idx / MOE_ROWS, r = idx - m * MOE_ROWS;
                if (c0row + r >= H) continue;
                float v = 0.0f;
                for (int ww = 0; ww < warps; ++ww) v += red[ww * TILE + idx];
                y[(i64)moe_row(s, m0 + m, T, top_k) * H + c0row + r] = v;
            }
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
// row's load issued before the sums; padding rows (t >= real tokens) are zeroed.
#define COMBINE_MAX_K 16
#define COMBINE_SHARED_U 4
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_combine_grouped(const float *y, const int *row_of, const int *ids, const float *weights,
                              const bf16 *__restrict__ down_bias, const bf16 *__restrict__ shared_bias,
                              const int *meta, bf16 *__restrict__ out, int T, int H, int top_k,
                              int chunks_shared) {
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
        sexp[rank] = e;
        sw[rank] = weights[(i64)t * top_k + j];
    }
    __syncthreads();
    if (c >= H) return;
    float4 v[COMBINE_MAX_K];
#pragma unroll
    for (int jj = 0; jj < COMBINE_MAX_K; ++jj) {
        if (jj < top_k) v[jj] = *reinterpret_cast<const float4 *>(y + (i64)srow[jj] * H + c);
    }
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int jj = 0; jj < COMBINE_MAX_K; ++jj) {
        if (jj >= top_k) break;
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
