/* Fused AdamW (kernels/cpu/optim.c's formulation: grad_scale carries the clipping factor, step
 * counts from 1), one thread per element over a grid-stride loop. The _rn intrinsics keep nvcc
 * from contracting the multiply-adds into FMAs, so each element is rounded exactly as the CPU
 * rounds it and the update is bitwise the CPU's. With mixed precision the same pass writes the
 * new parameters' bf16 working copy, so the copy costs no extra read of the parameters. */
#include <math.h>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/simt.h"

#define ADAMW_THREADS 256
#define ADAMW_MAX_BLOCKS 4096

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                             float eps, float wd, float gs, float inv_c1, float inv_c2, uint16_t *p16) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float gi = __fmul_rn(g[i], gs);
        float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(1.0f - b1, gi));
        float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(1.0f - b2, __fmul_rn(gi, gi)));
        m[i] = mi;
        v[i] = vi;
        float pi = p[i];
        float den = __fadd_rn(__fsqrt_rn(__fmul_rn(vi, inv_c2)), eps);
        float upd = __fadd_rn(__fdiv_rn(__fmul_rn(mi, inv_c1), den), __fmul_rn(wd, pi));
        pi = __fsub_rn(pi, __fmul_rn(lr, upd));
        p[i] = pi;
        if (p16) p16[i] = bf16_round(pi);
    }
}

extern "C" cudaError_t cuda_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                                         float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                                         int step, uint16_t *param16, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    /* The bias corrections in double on the host, rounded once, as the CPU op does. */
    float inv_c1 = (float)(1.0 / (1.0 - pow(beta1, step))), inv_c2 = (float)(1.0 / (1.0 - pow(beta2, step)));
    size_t blocks = (n + ADAMW_THREADS - 1) / ADAMW_THREADS;
    if (blocks > ADAMW_MAX_BLOCKS) blocks = ADAMW_MAX_BLOCKS;
    SIMT_LAUNCH(adamw_kernel, (unsigned)blocks, ADAMW_THREADS, stream, param, grad, m, v, n, lr, beta1, beta2, eps,
                weight_decay, grad_scale, inv_c1, inv_c2, param16);
    return cudaGetLastError();
}
