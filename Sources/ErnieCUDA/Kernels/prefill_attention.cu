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

// ---- ernie_prefill_attention_m32_hd{64,128}: 128 packed rows per block, each warp owns 32 rows (two m16 tiles) --
//
// Same arguments and results as the kernel above (FlashAttention-2's layout: kBlockM = 128 with 4 warps). Every mma
// of the 16-row kernel needs a K or V fragment from shared memory (one ldmatrix_x4 = 512 B feeds 2 mmas); here each
// fragment feeds both m-tiles of the warp (4 mmas), with Q held in registers.
//
// Shared-memory traffic, head_dim 128, per warp and 64 keys (32 rows: 256 mmas, 128 for S = QKᵀ, 128 for O += PV):
//   K: 8 k-steps × 4 groups of 16 keys = 32 ldmatrix_x4 = 16 KB; V: 4 key steps × 8 pairs of d-tiles = 32 = 16 KB;
//   Q: in registers (2 × 8 × 4 = 64), none.  → 32 KB / 256 mmas = 128 B per mma (the 16-row kernel: 256 B).
//   Q re-read per k-step instead (2 ldmatrix_x4 per k-step of each S sub-tile) would add 8 KB per 64 keys with 64-key
//   sub-tiles (160 B per mma) and 32 KB with the 16-key sub-tiles used here (256 B): Q stays in registers.
// Per SM (2 blocks = 8 warps = 256 rows) and 64 keys: 256 KB of ldmatrix reads + 2 × 32 KB of cp.async tile writes =
// 320 KB = 2560 clk at 128 B/clk, for 2048 mmas (~2048 clk if an SM retires one m16n8k16 per clk). The 16-row kernel
// for the same 256 rows (4 blocks): 512 KB + 128 KB = 5120 clk for the same 2048 mmas. Shared-memory time per FLOP
// halves, so up to ~2× where that was the bound; the global/L2 K/V reads per row halve as well (one tile load serves
// 128 rows instead of 64).
//
// Registers (at most 255 per thread for 2 blocks of 128 threads per SM; ptxas for sm_90a: 252 at head_dim 128, 230
// at 64, no spills): O takes 2 × 16 × 4 = 128, Q 64; S over 16-key sub-tiles of the 64-key shared-memory tile takes
// 16 and P 8 (32-key sub-tiles, 32 + 16, spill). The online softmax therefore runs per 16 keys, kept cheap: the scale
// is folded into the exponent's FMA, 2^x is ex2.approx.ftz (exp2f without its denormal steps), each lane keeps its
// part of the row sums (the quad's parts are added once at the end), and O is rescaled only when some row of the
// warp has a new maximum (a warp vote; only factors of exactly 1 are skipped). Results differ from the 16-row
// kernel's by rounding only. head_dim 64: 64-key sub-tiles (O 64, Q 32).
// Causal work per warp: a warp stops at the first sub-tile past its own last row's position (exact: such a step
// changes neither m, l nor O) and masks only sub-tiles that reach past its first row's position.
#define PFW_BM 128
#define PFW_ROWS_PER_WARP 32
#define PFW_MT 2

// ldmatrix_x4 row addresses, the same for K (QKᵀ) and V (PV, transposed): lane l gives row (l >> 4) * 8 + (l & 7) of
// 16 keys at dims ((l >> 3) & 1) * 8: matrices (keys 0..7, dims 0..7), (0..7, 8..15), (8..15, 0..7), (8..15, 8..15).
// K: registers 0/1 are the B fragment (16 dims) of the n-tile of keys 0..7, 2/3 that of keys 8..15. V transposed:
// registers 0/2 are the B fragment (16 keys) of dims 0..7, 1/3 that of dims 8..15.

// S += Q Kᵀ for the warp's two m-tiles over NT n-tiles of 8 keys; `k`: this lane's address in the sub-tile's first
// 16 key rows at dim 0.
template <int NT, int KSTEPS, int STRIDE>
__device__ __forceinline__ void wide_qk(float (&s)[PFW_MT][NT][4], const u32 (&qf)[PFW_MT][KSTEPS][4], smem_addr k) {
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
#pragma unroll
        for (int nt = 0; nt < NT; nt += 2) {
            u32 b[4];
            ldmatrix_x4_at(b, k + (nt * 8 * STRIDE + kk * 16) * 2);
#pragma unroll
            for (int mt = 0; mt < PFW_MT; ++mt) {
                mma_bf16_16816(s[mt][nt], qf[mt][kk], b);
                mma_bf16_16816(s[mt][nt + 1], qf[mt][kk], b + 2);
            }
        }
    }
}

// O += P V for one step of 16 keys and both m-tiles; `v`: this lane's address in the step's 16 key rows at dim 0.
template <int DT, int STRIDE>
__device__ __forceinline__ void wide_pv_step(float (&o)[PFW_MT][DT][4], const u32 (&p)[PFW_MT][4], smem_addr v) {
#pragma unroll
    for (int n = 0; n < DT; n += 2) {
        u32 b[4];
        ldmatrix_x4_trans_at(b, v + n * 8 * 2);
        const u32 lo[2] = {b[0], b[2]}, hi[2] = {b[1], b[3]};
#pragma unroll
        for (int mt = 0; mt < PFW_MT; ++mt) {
            mma_bf16_16816(o[mt][n], p[mt], lo);
            mma_bf16_16816(o[mt][n + 1], p[mt], hi);
        }
    }
}

// Online-softmax step for the warp's 4 rows (m-tile mt; h = 0: accumulator registers 0-1, row g; h = 1: 2-3, row
// g + 8; a row's scores spread over the 4 lanes of its quad) over NT n-tiles of 8 keys of raw scores (masked keys
// -inf), base 2: the running maxima m are in units of sl = scale · log2 e, P = 2^(s · sl - m). l: this lane's part of
// each row's sum. Returns the factors the rows' O accumulators are to be multiplied by (exactly 1 where a row's
// maximum did not change) and P rounded to bf16 as the A fragments of NT / 2 key steps of 16.
template <int NT>
__device__ __forceinline__ void wide_softmax(float (&s)[PFW_MT][NT][4], float (&m)[PFW_MT][2], float (&l)[PFW_MT][2],
                                             float sl, float (&corr)[PFW_MT][2], u32 (&pf)[PFW_MT][NT / 2][4]) {
#pragma unroll
    for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = fmaxf(s[mt][0][2 * h], s[mt][0][2 * h + 1]);
#pragma unroll
            for (int nt = 1; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * h], s[mt][nt][2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_new = fmaxf(m[mt][h], mx * sl);
            const float base = m_new == ERNIE_NEG_INF ? 0.0f : m_new;  // every key so far masked: P = 0
            corr[mt][h] = exp2_ftz(m[mt][h] - base);
            m[mt][h] = m_new;
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                const float p0 = exp2_ftz(fmaf(s[mt][nt][2 * h], sl, -base));
                const float p1 = exp2_ftz(fmaf(s[mt][nt][2 * h + 1], sl, -base));
                sum = nt == 0 ? p0 + p1 : sum + (p0 + p1);
                pf[mt][nt >> 1][(nt & 1) * 2 + h] = pack_bf16x2_rn(p0, p1);
            }
            l[mt][h] = l[mt][h] * corr[mt][h] + sum;
        }
    }
}

template <int HD>
__device__ __forceinline__ void prefill_attention_wide_impl(
    const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,
    const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size, i64 page_stride,
    float scale) {
    constexpr int STRIDE = HD + 8;  // padded smem row (bf16): conflict-free ldmatrix
    constexpr int KSTEPS = HD / 16;
    constexpr int DTILES = HD / 8;
    constexpr int SUB = HD > 64 ? 16 : 64;  // keys per S sub-tile (registers: see above)
    constexpr int NT = SUB / 8;
    constexpr int TILE_BYTES = PF_BN * STRIDE * 2;
    constexpr int ROW_CHUNKS = HD / 8;                     // 16-byte chunks per key row
    constexpr int PASS_ROWS = PF_WARPS * 32 / ROW_CHUNKS;  // key rows one pass of the block's threads copies
    ERNIE_DYNAMIC_SMEM(bf16, smem);                        // [2 stages][K tile, V tile]
    const smem_addr sbase = smem_addr_of(smem);
    // The block's values the key loop and the epilogue need, kept in shared memory rather than in registers.
    __shared__ int meta[4];  // token offset, KV length, first page-table index, key tiles

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int kvh = blockIdx.y;
    const int group = nq / nkv;
    pdl_wait();
    const int s = item_seq[blockIdx.x];
    const int row0 = item_row[blockIdx.x];
    const int tok_off = seq_info[3 * s], start = seq_info[3 * s + 2];
    const int rows = seq_info[3 * s + 1] * group;
    if (threadIdx.x == 0) {
        const int kv_len = start + (min(row0 + PFW_BM, rows) - 1) / group + 1;  // up to the block's last row
        meta[0] = tok_off;
        meta[1] = kv_len;
        meta[2] = seq_page_start[s];
        meta[3] = (kv_len + PF_BN - 1) / PF_BN;
    }

    // This thread's rows: wr0 + 16 mt + g + 8 h. Their positions are kept relative to the warp's first row's (0..31
    // for 32 rows), one signed byte each (byte 2 mt + h), in one register; rows past the chunk get zero queries, no
    // output and -128 (they may see unmasked keys: harmless, their results are dropped).
    const int wr0 = row0 + warp * PFW_ROWS_PER_WARP;
    const int warp_first = wr0 < rows ? start + wr0 / group : -1;
    const int warp_end = wr0 < rows ? start + (min(wr0 + PFW_ROWS_PER_WARP, rows) - 1) / group + 1 : 0;
    u32 pos_rel = 0;
    u32 qf[PFW_MT][KSTEPS][4];
#pragma unroll
    for (int mt = 0; mt < PFW_MT; ++mt) {
        const bf16 *qrow[2];
        bool valid[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int r = wr0 + mt * 16 + g + h * 8;
            valid[h] = r < rows;
            const int rel = valid[h] ? start + r / group - warp_first : -128;
            pos_rel |= ((u32)rel & 0xffu) << (8 * (2 * mt + h));
            const int token = valid[h] ? r / group : 0, head = kvh * group + (valid[h] ? r % group : 0);
            qrow[h] = q + ((i64)(tok_off + token) * nq + head) * HD;
        }
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) {
            const int d = kk * 16 + 2 * t;
            qf[mt][kk][0] = valid[0] ? *reinterpret_cast<const u32 *>(qrow[0] + d) : 0u;
            qf[mt][kk][1] = valid[1] ? *reinterpret_cast<const u32 *>(qrow[1] + d) : 0u;
            qf[mt][kk][2] = valid[0] ? *reinterpret_cast<const u32 *>(qrow[0] + d + 8) : 0u;
            qf[mt][kk][3] = valid[1] ? *reinterpret_cast<const u32 *>(qrow[1] + d + 8) : 0u;
        }
    }
    __syncthreads();  // meta

    // cp.async of key tile `tile` into stage `stage`: thread i copies 16-byte chunk i % ROW_CHUNKS of the ROWS
    // consecutive key rows from (i / ROW_CHUNKS) · ROWS, of K and of V (keys past the KV length are zeroed). One
    // division per tile; the next row's address follows by addition, and the page table is read again only when
    // the rows cross into the next page (never with 16-key pages: 8 rows aligned to 8).
    constexpr int ROWS = PF_BN * ROW_CHUNKS / (PF_WARPS * 32);  // key rows per thread and tile
    const int load_row = threadIdx.x / ROW_CHUNKS * ROWS, load_d8 = (threadIdx.x % ROW_CHUNKS) * 8;
    const smem_addr load_dst = sbase + (load_row * STRIDE + load_d8) * 2;
    auto load_tile = [&](int tile, int stage) {
        const smem_addr dst = load_dst + stage * 2 * TILE_BYTES;
        const int kv_len = meta[1];
        const int *seq_pages = pages + meta[2];
        const bf16 *kv_head = kv + (i64)kvh * page_size * HD + load_d8;
        const i64 v_offset = (i64)nkv * page_size * HD;
        int key = tile * PF_BN + load_row;
        int page_index = key / page_size;
        int offset = key - page_index * page_size;
        const bf16 *kp = key < kv_len ? kv_head + (i64)seq_pages[page_index] * page_stride + (i64)offset * HD : kv;
#pragma unroll
        for (int j = 0; j < ROWS; ++j) {
            const smem_addr kd = dst + j * STRIDE * 2;
            if (key < kv_len) {
                cp_async16_at(kd, kp);
                cp_async16_at(kd + TILE_BYTES, kp + v_offset);
            } else {
                st_shared_zero16_at(kd);
                st_shared_zero16_at(kd + TILE_BYTES);
            }
            ++key;
            kp += HD;
            if (++offset == page_size) {
                offset = 0;
                ++page_index;
                if (j + 1 < ROWS && key < kv_len) kp = kv_head + (i64)seq_pages[page_index] * page_stride;
            }
        }
        cp_async_commit();
    };

    // This lane's ldmatrix row address (wide_qk, wide_pv_step) in stage 0's K tile (V: TILE_BYTES further).
    const smem_addr kv_lane = sbase + (((lane >> 4) * 8 + (lane & 7)) * STRIDE + ((lane >> 3) & 1) * 8) * 2;

    const float sl = scale * PF_LOG2E;
    float m[PFW_MT][2], l[PFW_MT][2];
    float o[PFW_MT][DTILES][4];
#pragma unroll
    for (int mt = 0; mt < PFW_MT; ++mt) {
        m[mt][0] = m[mt][1] = ERNIE_NEG_INF;
        l[mt][0] = l[mt][1] = 0.0f;
#pragma unroll
        for (int n = 0; n < DTILES; ++n) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
    }

    if (meta[3] > 0) load_tile(0, 0);
    for (int tile = 0; tile < meta[3]; ++tile) {
        const int stage = tile & 1;
        if (tile + 1 < meta[3]) {
            load_tile(tile + 1, stage ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
#pragma unroll 1
        for (int sub = 0; sub < PF_BN / SUB; ++sub) {
            const int k0 = tile * PF_BN + sub * SUB;
            if (k0 >= warp_end) break;  // warp-uniform: every later key is masked for all the warp's rows
            const int sub_offset = stage * 2 * TILE_BYTES + sub * SUB * STRIDE * 2;
            // S = Q Kᵀ: 32 rows × SUB keys.
            float sacc[PFW_MT][NT][4];
#pragma unroll
            for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int i = 0; i < 4; ++i) sacc[mt][nt][i] = 0.0f;
                }
            }
            wide_qk<NT, KSTEPS, STRIDE>(sacc, qf, kv_lane + sub_offset);
            // Causal mask, unless every key of the sub-tile precedes the warp's first row.
            if (k0 + SUB - 1 > warp_first) {
#pragma unroll
                for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                        for (int i = 0; i < 4; ++i) {
                            const int key_rel = k0 + nt * 8 + 2 * t + (i & 1) - warp_first;
                            const int row_rel = (int)(pos_rel << (24 - 8 * (2 * mt + (i >> 1)))) >> 24;
                            if (key_rel > row_rel) sacc[mt][nt][i] = ERNIE_NEG_INF;
                        }
                    }
                }
            }
            // Online softmax; O rescaled only when some row of the warp needs it.
            u32 pf[PFW_MT][NT / 2][4];
            float corr[PFW_MT][2];
            wide_softmax<NT>(sacc, m, l, sl, corr, pf);
            const bool rescale = corr[0][0] != 1.0f || corr[0][1] != 1.0f || corr[1][0] != 1.0f || corr[1][1] != 1.0f;
            if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
                for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
                    for (int n = 0; n < DTILES; ++n) {
                        o[mt][n][0] *= corr[mt][0];
                        o[mt][n][1] *= corr[mt][0];
                        o[mt][n][2] *= corr[mt][1];
                        o[mt][n][3] *= corr[mt][1];
                    }
                }
            }
            // O += P V.
#pragma unroll
            for (int kk = 0; kk < NT / 2; ++kk) {
                u32 p[PFW_MT][4];
#pragma unroll
                for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
                    for (int i = 0; i < 4; ++i) p[mt][i] = pf[mt][kk][i];
                }
                wide_pv_step<DTILES, STRIDE>(o, p, kv_lane + TILE_BYTES + sub_offset + kk * 16 * STRIDE * 2);
            }
        }
        __syncthreads();  // the stage is overwritten by the load two tiles ahead
    }

    // O / l (l: the quad's parts added), bf16, to the rows' (token, head) outputs.
#pragma unroll
    for (int mt = 0; mt < PFW_MT; ++mt) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float sum = l[mt][h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            if ((int)(pos_rel << (24 - 8 * (2 * mt + h))) >> 24 == -128) continue;
            const int r = wr0 + mt * 16 + g + h * 8;
            const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            bf16 *orow = out + ((i64)(meta[0] + r / group) * nq + kvh * group + r % group) * HD;
#pragma unroll
            for (int n = 0; n < DTILES; ++n) {
                *reinterpret_cast<u32 *>(orow + n * 8 + 2 * t) =
                    pack_bf16x2_rn(o[mt][n][2 * h] * inv, o[mt][n][2 * h + 1] * inv);
            }
        }
    }
    pdl_launch_dependents();
}

#define ERNIE_PREFILL_ATTENTION_WIDE_KERNEL(HD)                                                                      \
    extern "C" __global__ void __launch_bounds__(PF_WARPS * 32, 2) ernie_prefill_attention_m32_hd##HD(               \
        const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,              \
        const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size,            \
        i64 page_stride, float scale) {                                                                              \
        prefill_attention_wide_impl<HD>(q, kv, seq_info, seq_page_start, pages, item_seq, item_row, out, nq, nkv,    \
                                        page_size, page_stride, scale);                                              \
    }

ERNIE_PREFILL_ATTENTION_WIDE_KERNEL(64)
ERNIE_PREFILL_ATTENTION_WIDE_KERNEL(128)
