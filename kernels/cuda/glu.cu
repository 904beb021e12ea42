/* The gated MLP activations (kernels/cpu/geglu.c): SwiGLU and GeGLU with GPT-2's tanh GELU in
 * the CPU's sigmoid form, x / (1 + e^(-2u)), forward and backward; elementwise, grid-stride.
 * expf here is the device's (2 ulp), the CPU's is a polynomial (1e-7 relative): docs/cuda.md. */
#include <math.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/simt.h"

#define GLU_THREADS 256
#define GLU_MAX_BLOCKS 4096
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void swiglu_forward_kernel(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        out[i] = g * sigmoid(g) * up[i];
    }
}

__global__ void swiglu_backward_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                       const float *up, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i], d = dout[i], sg = sigmoid(g);
        dup[i] = d * (g * sg);
        dgate[i] = d * up[i] * (sg * (1.0f + g * (1.0f - sg)));
    }
}

__global__ void geglu_forward_kernel(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = gate[i], u = GELU_K * (x + GELU_A * x * x * x);
        out[i] = x / (1.0f + expf(-2.0f * u)) * up[i];
    }
}

/* With s = sigmoid(2u): gelu'(x) = s + 2 x s (1 - s) du/dx. */
__global__ void geglu_backward_kernel(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                      size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = gate[i], d = dout[i], u = GELU_K * (x + GELU_A * x * x * x);
        float s = 1.0f / (1.0f + expf(-2.0f * u)), du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        float dg = d * up[i];
        dup[i] = x / (1.0f + expf(-2.0f * u)) * d;
        dgate[i] = dg * (s + 2.0f * x * s * (1.0f - s) * du);
    }
}

static unsigned glu_blocks(size_t n) {
    size_t b = (n + GLU_THREADS - 1) / GLU_THREADS;
    return (unsigned)(b > GLU_MAX_BLOCKS ? GLU_MAX_BLOCKS : b);
}

extern "C" cudaError_t cuda_swiglu_forward(float *out, const float *gate, const float *up, size_t n,
                                           cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(swiglu_forward_kernel, glu_blocks(n), GLU_THREADS, stream, out, gate, up, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                                            const float *up, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(swiglu_backward_kernel, glu_blocks(n), GLU_THREADS, stream, dgate, dup, dout, gate, up, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_geglu_forward(float *out, const float *gate, const float *up, size_t n,
                                          cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(geglu_forward_kernel, glu_blocks(n), GLU_THREADS, stream, out, gate, up, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                                           const float *up, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(geglu_backward_kernel, glu_blocks(n), GLU_THREADS, stream, dgate, dup, dout, gate, up, n);
    return cudaGetLastError();
}
