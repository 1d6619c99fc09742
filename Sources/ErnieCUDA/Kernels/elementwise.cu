// Row gathers, RMSNorm with the residual add, SiLU·mul, bias add, random weights.
#include "common.cuh"

// out[r, :] = table[rows[r], :] for r < count (embedding lookup and gatherRows). One block per output row.
extern "C" __global__ void ernie_gather_rows(const bf16 *__restrict__ table, const int *__restrict__ rows,
                                             bf16 *__restrict__ out, int width) {
    const i64 src = (i64)rows[blockIdx.x] * width;
    const i64 dst = (i64)blockIdx.x * width;
    if ((width & 7) == 0 && (((u64)table | (u64)out) & 15u) == 0u) {  // 16 bytes per access
        const uint4 *s = reinterpret_cast<const uint4 *>(table + src);
        uint4 *d = reinterpret_cast<uint4 *>(out + dst);
        for (int i = threadIdx.x; i < width / 8; i += blockDim.x) d[i] = s[i];
        return;
    }
    for (int i = threadIdx.x; i < width; i += blockDim.x) out[dst + i] = table[src + i];
}

// residual_out = bf16(x + residual) (or x when residual is null);
// normed = bf16(bf16(residual_out * rsqrt(mean(residual_out^2) + eps)) * weight)   (transformers' rounding order).
// One block per row; dynamic shared memory: width floats.
extern "C" __global__ void ernie_add_rmsnorm(const bf16 *__restrict__ x, const bf16 *__restrict__ residual,
                                             const bf16 *__restrict__ weight, bf16 *__restrict__ normed,
                                             bf16 *__restrict__ residual_out, int width, float eps) {
    ERNIE_DYNAMIC_SMEM(float, row);
    __shared__ float scratch[32];
    const i64 base = (i64)blockIdx.x * width;
    float squares = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float z = bf2f(x[base + i]);
        if (residual != nullptr) z += bf2f(residual[base + i]);
        const bf16 zb = f2bf(z);
        residual_out[base + i] = zb;
        const float zf = bf2f(zb);
        row[i] = zf;
        squares += zf * zf;
    }
    const float total = block_sum(squares, scratch);
    const float inv = 1.0f / sqrtf(total / (float)width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        const float y = round_bf(row[i] * inv);
        normed[base + i] = f2bf(y * bf2f(weight[i]));
    }
}

// out[r, c] = bf16(bf16(silu(gu[r, c])) * gu[r, inter + c]) for the fused [rows, 2*inter] gate|up projection.
extern "C" __global__ void ernie_silu_mul(const bf16 *__restrict__ gate_up, bf16 *__restrict__ out, int inter,
                                          i64 total) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const i64 r = i / inter;
        const int c = (int)(i - r * inter);
        const float g = bf2f(gate_up[r * 2 * inter + c]);
        const float u = bf2f(gate_up[r * 2 * inter + inter + c]);
        const float s = round_bf(g / (1.0f + expf(-g)));
        out[i] = f2bf(s * u);
    }
}

// y[r, c] = bf16(y[r, c] + bias[c]) for r*cols + c < total.
extern "C" __global__ void ernie_add_bias(bf16 *__restrict__ y, const bf16 *__restrict__ bias, int cols, i64 total) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)(i % cols);
        y[i] = f2bf(bf2f(y[i]) + bf2f(bias[c]));
    }
}

// Dummy weights (`--load-format dummy`), ErnieModel's `DummyWeights.value`: element i of a tensor with seed s and
// scale a is
//   z = splitmix64_mix(s + (i + 1) * 0x9E3779B97F4A7C15)   (64-bit wrapping arithmetic)
//   u = (float(z >> 40) + 0.5) * 2^-24                      (exact, in (0, 1))
//   value = (2u - 1) * a                                     (float32), then rounded to bf16 (nearest even) for bf16
// Host mirror: RandomWeights.value(seed:index:scale:); Python: scripts/gpu/compare_layers.py.
__device__ __forceinline__ float random_weight(u64 seed, u64 i, float scale) {
    const u64 z = splitmix64_mix(seed + (i + 1ull) * 0x9E3779B97F4A7C15ull);
    const float u = ((float)(z >> 40) + 0.5f) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * scale;
}

// out is [rows, cols], element (r, c) = element r * stride + c of the tensor of `seed` (stride = cols: the whole
// tensor; a larger stride: a column window of a wider one, with `seed` advanced to the window's first element).
extern "C" __global__ void ernie_random_bf16(bf16 *__restrict__ out, u64 rows, u64 cols, u64 stride, u64 seed,
                                             float scale) {
    const u64 count = rows * cols;
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
        const u64 r = i / cols;
        out[i] = f2bf(random_weight(seed, r * stride + (i - r * cols), scale));
    }
}

extern "C" __global__ void ernie_random_f32(float *__restrict__ out, u64 rows, u64 cols, u64 stride, u64 seed,
                                            float scale) {
    const u64 count = rows * cols;
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
        const u64 r = i / cols;
        out[i] = random_weight(seed, r * stride + (i - r * cols), scale);
    }
}
