/* The one include of every kernel source (kernels/cuda): CUDA itself under nvcc (the runtime,
 * bf16 and the warp matrix API, nvcuda::wmma), the SIMT emulation (simt_emu.h) under
 * RESTPG_SIMT_EMU. Kernels use only what both provide, and launch through
 * SIMT_LAUNCH(kernel, grid, block, stream, args...) (no dynamic shared memory). */
#ifndef RESTPG_KERNELS_CUDA_SIMT_H
#define RESTPG_KERNELS_CUDA_SIMT_H

#ifdef RESTPG_SIMT_EMU
#include "kernels/cuda/simt_emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>
#define SIMT_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

#endif
