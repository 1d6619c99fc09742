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
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                const float other = __shfl_xor_sync(0xffffffffu, best, o);
                const int other_id = __shfl_xor_sync(0xffffffffu, best_id, o);
                if (other > best || (other == best && other_id < best_id)) {
                    best = other;
                    best_id = other_id;
                }
            }
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
// (expert outputs grouped by expert) holding choice j of token t. One block per token.
extern "C" __global__ void ernie_moe_combine(const bf16 *__restrict__ y, const int *__restrict__ rows,
                                             const int *__restrict__ topk_ids, const float *__restrict__ topk_weights,
                                             const bf16 *__restrict__ shared, bf16 *__restrict__ out, int hidden,
                                             int top_k) {
    __shared__ int order[64];
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
    }
    __syncthreads();
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float acc = 0.0f;
        for (int jj = 0; jj < top_k; ++jj) {
            const int j = order[jj];
            const i64 row = rows[(i64)t * top_k + j];
            const float contribution = round_bf(bf2f(y[row * hidden + i]) * topk_weights[(i64)t * top_k + j]);
            acc = round_bf(acc + contribution);
        }
        if (shared != nullptr) acc = round_bf(acc + bf2f(shared[(i64)t * hidden + i]));
        out[(i64)t * hidden + i] = f2bf(acc);
    }
}
