/* Softmax cross-entropy (kernels/cpu/loss.c). The forward: per row of logits[N, Vp], the
 * log-sum-exp over the V real columns and the masked loss. One block per row; each thread keeps
 * an online (max, sum of e^(x - max)) over its columns, and the pairs are merged by a xor
 * butterfly in each warp, then across the warps through shared memory. The sum is float where
 * the CPU's is double (docs/cuda.md). The backward: elementwise within each row from the
 * forward's lse, one block per row, no reduction. The chunked pair (train.vocab_chunk) does the
 * same over one chunk of columns: the forward merges the chunk's (max, sum) into the row's running
 * pair after the block's reduction, in one thread, so chunk order fixes the result. */
#include <math.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define CE_THREADS 256

/* Merges (m, s) with (om, os); a side that has seen no column (max -inf) contributes nothing,
 * which also keeps -inf - -inf out of expf. Symmetric, so every lane gets the same bits. */
__device__ __forceinline__ void lse_merge(float *m, float *s, float om, float os) {
    if (om == -INFINITY) return;
    if (*m == -INFINITY) {
        *m = om;
        *s = os;
        return;
    }
    float mx = fmaxf(*m, om);
    *s = *s * expf(*m - mx) + os * expf(om - mx);
    *m = mx;
}

__device__ __forceinline__ void warp_lse(float *m, float *s) {
    for (int o = warpSize / 2; o > 0; o >>= 1) {
        float om = __shfl_xor_sync(FULL_MASK, *m, o), os = __shfl_xor_sync(FULL_MASK, *s, o);
        lse_merge(m, s, om, os);
    }
}

/* The block's (max, sum of e^(x - max)) over row[0..n): each thread's strided online pair, the
 * warps' butterflies, then warp 0 over the warps' partials (part_m/part_s: the kernel's shared
 * scratch, 32 each). A fixed order for a given n and block size. Returns 1 in the one thread
 * (thread 0) that holds the block's pair in *m, *s; every thread must call it (it synchronises). */
__device__ __forceinline__ int block_lse(const float *row, int n, float *part_m, float *part_s, float *m, float *s) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    *m = -INFINITY;
    *s = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float x = row[j];
        if (x > *m) {
            *s = *s * expf(*m - x) + 1.0f;
            *m = x;
        } else {
            *s += expf(x - *m);
        }
    }
    warp_lse(m, s);
    if (lane == 0) {
        part_m[warp] = *m;
        part_s[warp] = *s;
    }
    __syncthreads();
    if (warp != 0) return 0;
    int nwarps = blockDim.x / warpSize;
    *m = lane < nwarps ? part_m[lane] : -INFINITY;
    *s = lane < nwarps ? part_s[lane] : 0.0f;
    warp_lse(m, s);
    return lane == 0;
}

__global__ void crossentropy_forward_kernel(float *losses, float *lse, const float *logits, const int32_t *targets,
                                            const float *mask, int V, int Vp) {
    __shared__ float part_m[32], part_s[32];
    int i = blockIdx.x;
    const float *row = logits + (size_t)i * Vp;
    float m, s;
    if (block_lse(row, V, part_m, part_s, &m, &s)) {
        float l = m + logf(s);
        lse[i] = l;
        losses[i] = (!mask || mask[i] != 0.0f) ? l - row[targets[i]] : 0.0f;
    }
}

extern "C" cudaError_t cuda_crossentropy_forward(float *losses, float *lse, const float *logits,
                                                 const int32_t *targets, const float *mask, int N, int V, int Vp,
                                                 cudaStream_t stream) {
    if (N < 0 || V <= 0 || Vp < V) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    SIMT_LAUNCH(crossentropy_forward_kernel, N, CE_THREADS, stream, losses, lse, logits, targets, mask, V, Vp);
    return cudaGetLastError();
}

/* Row i becomes dloss[i] * (softmax - onehot(target)) over the V real columns and 0 in the
 * padding; a row with dloss 0 becomes 0 without reading its target (masked rows may hold any).
 * The target's column is e * dl - dl as on the CPU (nvcc may fuse the two into an FMA). */
/* Block-row i of n_all columns becomes dloss[i] * (e^(x - lse[i]) - onehot(targets[i] - shift))
 * over its first n_real columns and 0 past them; dloss 0 zeroes it without reading the target. */
__device__ __forceinline__ void row_dlogits(float *row, int n_real, int n_all, const float *lse,
                                            const int32_t *targets, const float *dloss, int i, int shift) {
    float dl = dloss[i];
    if (dl == 0.0f) {
        for (int j = threadIdx.x; j < n_all; j += blockDim.x) row[j] = 0.0f;
        return;
    }
    float l = lse[i];
    int t = targets[i] - shift;
    for (int j = threadIdx.x; j < n_all; j += blockDim.x) {
        float g = 0.0f;
        if (j < n_real) {
            g = expf(row[j] - l) * dl;
            if (j == t) g -= dl;
        }
        row[j] = g;
    }
}

__global__ void crossentropy_backward_kernel(float *logits, const float *lse, const int32_t *targets,
                                             const float *dloss, int V, int Vp) {
    row_dlogits(logits + (size_t)blockIdx.x * Vp, V, Vp, lse, targets, dloss, blockIdx.x, 0);
}

extern "C" cudaError_t cuda_crossentropy_backward(float *logits, const float *lse, const int32_t *targets,
                                                  const float *dloss, int N, int V, int Vp, cudaStream_t stream) {
    if (N < 0 || V <= 0 || Vp < V) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    SIMT_LAUNCH(crossentropy_backward_kernel, N, CE_THREADS, stream, logits, lse, targets, dloss, V, Vp);
    return cudaGetLastError();
}

/* One block per row of the chunk logits_c[N, n] (columns [j0, j0 + n)): the chunk's (max, sum)
 * reduced as in crossentropy_forward_kernel, then thread 0 merges it into the running pair
 * stats[i], stats[N + i] (j0 == 0 starts it), keeps the target's logit in stats[2N + i] when the
 * target lies in the chunk, and on the chunk ending at V writes lse and the masked loss. */
__global__ void crossentropy_chunk_forward_kernel(float *losses, float *lse, float *stats, const float *logits_c,
                                                  const int32_t *targets, const float *mask, int N, int V, int j0,
                                                  int n) {
    __shared__ float part_m[32], part_s[32];
    int i = blockIdx.x;
    const float *row = logits_c + (size_t)i * n;
    float m, s;
    if (!block_lse(row, n, part_m, part_s, &m, &s)) return;
    float *run_m = stats, *run_s = stats + N, *tlogit = stats + 2 * (size_t)N;
    if (j0 > 0) lse_merge(&m, &s, run_m[i], run_s[i]);
    run_m[i] = m;
    run_s[i] = s;
    int t = targets[i] - j0;
    if (t >= 0 && t < n) tlogit[i] = row[t];
    if (j0 + n == V) {
        float l = m + logf(s);
        lse[i] = l;
        losses[i] = (!mask || mask[i] != 0.0f) ? l - tlogit[i] : 0.0f;
    }
}

extern "C" cudaError_t cuda_crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c,
                                                       const int32_t *targets, const float *mask, int N, int V,
                                                       int j0, int n, cudaStream_t stream) {
    if (N < 0 || n <= 0 || j0 < 0 || j0 + n > V) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    SIMT_LAUNCH(crossentropy_chunk_forward_kernel, N, CE_THREADS, stream, losses, lse, stats, logits_c, targets, mask,
                N, V, j0, n);
    return cudaGetLastError();
}

/* crossentropy_backward_kernel on the chunk's n columns, the target shifted by j0 (no padding
 * columns are in a chunk). */
__global__ void crossentropy_chunk_backward_kernel(float *logits_c, const float *lse, const int32_t *targets,
                                                   const float *dloss, int j0, int n) {
    row_dlogits(logits_c + (size_t)blockIdx.x * n, n, n, lse, targets, dloss, blockIdx.x, j0);
}

extern "C" cudaError_t cuda_crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets,
                                                        const float *dloss, int N, int j0, int n,
                                                        cudaStream_t stream) {
    if (N < 0 || n <= 0 || j0 < 0) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    SIMT_LAUNCH(crossentropy_chunk_backward_kernel, N, CE_THREADS, stream, logits_c, lse, targets, dloss, j0, n);
    return cudaGetLastError();
}
