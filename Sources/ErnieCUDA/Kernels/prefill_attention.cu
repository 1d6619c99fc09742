// Causal GQA attention for steps with prefill chunks, on tensor cores (FlashAttention-2 structure with mma.sync
// m16n8k16 bf16 → fp32): one block per (work item = 64 packed query rows of one sequence, KV head). The query rows of
// a block are (token, query head of the KV head's group) pairs, token-major, so every K/V tile loaded into shared
// memory serves all the group's heads. K/V tiles of 64 keys come from the paged cache through cp.async, double
// buffered; S = QKᵀ and O += PV on tensor cores with ldmatrix (V transposed by ldmatrix.trans); online softmax in
// base 2 in fp32, P rounded to bf16 for the PV product; causal: only key tiles up to the block's last query position
// are visited, per-element masking near the diagonal. KV layout: attention.cu.
#include "common.cuh"

#define PF_BM 64
#define PF_BN 64
#define PF_WARPS 4
#define PF_LOG2E 1.4426950408889634f

// Work item i: sequence item_seq[i], first packed row item_row[i] (row r = j * group + g: token j of the sequence's
// chunk, query head kvh * group + g). seq_info[s] = {token offset, token count, start position}.
template <int HD>
__device__ __forceinline__ void prefill_attention_impl(
    const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,
    const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size, i64 page_stride,
    float scale) {
    constexpr int STRIDE = HD + 8;  // padded smem row (bf16): conflict-free ldmatrix
    constexpr int KSTEPS = HD / 16;
    constexpr int DTILES = HD / 8;
    constexpr int TILE_ELEMS = PF_BN * STRIDE;
    ERNIE_DYNAMIC_SMEM(bf16, smem);  // [2 stages][K tile, V tile]

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int item = blockIdx.x;
    const int kvh = blockIdx.y;
    const int group = nq / nkv;
    const int s = item_seq[item];
    const int row0 = item_row[item];
    const int tok_off = seq_info[3 * s], tok_count = seq_info[3 * s + 1], start = seq_info[3 * s + 2];
    const int rows = tok_count * group;
    const int *seq_pages = pages + seq_page_start[s];
    pdl_wait();

    // Query fragments of this warp's 16 rows (rows past the chunk are zero and fully masked).
    const int wr0 = row0 + warp * 16;
    const int ra = wr0 + g, rb = wr0 + g + 8;
    const bool va = ra < rows, vb = rb < rows;
    const int pos_a = va ? start + ra / group : -1;
    const int pos_b = vb ? start + rb / group : -1;
    const bf16 *qa = q + ((i64)(tok_off + (va ? ra / group : 0)) * nq + kvh * group + (va ? ra % group : 0)) * HD;
    const bf16 *qb = q + ((i64)(tok_off + (vb ? rb / group : 0)) * nq + kvh * group + (vb ? rb % group : 0)) * HD;
    u32 qf[KSTEPS][4];
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
        const int d = kk * 16 + 2 * t;
        qf[kk][0] = va ? *reinterpret_cast<const u32 *>(qa + d) : 0u;
        qf[kk][1] = vb ? *reinterpret_cast<const u32 *>(qb + d) : 0u;
        qf[kk][2] = va ? *reinterpret_cast<const u32 *>(qa + d + 8) : 0u;
        qf[kk][3] = vb ? *reinterpret_cast<const u32 *>(qb + d + 8) : 0u;
    }

    // Keys the block needs: up to the position of its last valid row.
    const int last_row = min(row0 + PF_BM, rows) - 1;
    const int kv_len = start + last_row / group + 1;
    const int tiles = (kv_len + PF_BN - 1) / PF_BN;

    // cp.async of key tile `tile` into stage `stage`: 64 rows × HD/8 16-byte chunks for K and for V.
    auto load_tile = [&](int tile, int stage) {
        bf16 *ks = smem + stage * 2 * TILE_ELEMS;
        bf16 *vs = ks + TILE_ELEMS;
        constexpr int CHUNKS = PF_BN * (HD / 8);
        for (int c = threadIdx.x; c < CHUNKS; c += PF_WARPS * 32) {
            const int r = c / (HD / 8), d8 = (c - r * (HD / 8)) * 8;
            const int key = tile * PF_BN + r;
            if (key < kv_len) {
                const int page_index = key / page_size;
                const int offset = key - page_index * page_size;
                const bf16 *kp = kv + (i64)seq_pages[page_index] * page_stride + ((i64)kvh * page_size + offset) * HD + d8;
                cp_async16(ks + r * STRIDE + d8, kp);
                cp_async16(vs + r * STRIDE + d8, kp + (i64)nkv * page_size * HD);
            } else {
                *reinterpret_cast<uint4 *>(ks + r * STRIDE + d8) = zero16();
                *reinterpret_cast<uint4 *>(vs + r * STRIDE + d8) = zero16();
            }
        }
        cp_async_commit();
    };

    const float sl = scale * PF_LOG2E;
    float m_a = ERNIE_NEG_INF, m_b = ERNIE_NEG_INF, l_a = 0.0f, l_b = 0.0f;
    float o[DTILES][4];
#pragma unroll
    for (int n = 0; n < DTILES; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

    if (tiles > 0) load_tile(0, 0);
    for (int tile = 0; tile < tiles; ++tile) {
        const int stage = tile & 1;
        if (tile + 1 < tiles) {
            load_tile(tile + 1, stage ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const bf16 *ks = smem + stage * 2 * TILE_ELEMS;
        const bf16 *vs = ks + TILE_ELEMS;

        // S = Q Kᵀ: 16 rows × 64 keys per warp.
        float sacc[PF_BN / 8][4];
#pragma unroll
        for (int nt = 0; nt < PF_BN / 8; ++nt) sacc[nt][0] = sacc[nt][1] = sacc[nt][2] = sacc[nt][3] = 0.0f;
#pragma unroll
        for (int nt = 0; nt < PF_BN / 8; ++nt) attn_qk_ntile<KSTEPS>(sacc[nt], qf, ks + nt * 8 * STRIDE, STRIDE, lane);
        // Scale and causal mask, then the online softmax (rows g and g + 8 of the warp).
        const int k0 = tile * PF_BN;
#pragma unroll
        for (int nt = 0; nt < PF_BN / 8; ++nt) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int key = k0 + nt * 8 + 2 * t + (i & 1);
                const int pos = i < 2 ? pos_a : pos_b;
                sacc[nt][i] = key <= pos ? sacc[nt][i] * sl : ERNIE_NEG_INF;
            }
        }
        u32 pf[PF_BN / 16][4];
        attn_softmax_rows<PF_BN / 8, DTILES>(sacc, m_a, m_b, l_a, l_b, o, pf);
        // O += P V.
#pragma unroll
        for (int kk = 0; kk < PF_BN / 16; ++kk) attn_pv_step<DTILES>(o, pf[kk], vs + kk * 16 * STRIDE, STRIDE, lane);
        __syncthreads();  // the stage is overwritten by the load two tiles ahead
    }

    // O / l, bf16, to the rows' (token, head) outputs.
    const float inv_a = l_a > 0.0f ? 1.0f / l_a : 0.0f;
    const float inv_b = l_b > 0.0f ? 1.0f / l_b : 0.0f;
    bf16 *oa = out + ((i64)(tok_off + (va ? ra / group : 0)) * nq + kvh * group + (va ? ra % group : 0)) * HD;
    bf16 *ob = out + ((i64)(tok_off + (vb ? rb / group : 0)) * nq + kvh * group + (vb ? rb % group : 0)) * HD;
#pragma unroll
    for (int n = 0; n < DTILES; ++n) {
        const int d = n * 8 + 2 * t;
        if (va) *reinterpret_cast<u32 *>(oa + d) = pack_bf16x2(o[n][0] * inv_a, o[n][1] * inv_a);
        if (vb) *reinterpret_cast<u32 *>(ob + d) = pack_bf16x2(o[n][2] * inv_b, o[n][3] * inv_b);
    }
    pdl_launch_dependents();
}

#define ERNIE_PREFILL_ATTENTION_KERNEL(HD)                                                                           \
    extern "C" __global__ void __launch_bounds__(PF_WARPS * 32, 1) ernie_prefill_attention_hd##HD(                   \
        const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,              \
        const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size,            \
        i64 page_stride, float scale) {                                                                              \
        prefill_attention_impl<HD>(q, kv, seq_info, seq_page_start, pages, item_seq, item_row, out, nq, nkv,         \
                                   page_size, page_stride, scale);                                                   \
    }

ERNIE_PREFILL_ATTENTION_KERNEL(64)
ERNIE_PREFILL_ATTENTION_KERNEL(128)
