/* Fused AdamW (kernels/cpu/optim.c's formulation: grad_scale carries the clipping factor, step
 * counts from 1), one thread per element over a grid-stride loop, for one tensor
 * (cuda_adamw_update) or for many ranges of one buffer in one launch (cuda_adamw_update_multi).
 * The _rn intrinsics keep nvcc from contracting the multiply-adds into FMAs, so each element is
 * rounded exactly as the CPU rounds it and the update is bitwise the CPU's. With mixed precision
 * the same pass writes the new parameters' bf16 working copy, so the copy costs no extra read of
 * the parameters. */
#include <math.h>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/simt.h"

#define ADAMW_THREADS 256
#define ADAMW_MAX_BLOCKS 4096
/* Segments per launch of the multi-tensor kernel: its table travels in the kernel's arguments
 * (20 bytes a segment, 1.3 KiB in all, well under the 4 KiB every CUDA version accepts). A
 * model's table has 16 (GPT-2) to 19 (the Llama family) tensors, each per-layer kind stored
 * [L, ...] as one, so a step is one launch; a list of per-layer tensors (GPT-2 124M's 148 in
 * Hugging Face's naming) would take three. */
#define ADAMW_MULTI_SEGS 64

/* Element i of the parameters (moments at mi): the CPU's operations in its order. */
__device__ __forceinline__ void adamw_element(float *p, const float *g, float *m, float *v, size_t i, size_t mi,
                                              float lr, float b1, float b2, float eps, float wd, float gs,
                                              float inv_c1, float inv_c2, uint16_t *p16) {
    float gi = __fmul_rn(g[i], gs);
    float mo = __fadd_rn(__fmul_rn(b1, m[mi]), __fmul_rn(1.0f - b1, gi));
    float vo = __fadd_rn(__fmul_rn(b2, v[mi]), __fmul_rn(1.0f - b2, __fmul_rn(gi, gi)));
    m[mi] = mo;
    v[mi] = vo;
    float pi = p[i];
    float den = __fadd_rn(__fsqrt_rn(__fmul_rn(vo, inv_c2)), eps);
    float upd = __fadd_rn(__fdiv_rn(__fmul_rn(mo, inv_c1), den), __fmul_rn(wd, pi));
    pi = __fsub_rn(pi, __fmul_rn(lr, upd));
    p[i] = pi;
    if (p16) p16[i] = bf16_round(pi);
}

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                             float eps, float wd, float gs, float inv_c1, float inv_c2, uint16_t *p16) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        adamw_element(p, g, m, v, i, i, lr, b1, b2, eps, wd, gs, inv_c1, inv_c2, p16);
}

/* One launch's segments, concatenated: segment k is elements [start[k], start[k + 1]) of the
 * launch, parameters from offset[k] on, weight decay wd[k]. Passed by value (kernel arguments):
 * no device table to upload, so the launch needs no scratch and no copy before it. */
typedef struct {
    size_t start[ADAMW_MULTI_SEGS + 1];
    size_t offset[ADAMW_MULTI_SEGS];
    float wd[ADAMW_MULTI_SEGS];
    int nseg;
} AdamwTable;

/* The segment holding launch element j, searched in [lo, nseg) (start[lo] <= j). */
__device__ __forceinline__ int adamw_segment(const AdamwTable &t, size_t j, int lo) {
    int hi = t.nseg - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t.start[mid] <= j)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* The grid strides over the launch's concatenated elements, so blocks spread over the segments
 * by size whatever their count; a thread's index only grows, so its segment is searched again
 * only when the index leaves it. */
__global__ void adamw_multi_kernel(float *p, const float *g, float *m, float *v, size_t moments_lo,
                                   const AdamwTable t, float lr, float b1, float b2, float eps, float gs, float inv_c1,
                                   float inv_c2, uint16_t *p16) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = t.start[t.nseg];
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= total) return;
    int k = adamw_segment(t, j, 0);
    for (; j < total; j += stride) {
        if (j >= t.start[k + 1]) k = adamw_segment(t, j, k + 1);
        size_t i = t.offset[k] + (j - t.start[k]);
        adamw_element(p, g, m, v, i, i - moments_lo, lr, b1, b2, eps, t.wd[k], gs, inv_c1, inv_c2, p16);
    }
}

/* The bias corrections in double on the host, rounded once, as the CPU op does. */
static void bias_corrections(float beta1, float beta2, int step, float *inv_c1, float *inv_c2) {
    *inv_c1 = (float)(1.0 / (1.0 - pow(beta1, step)));
    *inv_c2 = (float)(1.0 / (1.0 - pow(beta2, step)));
}

static unsigned grid_for(size_t n) {
    size_t blocks = (n + ADAMW_THREADS - 1) / ADAMW_THREADS;
    return (unsigned)(blocks > ADAMW_MAX_BLOCKS ? ADAMW_MAX_BLOCKS : blocks);
}

extern "C" cudaError_t cuda_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                                         float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                                         int step, uint16_t *param16, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    float inv_c1, inv_c2;
    bias_corrections(beta1, beta2, step, &inv_c1, &inv_c2);
    SIMT_LAUNCH(adamw_kernel, grid_for(n), ADAMW_THREADS, stream, param, grad, m, v, n, lr, beta1, beta2, eps,
                weight_decay, grad_scale, inv_c1, inv_c2, param16);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_adamw_update_multi(float *param, const float *grad, float *m, float *v, size_t moments_lo,
                                               const AdamwSegment *segs, int nseg, float lr, float beta1, float beta2,
                                               float eps, float weight_decay, float grad_scale, int step,
                                               uint16_t *param16, cudaStream_t stream) {
    if (nseg < 0) return cudaErrorInvalidValue;
    for (int k = 0; k < nseg; k++)
        if (segs[k].n && segs[k].offset < moments_lo) return cudaErrorInvalidValue;
    float inv_c1, inv_c2;
    bias_corrections(beta1, beta2, step, &inv_c1, &inv_c2);
    AdamwTable t;
    int k = 0;
    while (k < nseg) {
        /* The next ADAMW_MULTI_SEGS non-empty segments (an empty one has no element to find). */
        t.nseg = 0;
        t.start[0] = 0;
        for (; k < nseg && t.nseg < ADAMW_MULTI_SEGS; k++) {
            if (!segs[k].n) continue;
            t.offset[t.nseg] = segs[k].offset;
            t.wd[t.nseg] = segs[k].decays ? weight_decay : 0.0f;
            t.start[t.nseg + 1] = t.start[t.nseg] + segs[k].n;
            t.nseg++;
        }
        if (!t.nseg) break;
        SIMT_LAUNCH(adamw_multi_kernel, grid_for(t.start[t.nseg]), ADAMW_THREADS, stream, param, grad, m, v,
                    moments_lo, t, lr, beta1, beta2, eps, grad_scale, inv_c1, inv_c2, param16);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
}
