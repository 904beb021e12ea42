/* The CUDA backend's ops (kernels/cuda), callable from C: each is the CPU op of the same
 * name after the cuda_ prefix (kernels/cpu/ops.h gives the contract: shapes, aliasing,
 * accumulation), on device pointers, queued on stream (in the SIMT emulation, run at once).
 * Each returns the launch's status (cudaGetLastError), cudaErrorInvalidValue for scratch that is
 * too small; scratch comes from the caller, sized by the *_workspace query.
 *
 * Determinism: no float atomics; every reduction has a fixed order that depends only on the
 * shapes (warp butterflies, then the warps' partials in warp order; column sums over fixed
 * chunks of rows summed in chunk order), so results are bitwise reproducible on one device
 * type. They differ from the CPU op by float rounding (another summation order, FMA
 * contraction on the device); docs/cuda.md states each op's tolerance. */
#ifndef RESTPG_KERNELS_CUDA_OPS_CUDA_H
#define RESTPG_KERNELS_CUDA_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/simt_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AdamW, kernels/cpu/ops.h's formulation; the update is made of explicitly rounded operations
 * in the CPU's order, so it is bitwise the CPU's. */
cudaError_t cuda_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                              float beta2, float eps, float weight_decay, float grad_scale, int step,
                              cudaStream_t stream);

/* RMSNorm with the (w_offset + w) weight; one block per row. */
cudaError_t cuda_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps,
                                 float w_offset, cudaStream_t stream);
/* Scratch of the backward: the weight gradient's partial column sums, one row per chunk of
 * rows. */
size_t cuda_rmsnorm_backward_workspace(int N, int C);
/* Accumulates dinp and dw. */
cudaError_t cuda_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                  const float *rstd, int N, int C, float w_offset, void *ws, size_t ws_bytes,
                                  cudaStream_t stream);

/* The gated activations, elementwise over n. */
cudaError_t cuda_swiglu_forward(float *out, const float *gate, const float *up, size_t n, cudaStream_t stream);
cudaError_t cuda_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                 size_t n, cudaStream_t stream);
cudaError_t cuda_geglu_forward(float *out, const float *gate, const float *up, size_t n, cudaStream_t stream);
cudaError_t cuda_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                size_t n, cudaStream_t stream);

/* Per-row log-sum-exp over the V real columns of logits[N, Vp] and the masked loss; one block
 * per row. */
cudaError_t cuda_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                                      const float *mask, int N, int V, int Vp, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
