// MoE routing (FP32 router, softmax, biased top-k selection, unbiased renormalised weights) and the weighted
// combine of the routed experts' outputs with the shared expert.
#include "common.cuh"

#define ROUTE_THREADS 256

// One block per token (ROUTE_THREADS threads). Dynamic shared memory: (hidden + experts) floats.
//   logits[e] = sum_i float(x[i]) * router[e, i]            (fp32, as transformers)
//   p = softmax(logits); selected = top_k(p + bias) (ties -> lower expert id)
//   w_j = p[selected_j] / max(sum_j p[selected_j], norm_min), rounded to bf16 (transformers casts to the dtype)
extern "C" __global__ void __launch_bounds__(ROUTE_THREADS)
    ernie_moe_route(const bf16 *__restrict__ x, const float *__restrict__ router, const float *__restrict__ bias,
                    int *__restrict__ topk_ids, float *__restrict__ topk_weights, int hidden, int experts, int top_k,
                    float norm_min) {
    ERNIE_DYNAMIC_SMEM(float, xs);
    float *probs = xs + hidden;
    __shared__ int chosen[64];
    const int t = blockIdx.x;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) xs[i] = bf2f(x[(i64)t * hidden + i]);
    __syncthreads();
    for (int e = warp; e < experts; e += warps) {
        const float *w = router + (i64)e * hidden;
        float s = 0.0f;
        for (int i = lane; i < hidden; i += 32) s += xs[i] * w[i];
        s = warp_sum(s);
        if (lane == 0) probs[e] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float mx = ERNIE_NEG_INF;
        for (int e = lane; e < experts; e += 32) mx = fmaxf(mx, probs[e]);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int e = lane; e < experts; e += 32) sum += expf(probs[e] - mx);
        sum = warp_sum(sum);
        __syncwarp();
        for (int e = lane; e < experts; e += 32) probs[e] = expf(probs[e] - mx) / sum;
        __syncwarp();
        float total = 0.0f;
        for (int j = 0; j < top_k; ++j) {
            float best = ERNIE_NEG_INF;
            int best_id = 0x7fffffff;
            for (int e = lane; e < experts; e += 32) {
                bool taken = false;
                for (int i = 0; i < j; ++i) taken = taken || chosen[i] == e;
                if (taken) continue;
                const float score = probs[e] + (bias != nullptr ? bias[e] : 0.0f);
                if (score > best || (score == best && e < best_id)) {
                    best = score;
                    best_id = e;
                }
            }
            warp_argmax_lowest_id(best, best_id);
            if (lane == 0) chosen[j] = best_id;
            __syncwarp();
            total += probs[best_id];
        }
        const float denom = fmaxf(total, norm_min);
        for (int j = lane; j < top_k; j += 32) {
            topk_ids[(i64)t * top_k + j] = chosen[j];
            topk_weights[(i64)t * top_k + j] = round_bf(probs[chosen[j]] / denom);
        }
    }
}

// out[t] = ((sum over the token's choices in increasing expert id of bf16(y[row] * w)) + shared[t]), every add
// rounded to bf16 as transformers' index_add_ in the activation dtype. `rows[t * top_k + j]` is the row of y
// (expert outputs grouped by expert) holding choice j of token t. One block per token; the choices' rows and weights
// in expert order go to shared memory first; 8 columns (16 bytes) per thread and load when hidden % 8 == 0 and the
// buffers are 16-byte aligned.
extern "C" __global__ void ernie_moe_combine(const bf16 *__restrict__ y, const int *__restrict__ rows,
                                             const int *__restrict__ topk_ids, const float *__restrict__ topk_weights,
                                             const bf16 *__restrict__ shared, bf16 *__restrict__ out, int hidden,
                                             int top_k) {
    __shared__ int order[64];
    __shared__ i64 srow[64];
    __shared__ float sw[64];
    const int t = blockIdx.x;
    if (threadIdx.x == 0) {
        for (int j = 0; j < top_k; ++j) order[j] = j;
        for (int a = 1; a < top_k; ++a) {
            const int v = order[a];
            int b = a - 1;
            while (b >= 0 && topk_ids[(i64)t * top_k + order[b]] > topk_ids[(i64)t * top_k + v]) {
                order[b + 1] = order[b];
                --b;
            }
            order[b + 1] = v;
        }
        for (int jj = 0; jj < top_k; ++jj) {
            const int r = rows[(i64)t * top_k + order[jj]];  // < 0: an expert held by another rank (--ep-size)
            srow[jj] = r < 0 ? (i64)-1 : (i64)r * hidden;
            sw[jj] = topk_weights[(i64)t * top_k + order[jj]];
        }
    }
    __syncthreads();
    if ((hidden & 7) == 0 && (((u64)y | (u64)shared | (u64)out) & 15u) == 0u) {
        for (int c = threadIdx.x * 8; c < hidden; c += blockDim.x * 8) {
            float acc[8];
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[e] = 0.0f;
            for (int jj = 0; jj < top_k; ++jj) {
                if (srow[jj] < 0) continue;
                float v[8];
                unpack8(*reinterpret_cast<const uint4 *>(y + srow[jj] + c), v);
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[e] = round_bf(acc[e] + round_bf(v[e] * sw[jj]));
            }
            if (shared != nullptr) {
                float v[8];
                unpack8(*reinterpret_cast<const uint4 *>(shared + (i64)t * hidden + c), v);
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[e] = round_bf(acc[e] + v[e]);
            }
            *reinterpret_cast<uint4 *>(out + (i64)t * hidden + c) = pack8(acc);
        }
        return;
    }
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float acc = 0.0f;
        for (int jj = 0; jj < top_k; ++jj) {
            if (srow[jj] >= 0) acc = round_bf(acc + round_bf(bf2f(y[srow[jj] + i]) * sw[jj]));
        }
        if (shared != nullptr) acc = round_bf(acc + bf2f(shared[(i64)t * hidden + i]));
        out[(i64)t * hidden + i] = f2bf(acc);
    }
}

// ---- Small batches (decode): experts straight from the router's ids, no host round trip. -------------------------
// Requirements (checked by the host): hidden % 8 == 0, inter % 8 == 0, top_k <= 64.

// 8 bf16 (16 bytes) widened.
__device__ __forceinline__ void load8(const bf16 *p, float *out) {
    const uint4 v = *reinterpret_cast<const uint4 *>(p);
    const u32 w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        out[2 * i] = __uint_as_float(w[i] << 16);
        out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

// h[p, i] = bf16(bf16(silu(g)) * u), g = bf16(x_t . Wg[e, i]) (+ bias, rounded), u likewise, for pair p = t * top_k + j
// and e = topk_ids[p]. Grid (ceil(inter / 8), tokens * top_k), 256 threads: one warp per row i. Dynamic shared
// memory: hidden bf16 (the token's row).
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_gate_up_small(const bf16 *__restrict__ x, const int *__restrict__ topk_ids,
                            const bf16 *__restrict__ gate_up, const bf16 *__restrict__ gate_up_bias,
                            bf16 *__restrict__ h, int hidden, int inter, int top_k) {
    ERNIE_DYNAMIC_SMEM(bf16, xs);
    const int p = blockIdx.y;
    const int t = p / top_k;
    const int e = topk_ids[p];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int c = threadIdx.x; c < hidden / 8; c += blockDim.x) {
        *reinterpret_cast<uint4 *>(xs + c * 8) = *reinterpret_cast<const uint4 *>(x + (i64)t * hidden + c * 8);
    }
    __syncthreads();
    const int i = blockIdx.x * 8 + warp;
    if (i >= inter) return;  // no barrier follows
    const bf16 *gate_row = gate_up + ((i64)e * 2 * inter + i) * hidden;
    const bf16 *up_row = gate_row + (i64)inter * hidden;
    float g = 0.0f, u = 0.0f;
    for (int c = lane; c < hidden / 8; c += 32) {
        float wg[8], wu[8], xv[8];
        load8(gate_row + c * 8, wg);
        load8(up_row + c * 8, wu);
        load8(xs + c * 8, xv);
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            g += wg[k] * xv[k];
            u += wu[k] * xv[k];
        }
    }
    g = warp_sum(g);
    u = warp_sum(u);
    if (lane == 0) {
        float gb = round_bf(g), ub = round_bf(u);
        if (gate_up_bias != nullptr) {
            gb = round_bf(gb + bf2f(gate_up_bias[(i64)e * 2 * inter + i]));
            ub = round_bf(ub + bf2f(gate_up_bias[(i64)e * 2 * inter + inter + i]));
        }
        const float s = round_bf(gb / (1.0f + expf(-gb)));
        h[(i64)p * inter + i] = f2bf(s * ub);
    }
}

// out[t, c] = (sum over the token's choices in increasing expert id of bf16(bf16(h_p . Wd[e, c]) * w_p), every add
// rounded to bf16) + shared[t, c] (rounded), as ernie_moe_combine. Grid (ceil(hidden / 8), tokens), 256 threads: one
// warp per output column c. Dynamic shared memory: top_k * inter bf16 (the token's h rows).
extern "C" __global__ void __launch_bounds__(256)
    ernie_moe_down_small(const bf16 *__restrict__ h, const int *__restrict__ topk_ids,
                         const float *__restrict__ topk_weights, const bf16 *__restrict__ down,
                         const bf16 *__restrict__ down_bias, const bf16 *__restrict__ shared, bf16 *__restrict__ out,
                         int hidden, int inter, int top_k) {
    ERNIE_DYNAMIC_SMEM(bf16, hs);
    __shared__ int order[64];
    const int t = blockIdx.y;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int c = threadIdx.x; c < top_k * inter / 8; c += blockDim.x) {
        *reinterpret_cast<uint4 *>(hs + c * 8) = *reinterpret_cast<const uint4 *>(h + (i64)t * top_k * inter + c * 8);
    }
    if (threadIdx.x == 0) {
        for (int j = 0; j < top_k; ++j) order[j] = j;
        for (int a = 1; a < top_k; ++a) {
            const int v = order[a];
            int b = a - 1;
            while (b >= 0 && topk_ids[(i64)t * top_k + order[b]] > topk_ids[(i64)t * top_k + v]) {
                order[b + 1] = order[b];
                --b;
            }
            order[b + 1] = v;
        }
    }
    __syncthreads();
    const int c = blockIdx.x * 8 + warp;
    if (c >= hidden) return;  // no barrier follows
    float acc = 0.0f;
    for (int jj = 0; jj < top_k; ++jj) {
        const int j = order[jj];
        const int e = topk_ids[(i64)t * top_k + j];
        const bf16 *row = down + ((i64)e * hidden + c) * inter;
        const bf16 *hv = hs + j * inter;
        float dot = 0.0f;
        for (int k = lane; k < inter / 8; k += 32) {
            float wv[8], xv[8];
            load8(row + k * 8, wv);
            load8(hv + k * 8, xv);
#pragma unroll
            for (int q = 0; q < 8; ++q) dot += wv[q] * xv[q];
        }
        dot = warp_sum(dot);
        float y = round_bf(dot);
        if (down_bias != nullptr) y = round_bf(y + bf2f(down_bias[(i64)e * hidden + c]));
        acc = round_bf(acc + round_bf(y * topk_weights[(i64)t * top_k + j]));
    }
    if (lane == 0) {
        if (shared != nullptr) acc = round_bf(acc + bf2f(shared[(i64)t * hidden + c]));
        out[(i64)t * hidden + c] = f2bf(acc);
    }
}
