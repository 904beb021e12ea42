/* The host side of the CUDA runtime that restpg's CUDA code uses, in C: the real runtime
 * (<cuda_runtime_api.h>) in nvcc builds, and under RESTPG_SIMT_EMU a host stand-in
 * (kernels/cuda/simt_emu.cpp) where device memory is host memory and a launch runs the kernel's
 * threads as fibers on the calling thread (docs/cuda.md). Code written against this header
 * (kernels/cuda/ops_cuda.h's entry points, tests/test_cuda_emu.c) runs unchanged on both. */
#ifndef RESTPG_KERNELS_CUDA_SIMT_API_H
#define RESTPG_KERNELS_CUDA_SIMT_API_H

#include <stddef.h>
#include <stdint.h>

#ifndef RESTPG_SIMT_EMU
#include <cuda_runtime_api.h>
#else

#ifdef __cplusplus
extern "C" {
#endif

/* The subset of the runtime's names the emulation provides, with the runtime's values. */
typedef struct CUstream_st *cudaStream_t; /* streams are ignored: every launch is synchronous */
typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
    cudaErrorNotSupported = 801
} cudaError_t;
typedef enum {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;

cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize(void);
/* An emulated node has SIMT_EMU_DEVICES devices (so several ranks of one node each get their
 * own, as on a GPU node); they all share the host's memory, which cudaMemGetInfo reports. */
#define SIMT_EMU_DEVICES 8
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
/* The error of the last failed launch (a bad configuration, or a kernel the scheduler found
 * wrong: deadlock at a barrier, a warp op some lane of its mask never reached), then reset. */
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t err);

/* The order in which the scheduler runs a block's threads between two barriers (or warp
 * exchanges): SIMT_ORDER_RANDOM draws a new permutation for every such segment from seed. A
 * kernel whose result depends on the order has a race (a missing __syncthreads). Applies to
 * the calling OS thread's later launches; the default is forward. */
typedef enum { SIMT_ORDER_FORWARD = 0, SIMT_ORDER_REVERSE = 1, SIMT_ORDER_RANDOM = 2 } SimtOrder;
void simt_emu_set_order(SimtOrder order, uint64_t seed);
/* The message of the last launch failure on this OS thread ("" if none). */
const char *simt_emu_last_message(void);

#ifdef __cplusplus
}
#endif

#endif /* RESTPG_SIMT_EMU */
#endif
