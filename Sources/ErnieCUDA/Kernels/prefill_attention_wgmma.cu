// Causal GQA prefill attention on Hopper's warpgroup MMA (wgmma, sm_90a only): the work items, arguments and results
// of ernie_prefill_attention_m32_hd128 (prefill_attention.cu: 128 packed (token, query head of the KV head's group)
// rows of one sequence per block, K/V tiles of 64 keys from the paged cache), with the products on wgmma instead of
// mma.sync — on the H200 the wide mma.sync kernel reaches ≈ 250 TFLOP/s, a third of the bf16 tensor-core rate.
//
// Block: WGS warpgroups (2 or 3: 128 or 192 packed rows per work item), one block per multiprocessor (each thread
// holds 64 O and 32 S accumulators). Warpgroup w owns packed rows 64w ... 64w + 63 of the item: S = Q Kᵀ as 8 wgmma
// m64n64k16 (Q and K from shared memory), the online softmax in registers (base 2, fp32; P rounded to bf16), O += P V
// as 4 wgmma m64n128k16 with P from registers (the S accumulators of keys 16j ... 16j + 15 are the A fragment of key
// step j) and V from shared memory read transposed. Q (16 KB per warpgroup) is copied once; K and V tiles (16 KB
// each) go through three stages with cp.async: tile t + 2's copies are issued once every warpgroup is past tile t - 1
// (the barrier that makes tile t visible), so one barrier per tile suffices and two tiles are in flight while one is
// multiplied. On the H200, 8192-token prefills: 2 warpgroups 314, 3 warpgroups 386 TFLOP/s (BENCHMARKS.md round 9).
//
// Shared-memory layout (every operand wgmma reads; base 1024-aligned): a [64 rows × 128 bf16] matrix is two halves of
// 64 columns, half h at h · 8192 bytes, row r of a half at r · 128 bytes, its 16-byte chunk c (columns 8c ... 8c + 7)
// at chunk c ^ (r mod 8) — the 128-byte swizzle wgmma's descriptors name (mode 1). Q of warpgroup w at w · 16384;
// stage s's K at WGS · 16384 + s · 32768, its V 16384 further. Descriptors: K-major operands (Q as A and K as B of S:
// contiguous along head_dim, the reduction) step 32 bytes along a row per k16 and a half (8192 bytes) every 4 steps,
// 8-row groups 1024 bytes apart (stride byte offset); V is B of O += P V with its rows along the reduction (keys), so
// MN-major (transposed read): key step j starts at 2048 · j, 8-key groups 1024 bytes apart, the two 64-column halves
// of head_dim 8192 bytes apart (leading byte offset).
#include "common.cuh"
#include "wgmma.cuh"

// Compiled for sm_90a (wgmma) and for the CPU emulator (scripts/gpu/emu: the same descriptors decoded in software).
#ifdef ERNIE_WGMMA

#define WG_BN 64
#define WG_STAGES 3
#define WG_HD 128
#define WG_LOG2E 1.4426950408889634f
#define WG_STAGE_BYTES 32768
#ifndef WG_V_LBO
#define WG_V_LBO 8192
#endif
#ifndef WG_V_SBO
#define WG_V_SBO 1024
#endif

// Byte offset of 16-byte chunk `chunk` (0 ... 15: columns 8 chunk ...) of row `row` (0 ... 63) in a swizzled matrix.
__device__ __forceinline__ u32 wg_offset(int row, int chunk) {
    return (u32)((chunk >> 3) * 8192 + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

template <int WGS>
__device__ __forceinline__ void prefill_attention_wg_impl(
    const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,
    const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size, i64 page_stride,
    float scale) {
    constexpr int WG_BM = 64 * WGS;
    constexpr int WG_Q_BYTES = 16384 * WGS;
    ERNIE_DYNAMIC_SMEM(unsigned char, smem_raw);
    const smem_addr base = smem_align1024(smem_addr_of(smem_raw));
    __shared__ int meta[4];  // token offset, KV length, first page-table index, key tiles

    const int tid = threadIdx.x, lane = tid & 31, wg = tid >> 7, wtid = tid & 127;
    const int g = lane >> 2, t = lane & 3;
    const int kvh = blockIdx.y;
    const int group = nq / nkv;
    pdl_wait();
    const int s = item_seq[blockIdx.x];
    const int row0 = item_row[blockIdx.x];
    const int tok_off = seq_info[3 * s], start = seq_info[3 * s + 2];
    const int rows = seq_info[3 * s + 1] * group;
    if (tid == 0) {
        const int kv_len = start + (min(row0 + WG_BM, rows) - 1) / group + 1;
        meta[0] = tok_off;
        meta[1] = kv_len;
        meta[2] = seq_page_start[s];
        meta[3] = (kv_len + WG_BN - 1) / WG_BN;
    }

    // Q: thread i copies chunks 8 (i & 1) ... of packed row i >> 1 (rows past the chunk: zeros).
    {
        const int r = tid >> 1, c0 = (tid & 1) * 8;
        const int pr = row0 + r;
        const smem_addr dst = base + (r >> 6) * 16384;
        if (pr < rows) {
            const bf16 *src = q + ((i64)(tok_off + pr / group) * nq + kvh * group + pr % group) * WG_HD;
#pragma unroll
            for (int c = c0; c < c0 + 8; ++c) cp_async16_at(dst + wg_offset(r & 63, c), src + 8 * c);
        } else {
#pragma unroll
            for (int c = c0; c < c0 + 8; ++c) st_shared_zero16_at(dst + wg_offset(r & 63, c));
        }
    }
    __syncthreads();  // meta

    // K/V tile `tile` into stage `stage`: thread i < 256 copies chunks 4 (i & 3) ... of key row i >> 2, of K and of V
    // (keys past the KV length: zeros; they are masked, being past every row's position). Every thread commits.
    const int load_row = tid >> 2, load_c0 = (tid & 3) * 4;
    auto load_tile = [&](int tile, int stage) {
        const smem_addr dst = base + WG_Q_BYTES + stage * WG_STAGE_BYTES;
        const int key = tile * WG_BN + load_row;
        if (tid < 256 && key < meta[1]) {
            const int page = pages[meta[2] + key / page_size];
            const bf16 *kp = kv + (i64)page * page_stride + ((i64)kvh * page_size + key % page_size) * WG_HD;
            const bf16 *vp = kp + (i64)nkv * page_size * WG_HD;
#pragma unroll
            for (int c = load_c0; c < load_c0 + 4; ++c) {
                cp_async16_at(dst + wg_offset(load_row, c), kp + 8 * c);
                cp_async16_at(dst + 16384 + wg_offset(load_row, c), vp + 8 * c);
            }
        } else if (tid < 256) {
#pragma unroll
            for (int c = load_c0; c < load_c0 + 4; ++c) {
                st_shared_zero16_at(dst + wg_offset(load_row, c));
                st_shared_zero16_at(dst + 16384 + wg_offset(load_row, c));
            }
        }
        cp_async_commit();
    };

    // This thread's two rows (accumulator rows 16 (warp mod 4) + g and + 8 of its warpgroup) and their positions
    // (-1: past the chunk, every key masked).
    const int wr0 = row0 + wg * 64;  // the warpgroup's first packed row
    const int ra = wr0 + (wtid >> 5) * 16 + g;
    const int pos[2] = {ra < rows ? start + ra / group : -1, ra + 8 < rows ? start + (ra + 8) / group : -1};
    const int wg_first = wr0 < rows ? start + wr0 / group : 0x7fffffff;
    const int wg_last = wr0 < rows ? start + (min(wr0 + 64, rows) - 1) / group : -1;

    const float sl = scale * WG_LOG2E;
    float m[2] = {ERNIE_NEG_INF, ERNIE_NEG_INF}, l[2] = {0.0f, 0.0f};
    float o[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = 0.0f;

    const smem_addr q_base = base + wg * 16384;
    const int tiles = meta[3];
    // Commit group g holds tile g (group 0 also Q); before tile t's wait groups 0 ... t + 1 are committed (empty ones
    // past the last tile), so waiting for all but the newest leaves tile t complete.
    load_tile(0, 0);
    if (tiles > 1) {
        load_tile(1, 1);
    } else {
        cp_async_commit();
    }
    for (int tile = 0; tile < tiles; ++tile) {
        const int stage = tile % WG_STAGES;
        cp_async_wait<1>();
        // cp.async wrote through the generic proxy; wgmma reads through the async proxy.
        fence_proxy_async_shared();
        __syncthreads();  // tile `tile` complete for everyone; every warpgroup is past tile - 1
        if (tile + 2 < tiles) {
            load_tile(tile + 2, (tile + 2) % WG_STAGES);
        } else {
            cp_async_commit();
        }
        const int k0 = tile * WG_BN;
        if (k0 <= wg_last) {  // warpgroup-uniform: otherwise every key of the tile is masked for all its rows
            const smem_addr k_base = base + WG_Q_BYTES + stage * WG_STAGE_BYTES;
            float sacc[32];
#pragma unroll
            for (int i = 0; i < 32; ++i) sacc[i] = 0.0f;
            wg_fence();
#pragma unroll
            for (int kk = 0; kk < WG_HD / 16; ++kk) {
                const u32 off = (kk >> 2) * 8192 + (kk & 3) * 32;
                wg_mma_n64_ss(sacc, wg_desc(q_base + off, 16, 1024), wg_desc(k_base + off, 16, 1024), kk > 0);
            }
            wg_commit();
            wg_wait0();
#pragma unroll
            for (int i = 0; i < 32; ++i) wg_hold(sacc[i]);

            // Causal mask near the diagonal: keys past a row's position (and past the KV length) get -inf.
            if (k0 + WG_BN - 1 > wg_first) {
#pragma unroll
                for (int c = 0; c < 8; ++c) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int key = k0 + 8 * c + 2 * t + (e & 1);
                        if (key > pos[e >> 1]) sacc[4 * c + e] = ERNIE_NEG_INF;
                    }
                }
            }
            // Online softmax per row (a row's 64 scores spread over the 4 lanes of its quad).
            u32 pf[4][4];
            float corr[2];
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float mx = ERNIE_NEG_INF;
#pragma unroll
                for (int c = 0; c < 8; ++c) mx = fmaxf(mx, fmaxf(sacc[4 * c + 2 * h], sacc[4 * c + 2 * h + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(m[h], mx * sl);
                const float mb = m_new == ERNIE_NEG_INF ? 0.0f : m_new;  // every key so far masked: P = 0
                corr[h] = exp2_ftz(m[h] - mb);
                m[h] = m_new;
                float sum = 0.0f;
#pragma unroll
                for (int c = 0; c < 8; ++c) {
                    const float p0 = exp2_ftz(fmaf(sacc[4 * c + 2 * h], sl, -mb));
                    const float p1 = exp2_ftz(fmaf(sacc[4 * c + 2 * h + 1], sl, -mb));
                    sum += p0 + p1;
                    pf[c >> 1][(c & 1) * 2 + h] = pack_bf16x2_rn(p0, p1);
                }
                l[h] = l[h] * corr[h] + sum;
            }
#pragma unroll
            for (int c = 0; c < 16; ++c) {
                o[4 * c] *= corr[0];
                o[4 * c + 1] *= corr[0];
                o[4 * c + 2] *= corr[1];
                o[4 * c + 3] *= corr[1];
            }
            // O += P V, key steps of 16.
            wg_fence();
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                wg_mma_n128_rs(o, pf[j], wg_desc(k_base + 16384 + j * 2048, WG_V_LBO, WG_V_SBO));
            }
            wg_commit();
            wg_wait0();
#pragma unroll
            for (int i = 0; i < 64; ++i) wg_hold(o[i]);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
#pragma unroll
                for (int i = 0; i < 4; ++i) wg_hold(pf[j][i]);
            }
        }
    }
    cp_async_wait<0>();

    // O / l (l: the quad's parts added), bf16, to the rows' (token, head) outputs.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float sum = l[h];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (pos[h] < 0) continue;
        const int r = ra + 8 * h;
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        bf16 *orow = out + ((i64)(meta[0] + r / group) * nq + kvh * group + r % group) * WG_HD;
#pragma unroll
        for (int c = 0; c < 16; ++c) {
            *reinterpret_cast<u32 *>(orow + 8 * c + 2 * t) =
                pack_bf16x2_rn(o[4 * c + 2 * h] * inv, o[4 * c + 2 * h + 1] * inv);
        }
    }
    pdl_launch_dependents();
}

#define ERNIE_PREFILL_ATTENTION_WG_KERNEL(WGS)                                                                       \
    extern "C" __global__ void __launch_bounds__(128 * WGS, 1) ernie_prefill_attention_wg##WGS##_hd128(              \
        const bf16 *q, const bf16 *kv, const int *seq_info, const int *seq_page_start, const int *pages,              \
        const int *item_seq, const int *item_row, bf16 *__restrict__ out, int nq, int nkv, int page_size,            \
        i64 page_stride, float scale) {                                                                              \
        prefill_attention_wg_impl<WGS>(q, kv, seq_info, seq_page_start, pages, item_seq, item_row, out, nq, nkv,     \
                                       page_size, page_stride, scale);                                               \
    }

ERNIE_PREFILL_ATTENTION_WG_KERNEL(2)
ERNIE_PREFILL_ATTENTION_WG_KERNEL(3)

#endif
