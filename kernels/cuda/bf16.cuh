/* bfloat16 on the device (and in the SIMT emulation): core/bf16.h's conversions (exact widening;
 * narrowing to nearest, ties to even, NaN to the quiet NaN of its sign), callable from kernels,
 * so a bf16 copy made here is bitwise the one the CPU makes. Stored as uint16_t everywhere: the
 * C interfaces need no CUDA type. */
#ifndef RESTPG_KERNELS_CUDA_BF16_CUH
#define RESTPG_KERNELS_CUDA_BF16_CUH

#include <stdint.h>
#include <string.h>

#include "kernels/cuda/simt.h"

__host__ __device__ __forceinline__ float bf16_widen(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

__host__ __device__ __forceinline__ uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16 & 0x8000u) | 0x7fc0u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif
