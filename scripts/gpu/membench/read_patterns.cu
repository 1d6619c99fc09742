// Read bandwidth of the access patterns a weight-streaming kernel can use, on matrices shaped like one layer's expert
// weights (rows of K = 2560 bf16, 16-row work items, persistent blocks of 8 warps): which pattern reaches the
// copy-kernel ceiling? Build and run on the device: nvcc -O3 -arch=sm_90a read_patterns.cu -o rp && ./rp
//
//   frag64  : the grouped expert kernels' pattern — warp w reads 64-byte chunks w, w+8, ... of the item's 16 rows,
//             lane (g, t) 16 bytes of rows g and g+8 (8 rows x 64 B per instruction)
//   frag128 : 128-byte chunks, lane (r = lane/8, c = lane%8): 4 rows x 128 B per instruction
//   pair64  : as frag64 but each warp takes two adjacent 64-byte chunks (2w, 2w+1), so both halves of every 128-byte
//             line come from one warp back to back
//   rows    : each warp reads whole rows, 512 contiguous bytes per instruction
//   linear  : a grid-stride read of the whole buffer (the copy-kernel ceiling)
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>

__device__ __forceinline__ uint4 ldg(const void *p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
__device__ __forceinline__ void mix(uint32_t &a, uint4 v) { a ^= v.x ^ v.y ^ v.z ^ v.w; }

constexpr int K = 2560;          // bf16 per row
constexpr int ROWB = K * 2;      // bytes per row
constexpr int ITEM = 16;         // rows per item

template <int U>
__global__ void __launch_bounds__(256) frag64(const char *w, int items, uint32_t *sink) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    uint32_t acc = 0;
    constexpr int CH = ROWB / 64;  // 80 chunks
    for (int it = blockIdx.x; it < items; it += gridDim.x) {
        const char *b0 = w + (size_t)(it * ITEM + g) * ROWB + 16 * t, *b8 = b0 + 8 * ROWB;
        for (int c0 = warp; c0 < CH; c0 += 8 * U) {
            uint4 a[U], b[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int c = c0 + 8 * u;
                if (c < CH) { a[u] = ldg(b0 + 64 * c); b[u] = ldg(b8 + 64 * c); } else { a[u] = b[u] = make_uint4(0,0,0,0); }
            }
#pragma unroll
            for (int u = 0; u < U; ++u) { mix(acc, a[u]); mix(acc, b[u]); }
        }
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

template <int U>
__global__ void __launch_bounds__(256) pair64(const char *w, int items, uint32_t *sink) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    uint32_t acc = 0;
    constexpr int CH = ROWB / 128;  // 40 pairs
    for (int it = blockIdx.x; it < items; it += gridDim.x) {
        const char *b0 = w + (size_t)(it * ITEM + g) * ROWB + 16 * t, *b8 = b0 + 8 * ROWB;
        for (int c0 = warp; c0 < CH; c0 += 8 * U) {
            uint4 a[2 * U], b[2 * U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int c = c0 + 8 * u;
                if (c < CH) {
                    a[2*u] = ldg(b0 + 128 * c); a[2*u+1] = ldg(b0 + 128 * c + 64);
                    b[2*u] = ldg(b8 + 128 * c); b[2*u+1] = ldg(b8 + 128 * c + 64);
                } else { a[2*u] = a[2*u+1] = b[2*u] = b[2*u+1] = make_uint4(0,0,0,0); }
            }
#pragma unroll
            for (int u = 0; u < 2 * U; ++u) { mix(acc, a[u]); mix(acc, b[u]); }
        }
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

template <int U>
__global__ void __launch_bounds__(256) frag128(const char *w, int items, uint32_t *sink) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r = lane >> 3, c8 = lane & 7;
    uint32_t acc = 0;
    constexpr int CH = ROWB / 128;  // 40 chunks
    for (int it = blockIdx.x; it < items; it += gridDim.x) {
        const char *base = w + (size_t)(it * ITEM + r) * ROWB + 16 * c8;
        for (int c0 = warp; c0 < CH; c0 += 8 * U) {
            uint4 a[U][4];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int c = c0 + 8 * u;
#pragma unroll
                for (int q = 0; q < 4; ++q) a[u][q] = c < CH ? ldg(base + (size_t)q * 4 * ROWB + 128 * c) : make_uint4(0,0,0,0);
            }
#pragma unroll
            for (int u = 0; u < U; ++u)
#pragma unroll
                for (int q = 0; q < 4; ++q) mix(acc, a[u][q]);
        }
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

template <int U>
__global__ void __launch_bounds__(256) rows(const char *w, int items, uint32_t *sink) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    uint32_t acc = 0;
    constexpr int PER = ROWB / 512;  // 10 instructions per row
    for (int it = blockIdx.x; it < items; it += gridDim.x) {
        for (int rr = warp; rr < ITEM; rr += 8) {
            const char *base = w + (size_t)(it * ITEM + rr) * ROWB + 16 * lane;
            for (int j0 = 0; j0 < PER; j0 += U) {
                uint4 a[U];
#pragma unroll
                for (int u = 0; u < U; ++u) a[u] = j0 + u < PER ? ldg(base + 512 * (j0 + u)) : make_uint4(0,0,0,0);
#pragma unroll
                for (int u = 0; u < U; ++u) mix(acc, a[u]);
            }
        }
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

template <int U>
__global__ void __launch_bounds__(256) linear(const char *w, size_t n16, uint32_t *sink) {
    uint32_t acc = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n16; i += stride * U) {
        uint4 a[U];
#pragma unroll
        for (int u = 0; u < U; ++u) a[u] = i + u * stride < n16 ? ldg(w + 16 * (i + u * stride)) : make_uint4(0,0,0,0);
#pragma unroll
        for (int u = 0; u < U; ++u) mix(acc, a[u]);
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

int main(int argc, char **argv) {
    // One "layer": items of 16 rows; 768 items = 6 routed + 2 shared experts' gate|up at batch 1 (126 MB).
    int items_list[] = {768, 1536, 6144};  // 63 MB (down at batch 1), 126 MB (gate|up at batch 1), 503 MB (batch 64)
    const int NBUF = 4;
    size_t maxbytes = (size_t)6144 * ITEM * ROWB;
    char *buf[NBUF];
    for (int i = 0; i < NBUF; ++i) { cudaMalloc(&buf[i], maxbytes); cudaMemset(buf[i], i + 1, maxbytes); }
    uint32_t *sink; cudaMalloc(&sink, 4);
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    printf("%-10s %2s %6s %4s %10s %9s %9s\n", "pattern", "U", "items", "bpsm", "MB", "us", "GB/s");
    auto run = [&](const char *name, int U, int items, int bpsm, auto launch) {
        const size_t bytes = (size_t)items * ITEM * ROWB;
        const int grid = sms * bpsm;
        for (int i = 0; i < 3; ++i) launch(grid, buf[i % NBUF], items);
        const int reps = 40;
        cudaEventRecord(e0);
        for (int i = 0; i < reps; ++i) launch(grid, buf[i % NBUF], items);
        cudaEventRecord(e1); cudaEventSynchronize(e1);
        float ms; cudaEventElapsedTime(&ms, e0, e1);
        const double us = ms * 1000.0 / reps;
        printf("%-10s %2d %6d %4d %10.1f %9.2f %9.1f\n", name, U, items, bpsm, bytes / 1e6, us, bytes / us / 1e3);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) printf("error %s\n", cudaGetErrorString(err));
    };
#define RUN(KER, U, BPSM)                                                                                          \
    run(#KER, U, items, BPSM, [&](int grid, char *b, int it) { KER<U><<<grid, 256>>>(b, it, sink); })
    for (int items : items_list) {
        for (int bpsm : {2, 3, 4, 8}) {
            RUN(frag64, 2, bpsm); RUN(frag64, 4, bpsm);
            RUN(pair64, 1, bpsm); RUN(pair64, 2, bpsm);
            RUN(frag128, 1, bpsm); RUN(frag128, 2, bpsm);
            RUN(rows, 2, bpsm); RUN(rows, 5, bpsm);
            run("linear", 4, items, bpsm, [&](int grid, char *b, int it) {
                linear<4><<<grid, 256>>>(b, (size_t)it * ITEM * ROWB / 16, sink); });
        }
    }
    return 0;
}
