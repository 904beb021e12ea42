/* Block reductions shared by the row kernels (included by the kernels). Every lane of a
 * xor butterfly adds the same two values at each step (a + b and b + a are the same float), so
 * all lanes end with bitwise the same result, and the order depends only on blockDim. */
#ifndef RESTPG_KERNELS_CUDA_REDUCE_CUH
#define RESTPG_KERNELS_CUDA_REDUCE_CUH

#include "kernels/cuda/simt.h"

#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

/* Sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32 (at
 * most 1024) and every thread must call it; part is 32 floats of shared memory, free again on
 * return (the closing barrier lets a following reduction reuse it). */
__device__ __forceinline__ float block_sum(float v, float *part) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    v = warp_sum(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = warp_sum(lane < nwarps ? part[lane] : 0.0f);
    __syncthreads();
    return v;
}

/* Threads per block for a row of C elements: a multiple of 32 covering C, at most 256. */
static inline int row_threads(int C) {
    int t = (C + 31) / 32 * 32;
    return t > 256 ? 256 : t < 32 ? 32 : t;
}

#endif
