// Host emulation of the CUDA device features ErnieCUDA's kernels use, so the same .cu sources can be compiled by a
// host C++ compiler and run on the CPU (scripts/gpu/emu: a fake libcuda / libnvrtc / libcublasLt for testing the
// whole backend without a GPU). Force-included before the kernel source (-include emu_device.h).
//
// Model: one block at a time; each CUDA thread is a coroutine with its own stack (hand-written x86-64 context
// switch). __syncthreads and the warp shuffles are barriers (all threads of the block / warp must arrive); a barrier
// nobody can pass is reported as a deadlock. __shared__ variables are function-static (one block runs at a time).
#pragma once
#ifndef __x86_64__
#error "the ErnieCUDA emulator supports x86-64 only"
#endif
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <type_traits>
#include <utility>
#include <vector>

#define ERNIE_EMULATOR 1
#define __global__ __attribute__((used, visibility("default")))
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)

struct uint2 { unsigned x, y; };
struct uint4 { unsigned x, y, z, w; };
struct int2 { int x, y; };
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct emu_dim3 { unsigned x, y, z; };

struct emu_launch_dims {
    unsigned grid[3];
    unsigned block[3];
    unsigned shared_bytes;
    const char *name;
};

extern "C" void emu_switch_ctx(void **save_sp, void *new_sp);
__asm__(R"(
    .text
    .hidden emu_switch_ctx
    .globl emu_switch_ctx
    .type emu_switch_ctx, @function
emu_switch_ctx:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch_ctx, .-emu_switch_ctx
)");

namespace emu {

struct Thread {
    void *sp = nullptr;
    bool done = false;
    emu_dim3 tid{0, 0, 0};
    int linear = 0;
};

struct Warp {
    uint64_t slots[32];
    int arrived = 0;
    unsigned generation = 0;
    // Whole-fragment exchange for the tensor-core and ldmatrix emulation.
    unsigned frag_a[32][4];
    unsigned frag_b[32][2];
    const void *rows[32];
};

struct State {
    static constexpr size_t stack_bytes = 256 * 1024;
    emu_dim3 block{0, 0, 0}, block_dim{0, 0, 0}, grid_dim{0, 0, 0};
    Thread *current = nullptr;
    std::vector<Thread> threads;
    std::vector<char *> stacks;
    void *scheduler_sp = nullptr;
    void (*body)(void *) = nullptr;
    void *body_context = nullptr;
    int block_arrived = 0;
    unsigned block_generation = 0;
    Warp warps[32];
    std::vector<unsigned char> dynamic_smem;
    uint64_t progress = 0;
    const char *kernel = "?";
};

inline State &state() {
    static State s;
    return s;
}

[[noreturn]] inline void fail(const char *what) {
    std::fprintf(stderr, "ErnieCUDA emulator: %s (kernel %s, block %u,%u,%u, thread %d)\n", what, state().kernel,
                 state().block.x, state().block.y, state().block.z, state().current ? state().current->linear : -1);
    std::abort();
}

inline void yield() {
    State &s = state();
    emu_switch_ctx(&s.current->sp, s.scheduler_sp);
}

inline void block_barrier() {
    State &s = state();
    const int n = (int)(s.block_dim.x * s.block_dim.y * s.block_dim.z);
    const unsigned generation = s.block_generation;
    if (++s.block_arrived == n) {
        s.block_arrived = 0;
        s.block_generation++;
        s.progress++;
        return;
    }
    while (s.block_generation == generation) yield();
}

inline int lane_id() { return state().current->linear & 31; }

inline Warp &warp() { return state().warps[state().current->linear >> 5]; }

inline void warp_barrier() {
    State &s = state();
    Warp &w = warp();
    const unsigned generation = w.generation;
    if (++w.arrived == 32) {
        w.arrived = 0;
        w.generation++;
        s.progress++;
        return;
    }
    while (w.generation == generation) yield();
}

template <class T>
inline T shuffle(T value, int source) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    Warp &w = warp();
    const int lane = lane_id();
    std::memcpy(&w.slots[lane], &value, sizeof(T));
    warp_barrier();
    T out = value;
    if (source >= 0 && source < 32) std::memcpy(&out, &w.slots[source], sizeof(T));
    warp_barrier();
    return out;
}

extern "C" inline void emu_thread_entry() {
    State &s = state();
    s.body(s.body_context);
    s.current->done = true;
    s.progress++;
    emu_switch_ctx(&s.current->sp, s.scheduler_sp);
    fail("finished thread resumed");
}

inline void run_grid(const emu_launch_dims *d) {
    State &s = state();
    s.kernel = d->name ? d->name : "?";
    const unsigned threads = d->block[0] * d->block[1] * d->block[2];
    if (threads == 0 || threads > 1024 || threads % 32 != 0) fail("block size must be a multiple of 32, at most 1024");
    s.block_dim = {d->block[0], d->block[1], d->block[2]};
    s.grid_dim = {d->grid[0], d->grid[1], d->grid[2]};
    s.dynamic_smem.assign(d->shared_bytes + 16, 0xA5);
    while (s.stacks.size() < threads) {
        void *stack = mmap(nullptr, State::stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
        if (stack == MAP_FAILED) fail("cannot map a thread stack");
        s.stacks.push_back((char *)stack);
    }
    s.threads.assign(threads, Thread{});
    for (unsigned bz = 0; bz < d->grid[2]; ++bz)
        for (unsigned by = 0; by < d->grid[1]; ++by)
            for (unsigned bx = 0; bx < d->grid[0]; ++bx) {
                s.block = {bx, by, bz};
                s.block_arrived = 0;
                for (auto &w : s.warps) w.arrived = 0;
                for (unsigned t = 0; t < threads; ++t) {
                    Thread &th = s.threads[t];
                    th.done = false;
                    th.linear = (int)t;
                    th.tid = {t % d->block[0], (t / d->block[0]) % d->block[1], t / (d->block[0] * d->block[1])};
                    uint64_t *sp = (uint64_t *)(s.stacks[t] + State::stack_bytes);
                    *--sp = 0;                                // fake return address of the entry function
                    *--sp = (uint64_t)(void *)&emu_thread_entry;  // `ret` target of the first switch
                    for (int r = 0; r < 6; ++r) *--sp = 0;   // rbp rbx r12 r13 r14 r15
                    th.sp = sp;
                }
                unsigned alive = threads;
                while (alive > 0) {
                    const uint64_t before = s.progress;
                    alive = 0;
                    for (unsigned t = 0; t < threads; ++t) {
                        Thread &th = s.threads[t];
                        if (th.done) continue;
                        s.current = &th;
                        emu_switch_ctx(&s.scheduler_sp, th.sp);
                        if (!th.done) ++alive;
                    }
                    s.current = nullptr;
                    if (alive > 0 && s.progress == before) fail("deadlock: threads wait at a barrier nobody else reaches");
                }
            }
}

template <class F>
inline void run_with(F &function, const emu_launch_dims *d) {
    State &s = state();
    s.body = [](void *context) { (*static_cast<F *>(context))(); };
    s.body_context = &function;
    run_grid(d);
}

template <class... A, size_t... I>
inline void call_kernel(void (*kernel)(A...), void **params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<A>> *>(params[I])...);
}

template <class... A>
inline int arity(void (*)(A...)) {
    static_assert(((sizeof(A) <= 8) && ...), "kernel parameters wider than 8 bytes");
    return (int)sizeof...(A);
}

template <class... A>
inline void launch(void (*kernel)(A...), const emu_launch_dims *d, void **params) {
    auto body = [&]() { call_kernel(kernel, params, std::index_sequence_for<A...>{}); };
    run_with(body, d);
}

}  // namespace emu

#define threadIdx (emu::state().current->tid)
#define blockIdx (emu::state().block)
#define blockDim (emu::state().block_dim)
#define gridDim (emu::state().grid_dim)

inline void __syncthreads() { emu::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_barrier(); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int mask) { return emu::shuffle(v, emu::lane_id() ^ mask); }
template <class T> inline T __shfl_sync(unsigned, T v, int lane) { return emu::shuffle(v, lane & 31); }
template <class T> inline T __shfl_up_sync(unsigned, T v, unsigned delta) {
    const int lane = emu::lane_id();
    return emu::shuffle(v, lane >= (int)delta ? lane - (int)delta : lane);
}
template <class T> inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
    const int lane = emu::lane_id();
    return emu::shuffle(v, lane + (int)delta < 32 ? lane + (int)delta : lane);
}

inline unsigned __ballot_sync(unsigned, int predicate) {
    emu::Warp &w = emu::warp();
    w.slots[emu::lane_id()] = predicate ? 1 : 0;
    emu::warp_barrier();
    unsigned out = 0;
    for (int l = 0; l < 32; ++l)
        if (w.slots[l]) out |= 1u << l;
    emu::warp_barrier();
    return out;
}
inline int __any_sync(unsigned m, int predicate) { return __ballot_sync(m, predicate) != 0; }
inline int __all_sync(unsigned m, int predicate) { return __ballot_sync(m, predicate) == 0xffffffffu; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
inline void __threadfence() {}
inline void __threadfence_block() {}
template <class T> inline T atomicExch(T *address, T value) {
    T old = *address;
    *address = value;
    return old;
}
template <class T> inline T atomicCAS(T *address, T compare, T value) {
    T old = *address;
    if (old == compare) *address = value;
    return old;
}
template <class T> inline T atomicAdd(T *address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
template <class T> inline T atomicMax(T *address, T value) {
    T old = *address;
    if (value > old) *address = value;
    return old;
}
template <class T> inline T atomicMin(T *address, T value) {
    T old = *address;
    if (value < old) *address = value;
    return old;
}

inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
template <class T> inline T __ldg(const T *p) { return *p; }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

inline unsigned short ernie_emu_f2bf(float f) {
    unsigned u = __float_as_uint(f);
    if (std::isnan(f)) return (unsigned short)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

inline unsigned char *ernie_emu_dynamic_smem() {
    unsigned char *p = emu::state().dynamic_smem.data();
    return (unsigned char *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
}

// The warp's 16 × 16 bf16 A operand from every lane's m16n8k16 A fragment (w.frag_a; layout: common.cuh).
inline void ernie_emu_unpack_a(const emu::Warp &w, float (&A)[16][16]) {
    auto lo = [](unsigned r) { return __uint_as_float(r << 16); };
    auto hi = [](unsigned r) { return __uint_as_float(r & 0xffff0000u); };
    for (int l = 0; l < 32; ++l) {
        const int g = l >> 2, t = l & 3;
        const unsigned *ra = w.frag_a[l];
        A[g][2 * t] = lo(ra[0]);
        A[g][2 * t + 1] = hi(ra[0]);
        A[g + 8][2 * t] = lo(ra[1]);
        A[g + 8][2 * t + 1] = hi(ra[1]);
        A[g][2 * t + 8] = lo(ra[2]);
        A[g][2 * t + 9] = hi(ra[2]);
        A[g + 8][2 * t + 8] = lo(ra[3]);
        A[g + 8][2 * t + 9] = hi(ra[3]);
    }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the calling warp (fragment layout: common.cuh).
inline void ernie_emu_mma_bf16_16816(float *d, const unsigned *a, const unsigned *b) {
    emu::Warp &w = emu::warp();
    const int lane = emu::lane_id();
    std::memcpy(w.frag_a[lane], a, 16);
    std::memcpy(w.frag_b[lane], b, 8);
    emu::warp_barrier();
    auto lo = [](unsigned r) { return __uint_as_float(r << 16); };
    auto hi = [](unsigned r) { return __uint_as_float(r & 0xffff0000u); };
    float A[16][16], B[16][8];
    ernie_emu_unpack_a(w, A);
    for (int l = 0; l < 32; ++l) {
        const int g = l >> 2, t = l & 3;
        const unsigned *rb = w.frag_b[l];
        B[2 * t][g] = lo(rb[0]);
        B[2 * t + 1][g] = hi(rb[0]);
        B[2 * t + 8][g] = lo(rb[1]);
        B[2 * t + 9][g] = hi(rb[1]);
    }
    const int g = lane >> 2, t = lane & 3;
    const int rows[4] = {g, g, g + 8, g + 8};
    const int cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int i = 0; i < 4; ++i) {
        float acc = d[i];
        for (int k = 0; k < 16; ++k) acc += A[rows[i]][k] * B[k][cols[i]];
        d[i] = acc;
    }
    emu::warp_barrier();
}

// Element (row, col) of a wgmma shared-memory operand with the 128-byte swizzle, from its descriptor: start address
// (here relative to the block's dynamic shared memory) >> 4 in bits 0-13, leading byte offset >> 4 in bits 16-29,
// stride byte offset >> 4 in bits 32-45. K-major (mn false): row = the M or N index (rows 8 apart by the stride
// offset, 128 bytes each), col = the K index from the start. MN-major: row = the K index (8-row groups by the stride
// offset), col = the M or N index (64-element blocks by the leading offset). The swizzle XORs address bits 4-6 with
// bits 7-9, as the hardware does (layout checked against the H200 in BENCHMARKS.md round 9).
inline unsigned short ernie_emu_wg_element(unsigned long long desc, int row, int col, bool mn) {
    const uintptr_t start = (uintptr_t)ernie_emu_dynamic_smem() + ((desc & 0x3FFFull) << 4);
    const uintptr_t lbo = ((desc >> 16) & 0x3FFFull) << 4, sbo = ((desc >> 32) & 0x3FFFull) << 4;
    uintptr_t a = start + (uintptr_t)(row >> 3) * sbo + (uintptr_t)(row & 7) * 128;
    a += mn ? (uintptr_t)(col >> 6) * lbo + (uintptr_t)(col & 63) * 2 : (uintptr_t)col * 2;
    a ^= ((a >> 7) & 7) << 4;
    unsigned short v;
    std::memcpy(&v, (const void *)a, 2);
    return v;
}

inline float ernie_emu_bf(unsigned short h) { return __uint_as_float((unsigned)h << 16); }

// wgmma.mma_async m64nNk16 f32.bf16.bf16 (N = 8 ... 256), A and B K-major from shared memory, for the calling warp's
// 16 rows of its warpgroup's 64 (accumulator layout: wgmma.cuh; the first N / 2 elements of d). accumulate 0:
// d = A·B.
inline void ernie_emu_wgmma_ss(float *d, unsigned long long da, unsigned long long db, int n, int accumulate) {
    const int lane = emu::lane_id(), wq = (emu::state().current->linear >> 5) & 3;
    const int g = lane >> 2, t = lane & 3;
    for (int c = 0; c < n / 8; ++c) {
        for (int e = 0; e < 4; ++e) {
            const int row = 16 * wq + g + 8 * (e >> 1), col = 8 * c + 2 * t + (e & 1);
            float acc = 0.0f;
            for (int k = 0; k < 16; ++k) {
                acc += ernie_emu_bf(ernie_emu_wg_element(da, row, k, false)) *
                       ernie_emu_bf(ernie_emu_wg_element(db, col, k, false));
            }
            d[4 * c + e] = accumulate ? d[4 * c + e] + acc : acc;
        }
    }
}

// wgmma.mma_async m64n128k16 f32.bf16.bf16 with accumulation, A from registers (the m16n8k16 A fragment of the warp's
// 16 rows), B MN-major from shared memory (read transposed), for the calling warp.
inline void ernie_emu_wgmma_n128_rs(float *d, const unsigned *a, unsigned long long db) {
    emu::Warp &w = emu::warp();
    const int lane = emu::lane_id();
    std::memcpy(w.frag_a[lane], a, 16);
    emu::warp_barrier();
    float A[16][16];
    ernie_emu_unpack_a(w, A);
    const int g = lane >> 2, t = lane & 3;
    for (int c = 0; c < 16; ++c) {
        for (int e = 0; e < 4; ++e) {
            const int row = g + 8 * (e >> 1), col = 8 * c + 2 * t + (e & 1);
            float acc = 0.0f;
            for (int k = 0; k < 16; ++k) acc += A[row][k] * ernie_emu_bf(ernie_emu_wg_element(db, k, col, true));
            d[4 * c + e] += acc;
        }
    }
    emu::warp_barrier();
}

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16 for the calling warp.
inline void ernie_emu_ldmatrix_x4(unsigned *r, const void *row_address, bool trans) {
    emu::Warp &w = emu::warp();
    const int lane = emu::lane_id();
    w.rows[lane] = row_address;
    emu::warp_barrier();
    for (int i = 0; i < 4; ++i) {
        if (!trans) {
            std::memcpy(&r[i], (const char *)w.rows[8 * i + lane / 4] + (lane % 4) * 4, 4);
        } else {
            unsigned short e0, e1;
            std::memcpy(&e0, (const char *)w.rows[8 * i + 2 * (lane % 4)] + 2 * (lane / 4), 2);
            std::memcpy(&e1, (const char *)w.rows[8 * i + 2 * (lane % 4) + 1] + 2 * (lane / 4), 2);
            r[i] = (unsigned)e0 | ((unsigned)e1 << 16);
        }
    }
    emu::warp_barrier();
}
