/* Token choice on the device (ops_cuda.h, "Sampling on the device"): sampler/sampling.c's
 * sampling_choose for n rows of logits at once, one block per row, so the logits never leave the
 * device. The steps and every rounding are sampling.c's, in its order:
 *  - scan: NaN / +Inf / all -Inf refuse the row (-1); the argmax (lowest id on ties) and its
 *    value mx; temperature <= 0 stops here (greedy);
 *  - p_i = (float)exp((double)(x_i - mx) * (1 / T)) in parallel; z = their double sum in id order
 *    by one thread (a sequential double sum has no other order with its bits); p_i = (float)(p_i / z);
 *  - no filter: the inverse-CDF walk over the ids in order (one thread, as sampling.c);
 *  - filters: sampling.c's histogram by binary exponent. Counts are integer sums; a bucket's mass
 *    is exact in any order (its members are multiples of 2^-(b+24) below 2^-b, so every partial
 *    sum fits a double's 53 bits, which is also why sampling.c's sequential sum is exact), so the
 *    bucket masses are integer sums of p * 2^(b+24) and the threshold t is sampling.c's, bit for
 *    bit. The candidates p >= t become keys (p's bits << 32 | ~id: descending key order is
 *    probability descending, ids ascending, sampling.c's comparator), compacted in id order by a
 *    block scan; with top-k below the candidate count a radix select (8 bits a pass) finds the
 *    k-th key and a second compaction keeps the k best; a bitonic network sorts them (shared
 *    memory up to SORT_SHARED keys, else in place in the workspace); then one thread runs
 *    sampling.c's nucleus prefix and inverse-CDF walk over the sorted keys.
 *  - the log-probability of the token under softmax(x) at temperature 1: log-sum-exp in double by
 *    a block reduction (sampling.c sums in id order: equal to ~1e-15, not bitwise).
 * No float atomics: integer atomics in shared memory for counts (order-free), everything else a
 * fixed order. */
#include <math.h>
#include <string.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define SAMPLE_THREADS 256
#define N_BUCKETS 150 /* sampling.c's */
#define SORT_SHARED 2048
#define WS_ALIGN 256

typedef unsigned long long u64;

static size_t ws_align(size_t b) { return (b + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN; }
static size_t row_prob_bytes(int V) { return ws_align((size_t)(V > 0 ? V : 0) * sizeof(float)); }
static size_t row_key_bytes(int V) { return ws_align((size_t)(V > 0 ? V : 0) * sizeof(u64)); }

__device__ __forceinline__ uint32_t f_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}
__device__ __forceinline__ float f_from(uint32_t b) {
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}
__device__ __forceinline__ int popcount32(uint32_t v) {
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (int)((((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
}
__device__ __forceinline__ u64 make_key(float p, int id) {
    return ((u64)f_bits(p) << 32) | (u64)(0xffffffffu - (uint32_t)id);
}
__device__ __forceinline__ float key_prob(u64 k) { return f_from((uint32_t)(k >> 32)); }
__device__ __forceinline__ int key_id(u64 k) { return (int)(0xffffffffu - (uint32_t)k); }

/* Whether any thread's v is non-zero, to every thread. part: 32 ints of shared memory. */
__device__ int block_any(int v, int *part) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    v = __any_sync(FULL_MASK, v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    int r = 0;
    for (int w = 0; w < nwarps; w++) r |= part[w];
    __syncthreads();
    return r;
}

/* The better of (v, i) and (ov, oi): the larger value, the lower id on ties; id -1 (nothing
 * seen) loses. Symmetric, so all lanes of a butterfly agree. */
__device__ __forceinline__ void argmax_merge(float *v, int *i, float ov, int oi) {
    if (oi < 0) return;
    if (*i < 0 || ov > *v || (ov == *v && oi < *i)) {
        *v = ov;
        *i = oi;
    }
}

/* The block's argmax (sampling.c's: the first id of the largest value), to every thread. */
__device__ int block_argmax(float v, int i, float *pv, int *pi) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    for (int o = warpSize / 2; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(FULL_MASK, v, o);
        int oi = __shfl_xor_sync(FULL_MASK, i, o);
        argmax_merge(&v, &i, ov, oi);
    }
    if (lane == 0) pv[warp] = v, pi[warp] = i;
    __syncthreads();
    v = pv[0], i = pi[0];
    for (int w = 1; w < nwarps; w++) argmax_merge(&v, &i, pv[w], pi[w]);
    __syncthreads();
    return i;
}

/* Sum of v over the block in an order fixed by blockDim, to every thread. */
__device__ double block_sum_double(double v, double *part) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = 0.0;
    for (int w = 0; w < nwarps; w++) v += part[w];
    __syncthreads();
    return v;
}

/* Exclusive prefix count of flag over the block in thread order; *total gets the block's count. */
__device__ int block_scan_flag(int flag, int *part, int *total) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    uint32_t ballot = __ballot_sync(FULL_MASK, flag);
    if (lane == 0) part[warp] = popcount32(ballot);
    __syncthreads();
    int before = 0, all = 0;
    for (int w = 0; w < nwarps; w++) {
        if (w < warp) before += part[w];
        all += part[w];
    }
    __syncthreads();
    *total = all;
    return before + popcount32(ballot & ((1u << lane) - 1u));
}

/* Keeps the keys of src[0, n) that are >= lo, in order, at dst (dst may be src: a chunk's reads
 * precede the scan's barrier, its writes land at or before the chunk). Returns the count, after a
 * barrier. */
__device__ int compact_keys(u64 *dst, const u64 *src, int n, u64 lo, int *part) {
    int out = 0;
    for (int base = 0; base < n; base += blockDim.x) {
        int i = base + threadIdx.x, total;
        u64 k = i < n ? src[i] : 0;
        int keep = i < n && k >= lo;
        int at = out + block_scan_flag(keep, part, &total);
        if (keep) dst[at] = k;
        out += total;
    }
    __syncthreads(); /* the writes of the last chunk, before anyone reads dst */
    return out;
}

/* The k-th largest of the distinct keys[0, n) (1 <= k <= n): a radix select, 8 bits a pass from
 * the top. hist: 256 ints of shared memory; sel: one shared u64. */
__device__ u64 radix_select(const u64 *keys, int n, int k, int *hist, u64 *sel, int *left) {
    u64 prefix = 0, mask = 0;
    int want = k;
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            u64 key = keys[i];
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255], 1);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int d = 255;
            for (; d > 0 && hist[d] < want; d--) want -= hist[d];
            *sel = prefix | ((u64)d << shift);
            *left = want;
        }
        __syncthreads();
        prefix = *sel;
        want = *left;
        mask |= (u64)255 << shift;
        __syncthreads();
    }
    return prefix;
}

/* Sorts keys[0, n) descending: a bitonic network over the next power of two P in which the
 * missing keys count as smallest, in the form whose every comparator puts the larger key at the
 * lower index (the first step of each merge pairs mirror images), so a comparator reaching past
 * n never moves anything and needs no storage. */
__device__ void sort_keys_desc(u64 *keys, int n) {
    int P = 1;
    while (P < n) P <<= 1;
    for (int size = 2; size <= P; size <<= 1)
        for (int j = size >> 1; j > 0; j >>= 1) {
            for (int q = threadIdx.x; q < P / 2; q += blockDim.x) {
                int a = ((q & ~(j - 1)) << 1) | (q & (j - 1));
                int b = j == size >> 1 ? a ^ (size - 1) : a | j;
                if (b < n && keys[b] > keys[a]) {
                    u64 t = keys[a];
                    keys[a] = keys[b];
                    keys[b] = t;
                }
            }
            __syncthreads();
        }
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
    sample_rows_kernel(int32_t *next, double *logprob, const float *logits, int V, int Vp, const double *u,
                       SampleSpec sp, char *ws, size_t prob_bytes, size_t key_bytes) {
    __shared__ float pv[32];
    __shared__ int pi[32];
    __shared__ double pd[32];
    __shared__ int count[N_BUCKETS];
    __shared__ u64 units[N_BUCKETS];
    __shared__ int hist[256];
    __shared__ u64 sorted_sh[SORT_SHARED];
    __shared__ u64 sel;
    __shared__ int left, s_tok;
    __shared__ double s_dbl;
    __shared__ float s_t;
    const int r = blockIdx.x, tid = threadIdx.x, T = blockDim.x;
    const float *x = logits + (size_t)r * Vp;
    float *prob = (float *)(ws + (size_t)r * (prob_bytes + key_bytes));
    u64 *keys = (u64 *)((char *)prob + prob_bytes);

    /* sampling.c's logits_ok and argmax. */
    int bad = 0, any = 0, bi = -1;
    float bv = -INFINITY;
    for (int i = tid; i < V; i += T) {
        float v = x[i];
        bad |= isnan(v) || v == INFINITY;
        any |= v != -INFINITY;
        if (bi < 0 || v > bv) bv = v, bi = i;
    }
    bad = block_any(bad, pi);
    any = block_any(any, pi);
    if (bad || !any) {
        if (tid == 0) next[r] = -1, logprob[r] = 0.0;
        return;
    }
    const int amax = block_argmax(bv, bi, pv, pi);
    const float mx = x[amax];
    int tok = amax;
    if (sp.temperature > 0.0) {
        /* support(): the temperature-scaled probabilities. */
        const double inv_t = 1.0 / sp.temperature;
        for (int i = tid; i < V; i += T) prob[i] = (float)exp((double)__fsub_rn(x[i], mx) * inv_t);
        __syncthreads();
        if (tid == 0) {
            double z = 0;
            for (int i = 0; i < V; i++) z += prob[i];
            s_dbl = z;
        }
        __syncthreads();
        const double z = s_dbl;
        for (int i = tid; i < V; i += T) prob[i] = (float)(prob[i] / z);
        __syncthreads();
        const int k = sp.top_k > 0 && sp.top_k < V ? sp.top_k : V, nucleus = sp.top_p < 1.0;
        if (k == V && !nucleus) {
            /* Every token in id order: sampling_choose's draw over the identity support. */
            if (tid == 0) {
                double total = 0, acc = 0;
                for (int i = 0; i < V; i++) total += prob[i];
                double target = u[r] * total;
                int t = V - 1;
                for (int i = 0; i < V; i++) {
                    acc += prob[i];
                    if (target < acc) {
                        t = i;
                        break;
                    }
                }
                s_tok = t;
            }
            __syncthreads();
            tok = s_tok;
        } else {
            /* The histogram by binary exponent; units[b] = sum of p * 2^(b+24), exact. */
            for (int b = tid; b < N_BUCKETS; b += T) count[b] = 0, units[b] = 0;
            __syncthreads();
            for (int i = tid; i < V; i += T) {
                uint32_t bits = f_bits(prob[i]);
                int E = (int)((bits >> 23) & 0xff), b = 126 - E;
                b = b < 0 ? 0 : b >= N_BUCKETS ? N_BUCKETS - 1 : b;
                u64 mant = bits & 0x7fffffu, un = 0;
                if (E == 0) un = mant << 1;                        /* subnormal: p * 2^150 */
                else if (E <= 127) un = (mant | 0x800000u) << (E == 127); /* p * 2^(b+24) */
                /* E > 127 (a NaN from a subnormal temperature): no finite mass, as the NaN
                 * sampling.c's sum would carry never reaches top_p either */
                atomicAdd(&count[b], 1);
                atomicAdd(&units[b], un);
            }
            __syncthreads();
            if (tid == 0) {
                int last = N_BUCKETS - 1, cum_count = 0;
                double cum_mass = 0;
                for (int b = 0; b < N_BUCKETS - 1; b++) {
                    cum_mass += ldexp((double)units[b], -(b + 24));
                    cum_count += count[b];
                    if (k < V ? cum_count >= k : cum_mass >= sp.top_p) {
                        last = b;
                        break;
                    }
                }
                s_t = last == N_BUCKETS - 1 ? -1.0f : ldexpf(1.0f, -(last + 1));
            }
            __syncthreads();
            /* The candidates p >= t as keys, in id order. */
            const float t = s_t;
            int m = 0;
            for (int base = 0; base < V; base += T) {
                int i = base + tid, total;
                int keep = i < V && prob[i] >= t;
                int at = m + block_scan_flag(keep, pi, &total);
                if (keep) keys[at] = make_key(prob[i], i);
                m += total;
            }
            __syncthreads();
            if (k < V && m > k) m = compact_keys(keys, keys, m, radix_select(keys, m, k, hist, &sel, &left), pi);
            u64 *sorted = keys;
            if (m <= SORT_SHARED) {
                for (int i = tid; i < m; i += T) sorted_sh[i] = keys[i];
                sorted = sorted_sh;
            }
            __syncthreads();
            sort_keys_desc(sorted, m);
            if (tid == 0) {
                if (nucleus) {
                    /* The nucleus over the top-k renormalised; without top-k over everything. */
                    double kept = 0, acc = 0;
                    if (k < V)
                        for (int q = 0; q < m; q++) kept += key_prob(sorted[q]);
                    else
                        for (int i = 0; i < V; i++) kept += prob[i];
                    for (int q = 0; q < m; q++) {
                        acc += key_prob(sorted[q]) / kept;
                        if (acc >= sp.top_p) {
                            m = q + 1;
                            break;
                        }
                    }
                }
                int t_id = -1;
                if (m >= 1) {
                    double total = 0, acc = 0;
                    for (int q = 0; q < m; q++) total += key_prob(sorted[q]);
                    double target = u[r] * total;
                    t_id = key_id(sorted[m - 1]);
                    for (int q = 0; q < m; q++) {
                        acc += key_prob(sorted[q]);
                        if (target < acc) {
                            t_id = key_id(sorted[q]);
                            break;
                        }
                    }
                }
                s_tok = t_id;
            }
            __syncthreads();
            tok = s_tok;
            if (tok < 0) {
                if (tid == 0) next[r] = -1, logprob[r] = 0.0;
                return;
            }
        }
    }
    /* model_logprob: the token's log-probability under softmax(x) at temperature 1. */
    double zs = 0;
    for (int i = tid; i < V; i += T) zs += exp((double)x[i] - mx);
    zs = block_sum_double(zs, pd);
    if (tid == 0) {
        next[r] = tok;
        logprob[r] = (double)x[tok] - mx - log(zs);
    }
}

extern "C" size_t cuda_sample_rows_workspace(int n, int V) {
    return (size_t)(n > 0 ? n : 0) * (row_prob_bytes(V) + row_key_bytes(V));
}

extern "C" cudaError_t cuda_sample_rows(int32_t *next, double *logprob, const float *logits, int n, int V, int Vp,
                                        const double *u, SampleSpec sp, void *ws, size_t ws_bytes,
                                        cudaStream_t stream) {
    if (n < 0 || V > Vp || ws_bytes < cuda_sample_rows_workspace(n, V) || (n > 0 && !ws && V > 0))
        return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(sample_rows_kernel, n, SAMPLE_THREADS, stream, next, logprob, logits, V, Vp, u, sp, (char *)ws,
                row_prob_bytes(V), row_key_bytes(V));
    return cudaGetLastError();
}
