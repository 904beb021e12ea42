/* LayerNorm (kernels/cpu/layernorm.c), forward and backward, eps 1e-5. One block per row: the
 * forward's mean and then the sum of squared deviations (two passes, like the CPU, so there is
 * no E[x^2] - mean^2 cancellation) are block_sums; the backward's two row sums likewise. The
 * weight and bias gradients are column sums without atomics, in two fixed-order passes: each
 * chunk of LN_CHUNK_ROWS rows sums its rows in order into two scratch rows (dw's, then db's),
 * then the chunks are summed in chunk order into dw and db. */
#include <math.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define LN_EPS 1e-5f
#define LN_CHUNK_ROWS 64
#define LN_COL_THREADS 128

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *inp, const float *w,
                                         const float *b, int C) {
    __shared__ float part[32];
    const float *x = inp + (size_t)blockIdx.x * C;
    float *o = out + (size_t)blockIdx.x * C;
    float sum = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) sum += x[c];
    float m = block_sum(sum, part) / C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float d = x[c] - m;
        ss += d * d;
    }
    float s = 1.0f / sqrtf(block_sum(ss, part) / C + LN_EPS);
    /* Each thread reads only the columns it writes, so out may alias inp. */
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = (x[c] - m) * s * w[c] + b[c];
    if (threadIdx.x == 0) {
        mean[blockIdx.x] = m;
        rstd[blockIdx.x] = s;
    }
}

/* dnorm = dout * w; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), accumulated. */
__global__ void layernorm_dinp_kernel(float *dinp, const float *dout, const float *inp, const float *w,
                                      const float *mean, const float *rstd, int C) {
    __shared__ float part[32];
    size_t row = (size_t)blockIdx.x * C;
    const float *x = inp + row, *d = dout + row;
    float *di = dinp + row;
    float m = mean[blockIdx.x], s = rstd[blockIdx.x], sum1 = 0.0f, sum2 = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float dn = d[c] * w[c];
        sum1 += dn;
        sum2 += dn * (x[c] - m) * s;
    }
    float mean1 = block_sum(sum1, part) / C, mean2 = block_sum(sum2, part) / C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float xhat = (x[c] - m) * s;
        di[c] += (d[c] * w[c] - mean1 - xhat * mean2) * s;
    }
}

/* partial[chunk][0][c] = sum over the chunk's rows, in order, of dout * xhat; [1][c] of dout. */
__global__ void layernorm_dwb_partial_kernel(float *partial, const float *dout, const float *inp, const float *mean,
                                             const float *rstd, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r0 = blockIdx.y * LN_CHUNK_ROWS;
    if (c >= C) return;
    int r1 = N - r0 < LN_CHUNK_ROWS ? N : r0 + LN_CHUNK_ROWS;
    float aw = 0.0f, ab = 0.0f;
    for (int r = r0; r < r1; r++) {
        float d = dout[(size_t)r * C + c];
        aw += d * ((inp[(size_t)r * C + c] - mean[r]) * rstd[r]);
        ab += d;
    }
    float *p = partial + (size_t)blockIdx.y * 2 * C;
    p[c] = aw;
    p[C + c] = ab;
}

__global__ void layernorm_dwb_finish_kernel(float *dw, float *db, const float *partial, int nchunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float aw = 0.0f, ab = 0.0f;
    for (int k = 0; k < nchunks; k++) {
        aw += partial[(size_t)k * 2 * C + c];
        ab += partial[(size_t)k * 2 * C + C + c];
    }
    dw[c] += aw;
    db[c] += ab;
}

extern "C" cudaError_t cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                                              const float *b, int N, int C, cudaStream_t stream) {
    if (N <= 0 || C <= 0) return N < 0 || C < 0 ? cudaErrorInvalidValue : cudaSuccess;
    SIMT_LAUNCH(layernorm_forward_kernel, N, row_threads(C), stream, out, mean, rstd, inp, w, b, C);
    return cudaGetLastError();
}

extern "C" size_t cuda_layernorm_backward_workspace(int N, int C) {
    if (N <= 0 || C <= 0) return 0;
    return (size_t)((N + LN_CHUNK_ROWS - 1) / LN_CHUNK_ROWS) * 2 * C * sizeof(float);
}

extern "C" cudaError_t cuda_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                               const float *w, const float *mean, const float *rstd, int N, int C,
                                               void *ws, size_t ws_bytes, cudaStream_t stream) {
    if (N <= 0 || C <= 0) return N < 0 || C < 0 ? cudaErrorInvalidValue : cudaSuccess;
    if (ws_bytes < cuda_layernorm_backward_workspace(N, C)) return cudaErrorInvalidValue;
    int nchunks = (N + LN_CHUNK_ROWS - 1) / LN_CHUNK_ROWS;
    unsigned col_blocks = (unsigned)((C + LN_COL_THREADS - 1) / LN_COL_THREADS);
    SIMT_LAUNCH(layernorm_dinp_kernel, N, row_threads(C), stream, dinp, dout, inp, w, mean, rstd, C);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(layernorm_dwb_partial_kernel, dim3(col_blocks, (unsigned)nchunks), LN_COL_THREADS, stream,
                (float *)ws, dout, inp, mean, rstd, N, C);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(layernorm_dwb_finish_kernel, col_blocks, LN_COL_THREADS, stream, dw, db, (const float *)ws, nchunks,
                C);
    return cudaGetLastError();
}
