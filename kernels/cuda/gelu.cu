/* GPT-2's tanh GELU (kernels/cpu/pointwise.c), forward and backward; elementwise, grid-stride.
 * The CPU's sigmoid form, gelu(x) = x / (1 + e^(-2u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
 * which has no cancellation for small or negative x; expf is the device's where the CPU uses its
 * polynomial (docs/cuda.md). Each thread reads an element before writing it, so out may alias
 * inp and dinp may alias dout. */
#include <math.h>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops_cuda.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

__global__ void gelu_forward_kernel(float *out, const float *inp, size_t n) {
    GRID_STRIDE(i, n) {
        float x = inp[i], u = GELU_K * (x + GELU_A * x * x * x);
        out[i] = x / (1.0f + expf(-2.0f * u));
    }
}

/* With s = sigmoid(2u): gelu'(x) = s + 2 x s (1 - s) du/dx, since 1 - tanh^2 u = 4 s (1 - s). */
__global__ void gelu_backward_kernel(float *dinp, const float *inp, const float *dout, size_t n) {
    GRID_STRIDE(i, n) {
        float x = inp[i], u = GELU_K * (x + GELU_A * x * x * x);
        float s = 1.0f / (1.0f + expf(-2.0f * u)), du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        dinp[i] = dout[i] * (s + 2.0f * x * s * (1.0f - s) * du);
    }
}

extern "C" cudaError_t cuda_gelu_forward(float *out, const float *inp, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(gelu_forward_kernel, elt_blocks(n), ELT_THREADS, stream, out, inp, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n,
                                          cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(gelu_backward_kernel, elt_blocks(n), ELT_THREADS, stream, dinp, inp, dout, n);
    return cudaGetLastError();
}
