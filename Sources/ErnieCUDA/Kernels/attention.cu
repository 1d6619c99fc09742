// Interleaved RoPE + paged KV write, and causal GQA attention over the paged KV cache (prefill and decode).
//
// KV cache of one layer: pages of [2][num_kv_heads][page_size][head_dim] bf16 (K block then V block), page stride
// `page_stride` = 2 * num_kv_heads * page_size * head_dim elements. Token position p of a sequence lives in page
// pages[seq_page_start[seq] + p / page_size], slot p % page_size.
#include "common.cuh"

#define LOG2E 1.4426950408889634f

// One block per token. q_out[t] = rope(q); K = rope(k) and V written to the token's KV slot (skipped when slot < 0).
// y[2i] = x[2i] cos - x[2i+1] sin, y[2i+1] = x[2i+1] cos + x[2i] sin, angle = float(pos) * inv_freq[i], in fp32,
// precise sincosf, rounded to bf16 once (transformers' apply_rotary_pos_emb).
extern "C" __global__ void ernie_rope_kv_write(const bf16 *__restrict__ qkv, bf16 *__restrict__ q_out,
                                               bf16 *__restrict__ kv, const int *__restrict__ positions,
                                               const int *__restrict__ slots, const float *__restrict__ inv_freq,
                                               int nq, int nkv, int head_dim, int page_size, i64 page_stride) {
    const int t = blockIdx.x;
    const int pos = positions[t];
    const int slot = slots[t];
    const int half = head_dim / 2;
    const bf16 *row = qkv + (i64)t * (nq + 2 * nkv) * head_dim;
    const i64 page = slot >= 0 ? slot / page_size : 0;
    const int offset = slot >= 0 ? slot - (int)page * page_size : 0;
    bf16 *k_page = kv + page * page_stride;
    bf16 *v_page = k_page + (i64)nkv * page_size * head_dim;
    for (int i = threadIdx.x; i < (nq + nkv) * half; i += blockDim.x) {
        const int h = i / half;
        const int j = i - h * half;
        float s, c;
        sincosf((float)pos * inv_freq[j], &s, &c);
        const float x0 = bf2f(row[h * head_dim + 2 * j]);
        const float x1 = bf2f(row[h * head_dim + 2 * j + 1]);
        const float y0 = x0 * c - x1 * s;
        const float y1 = x1 * c + x0 * s;
        if (h < nq) {
            bf16 *dst = q_out + ((i64)t * nq + h) * head_dim + 2 * j;
            dst[0] = f2bf(y0);
            dst[1] = f2bf(y1);
        } else if (slot >= 0) {
            bf16 *dst = k_page + ((i64)(h - nq) * page_size + offset) * head_dim + 2 * j;
            dst[0] = f2bf(y0);
            dst[1] = f2bf(y1);
        }
    }
    if (slot >= 0) {
        const bf16 *v = row + (nq + nkv) * head_dim;
        for (int i = threadIdx.x; i < nkv * head_dim; i += blockDim.x) {
            const int h = i / head_dim;
            const int d = i - h * head_dim;
            v_page[((i64)h * page_size + offset) * head_dim + d] = v[i];
        }
    }
}

#define ATT_WARPS 4
#define ATT_MAX_GROUP 8

// DPL consecutive bf16 of a row, widened (lane-contiguous 4/8-byte loads when the row is full width and aligned;
// element loads masked to `valid` otherwise).
template <int DPL, bool FULL>
__device__ __forceinline__ void load_lane(const bf16 *p, int valid, float *out) {
    if constexpr (FULL && DPL == 2) {
        const u32 v = *reinterpret_cast<const u32 *>(p);
        out[0] = __uint_as_float(v << 16);
        out[1] = __uint_as_float(v & 0xffff0000u);
    } else if constexpr (FULL && DPL == 4) {
        const uint2 v = *reinterpret_cast<const uint2 *>(p);
        out[0] = __uint_as_float(v.x << 16);
        out[1] = __uint_as_float(v.x & 0xffff0000u);
        out[2] = __uint_as_float(v.y << 16);
        out[3] = __uint_as_float(v.y & 0xffff0000u);
    } else {
#pragma unroll
        for (int i = 0; i < DPL; ++i) out[i] = i < valid ? bf2f(p[i]) : 0.0f;
    }
}

// Block (token t, KV head + group chunk, split). Each of ATT_WARPS warps walks every ATT_WARPS-th key of the split's
// range [split * split_len, min(pos + 1, (split + 1) * split_len)); lane l holds dims [l*DPL, l*DPL + DPL) of the
// head (head_dim <= 32 * DPL; FULL when equal); up to ATT_MAX_GROUP query heads of the KV head's group share each K/V
// load. Online softmax in base 2, fp32. One split: writes bf16 output. Several: writes unnormalised partial O and
// (max, sum) for ernie_attention_merge.
template <int DPL, bool FULL>
__device__ __forceinline__ void attention_impl(const bf16 *__restrict__ q, const bf16 *__restrict__ kv,
                                               const int *__restrict__ token_seq, const int *__restrict__ positions,
                                               const int *__restrict__ seq_page_start, const int *__restrict__ pages,
                                               bf16 *__restrict__ out, float *__restrict__ part_o,
                                               float *__restrict__ part_ml, int num_tokens, int nq, int nkv, int hd,
                                               int page_size, i64 page_stride, float scale, int split_len) {
    constexpr int WIDTH = 32 * DPL;
    __shared__ float sm_m[ATT_WARPS][ATT_MAX_GROUP];
    __shared__ float sm_l[ATT_WARPS][ATT_MAX_GROUP];
    __shared__ float sm_acc[ATT_WARPS][ATT_MAX_GROUP][WIDTH];

    const int t = blockIdx.x;
    const int group = nq / nkv;
    const int chunks = (group + ATT_MAX_GROUP - 1) / ATT_MAX_GROUP;
    const int kvh = blockIdx.y / chunks;
    const int chunk = blockIdx.y - kvh * chunks;
    const int h0 = kvh * group + chunk * ATT_MAX_GROUP;
    const int nh = min(ATT_MAX_GROUP, group - chunk * ATT_MAX_GROUP);
    const int split = blockIdx.z;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int kv_len = positions[t] + 1;
    const int k_begin = split * split_len;
    const int k_end = min(kv_len, k_begin + split_len);
    const int *seq_pages = pages + seq_page_start[token_seq[t]];
    const float qk_scale = scale * LOG2E;
    const int dim0 = lane * DPL;
    const int valid = FULL ? DPL : max(0, min(DPL, hd - dim0));

    float qv[ATT_MAX_GROUP][DPL];
    float m[ATT_MAX_GROUP], l[ATT_MAX_GROUP], acc[ATT_MAX_GROUP][DPL];
#pragma unroll
    for (int j = 0; j < ATT_MAX_GROUP; ++j) {
        if (j < nh) {
            load_lane<DPL, FULL>(q + ((i64)t * nq + h0 + j) * hd + dim0, valid, qv[j]);
        } else {
#pragma unroll
            for (int d = 0; d < DPL; ++d) qv[j][d] = 0.0f;
        }
        m[j] = ERNIE_NEG_INF;
        l[j] = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; ++d) acc[j][d] = 0.0f;
    }

    for (int k = k_begin + warp; k < k_end; k += ATT_WARPS) {
        const int page_index = k / page_size;
        const int offset = k - page_index * page_size;
        const bf16 *kp = kv + (i64)seq_pages[page_index] * page_stride + ((i64)kvh * page_size + offset) * hd + dim0;
        const bf16 *vp = kp + (i64)nkv * page_size * hd;
        float kf[DPL], vf[DPL];
        load_lane<DPL, FULL>(kp, valid, kf);
        load_lane<DPL, FULL>(vp, valid, vf);
#pragma unroll
        for (int j = 0; j < ATT_MAX_GROUP; ++j) {
            if (j < nh) {  // nh is uniform over the block: the shuffles below are convergent
                float s = 0.0f;
#pragma unroll
                for (int d = 0; d < DPL; ++d) s += qv[j][d] * kf[d];
                s = warp_sum(s) * qk_scale;
                const float mn = fmaxf(m[j], s);
                const float correction = exp2f(m[j] - mn);
                const float p = exp2f(s - mn);
                l[j] = l[j] * correction + p;
#pragma unroll
                for (int d = 0; d < DPL; ++d) acc[j][d] = acc[j][d] * correction + p * vf[d];
                m[j] = mn;
            }
        }
    }

#pragma unroll
    for (int j = 0; j < ATT_MAX_GROUP; ++j) {
        if (lane == 0) {
            sm_m[warp][j] = m[j];
            sm_l[warp][j] = l[j];
        }
#pragma unroll
        for (int d = 0; d < DPL; ++d) sm_acc[warp][j][dim0 + d] = acc[j][d];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < nh * hd; idx += blockDim.x) {
        const int j = idx / hd;
        const int d = idx - j * hd;
        float mx = ERNIE_NEG_INF;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; ++w) mx = fmaxf(mx, sm_m[w][j]);
        float sum = 0.0f, o = 0.0f;
        if (mx != ERNIE_NEG_INF) {
#pragma unroll
            for (int w = 0; w < ATT_WARPS; ++w) {
                const float f = exp2f(sm_m[w][j] - mx);
                sum += sm_l[w][j] * f;
                o += sm_acc[w][j][d] * f;
            }
        }
        const int h = h0 + j;
        if (gridDim.z == 1) {
            out[((i64)t * nq + h) * hd + d] = f2bf(sum > 0.0f ? o / sum : 0.0f);
        } else {
            const i64 p = ((i64)split * num_tokens + t) * nq + h;
            part_o[p * hd + d] = o;
            if (d == 0) {
                part_ml[p * 2] = mx;
                part_ml[p * 2 + 1] = sum;
            }
        }
    }
}

// ernie_attention_w<WIDTH>: head_dim == WIDTH (vector loads); ernie_attention_w<WIDTH>_masked: head_dim < WIDTH.
#define ERNIE_ATTENTION_KERNEL(NAME, DPL, FULL)                                                                   \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) NAME(                                            \
        const bf16 *__restrict__ q, const bf16 *__restrict__ kv, const int *__restrict__ token_seq,              \
        const int *__restrict__ positions, const int *__restrict__ seq_page_start, const int *__restrict__ pages, \
        bf16 *__restrict__ out, float *__restrict__ part_o, float *__restrict__ part_ml, int num_tokens, int nq,  \
        int nkv, int hd, int page_size, i64 page_stride, float scale, int split_len) {                            \
        attention_impl<DPL, FULL>(q, kv, token_seq, positions, seq_page_start, pages, out, part_o, part_ml,      \
                                  num_tokens, nq, nkv, hd, page_size, page_stride, scale, split_len);            \
    }

ERNIE_ATTENTION_KERNEL(ernie_attention_w64, 2, true)
ERNIE_ATTENTION_KERNEL(ernie_attention_w128, 4, true)
ERNIE_ATTENTION_KERNEL(ernie_attention_w256, 8, true)
ERNIE_ATTENTION_KERNEL(ernie_attention_w32_masked, 1, false)
ERNIE_ATTENTION_KERNEL(ernie_attention_w64_masked, 2, false)
ERNIE_ATTENTION_KERNEL(ernie_attention_w128_masked, 4, false)
ERNIE_ATTENTION_KERNEL(ernie_attention_w256_masked, 8, false)

// Combines the splits of ernie_attention_w*: out = sum_s O_s 2^(m_s - M) / sum_s l_s 2^(m_s - M).
// Grid (tokens, heads), block >= 32 threads (a multiple of 32) striding head_dim. The splits' factors 2^(m_s - M) go
// to shared memory first (MERGE_CHUNK splits at a time, -1 marks an empty split), so each thread's O loads are
// independent of one another (8 in flight); every sum still runs over s in increasing order.
#define MERGE_CHUNK 256
#define MERGE_U 8
extern "C" __global__ void ernie_attention_merge(const float *__restrict__ part_o, const float *__restrict__ part_ml,
                                                 bf16 *__restrict__ out, int num_tokens, int nq, int head_dim,
                                                 int splits) {
    __shared__ float sf[MERGE_CHUNK], sl[MERGE_CHUNK];
    __shared__ float scratch[32];
    const int t = blockIdx.x;
    const int h = blockIdx.y;
    float mx = ERNIE_NEG_INF;
    for (int s = threadIdx.x; s < splits; s += blockDim.x)
        mx = fmaxf(mx, part_ml[(((i64)s * num_tokens + t) * nq + h) * 2]);
    mx = block_max(mx, scratch);
    for (int d0 = 0; d0 < head_dim; d0 += blockDim.x) {
        const int d = d0 + threadIdx.x;
        float sum = 0.0f, o = 0.0f;
        for (int c0 = 0; c0 < splits; c0 += MERGE_CHUNK) {
            const int n = min(MERGE_CHUNK, splits - c0);
            __syncthreads();
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                const i64 p = ((i64)(c0 + i) * num_tokens + t) * nq + h;
                const float ms = part_ml[p * 2];
                sf[i] = ms == ERNIE_NEG_INF ? -1.0f : exp2f(ms - mx);
                sl[i] = part_ml[p * 2 + 1];
            }
            __syncthreads();
            for (int s0 = 0; s0 < n; s0 += MERGE_U) {
                float v[MERGE_U];
#pragma unroll
                for (int u = 0; u < MERGE_U; ++u) {
                    const int i = s0 + u;
                    const i64 p = ((i64)(c0 + i) * num_tokens + t) * nq + h;
                    v[u] = (i < n && d < head_dim && sf[i] >= 0.0f) ? part_o[p * head_dim + d] : 0.0f;
                }
#pragma unroll
                for (int u = 0; u < MERGE_U; ++u) {
                    const int i = s0 + u;
                    if (i >= n) break;
                    const float f = sf[i];
                    if (f < 0.0f) continue;
                    sum += sl[i] * f;
                    o += v[u] * f;
                }
            }
        }
        if (d < head_dim) out[((i64)t * nq + h) * head_dim + d] = f2bf(sum > 0.0f ? o / sum : 0.0f);
    }
}
