/* Softmax cross-entropy (kernels/cpu/loss.c). The forward: per row of logits[N, Vp], the
 * log-sum-exp over the V real columns and the masked loss. One block per row; each thread keeps
 * an online (max, sum of e^(x - max)) over its columns, and the pairs are merged by a xor
 * butterfly in each warp, then across the warps through shared memory. The sum is float where
 * the CPU's is double (docs/cuda.md). The backward: elementwise within each row from the
 * forward's lse, one block per row, no reduction. */
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

__global__ void crossentropy_forward_kernel(float *losses, float *lse, const float *logits, const int32_t *targets,
                                            const float *mask, int V, int Vp) {
    __shared__ float part_m[32], part_s[32];
    int i = blockIdx.x, lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    const float *row = logits + (size_t)i * Vp;
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float x = row[j];
        if (x > m) {
            s = s * expf(m - x) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    warp_lse(&m, &s);
    if (lane == 0) {
        part_m[warp] = m;
        part_s[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        int nwarps = blockDim.x / warpSize;
        m = lane < nwarps ? part_m[lane] : -INFINITY;
        s = lane < nwarps ? part_s[lane] : 0.0f;
        warp_lse(&m, &s);
        if (lane == 0) {
            float l = m + logf(s);
            lse[i] = l;
            losses[i] = (!mask || mask[i] != 0.0f) ? l - row[targets[i]] : 0.0f;
        }
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
__global__ void crossentropy_backward_kernel(float *logits, const float *lse, const int32_t *targets,
                                             const float *dloss, int V, int Vp) {
    int i = blockIdx.x;
    float *row = logits + (size_t)i * Vp;
    float dl = dloss[i];
    if (dl == 0.0f) {
        for (int j = threadIdx.x; j < Vp; j += blockDim.x) row[j] = 0.0f;
        return;
    }
    float l = lse[i];
    int t = targets[i];
    for (int j = threadIdx.x; j < Vp; j += blockDim.x) {
        float g = 0.0f;
        if (j < V) {
            g = expf(row[j] - l) * dl;
            if (j == t) g -= dl;
        }
        row[j] = g;
    }
}

extern "C" cudaError_t cuda_crossentropy_backward(float *logits, const float *lse, const int32_t *targets,
                                                  const float *dloss, int N, int V, int Vp, cudaStream_t stream) {
    if (N < 0 || V <= 0 || Vp < V) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    SIMT_LAUNCH(crossentropy_backward_kernel, N, CE_THREADS, stream, logits, lse, targets, dloss, V, Vp);
    return cudaGetLastError();
}
