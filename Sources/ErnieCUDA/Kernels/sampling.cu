// Sampling and log-probabilities, one block (SAMPLE_THREADS threads) per logits row / request.
//
// Semantics: ErnieModel's `Sampler` (the CPU reference). Log-probabilities from the raw logits; penalties
// (repetition over prompt+output tokens, then frequency and presence over output tokens), banned tokens and the
// allowed-token bitmask (structured output) on a copy of the raw logits; greedy arg-max (ties -> lowest id), or p_i = exp((x_i - max) / T) (unnormalised), ids with
// p_i = 0 dropped, ordered by (p desc, id asc): top-k keeps the first k, top-p keeps an id while the mass strictly
// before it is <= top_p * total (total over the full distribution, or over the top-k set when P_TOP_P_AFTER_TOP_K),
// min-p keeps p_i >= min_p (p_max = 1); the draw is argmax p_i / E_i, E_i = -log(sampling_uniform(seed, counter, i)),
// ties -> lowest id.
//
// The top-k / top-p / min-p sets are prefixes of one order, so each is described by a boundary (key, cut):
// element i is in the set iff key_i > key or (key_i == key and i <= cut), found by radix selection (4 passes of
// 8 bits over an orderable key) and a block scan for ties. No sorting.
#include "common.cuh"

#define SAMPLE_THREADS 1024
#define SAMPLE_MAX_TOP 256

// Per-request integer parameters (stride SAMPLE_INTS).
#define P_LIMIT 0
#define P_MODE 1  // 0 score only, 1 greedy, 2 sample
#define P_TOP_K 2
#define P_TARGET 3
#define P_TOP_N 4
#define P_PEN_BEGIN 5
#define P_PEN_END 6
#define P_BAN_BEGIN 7
#define P_BAN_END 8
#define P_TOP_P_AFTER_TOP_K 9
#define P_MASK_BEGIN 10  // first word of the request's allowed-token bitmask in mask_words, or -1 (no mask)
#define SAMPLE_INTS 11
// Per-request float parameters (stride SAMPLE_FLOATS).
#define F_TEMPERATURE 0
#define F_TOP_P 1
#define F_MIN_P 2
#define F_REPETITION 3
#define F_FREQUENCY 4
#define F_PRESENCE 5
#define SAMPLE_FLOATS 6

struct Boundary {
    u32 key;  // elements with a larger key are in the set
    int cut;  // elements with this key and an id <= cut are in the set
};

__device__ __forceinline__ bool in_set(Boundary b, u32 key, int id) {
    return key > b.key || (key == b.key && id <= b.cut);
}

// The id of the `need`-th (1-based) lowest id i < limit with key(i) == target_key (and valid(i)).
template <class KeyFn>
__device__ int nth_tie(KeyFn key_of, int limit, u32 target_key, u32 need, u32 *scan_scratch, int *result) {
    const int chunk = (limit + blockDim.x - 1) / blockDim.x;
    const int begin = min(limit, (int)threadIdx.x * chunk);
    const int end = min(limit, begin + chunk);
    u32 count = 0;
    bool valid;
    for (int i = begin; i < end; ++i) {
        const u32 k = key_of(i, &valid);
        count += (valid && k == target_key) ? 1u : 0u;
    }
    u32 total;
    const u32 before = block_exclusive_scan(count, scan_scratch, &total);
    if (threadIdx.x == 0) *result = limit - 1;
    __syncthreads();
    if (before < need && before + count >= need) {
        u32 seen = before;
        for (int i = begin; i < end; ++i) {
            const u32 k = key_of(i, &valid);
            if (valid && k == target_key && ++seen == need) {
                *result = i;
                break;
            }
        }
    }
    __syncthreads();
    return *result;
}

// Boundary of the first `n` elements (key desc, id asc) among valid ids < limit; n >= 1 and n <= number valid.
template <class KeyFn>
__device__ Boundary select_top_count(KeyFn key_of, int limit, u32 n, u32 *hist, u32 *scan_scratch, int *shared_int,
                                     u32 *shared_u32) {
    u32 prefix = 0, mask = 0, above = 0;
    bool valid;
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 24 - 8 * pass;
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            const u32 k = key_of(i, &valid);
            if (valid && (k & mask) == prefix) atomicAdd(&hist[(k >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int chosen = 0;
            for (int b = 255; b >= 0; --b) {
                if (above + hist[b] >= n) {
                    chosen = b;
                    break;
                }
                above += hist[b];
            }
            shared_u32[0] = (u32)chosen;
            shared_u32[1] = above;
        }
        __syncthreads();
        prefix |= shared_u32[0] << shift;
        mask |= 255u << shift;
        above = shared_u32[1];
        __syncthreads();
    }
    Boundary b;
    b.key = prefix;
    b.cut = nth_tie(key_of, limit, prefix, n - above, scan_scratch, shared_int);
    return b;
}

// Boundary of the shortest prefix (key desc, id asc) whose mass strictly exceeds `target` (every id whose preceding
// mass is <= target); mass_of(i) is identical for equal keys. *all is set when no prefix exceeds the target.
template <class KeyFn, class MassFn>
__device__ Boundary select_top_mass(KeyFn key_of, MassFn mass_of, int limit, float target, float *hist,
                                    u32 *scan_scratch, int *shared_int, u32 *shared_u32, float *shared_float,
                                    bool *all) {
    u32 prefix = 0, mask = 0;
    float above = 0.0f;
    bool valid;
    __shared__ u32 hist_count[256];
    __shared__ int exhausted;
    if (threadIdx.x == 0) exhausted = 0;
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 24 - 8 * pass;
        for (int b = threadIdx.x; b < 256; b += blockDim.x) {
            hist[b] = 0.0f;
            hist_count[b] = 0;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            const u32 k = key_of(i, &valid);
            if (valid && (k & mask) == prefix) {
                atomicAdd(&hist[(k >> shift) & 255u], mass_of(i));
                atomicAdd(&hist_count[(k >> shift) & 255u], 1u);
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int chosen = -1, lowest = 0;
            for (int b = 255; b >= 0; --b) {
                if (hist_count[b] == 0) continue;
                lowest = b;
                if (above + hist[b] > target) {
                    chosen = b;
                    break;
                }
                above += hist[b];
            }
            if (chosen < 0) {  // the whole mass never exceeds the target: keep everything
                chosen = lowest;
                above -= hist[lowest];
                exhausted = 1;
            }
            shared_u32[0] = (u32)chosen;
            shared_float[0] = above;
        }
        __syncthreads();
        prefix |= shared_u32[0] << shift;
        mask |= 255u << shift;
        above = shared_float[0];
        __syncthreads();
    }
    *all = exhausted != 0;
    // Ties share one mass v: keep the fewest (lowest ids first) whose mass exceeds the target.
    u32 ties = 0;
    for (int i = threadIdx.x; i < limit; i += blockDim.x) {
        const u32 k = key_of(i, &valid);
        if (valid && k == prefix) ++ties;
    }
    u32 total_ties;
    block_exclusive_scan(ties, scan_scratch, &total_ties);
    const float v = key_float(prefix);
    u32 need = 1;
    if (v > 0.0f && target >= above) {
        const float q = floorf((target - above) / v) + 1.0f;
        need = q >= (float)total_ties ? total_ties : (u32)q;
        while (need > 1 && above + (float)(need - 1) * v > target) --need;
        while (need < total_ties && !(above + (float)need * v > target)) ++need;
    }
    if (need > total_ties) need = total_ties;
    if (need < 1) need = 1;
    Boundary b;
    b.key = prefix;
    b.cut = nth_tie(key_of, limit, prefix, need, scan_scratch, shared_int);
    return b;
}

// Arg-max of (value desc, id asc) over the block; every thread gets the winner's id (or -1 if none).
__device__ int block_argmax(float value, int id, float *scratch_v, int *scratch_i) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, value, o);
        const int oi = __shfl_xor_sync(0xffffffffu, id, o);
        if (oi >= 0 && (id < 0 || ov > value || (ov == value && oi < id))) {
            value = ov;
            id = oi;
        }
    }
    __syncthreads();
    if (lane == 0) {
        scratch_v[warp] = value;
        scratch_i[warp] = id;
    }
    __syncthreads();
    value = lane < warps ? scratch_v[lane] : 0.0f;
    id = lane < warps ? scratch_i[lane] : -1;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, value, o);
        const int oi = __shfl_xor_sync(0xffffffffu, id, o);
        if (oi >= 0 && (id < 0 || ov > value || (ov == value && oi < id))) {
            value = ov;
            id = oi;
        }
    }
    return id;
}

// One thread's share of a row in one pass: the running maximum `mx` with the sum of exp(x - mx) rescaled to it, and
// the arg-max (value desc, id asc, -inf never chosen); `take` must see the thread's ids in increasing order.
struct RowScan {
    float mx = ERNIE_NEG_INF, s = 0.0f, best = ERNIE_NEG_INF;
    int best_id = -1;
    __device__ __forceinline__ void take(float x, int id) {
        if (x == ERNIE_NEG_INF) return;
        if (x > mx) {
            s = mx == ERNIE_NEG_INF ? 0.0f : s * expf(mx - x);
            mx = x;
        }
        s += expf(x - mx);
        if (best_id < 0 || x > best) {
            best = x;
            best_id = id;
        }
    }
};

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS, 1)
    ernie_sample(const bf16 *__restrict__ logits, int vocab, const int *__restrict__ ints,
                 const float *__restrict__ floats, const u64 *__restrict__ seeds, const int *__restrict__ pen_tokens,
                 const int *__restrict__ pen_counts, const int *__restrict__ ban_tokens,
                 const u32 *__restrict__ mask_words, float *__restrict__ scratch,
                 int *__restrict__ out_token, float *__restrict__ out_logprob, float *__restrict__ out_target,
                 int *__restrict__ out_top_ids, float *__restrict__ out_top_logprobs, int max_top) {
    __shared__ float red[32];
    __shared__ float red_v[32];
    __shared__ int red_i[32];
    __shared__ u32 scan_scratch[32];
    __shared__ u32 hist[256];
    __shared__ float hist_mass[256];
    __shared__ int shared_int[1];
    __shared__ u32 shared_u32[2];
    __shared__ float shared_float[1];
    __shared__ int top_ids[SAMPLE_MAX_TOP];
    __shared__ int top_count;

    const int r = blockIdx.x;
    const int *p = ints + (i64)r * SAMPLE_INTS;
    const float *fp = floats + (i64)r * SAMPLE_FLOATS;
    const int limit = min(p[P_LIMIT], vocab);
    const int mode = p[P_MODE];
    const bf16 *raw = logits + (i64)r * vocab;
    float *z = scratch + (i64)r * vocab;

    // 1. log-sum-exp of the raw logits in one pass (each thread keeps a running maximum and its sum rescaled to it;
    // 16-byte loads when rows are 16-byte aligned), and their arg-max (value desc, id asc; -inf never chosen), which
    // is the greedy choice when nothing modifies the logits. (Two strided passes of 2-byte loads, a float copy and a
    // third pass took 82 us per step for one 103,424-token row on the H200.)
    RowScan scan;
    int scalar_from = 0;
    if ((vocab & 7) == 0) {
        const uint4 *rows = reinterpret_cast<const uint4 *>(raw);
        const int vectors = limit >> 3;
        for (int v = threadIdx.x; v < vectors; v += blockDim.x) {
            const uint4 q = rows[v];
            const u32 w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                scan.take(__uint_as_float(w[j] << 16), 8 * v + 2 * j);
                scan.take(__uint_as_float(w[j] & 0xffff0000u), 8 * v + 2 * j + 1);
            }
        }
        scalar_from = vectors * 8;
    }
    for (int i = scalar_from + threadIdx.x; i < limit; i += blockDim.x) scan.take(bf2f(raw[i]), i);
    const float row_max = block_max(scan.mx, red);
    const float lse =
        row_max + logf(block_sum(scan.mx == ERNIE_NEG_INF ? 0.0f : scan.s * expf(scan.mx - row_max), red));
    if (threadIdx.x == 0) {
        const int target = p[P_TARGET];
        out_target[r] = target >= 0 && target < limit ? bf2f(raw[target]) - lse : ERNIE_NEG_INF;
        out_token[r] = -1;
        out_logprob[r] = target >= 0 ? out_target[r] : 0.0f;
    }

    // 2. top-n raw log-probabilities.
    const int top_n = min(min(p[P_TOP_N], max_top), limit);
    if (top_n > 0) {
        auto raw_key = [&](int i, bool *valid) -> u32 {
            *valid = true;
            return float_key(bf2f(raw[i]));
        };
        const Boundary b = select_top_count(raw_key, limit, (u32)top_n, hist, scan_scratch, shared_int, shared_u32);
        if (threadIdx.x == 0) top_count = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            if (in_set(b, float_key(bf2f(raw[i])), i)) {
                const int slot = atomicAdd(&top_count, 1);
                if (slot < SAMPLE_MAX_TOP) top_ids[slot] = i;
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            const int n = min(top_count, top_n);
            for (int a = 1; a < n; ++a) {  // insertion sort: value desc, id asc
                const int v = top_ids[a];
                const float fv = bf2f(raw[v]);
                int c = a - 1;
                while (c >= 0) {
                    const float fc = bf2f(raw[top_ids[c]]);
                    if (fc > fv || (fc == fv && top_ids[c] < v)) break;
                    top_ids[c + 1] = top_ids[c];
                    --c;
                }
                top_ids[c + 1] = v;
            }
            for (int j = 0; j < max_top; ++j) {
                out_top_ids[(i64)r * max_top + j] = j < n ? top_ids[j] : -1;
                out_top_logprobs[(i64)r * max_top + j] = j < n ? bf2f(raw[top_ids[j]]) - lse : ERNIE_NEG_INF;
            }
        }
        __syncthreads();
    }
    if (mode == 0 || limit <= 0) return;
    if (mode == 1 && p[P_PEN_BEGIN] >= p[P_PEN_END] && p[P_BAN_BEGIN] >= p[P_BAN_END] && p[P_MASK_BEGIN] < 0) {
        // Greedy on unmodified logits: the arg-max of step 1.
        const int chosen = block_argmax(scan.best, scan.best_id, red_v, red_i);
        if (threadIdx.x == 0) {
            out_token[r] = chosen;
            out_logprob[r] = chosen >= 0 ? bf2f(raw[chosen]) - lse : ERNIE_NEG_INF;
        }
        return;
    }

    // 3. penalties and banned tokens on a float copy of the raw logits.
    for (int i = threadIdx.x; i < limit; i += blockDim.x) z[i] = bf2f(raw[i]);
    __syncthreads();
    const float repetition = fp[F_REPETITION], frequency = fp[F_FREQUENCY], presence = fp[F_PRESENCE];
    for (int e = p[P_PEN_BEGIN] + threadIdx.x; e < p[P_PEN_END]; e += blockDim.x) {
        const int token = pen_tokens[e];
        if (token < 0 || token >= limit) continue;
        const int count = pen_counts[e];  // output count; -1 marks a prompt-only token
        float v = z[token];
        if (repetition != 1.0f) v = v > 0.0f ? v / repetition : v * repetition;
        if (count > 0) v -= frequency * (float)count + presence;
        z[token] = v;
    }
    __syncthreads();
    for (int e = p[P_BAN_BEGIN] + threadIdx.x; e < p[P_BAN_END]; e += blockDim.x) {
        const int token = ban_tokens[e];
        if (token >= 0 && token < limit) z[token] = ERNIE_NEG_INF;
    }
    const int mask_begin = p[P_MASK_BEGIN];
    if (mask_begin >= 0) {
        const u32 *mask = mask_words + mask_begin;
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            if (((mask[i >> 5] >> (i & 31)) & 1u) == 0u) z[i] = ERNIE_NEG_INF;
        }
    }
    __syncthreads();

    int chosen;
    if (mode == 1) {
        // 4. greedy.
        float best = ERNIE_NEG_INF;
        int best_id = -1;
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            const float v = z[i];
            if (v != ERNIE_NEG_INF && (best_id < 0 || v > best)) {
                best = v;
                best_id = i;
            }
        }
        chosen = block_argmax(best, best_id, red_v, red_i);
    } else {
        // 5. p_i = exp((x_i - max) / T), top-k / top-p / min-p, exponential race.
        const float inv_t = 1.0f / fp[F_TEMPERATURE];
        float xmax = ERNIE_NEG_INF;
        for (int i = threadIdx.x; i < limit; i += blockDim.x) xmax = fmaxf(xmax, z[i]);
        xmax = block_max(xmax, red);
        auto mass_of = [&](int i) -> float { return expf((z[i] - xmax) * inv_t); };
        auto key_of = [&](int i, bool *valid) -> u32 {
            const float m = mass_of(i);
            *valid = m > 0.0f;
            return float_key(m);
        };
        u32 candidates = 0;
        for (int i = threadIdx.x; i < limit; i += blockDim.x) candidates += mass_of(i) > 0.0f ? 1u : 0u;
        u32 candidate_total;
        block_exclusive_scan(candidates, scan_scratch, &candidate_total);
        Boundary all;
        all.key = 0;
        all.cut = limit;
        Boundary k_set = all, p_set = all;
        const int top_k = p[P_TOP_K];
        if (candidate_total > 0 && top_k > 0 && (u32)top_k < candidate_total) {
            k_set = select_top_count(key_of, limit, (u32)top_k, hist, scan_scratch, shared_int, shared_u32);
        }
        const float top_p = fp[F_TOP_P];
        if (candidate_total > 0 && top_p < 1.0f) {
            const bool after_k = p[P_TOP_P_AFTER_TOP_K] != 0;
            float base = 0.0f;
            for (int i = threadIdx.x; i < limit; i += blockDim.x) {
                bool valid;
                const u32 k = key_of(i, &valid);
                if (valid && (!after_k || in_set(k_set, k, i))) base += mass_of(i);
            }
            base = block_sum(base, red);
            bool keep_all;
            const Boundary b = select_top_mass(key_of, mass_of, limit, top_p * base, hist_mass, scan_scratch,
                                               shared_int, shared_u32, shared_float, &keep_all);
            if (!keep_all) p_set = b;
        }
        const float min_p = fp[F_MIN_P];
        const u64 seed = seeds[(i64)r * 2];
        const u64 counter = seeds[(i64)r * 2 + 1];
        float best = ERNIE_NEG_INF;
        int best_id = -1;
        for (int i = threadIdx.x; i < limit; i += blockDim.x) {
            bool valid;
            const u32 k = key_of(i, &valid);
            if (!valid || !in_set(k_set, k, i) || !in_set(p_set, k, i)) continue;
            const float mass = mass_of(i);  // p_i / p_max
            if (min_p > 0.0f && mass < min_p) continue;
            const float score = mass / -logf(sampling_uniform(seed, counter, (u32)i));
            if (best_id < 0 || score > best) {
                best = score;
                best_id = i;
            }
        }
        chosen = block_argmax(best, best_id, red_v, red_i);
    }
    if (threadIdx.x == 0) {
        out_token[r] = chosen;
        out_logprob[r] = chosen >= 0 ? bf2f(raw[chosen]) - lse : ERNIE_NEG_INF;
    }
}
