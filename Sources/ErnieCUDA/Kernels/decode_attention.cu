// Decode steps: RoPE + paged KV write with one sincos per frequency, and split-KV (flash-decoding) attention whose
// launch shape depends only on the number of launch rows, so it can be captured in a CUDA graph: each block reads its
// token's KV length on the device and derives its key range. KV layout: attention.cu.
#include "common.cuh"

// A decode row's keys [0, kv_len) cut into splits of at least `min_chunk` keys over at most `splits` blocks: split
// `split` takes [k_begin, k_end) (empty past the last split with keys); `used` splits hold keys. The attention kernels
// and ernie_decode_attention_merge must agree on it.
struct DecodeSplit {
    int k_begin, k_end, used;
};
__device__ __forceinline__ DecodeSplit decode_split(int kv_len, int split, int splits, int min_chunk) {
    const int eff = max(1, min(splits, (kv_len + min_chunk - 1) / min_chunk));
    const int len = (kv_len + eff - 1) / eff;
    DecodeSplit d;
    d.k_begin = split * len;
    d.k_end = min(kv_len, d.k_begin + len);
    d.used = (kv_len + len - 1) / len;
    return d;
}

#define LOG2E_DEC 1.4426950408889634f

// One block per launch row. q_out[t] = rope(q); K = rope(k) and V written to the token's slot (skipped when slot < 0,
// i.e. padding). cos/sin of position * inv_freq[j] (fp32, precise sincosf) computed once per j into shared memory;
// the rotation and rounding are exactly ernie_rope_kv_write's. Dynamic shared memory: head_dim floats.
extern "C" __global__ void __launch_bounds__(256)
    ernie_rope_kv_write_fast(const bf16 *qkv, bf16 *__restrict__ q_out, bf16 *__restrict__ kv,
                             const int *positions, const int *slots, const float *__restrict__ inv_freq, int nq,
                             int nkv, int head_dim, int page_size, i64 page_stride) {
    ERNIE_DYNAMIC_SMEM(float, cs);
    const int t = blockIdx.x;
    const int half = head_dim / 2;
    pdl_wait();
    const int pos = positions[t];
    const int slot = slots[t];
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        float s, c;
        sincosf((float)pos * inv_freq[j], &s, &c);
        cs[2 * j] = c;
        cs[2 * j + 1] = s;
    }
    __syncthreads();
    const bf16 *row = qkv + (i64)t * (nq + 2 * nkv) * head_dim;
    const i64 page = slot >= 0 ? slot / page_size : 0;
    const int offset = slot >= 0 ? slot - (int)page * page_size : 0;
    bf16 *k_page = kv + page * page_stride;
    bf16 *v_page = k_page + (i64)nkv * page_size * head_dim;
    const int heads = slot >= 0 ? nq + nkv : nq;
    for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
        const int h = i / half;
        const int j = i - h * half;
        const u32 pair = *reinterpret_cast<const u32 *>(row + h * head_dim + 2 * j);
        const float x0 = __uint_as_float(pair << 16), x1 = __uint_as_float(pair & 0xffff0000u);
        const float c = cs[2 * j], s = cs[2 * j + 1];
        const u32 out = pack_bf16x2(x0 * c - x1 * s, x1 * c + x0 * s);
        if (h < nq) {
            *reinterpret_cast<u32 *>(q_out + ((i64)t * nq + h) * head_dim + 2 * j) = out;
        } else {
            *reinterpret_cast<u32 *>(k_page + ((i64)(h - nq) * page_size + offset) * head_dim + 2 * j) = out;
        }
    }
    if (slot >= 0) {
        const bf16 *v = row + (nq + nkv) * head_dim;
        for (int i = threadIdx.x; i < nkv * half; i += blockDim.x) {
            const int h = i / half;
            const int d = 2 * (i - h * half);
            *reinterpret_cast<u32 *>(v_page + ((i64)h * page_size + offset) * head_dim + d) =
                *reinterpret_cast<const u32 *>(v + h * head_dim + d);
        }
    }
    pdl_launch_dependents();
}

#define DEC_WARPS 4

// Block (launch row t, KV head × group chunk, split). LPK lanes share one key (8 dims each, head_dim = 8 * LPK); a
// warp covers 32 / LPK keys per load and U such loads in flight; up to GCH query heads of the KV head's group share
// every K/V load. The token's keys [0, positions[t] + 1) are cut into `eff` ranges of at least `min_chunk` keys (at
// most gridDim.z); blocks past the last split with keys exit at once. Online softmax in base 2, fp32.
// gridDim.z == 1: writes the normalised bf16 output (zeros for launch rows t >= num_tokens, padding); otherwise
// unnormalised partial O and (max, sum) per split with keys for ernie_decode_attention_merge.
template <int LPK, int GCH, int U>
__device__ __forceinline__ void decode_attention_impl(
    const bf16 *q, const bf16 *kv, const int *token_seq, const int *positions, const int *seq_page_start,
    const int *pages, const int *num_tokens_ptr, bf16 *__restrict__ out, float *__restrict__ part_o,
    float *__restrict__ part_ml, int T, int nq, int nkv, int page_size, i64 page_stride, float scale, int min_chunk) {
    constexpr int HD = 8 * LPK;
    constexpr int KPW = 32 / LPK;
    constexpr int GROUPS = DEC_WARPS * KPW;  // independent (m, l, acc) states per block
    __shared__ float sm_m[GROUPS][GCH];
    __shared__ float sm_l[GROUPS][GCH];
    __shared__ float sm_acc[GROUPS][GCH][HD];

    const int t = blockIdx.x;
    const int group = nq / nkv;
    const int chunks = (group + GCH - 1) / GCH;
    const int kvh = blockIdx.y / chunks;
    const int chunk = blockIdx.y - kvh * chunks;
    const int h0 = kvh * group + chunk * GCH;
    const int nh = min(GCH, group - chunk * GCH);
    const int split = blockIdx.z, splits = gridDim.z;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int sub = lane / LPK, dl = lane - sub * LPK;
    const int state = warp * KPW + sub;
    pdl_wait();
    const int num_tokens = *num_tokens_ptr;

    int k_begin = 0, k_end = 0;
    if (t < num_tokens) {
        const DecodeSplit d = decode_split(positions[t] + 1, split, splits, min_chunk);
        k_begin = d.k_begin;
        k_end = d.k_end;
    }
    if (k_begin >= k_end) {  // padding row or empty split (uniform over the block)
        // With splits, ernie_decode_attention_merge reads only the splits that hold keys and zeroes padding rows.
        if (splits == 1) {
            for (int idx = threadIdx.x; idx < nh * HD; idx += blockDim.x) out[((i64)t * nq + h0) * HD + idx] = 0;
        }
        return;
    }

    const float qk_scale = scale * LOG2E_DEC;
    float qv[GCH][8], m[GCH], l[GCH], acc[GCH][8];
#pragma unroll
    for (int j = 0; j < GCH; ++j) {
        if (j < nh) {
            unpack8(*reinterpret_cast<const uint4 *>(q + ((i64)t * nq + h0 + j) * HD + dl * 8), qv[j]);
#pragma unroll
            for (int d = 0; d < 8; ++d) qv[j][d] *= qk_scale;
        } else {
#pragma unroll
            for (int d = 0; d < 8; ++d) qv[j][d] = 0.0f;
        }
        m[j] = ERNIE_NEG_INF;
        l[j] = 0.0f;
#pragma unroll
        for (int d = 0; d < 8; ++d) acc[j][d] = 0.0f;
    }
    const int *seq_pages = pages + seq_page_start[token_seq[t]];
    const i64 head_offset = (i64)kvh * page_size * HD + dl * 8;
    const i64 v_offset = (i64)nkv * page_size * HD;

    for (int base = k_begin + warp * KPW * U; base < k_end; base += DEC_WARPS * KPW * U) {
        uint4 kr[U], vr[U];
        bool valid[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int key = base + u * KPW + sub;
            valid[u] = key < k_end;
            if (valid[u]) {
                const int page_index = key / page_size;
                const int offset = key - page_index * page_size;
                const bf16 *kp = kv + (i64)seq_pages[page_index] * page_stride + head_offset + (i64)offset * HD;
                kr[u] = ldg16(kp);
                vr[u] = ldg16(kp + v_offset);
            } else {
                kr[u] = zero16();
                vr[u] = zero16();
            }
        }
        float s[U][GCH];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            float kf[8];
            unpack8(kr[u], kf);
#pragma unroll
            for (int j = 0; j < GCH; ++j) {
                float dot = 0.0f;
#pragma unroll
                for (int d = 0; d < 8; ++d) dot += qv[j][d] * kf[d];
#pragma unroll
                for (int o = LPK / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                s[u][j] = valid[u] ? dot : ERNIE_NEG_INF;
            }
        }
#pragma unroll
        for (int j = 0; j < GCH; ++j) {
            if (j >= nh) continue;
            float mx = m[j];
#pragma unroll
            for (int u = 0; u < U; ++u) mx = fmaxf(mx, s[u][j]);
            if (mx == ERNIE_NEG_INF) continue;
            const float correction = exp2f(m[j] - mx);
            l[j] *= correction;
#pragma unroll
            for (int d = 0; d < 8; ++d) acc[j][d] *= correction;
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const float p = exp2f(s[u][j] - mx);
                l[j] += p;
                float vf[8];
                unpack8(vr[u], vf);
#pragma unroll
                for (int d = 0; d < 8; ++d) acc[j][d] += p * vf[d];
            }
            m[j] = mx;
        }
    }

#pragma unroll
    for (int j = 0; j < GCH; ++j) {
        if (dl == 0) {
            sm_m[state][j] = m[j];
            sm_l[state][j] = l[j];
        }
#pragma unroll
        for (int d = 0; d < 8; ++d) sm_acc[state][j][dl * 8 + d] = acc[j][d];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < nh * HD; idx += blockDim.x) {
        const int j = idx / HD, d = idx - j * HD;
        float mx = ERNIE_NEG_INF;
#pragma unroll
        for (int g = 0; g < GROUPS; ++g) mx = fmaxf(mx, sm_m[g][j]);
        float sum = 0.0f, o = 0.0f;
        if (mx != ERNIE_NEG_INF) {
#pragma unroll
            for (int g = 0; g < GROUPS; ++g) {
                const float f = exp2f(sm_m[g][j] - mx);
                sum += sm_l[g][j] * f;
                o += sm_acc[g][j][d] * f;
            }
        }
        if (splits == 1) {
            out[((i64)t * nq + h0 + j) * HD + d] = f2bf(sum > 0.0f ? o / sum : 0.0f);
        } else {
            const i64 p = ((i64)split * T + t) * nq + h0 + j;
            part_o[p * HD + d] = o;
            if (d == 0) {
                part_ml[p * 2] = mx;
                part_ml[p * 2 + 1] = sum;
            }
        }
    }
    pdl_launch_dependents();
}

#define ERNIE_DECODE_ATTENTION_KERNEL(LPK, GCH, U)                                                                  \
    extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32, 1) ernie_decode_attention_l##LPK##_g##GCH(         \
        const bf16 *q, const bf16 *kv, const int *token_seq, const int *positions, const int *seq_page_start,       \
        const int *pages, const int *num_tokens, bf16 *__restrict__ out, float *__restrict__ part_o,                \
        float *__restrict__ part_ml, int T, int nq, int nkv, int page_size, i64 page_stride, float scale,           \
        int min_chunk) {                                                                                            \
        decode_attention_impl<LPK, GCH, U>(q, kv, token_seq, positions, seq_page_start, pages, num_tokens, out,     \
                                           part_o, part_ml, T, nq, nkv, page_size, page_stride, scale, min_chunk);  \
    }

// head_dim 32 / 64 / 128 / 256 (LPK 4 / 8 / 16 / 32) × up to 2 / 4 / 5 / 8 query heads per KV head and block.
ERNIE_DECODE_ATTENTION_KERNEL(4, 2, 4)
ERNIE_DECODE_ATTENTION_KERNEL(4, 4, 4)
ERNIE_DECODE_ATTENTION_KERNEL(4, 5, 4)
ERNIE_DECODE_ATTENTION_KERNEL(4, 8, 2)
ERNIE_DECODE_ATTENTION_KERNEL(8, 2, 4)
ERNIE_DECODE_ATTENTION_KERNEL(8, 4, 4)
ERNIE_DECODE_ATTENTION_KERNEL(8, 5, 4)
ERNIE_DECODE_ATTENTION_KERNEL(8, 8, 2)
ERNIE_DECODE_ATTENTION_KERNEL(16, 2, 4)
ERNIE_DECODE_ATTENTION_KERNEL(16, 4, 4)
ERNIE_DECODE_ATTENTION_KERNEL(16, 5, 4)
ERNIE_DECODE_ATTENTION_KERNEL(16, 8, 2)
ERNIE_DECODE_ATTENTION_KERNEL(32, 2, 4)
ERNIE_DECODE_ATTENTION_KERNEL(32, 4, 4)
ERNIE_DECODE_ATTENTION_KERNEL(32, 5, 4)
ERNIE_DECODE_ATTENTION_KERNEL(32, 8, 2)

// Split-KV decode attention on tensor cores for head_dim 128 and GQA groups of at most 16 query heads: one block per
// (launch row, KV head, split), the split's keys as in decode_attention_impl; each of the 4 warps takes every 4th
// 16-key tile, brings its K and V rows into its own shared-memory pair of buffers with cp.async (double buffered),
// computes S = Q Kᵀ for the group's heads as the 16 rows of an mma m16n8k16 (ldmatrix from the K tile), the online
// softmax in base 2 in fp32 (P rounded to bf16 as in the prefill kernel) and O += P V (V read transposed by
// ldmatrix.trans); the warps' states are merged through shared memory, written as decode_attention_impl writes
// them (normalised bf16 when gridDim.z == 1, else partial O and (max, sum) for ernie_decode_attention_merge). Dynamic
// shared memory: DTC_WARPS * 2 stages * (K, V) * 16 * (128 + 8) bf16 = 69,632 bytes.
#define DTC_WARPS 4
#define DTC_KEYS 16
#define DTC_HD 128
#define DTC_STRIDE (DTC_HD + 8)
#define DTC_TILE (DTC_KEYS * DTC_STRIDE)

//
// ROPE (ernie_decode_attention_tc_rope_hd128, the default; ERNIE_CUDA_DECODE_ROPE_FUSED=0 for the separate launch):
// the RoPE + KV write of ernie_rope_kv_write_fast inside this kernel, one launch per layer less. `q` is then the fused
// qkv projection (rows of (nq + 2 nkv) * 128); each block rotates its group's query heads itself (cos/sin of the
// token's position computed once per block, the same rotation and rounding as ernie_rope_kv_write_fast), and the block
// whose split holds the token's own key writes that key (rotated) and value to the token's slot before its first K/V
// tile is copied (the only block that reads the new key).
template <bool ROPE>
__device__ __forceinline__ void decode_attention_tc_impl(
    const bf16 *q, const bf16 *kv, const int *token_seq, const int *positions, const int *seq_page_start,
    const int *pages, const int *num_tokens_ptr, bf16 *__restrict__ out, float *__restrict__ part_o,
    float *__restrict__ part_ml, int T, int nq, int nkv, int page_size, i64 page_stride, float scale,
    int min_chunk, const int *slots, const float *__restrict__ inv_freq) {
    ERNIE_DYNAMIC_SMEM(bf16, smem);
    __shared__ float rope_cs[ROPE ? DTC_HD : 1];
    constexpr int HD = DTC_HD;
    constexpr int KSTEPS = HD / 16;
    constexpr int DTILES = HD / 8;
    const int t_row = blockIdx.x;
    const int group = nq / nkv;  // <= 16 (host-checked)
    const int kvh = blockIdx.y;
    const int h0 = kvh * group;
    const int split = blockIdx.z, splits = gridDim.z;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    pdl_wait();
    const int num_tokens = *num_tokens_ptr;

    int k_begin = 0, k_end = 0;
    if (t_row < num_tokens) {
        const DecodeSplit d = decode_split(positions[t_row] + 1, split, splits, min_chunk);
        k_begin = d.k_begin;
        k_end = d.k_end;
    }
    if (k_begin >= k_end) {  // padding row or empty split (uniform over the block)
        // With splits, ernie_decode_attention_merge reads only the splits that hold keys and zeroes padding rows.
        if (splits == 1) {
            for (int idx = threadIdx.x; idx < group * HD; idx += blockDim.x) out[((i64)t_row * nq + h0) * HD + idx] = 0;
        }
        return;
    }

    // Q fragments: rows g and g + 8 are query heads h0 + g, h0 + g + 8 (zero past the group).
    const bool va = g < group, vb = g + 8 < group;
    const i64 q_head0 = ROPE ? (i64)t_row * (nq + 2 * nkv) + h0 : (i64)t_row * nq + h0;  // in rows of HD
    const bf16 *qa = q + (q_head0 + (va ? g : 0)) * HD;
    const bf16 *qb = q + (q_head0 + (vb ? g + 8 : 0)) * HD;
    // A pair (d, d + 1) of a query or key head, rotated.
    auto rope_pair = [&](const bf16 *row, int d) -> u32 {
        const u32 pair = *reinterpret_cast<const u32 *>(row + d);
        const float x0 = __uint_as_float(pair << 16), x1 = __uint_as_float(pair & 0xffff0000u);
        const float c = rope_cs[d], sn = rope_cs[d + 1];
        return pack_bf16x2(x0 * c - x1 * sn, x1 * c + x0 * sn);
    };
    if (ROPE) {
        for (int j = threadIdx.x; j < HD / 2; j += blockDim.x) {
            float sn, cs;
            sincosf((float)positions[t_row] * inv_freq[j], &sn, &cs);
            rope_cs[2 * j] = cs;
            rope_cs[2 * j + 1] = sn;
        }
        __syncthreads();
        // The token's own key and value, written by the block whose split ends at it (after its rotation).
        const int slot = slots[t_row];
        if (k_end == positions[t_row] + 1 && slot >= 0) {
            const i64 page = slot / page_size;
            const int offset = slot - (int)page * page_size;
            bf16 *k_dst = const_cast<bf16 *>(kv) + page * page_stride + ((i64)kvh * page_size + offset) * HD;
            bf16 *v_dst = k_dst + (i64)nkv * page_size * HD;
            const bf16 *k_src = q + (q_head0 - h0 + nq + kvh) * HD;
            const bf16 *v_src = k_src + (i64)nkv * HD;
            for (int j = threadIdx.x; j < HD / 2; j += blockDim.x) {
                *reinterpret_cast<u32 *>(k_dst + 2 * j) = rope_pair(k_src, 2 * j);
                *reinterpret_cast<u32 *>(v_dst + 2 * j) = *reinterpret_cast<const u32 *>(v_src + 2 * j);
            }
            __threadfence_block();
            __syncthreads();  // before any warp copies the tile that holds this key
        }
    }
    u32 qf[KSTEPS][4];
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
        const int d = kk * 16 + 2 * t;
        if (ROPE) {
            qf[kk][0] = va ? rope_pair(qa, d) : 0u;
            qf[kk][1] = vb ? rope_pair(qb, d) : 0u;
            qf[kk][2] = va ? rope_pair(qa, d + 8) : 0u;
            qf[kk][3] = vb ? rope_pair(qb, d + 8) : 0u;
        } else {
            qf[kk][0] = va ? *reinterpret_cast<const u32 *>(qa + d) : 0u;
            qf[kk][1] = vb ? *reinterpret_cast<const u32 *>(qb + d) : 0u;
            qf[kk][2] = va ? *reinterpret_cast<const u32 *>(qa + d + 8) : 0u;
            qf[kk][3] = vb ? *reinterpret_cast<const u32 *>(qb + d + 8) : 0u;
        }
    }

    const int *seq_pages = pages + seq_page_start[token_seq[t_row]];
    const i64 head_offset = (i64)kvh * page_size * HD;
    const i64 v_offset = (i64)nkv * page_size * HD;
    bf16 *wsm = smem + warp * 2 * 2 * DTC_TILE;  // this warp's [stage][K, V] tiles
    const int ntiles = (k_end - k_begin + DTC_KEYS - 1) / DTC_KEYS;
    // cp.async of tile `i` (keys k_begin + 16 i ...) into `stage`; keys past k_end are zero rows.
    auto load_tile = [&](int i, int stage) {
        bf16 *ks = wsm + stage * 2 * DTC_TILE;
        bf16 *vs = ks + DTC_TILE;
        const int key0 = k_begin + i * DTC_KEYS;
        for (int c = lane; c < DTC_KEYS * (HD / 8); c += 32) {
            const int r = c / (HD / 8), d8 = (c - r * (HD / 8)) * 8;
            const int key = key0 + r;
            if (key < k_end) {
                const int page_index = key / page_size;
                const int offset = key - page_index * page_size;
                const bf16 *kp = kv + (i64)seq_pages[page_index] * page_stride + head_offset + (i64)offset * HD + d8;
                cp_async16(ks + r * DTC_STRIDE + d8, kp);
                cp_async16(vs + r * DTC_STRIDE + d8, kp + v_offset);
            } else {
                *reinterpret_cast<uint4 *>(ks + r * DTC_STRIDE + d8) = zero16();
                *reinterpret_cast<uint4 *>(vs + r * DTC_STRIDE + d8) = zero16();
            }
        }
        cp_async_commit();
    };

    const float sl = scale * LOG2E_DEC;
    float m_a = ERNIE_NEG_INF, m_b = ERNIE_NEG_INF, l_a = 0.0f, l_b = 0.0f;
    float o[DTILES][4];
#pragma unroll
    for (int n = 0; n < DTILES; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

    int stage = 0;
    if (warp < ntiles) load_tile(warp, 0);
    for (int i = warp; i < ntiles; i += DTC_WARPS) {
        if (i + DTC_WARPS < ntiles) {
            load_tile(i + DTC_WARPS, stage ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncwarp();
        const bf16 *ks = wsm + stage * 2 * DTC_TILE;
        const bf16 *vs = ks + DTC_TILE;

        // S = Q Kᵀ: 16 rows (heads) × 16 keys.
        float s[2][4];
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            attn_qk_ntile<KSTEPS>(s[nt], qf, ks + nt * 8 * DTC_STRIDE, DTC_STRIDE, lane);
        }
        // Scale, mask keys past the split, then the online softmax (rows g and g + 8) and O += P V (one key step).
        const int key0 = k_begin + i * DTC_KEYS;
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = key0 + nt * 8 + 2 * t + (e & 1);
                s[nt][e] = key < k_end ? s[nt][e] * sl : ERNIE_NEG_INF;
            }
        }
        u32 pf[1][4];
        attn_softmax_rows<2, DTILES>(s, m_a, m_b, l_a, l_b, o, pf);
        attn_pv_step<DTILES>(o, pf[0], vs, DTC_STRIDE, lane);
        __syncwarp();  // this stage is refilled two tiles on
        stage ^= 1;
    }

    // Merge the warps' states (rows = heads of the group) through shared memory.
    __syncthreads();
    float *red = reinterpret_cast<float *>(smem);      // [warp][16 rows][HD]
    float *red_ml = red + DTC_WARPS * 16 * HD;         // [warp][16 rows][m, l]
#pragma unroll
    for (int n = 0; n < DTILES; ++n) {
        const int d = n * 8 + 2 * t;
        red[(warp * 16 + g) * HD + d] = o[n][0];
        red[(warp * 16 + g) * HD + d + 1] = o[n][1];
        red[(warp * 16 + g + 8) * HD + d] = o[n][2];
        red[(warp * 16 + g + 8) * HD + d + 1] = o[n][3];
    }
    if (t == 0) {
        red_ml[(warp * 16 + g) * 2] = m_a;
        red_ml[(warp * 16 + g) * 2 + 1] = l_a;
        red_ml[(warp * 16 + g + 8) * 2] = m_b;
        red_ml[(warp * 16 + g + 8) * 2 + 1] = l_b;
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < group * HD; idx += blockDim.x) {
        const int j = idx / HD, d = idx - j * HD;
        float mx = ERNIE_NEG_INF;
#pragma unroll
        for (int w = 0; w < DTC_WARPS; ++w) mx = fmaxf(mx, red_ml[(w * 16 + j) * 2]);
        float sum = 0.0f, acc = 0.0f;
        if (mx != ERNIE_NEG_INF) {
#pragma unroll
            for (int w = 0; w < DTC_WARPS; ++w) {
                const float f = exp2f(red_ml[(w * 16 + j) * 2] - mx);
                sum += red_ml[(w * 16 + j) * 2 + 1] * f;
                acc += red[(w * 16 + j) * HD + d] * f;
            }
        }
        if (splits == 1) {
            out[((i64)t_row * nq + h0 + j) * HD + d] = f2bf(sum > 0.0f ? acc / sum : 0.0f);
        } else {
            const i64 p = ((i64)split * T + t_row) * nq + h0 + j;
            part_o[p * HD + d] = acc;
            if (d == 0) {
                part_ml[p * 2] = mx;
                part_ml[p * 2 + 1] = sum;
            }
        }
    }
    pdl_launch_dependents();
}

extern "C" __global__ void __launch_bounds__(DTC_WARPS * 32) ernie_decode_attention_tc_hd128(
    const bf16 *q, const bf16 *kv, const int *token_seq, const int *positions, const int *seq_page_start,
    const int *pages, const int *num_tokens_ptr, bf16 *__restrict__ out, float *__restrict__ part_o,
    float *__restrict__ part_ml, int T, int nq, int nkv, int page_size, i64 page_stride, float scale,
    int min_chunk) {
    decode_attention_tc_impl<false>(q, kv, token_seq, positions, seq_page_start, pages, num_tokens_ptr, out, part_o,
                                    part_ml, T, nq, nkv, page_size, page_stride, scale, min_chunk, nullptr,
                                    nullptr);
}

extern "C" __global__ void __launch_bounds__(DTC_WARPS * 32) ernie_decode_attention_tc_rope_hd128(
    const bf16 *qkv, bf16 *kv, const int *token_seq, const int *positions, const int *seq_page_start,
    const int *pages, const int *num_tokens_ptr, bf16 *__restrict__ out, float *__restrict__ part_o,
    float *__restrict__ part_ml, int T, int nq, int nkv, int page_size, i64 page_stride, float scale,
    int min_chunk, const int *slots, const float *__restrict__ inv_freq) {
    decode_attention_tc_impl<true>(qkv, kv, token_seq, positions, seq_page_start, pages, num_tokens_ptr, out,
                                   part_o, part_ml, T, nq, nkv, page_size, page_stride, scale, min_chunk, slots,
                                   inv_freq);
}

// Combines the splits of the decode kernels above (gridDim.z > 1) as ernie_attention_merge does — the same maximum,
// factors 2^(m_s - M) and sums over s in increasing order, so the same result —, but reads only the splits that hold
// keys: a row's count follows from its KV length exactly as in the attention kernels (`used`), so a launch sized for
// a short context does not walk the empty splits (at batch 1 and context 512: 8 of 64). Padding rows get zeros.
// Launched programmatically. Grid (launch rows, query heads), block: a multiple of 32 threads (<= 256) striding
// head_dim; splits <= DEC_MERGE_MAX_SPLITS.
#define DEC_MERGE_MAX_SPLITS 64
#define DEC_MERGE_U 8
extern "C" __global__ void __launch_bounds__(256) ernie_decode_attention_merge(
    const float *part_o, const float *part_ml, bf16 *__restrict__ out, const int *positions, const int *num_tokens_ptr,
    int T, int nq, int head_dim, int splits, int min_chunk) {
    __shared__ float sm[DEC_MERGE_MAX_SPLITS], sl[DEC_MERGE_MAX_SPLITS];
    const int t = blockIdx.x, h = blockIdx.y;
    pdl_wait();
    bf16 *o_row = out + ((i64)t * nq + h) * head_dim;
    if (t >= *num_tokens_ptr) {
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) o_row[d] = 0;
        pdl_launch_dependents();
        return;
    }
    const int used = min(decode_split(positions[t] + 1, 0, splits, min_chunk).used, DEC_MERGE_MAX_SPLITS);
    for (int s = threadIdx.x; s < used; s += blockDim.x) {
        const i64 p = ((i64)s * T + t) * nq + h;
        sm[s] = part_ml[p * 2];
        sl[s] = part_ml[p * 2 + 1];
    }
    __syncthreads();
    float mx = ERNIE_NEG_INF;
    for (int s = 0; s < used; ++s) mx = fmaxf(mx, sm[s]);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float sum = 0.0f, o = 0.0f;
        for (int s0 = 0; s0 < used; s0 += DEC_MERGE_U) {
            float v[DEC_MERGE_U];
#pragma unroll
            for (int u = 0; u < DEC_MERGE_U; ++u) {
                const int s = s0 + u;
                v[u] = (s < used && sm[s] != ERNIE_NEG_INF) ? part_o[(((i64)s * T + t) * nq + h) * head_dim + d] : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < DEC_MERGE_U; ++u) {
                const int s = s0 + u;
                if (s >= used) break;
                if (sm[s] == ERNIE_NEG_INF) continue;
                const float f = exp2f(sm[s] - mx);
                sum += sl[s] * f;
                o += v[u] * f;
            }
        }
        o_row[d] = f2bf(sum > 0.0f ? o / sum : 0.0f);
    }
    pdl_launch_dependents();
}
