/* RMSNorm with the (w_offset + w) weight (kernels/cpu/rmsnorm.c), forward (optionally adding the
 * residual) and backward. One block per row: the row's sum (of squares, or of g * x for the
 * backward) is a block_sum. The weight gradient is a column sum without atomics, in two
 * fixed-order passes: each chunk of RMS_CHUNK_ROWS rows sums its rows in order into one scratch
 * row, then the chunks' rows are summed in chunk order into dw. */
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define RMS_CHUNK_ROWS 64
#define RMS_COL_THREADS 128

/* With resid, __fadd_rn keeps nvcc from contracting the last product into the add: the sum is
 * rounded as the separate cuda_add it replaces rounded it. Each element's residual is read by the
 * thread that writes its output, after block_sum's barriers, so out may alias inp or resid. */
__global__ void rmsnorm_forward_kernel(float *out, float *rstd, const float *inp, const float *w, const float *resid,
                                       int C, float eps, float w_offset) {
    __shared__ float part[32];
    const float *x = inp + (size_t)blockIdx.x * C;
    float *o = out + (size_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    ss = block_sum(ss, part);
    float s = 1.0f / sqrtf(ss / C + eps);
    if (resid) {
        const float *r = resid + (size_t)blockIdx.x * C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = __fadd_rn(r[c], x[c] * s * (w_offset + w[c]));
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = x[c] * s * (w_offset + w[c]);
    }
    if (threadIdx.x == 0) rstd[blockIdx.x] = s;
}

/* dx = s * (g - x * s^2 * mean(g * x)), g = dout * (w_offset + w), accumulated into dinp. */
__global__ void rmsnorm_dinp_kernel(float *dinp, const float *dout, const float *inp, const float *w, const float *rstd,
                                    int C, float w_offset) {
    __shared__ float part[32];
    size_t row = (size_t)blockIdx.x * C;
    const float *x = inp + row, *d = dout + row;
    float *di = dinp + row;
    float s = rstd[blockIdx.x], sum = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) sum += d[c] * (w_offset + w[c]) * x[c];
    float k = block_sum(sum, part) * s * s / C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) di[c] += s * (d[c] * (w_offset + w[c]) - x[c] * k);
}

/* partial[chunk, c] = sum over the chunk's rows, in order, of dout * x * s. */
__global__ void rmsnorm_dw_partial_kernel(float *partial, const float *dout, const float *inp, const float *rstd, int N,
                                          int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r0 = blockIdx.y * RMS_CHUNK_ROWS;
    if (c >= C) return;
    int r1 = N - r0 < RMS_CHUNK_ROWS ? N : r0 + RMS_CHUNK_ROWS;
    float acc = 0.0f;
    for (int r = r0; r < r1; r++) acc += dout[(size_t)r * C + c] * (inp[(size_t)r * C + c] * rstd[r]);
    partial[(size_t)blockIdx.y * C + c] = acc;
}

__global__ void rmsnorm_dw_finish_kernel(float *dw, const float *partial, int nchunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int k = 0; k < nchunks; k++) acc += partial[(size_t)k * C + c];
    dw[c] += acc;
}

extern "C" cudaError_t cuda_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w,
                                            const float *resid, int N, int C, float eps, float w_offset,
                                            cudaStream_t stream) {
    if (N <= 0 || C <= 0) return N < 0 || C < 0 ? cudaErrorInvalidValue : cudaSuccess;
    SIMT_LAUNCH(rmsnorm_forward_kernel, N, row_threads(C), stream, out, rstd, inp, w, resid, C, eps, w_offset);
    return cudaGetLastError();
}

extern "C" size_t cuda_rmsnorm_backward_workspace(int N, int C) {
    if (N <= 0 || C <= 0) return 0;
    return (size_t)((N + RMS_CHUNK_ROWS - 1) / RMS_CHUNK_ROWS) * C * sizeof(float);
}

extern "C" cudaError_t cuda_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                             const float *w, const float *rstd, int N, int C, float w_offset, void *ws,
                                             size_t ws_bytes, cudaStream_t stream) {
    if (N <= 0 || C <= 0) return N < 0 || C < 0 ? cudaErrorInvalidValue : cudaSuccess;
    if (ws_bytes < cuda_rmsnorm_backward_workspace(N, C)) return cudaErrorInvalidValue;
    int nchunks = (N + RMS_CHUNK_ROWS - 1) / RMS_CHUNK_ROWS;
    unsigned col_blocks = (unsigned)((C + RMS_COL_THREADS - 1) / RMS_COL_THREADS);
    SIMT_LAUNCH(rmsnorm_dinp_kernel, N, row_threads(C), stream, dinp, dout, inp, w, rstd, C, w_offset);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(rmsnorm_dw_partial_kernel, dim3(col_blocks, (unsigned)nchunks), RMS_COL_THREADS, stream, (float *)ws,
                dout, inp, rstd, N, C);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(rmsnorm_dw_finish_kernel, col_blocks, RMS_COL_THREADS, stream, dw, (const float *)ws, nchunks, C);
    return cudaGetLastError();
}
