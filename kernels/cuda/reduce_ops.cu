/* The flat-buffer ops of the training step: a[i] += b[i] (elementwise, grid-stride), and the
 * gradient's sum of squares in double for global-norm clipping (kernels/cpu/optim.c's
 * grad_sumsq up to the summation order). The sum's order is fixed by n alone: a grid of
 * sumsq_blocks(n) blocks of SUMSQ_THREADS, each thread a grid-stride partial in double, each
 * block's partials by a double xor butterfly per warp and then over the warps, into one scratch
 * slot per block; then one block sums the slots the same way. */
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define SUMSQ_THREADS 256
#define SUMSQ_MAX_BLOCKS 256 /* also the finishing block's threads: one slot each */

__global__ void add_kernel(float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) a[i] += b[i];
}

/* block_sum (reduce.cuh) in double: every lane adds the same two values at each butterfly step,
 * so all threads return bitwise the same sum; blockDim.x a multiple of 32. */
__device__ __forceinline__ double block_sum_double(double v, double *part) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nwarps ? part[lane] : 0.0;
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    __syncthreads();
    return v;
}

/* partial[block] = this block's share of sum g^2 (the float products are exact in double). */
__global__ void sumsq_partial_kernel(double *partial, const float *g, size_t n) {
    __shared__ double part[32];
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)g[i] * g[i];
    acc = block_sum_double(acc, part);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void sumsq_finish_kernel(double *out, const double *partial, int nblocks) {
    __shared__ double part[32];
    double acc = threadIdx.x < (unsigned)nblocks ? partial[threadIdx.x] : 0.0;
    acc = block_sum_double(acc, part);
    if (threadIdx.x == 0) *out = acc;
}

static int sumsq_blocks(size_t n) {
    size_t b = (n + SUMSQ_THREADS - 1) / SUMSQ_THREADS;
    return (int)(b > SUMSQ_MAX_BLOCKS ? SUMSQ_MAX_BLOCKS : b);
}

extern "C" cudaError_t cuda_add(float *a, const float *b, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(add_kernel, elt_blocks(n), ELT_THREADS, stream, a, b, n);
    return cudaGetLastError();
}

/* One slot per block and one for the result. */
extern "C" size_t cuda_sumsq_workspace(size_t n) {
    return n == 0 ? 0 : (size_t)(sumsq_blocks(n) + 1) * sizeof(double);
}

/* The result comes back by cudaMemcpy, which waits for the legacy default stream and so for
 * stream when stream is a blocking stream (any but cudaStreamNonBlocking ones). */
extern "C" cudaError_t cuda_sumsq(const float *g, size_t n, double *out, void *ws, size_t ws_bytes,
                                  cudaStream_t stream) {
    if (n == 0) {
        *out = 0.0;
        return cudaSuccess;
    }
    if (ws_bytes < cuda_sumsq_workspace(n)) return cudaErrorInvalidValue;
    int nblocks = sumsq_blocks(n);
    double *partial = (double *)ws, *result = partial + nblocks;
    SIMT_LAUNCH(sumsq_partial_kernel, nblocks, SUMSQ_THREADS, stream, partial, g, n);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(sumsq_finish_kernel, 1, SUMSQ_MAX_BLOCKS, stream, result, (const double *)partial, nblocks);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    return cudaMemcpy(out, result, sizeof(double), cudaMemcpyDeviceToHost);
}
