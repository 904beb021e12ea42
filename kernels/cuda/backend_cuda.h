/* The CUDA backend's table (kernels/cuda/backend_cuda.cu), for the binaries that register it
 * (launch/main.c: backend_register) and the tests; plain C, no CUDA headers, so its callers
 * compile without the toolkit. In the SIMT-emulation library the same name returns the same
 * table over the emulated device. */
#ifndef RESTPG_KERNELS_CUDA_BACKEND_CUDA_H
#define RESTPG_KERNELS_CUDA_BACKEND_CUDA_H

#include "kernels/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

const BackendOps *cuda_backend(void);

#ifdef __cplusplus
}
#endif

#endif
