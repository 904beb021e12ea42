/* Rotate-half RoPE (kernels/cpu/rope.c), in place on x[B,T,NH,hd]; the backward rotates by the
 * opposite angle. One thread per (row, pair i < hd/2), grid-stride: it computes the angle as the
 * CPU does, in double (the inverse frequency by rope_inv_freq's formula, backend.h's RopeSpec;
 * the angle t * f; cos and sin; then rounded to float), and rotates pair i of every head of
 * the row. Consecutive threads take consecutive pairs, so a warp's loads are contiguous. */
#include <math.h>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops_cuda.h"

/* kernels/cpu/rope.c's rope_inv_freq, on the device. */
__device__ double rope_freq(const RopeSpec &rope, int i, int hd) {
    double f = pow(rope.theta, -2.0 * i / hd);
    if (rope.scaling == ROPE_LINEAR) return f / rope.factor;
    if (rope.scaling != ROPE_LLAMA3) return f;
    const double old = rope.original_max_positions, wavelen = 2.0 * M_PI / f;
    if (wavelen < old / rope.high_freq_factor) return f;
    if (wavelen > old / rope.low_freq_factor) return f / rope.factor;
    double s = (old / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
    return (1.0 - s) * f / rope.factor + s * f;
}

__global__ void rope_kernel(float *x, int T, int NH, int hd, RopeSpec rope, double sign, size_t npairs) {
    const int half = hd / 2;
    GRID_STRIDE(e, npairs) {
        size_t bt = e / half;
        int i = (int)(e % half);
        double a = sign * (double)(bt % T) * rope_freq(rope, i, hd);
        float c = (float)cos(a), s = (float)sin(a);
        float *row = x + bt * NH * hd;
        for (int h = 0; h < NH; h++) {
            float *v = row + (size_t)h * hd;
            float x1 = v[i], x2 = v[i + half];
            v[i] = x1 * c - x2 * s;
            v[i + half] = x2 * c + x1 * s;
        }
    }
}

static cudaError_t rope_rotate(float *x, int B, int T, int NH, int hd, RopeSpec rope, double sign,
                               cudaStream_t stream) {
    if (B < 0 || T < 0 || NH < 0 || hd < 0 || hd % 2) return cudaErrorInvalidValue;
    size_t npairs = (size_t)B * T * (hd / 2);
    if (npairs == 0 || NH == 0) return cudaSuccess;
    SIMT_LAUNCH(rope_kernel, elt_blocks(npairs), ELT_THREADS, stream, x, T, NH, hd, rope, sign, npairs);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_rope_forward(float *x, int B, int T, int NH, int hd, RopeSpec rope, cudaStream_t stream) {
    return rope_rotate(x, B, T, NH, hd, rope, 1.0, stream);
}

extern "C" cudaError_t cuda_rope_backward(float *dx, int B, int T, int NH, int hd, RopeSpec rope,
                                          cudaStream_t stream) {
    return rope_rotate(dx, B, T, NH, hd, rope, -1.0, stream);
}
