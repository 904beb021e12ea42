/* Kernels that probe the SIMT emulation itself (tests/test_cuda_emu.c): a racy neighbour read
 * with and without its barrier, the warp ops' results, atomicAdd, and a kernel the scheduler
 * must reject. */
#include "kernels/cuda/simt.h"

#define PROBE_MAX 1024

/* out[t] = in[t + 1] read through shared memory (the last thread reads its own). Without the
 * second barrier thread t may read slot t + 1 before thread t + 1 has written it, and sees the
 * sentinel -1 left by the first phase. */
__global__ void neighbour_kernel(float *out, const float *in, int with_barrier) {
    __shared__ float sh[PROBE_MAX];
    int t = threadIdx.x, n = blockDim.x;
    sh[t] = -1.0f;
    __syncthreads();
    sh[t] = in[blockIdx.x * n + t];
    if (with_barrier) __syncthreads();
    out[blockIdx.x * n + t] = sh[t + 1 < n ? t + 1 : t];
}

/* Per thread, 7 results: shfl from lane 3 of its width-16 segment, xor 5, down 2 and up 1 (both
 * within width 16), the warp's ballot of odd lanes, any(lane == 7), all(lane < 32). */
__global__ void warp_ops_kernel(int *out) {
    int t = threadIdx.x, lane = t % warpSize;
    int *o = out + 7 * t;
    __syncwarp();
    o[0] = __shfl_sync(0xffffffffu, t, 3, 16);
    o[1] = __shfl_xor_sync(0xffffffffu, t, 5);
    o[2] = __shfl_down_sync(0xffffffffu, t, 2, 16);
    o[3] = __shfl_up_sync(0xffffffffu, t, 1, 16);
    o[4] = (int)__ballot_sync(0xffffffffu, lane & 1);
    o[5] = __any_sync(0xffffffffu, lane == 7);
    o[6] = __all_sync(0xffffffffu, lane < 32);
}

/* Every thread adds 1 to *count and 0.5 to *sum. */
__global__ void atomic_kernel(int *count, float *sum) {
    atomicAdd(count, 1);
    atomicAdd(sum, 0.5f);
}

/* Lane 5 leaves before a full-mask shuffle: the scheduler must fail the launch. */
__global__ void bad_warp_kernel(float *out) {
    if (threadIdx.x == 5) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

extern "C" cudaError_t probe_neighbour(float *out, const float *in, int blocks, int threads, int with_barrier) {
    SIMT_LAUNCH(neighbour_kernel, blocks, threads, (cudaStream_t)0, out, in, with_barrier);
    return cudaGetLastError();
}

extern "C" cudaError_t probe_warp_ops(int *out, int threads) {
    SIMT_LAUNCH(warp_ops_kernel, 1, threads, (cudaStream_t)0, out);
    return cudaGetLastError();
}

extern "C" cudaError_t probe_atomic(int *count, float *sum, int blocks, int threads) {
    SIMT_LAUNCH(atomic_kernel, blocks, threads, (cudaStream_t)0, count, sum);
    return cudaGetLastError();
}

extern "C" cudaError_t probe_bad_warp(float *out) {
    SIMT_LAUNCH(bad_warp_kernel, 1, 32, (cudaStream_t)0, out);
    return cudaGetLastError();
}
