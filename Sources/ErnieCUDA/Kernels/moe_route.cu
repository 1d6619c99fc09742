// MoE routing on the device (CUDA-graph safe, no host round trip): FP32 router logits, softmax and the biased top-k
// per token, and for decode-sized steps the grouping of (token, choice) pairs by expert that the grouped expert
// kernels (moe_grouped.cu) read; for larger steps (the host groups the pairs) a tiled logits kernel and a
// one-warp-per-row router.
//
// Shapes: T = launch rows (tokens, padding included; the real count is meta[1]), E experts, k choices. Sizes:
// ids/weights/pairs/row_of [T*k], offsets [E+1], active [E], meta [4] = {active experts, real tokens}, logits [T*E]
// (fp32). Requirements (checked by the host): E <= 128, k <= 16, T*k <= 4096 for the grouped router.
#include "common.cuh"

#define MOE_MAX_EXPERTS 128

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

// Routes token t (one warp): ids / weights of its top_k choices. Logits row t holds `parts` consecutive blocks of
// `experts` values whose sum, in order, is the logit (1, or 3 from ernie_moe_router_split's weights).
__device__ __forceinline__ void moe_route_token(const float *logits, const float *bias, int *ids, float *weights,
                                                int t, int experts, int top_k, float norm_min, int lane,
                                                int parts = 1) {
    float p[4], b[4];
    float mx = ERNIE_NEG_INF;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const int e = lane + 32 * q;
        const float *row = logits + (i64)t * experts * parts;
        float v = ERNIE_NEG_INF;
        if (e < experts) {
            v = volatile_load(row + e);
            for (int j = 1; j < parts; ++j) v += volatile_load(row + j * experts + e);
        }
        p[q] = v;
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
        warp_argmax_lowest_id(best, best_id);
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
    float norm_min, int e0, int e1) {
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

    // Grouping (the last column): counts, offsets and the active list, then each expert's pairs in order. With expert
    // parallelism (--ep-size) only experts e0 ... e1 - 1 are held here: they are grouped as local experts 0 ...
    // e1 - e0 - 1 (the weights stack only those), and a pair routed to another rank's expert gets row_of -1.
    const int P = T * top_k;
    const int held = e1 - e0;
    for (int e = threadIdx.x; e < held; e += blockDim.x) counts[e] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        const int id = volatile_load_int(ids + i);
        const int e = id >= e0 && id < e1 ? id - e0 : -1;
        sid[i] = e;
        if (e >= 0) {
            atomicAdd(&counts[e], 1);
        } else {
            row_of[i] = -1;
        }
    }
    __syncthreads();
    if (warp == 0) {
        // Lane l owns experts 4l ... 4l + 3 (E <= 128).
        int c[4], run = 0, nact = 0;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int e = 4 * lane + q;
            c[q] = e < held ? counts[e] : 0;
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
            if (e < held) {
                starts[e] = pos;
                offsets[e] = pos;
                if (c[q] > 0) active[n++] = e;
            }
            pos += c[q];
        }
        if (lane == 31) {
            starts[held] = run_incl;
            offsets[held] = run_incl;
            meta[0] = act_incl;
            meta[1] = num_tokens;
        }
    }
    __syncthreads();
    for (int e = warp; e < held; e += warps) {
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

// parts: 1 (logits from ernie_moe_router_logits) or 3 (a bf16 GEMM over ernie_moe_router_split's weights).
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_route_rows(const float *logits, const float *__restrict__ bias, int *__restrict__ ids,
                         float *__restrict__ weights, int T, int experts, int top_k, float norm_min, int parts) {
    const int t = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (t < T) moe_route_token(logits, bias, ids, weights, t, experts, top_k, norm_min, threadIdx.x & 31, parts);
}

// The FP32 router [E, H] as three bf16 matrices stacked [3E, H]: hi = bf16(w), mid = bf16(w - hi), lo = bf16(w - hi -
// mid) (each difference exact in fp32), so hi + mid + lo equals w to about 2^-26 of its size. A bf16 activation times
// each part is exact in fp32, so a bf16 tensor-core GEMM with fp32 accumulation against the stack, its three column
// blocks summed (ernie_moe_route_rows, parts 3), gives the FP32 logits to fp32 summation error — on tensor cores
// instead of the 64 × 64-tiled FP32 kernel (183 µs per layer at 8192 tokens on the H200, 15 TFLOP/s). n = E * H.
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_router_split(const float *__restrict__ router, bf16 *__restrict__ split, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float w = router[i];
        const bf16 hi = f2bf(w);
        const float r1 = w - bf2f(hi);
        const bf16 mid = f2bf(r1);
        const bf16 lo = f2bf(r1 - bf2f(mid));
        split[i] = hi;
        split[n + i] = mid;
        split[2 * (i64)n + i] = lo;
    }
}
