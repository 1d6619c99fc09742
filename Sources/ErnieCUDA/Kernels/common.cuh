// Shared device helpers for every ErnieCUDA kernel. Header-free: NVRTC needs no include path.
#pragma once

typedef unsigned short bf16;  // bfloat16 storage (raw bits)
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#ifdef ERNIE_EMULATOR
#define ERNIE_DYNAMIC_SMEM(T, name) T *name = reinterpret_cast<T *>(ernie_emu_dynamic_smem())
#else
#define ERNIE_DYNAMIC_SMEM(T, name)                                  \
    extern __shared__ __align__(16) unsigned char ernie_dynamic_smem[]; \
    T *name = reinterpret_cast<T *>(ernie_dynamic_smem)
#endif

#define ERNIE_NEG_INF (__int_as_float(0xff800000))

__device__ __forceinline__ float bf2f(bf16 h) { return __uint_as_float(((u32)h) << 16); }

// float -> bf16, round to nearest even (NaN stays NaN).
__device__ __forceinline__ bf16 f2bf(float f) {
#ifdef ERNIE_EMULATOR
    return ernie_emu_f2bf(f);
#else
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
#endif
}

// The value f takes once stored as bf16.
__device__ __forceinline__ float round_bf(float f) { return bf2f(f2bf(f)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the total. blockDim.x must be a multiple of 32 and every thread must call.
// `scratch` holds at least 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : ERNIE_NEG_INF;
    return warp_max(r);
}

// Exclusive prefix sum of one unsigned per thread over the block; `scratch` holds 32 unsigned. Returns the exclusive
// prefix; *total receives the block total. blockDim.x must be a multiple of 32.
__device__ __forceinline__ u32 block_exclusive_scan(u32 v, u32 *scratch, u32 *total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    u32 inclusive = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        u32 n = __shfl_up_sync(0xffffffffu, inclusive, o);
        if (lane >= o) inclusive += n;
    }
    __syncthreads();
    if (lane == 31) scratch[warp] = inclusive;
    __syncthreads();
    u32 warp_prefix = 0, all = 0;
    for (int w = 0; w < warps; ++w) {
        u32 s = scratch[w];
        if (w < warp) warp_prefix += s;
        all += s;
    }
    *total = all;
    return warp_prefix + inclusive - v;
}

// Counter-based random numbers (splitmix64). Shared with the host: Sources/ErnieCUDA/Backend/RandomWeights.swift and
// Sources/ErnieModel/Sampling.swift (`SamplingRandom.uniform`).
__device__ __forceinline__ u64 splitmix64_mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Exactly `SamplingRandom.uniform(seed:counter:index:)`: a float in (0, 1).
__device__ __forceinline__ float sampling_uniform(u64 seed, u64 counter, u32 index) {
    u64 z = seed + counter * 0x9E3779B97F4A7C15ull + (u64)index * 0xD1B54A32D192ED03ull;
    z = splitmix64_mix(z);
    return ((float)(z >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

// Orderable key of a float: a > b (as floats, no NaN) iff key(a) > key(b) (as unsigned).
__device__ __forceinline__ u32 float_key(float f) {
    u32 u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float key_float(u32 k) {
    u32 u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    return __uint_as_float(u);
}

// ---- Tensor cores, asynchronous copies, launch dependencies (sm_80+/sm_90; emulated under ERNIE_EMULATOR). ------

// d += a · b for one warp: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32. Fragments (PTX ISA "Matrix fragments
// for mma.m16n8k16", g = lane / 4, t = lane % 4, low half of a register = lower index):
//   a[0] = A[g][2t..2t+1]   a[1] = A[g+8][2t..2t+1]   a[2] = A[g][2t+8..2t+9]   a[3] = A[g+8][2t+8..2t+9]
//   b[0] = B[2t..2t+1][g]   b[1] = B[2t+8..2t+9][g]
//   d[0] = D[g][2t]  d[1] = D[g][2t+1]  d[2] = D[g+8][2t]  d[3] = D[g+8][2t+1]
__device__ __forceinline__ void mma_bf16_16816(float *d, const u32 *a, const u32 *b) {
#ifdef ERNIE_EMULATOR
    ernie_emu_mma_bf16_16816(d, a, b);
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// 16 bytes from global memory that is read once (weights): not kept in L1.
__device__ __forceinline__ uint4 ldg_stream16(const void *p) {
#ifdef ERNIE_EMULATOR
    return *reinterpret_cast<const uint4 *>(p);
#else
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
    return v;
#endif
}

// 16 bytes an earlier kernel wrote (activations, the KV cache), through the ordinary coherent path (L1 and L2).
// Under programmatic dependent launch a kernel starts while its predecessor still runs, so such data must not go
// through the non-coherent read-only path (ld.global.nc, which is also what the compiler emits for a
// `const __restrict__` pointer): ptxas may schedule those loads before griddepcontrol.wait, and they may be served
// from lines cached before the predecessor wrote them (measured: stale MoE routing metadata, illegal addresses).
// Rule for every kernel launched with `programmatic: true`: `const __restrict__` only on weights and other data no
// kernel of the step writes; everything else is a plain pointer read after pdl_wait() (ldg16, ld_dep_i32 or plain
// loads).
__device__ __forceinline__ uint4 ldg16(const void *p) {
#ifdef ERNIE_EMULATOR
    return *reinterpret_cast<const uint4 *>(p);
#else
    uint4 v;
    asm volatile("ld.global.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
#endif
}

// An int an earlier kernel wrote (routing metadata): coherent, and (volatile) never scheduled before pdl_wait().
__device__ __forceinline__ int ld_dep_i32(const int *p) {
#ifdef ERNIE_EMULATOR
    return *p;
#else
    int v;
    asm volatile("ld.global.s32 %0, [%1];" : "=r"(v) : "l"(p));
    return v;
#endif
}

// Shared-memory address of a generic pointer into shared memory.
__device__ __forceinline__ u32 smem_u32(const void *p) {
#ifdef ERNIE_EMULATOR
    return 0;
#else
    u64 a;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(a) : "l"(p));
    return (u32)a;
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#ifndef ERNIE_EMULATOR
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifndef ERNIE_EMULATOR
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// A shared-memory byte address kept as such (32 bits on the device; a pointer under the emulator), for kernels that
// step through shared memory at constant offsets: `a + bytes` is the address `bytes` further on. The generic-pointer
// forms below convert (cvta) at every call, which costs 64-bit arithmetic and registers in the inner loops.
#ifdef ERNIE_EMULATOR
typedef unsigned char *smem_addr;
__device__ __forceinline__ smem_addr smem_addr_of(const void *p) {
    return reinterpret_cast<unsigned char *>(const_cast<void *>(p));
}
#else
typedef u32 smem_addr;
__device__ __forceinline__ smem_addr smem_addr_of(const void *p) { return smem_u32(p); }
#endif

// p rounded up to a multiple of 1024 bytes (where the 128-byte swizzle pattern repeats: wgmma operands start there).
__device__ __forceinline__ smem_addr smem_align1024(smem_addr p) {
#ifdef ERNIE_EMULATOR
    return reinterpret_cast<smem_addr>((reinterpret_cast<unsigned long long>(p) + 1023ull) & ~1023ull);
#else
    return (p + 1023u) & ~1023u;
#endif
}

// Orders this thread's earlier shared-memory writes (ordinary stores, cp.async) before reads of the async proxy
// (wgmma operands, the copy engine) that follow a barrier.
__device__ __forceinline__ void fence_proxy_async_shared() {
#ifndef ERNIE_EMULATOR
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

__device__ __forceinline__ void cp_async16_at(smem_addr dst, const void *gmem) {
#ifdef ERNIE_EMULATOR
    *reinterpret_cast<uint4 *>(dst) = *reinterpret_cast<const uint4 *>(gmem);
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem) : "memory");
#endif
}

// 16 bytes into shared memory: from global memory when `ok`, zeros otherwise — one cp.async either way (a source size
// of 0 zero-fills), so the lanes of a warp do not branch. `gmem` must be a valid address even when not `ok`.
__device__ __forceinline__ void cp_async16_zfill_at(smem_addr dst, const void *gmem, bool ok) {
#ifdef ERNIE_EMULATOR
    uint4 v;
    v.x = v.y = v.z = v.w = 0u;
    if (ok) v = *reinterpret_cast<const uint4 *>(gmem);
    *reinterpret_cast<uint4 *>(dst) = v;
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(gmem), "r"(ok ? 16 : 0) : "memory");
#endif
}

__device__ __forceinline__ void st_shared_zero16_at(smem_addr dst) {
#ifdef ERNIE_EMULATOR
    uint4 z;
    z.x = z.y = z.z = z.w = 0u;
    *reinterpret_cast<uint4 *>(dst) = z;
#else
    asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};" ::"r"(dst), "r"(0u) : "memory");
#endif
}

// Weight tiles staged in shared memory for mma.sync GEMVs (moe_staged.cu). DRAM streams best when each
// load instruction of a warp covers whole 128-byte lines (measured on the H200, scripts/gpu/membench: 16-row tiles of
// 5,120-byte rows at 3 blocks per SM, 126 MB: 3.0 TB/s when every instruction reads 8 rows x 64 bytes — the
// fragment layout of register-direct mma operands — against 4.1 TB/s for 4 rows x 128 bytes). So a warp copies a
// unit of 16 rows x 64 columns (16 x 128 bytes) as 4 instructions of 4 rows x 128 bytes (lane = 8 * row + piece),
// and then reads the fragments back from shared memory: lane (g, t) takes piece t (columns 8t ... 8t + 7, the unit's
// first 32-column chunk) or 4 + t (the second) of rows g and g + 8. In shared memory a row is 128 bytes with the
// halves of odd rows swapped, so both the copy and the fragment reads of a quarter warp touch 8 distinct 16-byte bank
// groups.
__device__ __forceinline__ int tile_piece(int row, int piece) { return row * 128 + 16 * (piece ^ (4 * (row & 1))); }

// 16 weight bytes into a staged tile: cp.async when in the matrix, zeros otherwise.
__device__ __forceinline__ void tile_copy16(smem_addr dst, const bf16 *src, bool ok) {
    if (ok) {
        cp_async16_at(dst, src);
    } else {
        st_shared_zero16_at(dst);
    }
}

// 16 bytes of a staged tile. Volatile with a memory clobber: it must stay behind the cp.async.wait_group and the
// __syncwarp that guard it.
__device__ __forceinline__ uint4 tile_ld16(smem_addr a) {
#ifdef ERNIE_EMULATOR
    return *reinterpret_cast<const uint4 *>(a);
#else
    uint4 v;
    asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(a)
                 : "memory");
    return v;
#endif
}

__device__ __forceinline__ void ldmatrix_x4_at(u32 *r, smem_addr a) {
#ifdef ERNIE_EMULATOR
    ernie_emu_ldmatrix_x4(r, a, false);
#else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

__device__ __forceinline__ void ldmatrix_x4_trans_at(u32 *r, smem_addr a) {
#ifdef ERNIE_EMULATOR
    ernie_emu_ldmatrix_x4(r, a, true);
#else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

// The same from generic pointers into shared memory.
// 16-byte global -> shared copy that does not wait (cp.async.cg), grouped by commit/wait.
__device__ __forceinline__ void cp_async16(void *smem, const void *gmem) { cp_async16_at(smem_addr_of(smem), gmem); }

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lanes 8i..8i+7 give the row addresses of 8x8 matrix i; r[i] of
// lane l holds matrix i's elements (row l/4, columns 2(l%4), 2(l%4)+1), or with .trans (rows 2(l%4), 2(l%4)+1,
// column l/4).
__device__ __forceinline__ void ldmatrix_x4(u32 *r, const void *row_address) {
    ldmatrix_x4_at(r, smem_addr_of(row_address));
}

__device__ __forceinline__ void ldmatrix_x4_trans(u32 *r, const void *row_address) {
    ldmatrix_x4_trans_at(r, smem_addr_of(row_address));
}

// Programmatic dependent launch (sm_90): wait for the previous kernel's results / let the next kernel start its
// prologue. Both are no-ops when the kernel was launched without the programmatic-serialisation attribute.
__device__ __forceinline__ void pdl_wait() {
#if !defined(ERNIE_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if !defined(ERNIE_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Two floats rounded to bf16 and packed (low half = a).
__device__ __forceinline__ u32 pack_bf16x2(float a, float b) { return (u32)f2bf(a) | ((u32)f2bf(b) << 16); }

// 2^x by the special-function unit (ex2.approx.ftz: relative error ~2^-22, results below 2^-126 flushed to 0), without
// exp2f's extra steps for denormal results; softmax weights that small contribute nothing.
__device__ __forceinline__ float exp2_ftz(float x) {
#ifdef ERNIE_EMULATOR
    const float r = exp2f(x);
    return r < 1.17549435e-38f ? 0.0f : r;
#else
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
#endif
}

// pack_bf16x2 in one instruction (cvt.rn.bf16x2.f32; same rounding, low half = a).
__device__ __forceinline__ u32 pack_bf16x2_rn(float a, float b) {
#ifdef ERNIE_EMULATOR
    return pack_bf16x2(a, b);
#else
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a));
    return r;
#endif
}

// 8 bf16 of a 16-byte vector, widened.
__device__ __forceinline__ void unpack8(const uint4 v, float *out) {
    const u32 w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        out[2 * i] = __uint_as_float(w[i] << 16);
        out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

// 8 floats rounded to bf16 (round to nearest even), packed into a 16-byte vector (element 0 lowest).
__device__ __forceinline__ uint4 pack8(const float *v) {
    uint4 r;
    r.x = pack_bf16x2(v[0], v[1]);
    r.y = pack_bf16x2(v[2], v[3]);
    r.z = pack_bf16x2(v[4], v[5]);
    r.w = pack_bf16x2(v[6], v[7]);
    return r;
}

__device__ __forceinline__ uint4 zero16() {
    uint4 z;
    z.x = z.y = z.z = z.w = 0u;
    return z;
}

// Flash-attention pieces shared by the prefill and decode kernels (mma.sync m16n8k16, bf16 in, fp32 accumulate).
// S += Q Kᵀ for one n-tile of 8 keys: `ks` is the tile's first key row in shared memory (row stride `stride` bf16),
// qf the KSTEPS A fragments of Q (16 rows × 16 dims each).
template <int KSTEPS>
__device__ __forceinline__ void attn_qk_ntile(float (&s)[4], const u32 (&qf)[KSTEPS][4], const bf16 *ks, int stride,
                                              int lane) {
#pragma unroll
    for (int kk = 0; kk < KSTEPS; kk += 2) {
        // Matrices: (keys 0..7, dims kk*16..+7), (.., +8..15), (.., (kk+1)*16..), (.., +8..).
        const int mat = lane >> 3;
        const bf16 *row = ks + (lane & 7) * stride + (kk + (mat >> 1)) * 16 + (mat & 1) * 8;
        u32 b[4];
        ldmatrix_x4(b, row);
        mma_bf16_16816(s, qf[kk], b);
        mma_bf16_16816(s, qf[kk + 1], b + 2);
    }
}

// One online-softmax step for the two rows an accumulator lane holds (row g: registers 0-1, row g + 8: 2-3; a row's
// scores spread over the 4 lanes of its quad), over NT n-tiles of 8 keys already scaled to base 2 and masked with
// -inf: updates the running maxima m and sums l, rescales the O accumulators, and returns P rounded to bf16 as the A
// fragments of NT / 2 key steps of 16 (n-tile 2k → registers 0/1 of step k, 2k + 1 → registers 2/3).
template <int NT, int DT>
__device__ __forceinline__ void attn_softmax_rows(float (&s)[NT][4], float &m_a, float &m_b, float &l_a, float &l_b,
                                                  float (&o)[DT][4], u32 (&pf)[NT / 2][4]) {
    float mx_a = m_a, mx_b = m_b;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            if (i < 2) mx_a = fmaxf(mx_a, s[nt][i]); else mx_b = fmaxf(mx_b, s[nt][i]);
        }
    }
    mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
    mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
    mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
    mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
    const float base_a = mx_a == ERNIE_NEG_INF ? 0.0f : mx_a;
    const float base_b = mx_b == ERNIE_NEG_INF ? 0.0f : mx_b;
    const float corr_a = exp2f(m_a - base_a), corr_b = exp2f(m_b - base_b);
    m_a = mx_a;
    m_b = mx_b;
    float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        const float p0 = exp2f(s[nt][0] - base_a), p1 = exp2f(s[nt][1] - base_a);
        const float p2 = exp2f(s[nt][2] - base_b), p3 = exp2f(s[nt][3] - base_b);
        sum_a += p0 + p1;
        sum_b += p2 + p3;
        pf[nt >> 1][(nt & 1) * 2 + 0] = pack_bf16x2(p0, p1);
        pf[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16x2(p2, p3);
    }
    sum_a += __shfl_xor_sync(0xffffffffu, sum_a, 1);
    sum_a += __shfl_xor_sync(0xffffffffu, sum_a, 2);
    sum_b += __shfl_xor_sync(0xffffffffu, sum_b, 1);
    sum_b += __shfl_xor_sync(0xffffffffu, sum_b, 2);
    l_a = l_a * corr_a + sum_a;
    l_b = l_b * corr_b + sum_b;
#pragma unroll
    for (int n = 0; n < DT; ++n) {
        o[n][0] *= corr_a;
        o[n][1] *= corr_a;
        o[n][2] *= corr_b;
        o[n][3] *= corr_b;
    }
}

// O += P V for one step of 16 keys: `vs` is the step's first key row in shared memory (row stride `stride` bf16),
// V read transposed by ldmatrix.trans, p the step's A fragments from attn_softmax_rows.
template <int DT>
__device__ __forceinline__ void attn_pv_step(float (&o)[DT][4], const u32 (&p)[4], const bf16 *vs, int stride,
                                             int lane) {
#pragma unroll
    for (int n = 0; n < DT; n += 2) {
        // Matrices: (keys 0..7, dims n*8..), (keys 8..15, dims n*8..), (keys 0..7, (n+1)*8..), (8..15, (n+1)*8..).
        const int mat = lane >> 3;
        const bf16 *row = vs + ((mat & 1) * 8 + (lane & 7)) * stride + (n + (mat >> 1)) * 8;
        u32 b[4];
        ldmatrix_x4_trans(b, row);
        mma_bf16_16816(o[n], p, b);
        mma_bf16_16816(o[n + 1], p, b + 2);
    }
}

// Warp-wide arg-max of (score, id) pairs, ties to the lower id (every lane ends with the winner).
__device__ __forceinline__ void warp_argmax_lowest_id(float &best, int &best_id) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, best, o);
        const int other_id = __shfl_xor_sync(0xffffffffu, best_id, o);
        if (other > best || (other == best && other_id < best_id)) {
            best = other;
            best_id = other_id;
        }
    }
}

// ---- Grouped MoE work items (moe_grouped.cu: expert weights through registers; moe_staged.cu: through a
// shared-memory ring). Shapes and row layout: moe_grouped.cu's header comment. ------------------------------------

#define MOE_ROWS 16

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

// Gate and up bias rows of slot `s` (nullptr when the slot has none): routed expert e's are 2I wide (gate, then up),
// shared chunk j's sit at j * CW of the shared [gate | up] bias, up S further on.
struct MoEBias {
    const bf16 *gate, *up;
};
__device__ __forceinline__ MoEBias moe_gate_up_bias(const MoESlot &s, const bf16 *gate_up_bias, const bf16 *shared_bias,
                                                    int I, int CW, int S) {
    MoEBias b;
    b.gate = s.routed ? (gate_up_bias != nullptr ? gate_up_bias + (i64)s.expert * 2 * I : nullptr)
                      : (shared_bias != nullptr ? shared_bias + s.expert * CW : nullptr);
    b.up = b.gate == nullptr ? nullptr : b.gate + (s.routed ? I : S);
    return b;
}

// The down kernels' B operands for tokens m0 + nt * 8 + g of slot `s` (nt < NT): the slot's rows of h (hstride wide)
// at column 8t, and whether each is one of the slot's tokens (rows past the count point at row 0, never read).
template <int NT>
__device__ __forceinline__ void moe_down_inputs(const bf16 *(&hr)[NT], bool (&hok)[NT], const bf16 *h, int hstride,
                                                const MoESlot &s, int m0, int g, int t, int T, int top_k) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        const int i = m0 + nt * 8 + g;
        hok[nt] = i < s.count;
        hr[nt] = h + (i64)(hok[nt] ? moe_row(s, i, T, top_k) : 0) * hstride + 8 * t;
    }
}

// Cross-warp sums of the mma.sync GEMVs (moe_grouped.cu, moe_staged.cu, gemv.cu): each warp's accumulators for NT
// 8-token tiles (rows g and g + 8 of a 16-row tile, tokens 2t and 2t + 1 of each 8) go to shared memory as
// [token][row] floats, NT * 8 * 16 per warp and matrix, and after a barrier the block sums them over the warps.
template <int NT>
__device__ __forceinline__ void mma_store_partials(float *mine, const float (&acc)[NT][4], int g, int t) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int r = g + (i >= 2 ? 8 : 0);
            const int m = nt * 8 + 2 * t + (i & 1);
            mine[m * 16 + r] = acc[nt][i];
        }
    }
}

// Gate and up partials of warp `warp` ([warp][gate, up][NT * 8 * MOE_ROWS] in `red`), stored interleaved (two
// mma_store_partials calls, one matrix after the other, schedule the gate|up kernels differently).
template <int NT>
__device__ __forceinline__ void moe_store_gate_up_partials(float *red, int warp, const float (&ag)[NT][4],
                                                           const float (&au)[NT][4], int g, int t) {
    constexpr int TILE = NT * 8 * MOE_ROWS;
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
}

// h for tokens m0 ... m0 + valid - 1 of slot `s`, rows e_r0 ... of its width: the warps' gate and up sums, each
// rounded to bf16, the bias added and rounded, then bf16(bf16(silu(gate)) * up).
template <int NT>
__device__ __forceinline__ void moe_gate_up_epilogue(const float *red, int warps, int valid, const MoESlot &s, int m0,
                                                     int e_r0, int e_width, const bf16 *e_gbias, const bf16 *e_ubias,
                                                     bf16 *h, int hstride, int T, int top_k) {
    constexpr int TILE = NT * 8 * MOE_ROWS;
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
}

// Y (fp32, unrounded) for tokens m0 ... m0 + valid - 1 of slot `s`, output columns c0row ...: the warps' sums.
template <int NT>
__device__ __forceinline__ void moe_down_epilogue(const float *red, int warps, int valid, const MoESlot &s, int m0,
                                                  int c0row, int H, float *y, int T, int top_k) {
    constexpr int TILE = NT * 8 * MOE_ROWS;
    for (int idx = threadIdx.x; idx < valid * MOE_ROWS; idx += blockDim.x) {
        const int m = idx / MOE_ROWS, r = idx - m * MOE_ROWS;
        if (c0row + r >= H) continue;
        float v = 0.0f;
        for (int ww = 0; ww < warps; ++ww) v += red[ww * TILE + idx];
        y[(i64)moe_row(s, m0 + m, T, top_k) * H + c0row + r] = v;
    }
}
