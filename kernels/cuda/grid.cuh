/* Launch shape of the elementwise kernels (gelu, embeddings, RoPE, add): a grid-stride loop over
 * n items, 256 threads a block, at most 4096 blocks (about 4 resident blocks on each SM of the
 * largest devices; more items than the grid covers are taken by the stride). */
#ifndef RESTPG_KERNELS_CUDA_GRID_CUH
#define RESTPG_KERNELS_CUDA_GRID_CUH

#include <stddef.h>

#include "kernels/cuda/simt.h"

#define ELT_THREADS 256
#define ELT_MAX_BLOCKS 4096

/* Blocks for n items (n >= 1). */
static inline unsigned elt_blocks(size_t n) {
    size_t b = (n + ELT_THREADS - 1) / ELT_THREADS;
    return (unsigned)(b > ELT_MAX_BLOCKS ? ELT_MAX_BLOCKS : b);
}

/* The grid-stride loop: i runs over this thread's items of [0, n). */
#define GRID_STRIDE(i, n)                                                                                              \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

#endif
