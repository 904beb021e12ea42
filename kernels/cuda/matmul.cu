/* Matmuls of the CUDA backend (kernels/cpu/matmul.c's contract, over N rows): the products go to
 * cuBLASLt with fp32 compute (CUBLAS_COMPUTE_32F: no TF32), the bias and the residual folded into
 * the same call (bias epilogue; the residual as the C operand with beta 1); the bias gradient is a
 * column sum of our own, in fixed-order chunks of rows, so it is reproducible. Operands are fp32,
 * or bf16 (mixed precision: the weights' bf16 copy, the activations rounded to bf16 into scratch
 * per call, products accumulated and written in fp32; tensor cores). In the SIMT emulation the
 * products go to the host BLAS (cblas_sgemm, bf16 operands widened exactly), so the backend's
 * whole training step runs on the CPU.
 *
 * Layouts: cuBLASLt is column-major, so a row-major [R, K] matrix is a column-major [K, R] one.
 * out[N,OC] = inp[N,C] @ w[OC,C]^T is then out'[OC,N] = (w'[C,OC])^T inp'[C,N]. */
#include <stdlib.h>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/simt.h"

#ifdef RESTPG_SIMT_EMU
#include <cblas.h>
#else
#include <cublasLt.h>
#endif

#define BIAS_CHUNK_ROWS 64
#define BIAS_THREADS 128

/* partial[chunk, c] = sum over the chunk's rows, in order, of dout[r, c]. */
__global__ void dbias_partial_kernel(float *partial, const float *dout, int N, int OC) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, r0 = blockIdx.y * BIAS_CHUNK_ROWS;
    if (c >= OC) return;
    int r1 = N - r0 < BIAS_CHUNK_ROWS ? N : r0 + BIAS_CHUNK_ROWS;
    float acc = 0.0f;
    for (int r = r0; r < r1; r++) acc += dout[(size_t)r * OC + c];
    partial[(size_t)blockIdx.y * OC + c] = acc;
}

/* dbias[c] += the chunks' sums, in chunk order. */
__global__ void dbias_finish_kernel(float *dbias, const float *partial, int nchunks, int OC) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= OC) return;
    float acc = 0.0f;
    for (int k = 0; k < nchunks; k++) acc += partial[(size_t)k * OC + c];
    dbias[c] += acc;
}

#define ROUND_THREADS 256
#define ROUND_MAX_BLOCKS 4096

__global__ void to_bf16_kernel(uint16_t *dst, const float *src, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = bf16_round(src[i]);
}

extern "C" cudaError_t cuda_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    size_t blocks = (n + ROUND_THREADS - 1) / ROUND_THREADS;
    if (blocks > ROUND_MAX_BLOCKS) blocks = ROUND_MAX_BLOCKS;
    SIMT_LAUNCH(to_bf16_kernel, (unsigned)blocks, ROUND_THREADS, stream, dst, src, n);
    return cudaGetLastError();
}

/* Row-major D[M,Nc] = op(A) op(B) + beta * Cm (+ bias[Nc] per row when bias), with op
 * transposing when ta/tb; A is [M,K] (ta: [K,M]), B is [K,Nc] (tb: [Nc,K]), both fp32 or both
 * bf16 (uint16_t) when bf16; Cm may alias D. */
#ifdef RESTPG_SIMT_EMU
/* A bf16 operand widened (exactly) into a new host buffer, or the fp32 one itself. */
static const float *emu_operand(const void *x, size_t n, int bf16, float **owned) {
    *owned = NULL;
    if (!bf16) return (const float *)x;
    float *w = (float *)malloc(n * sizeof(float));
    if (!w) return NULL;
    for (size_t i = 0; i < n; i++) w[i] = bf16_widen(((const uint16_t *)x)[i]);
    return *owned = w;
}

static cudaError_t gemm(float *D, const void *Av, const void *Bv, const float *Cm, const float *bias, int ta, int tb,
                        int M, int Nc, int K, float beta, int bf16, cudaStream_t stream) {
    (void)stream;
    float *ownA, *ownB;
    const float *A = emu_operand(Av, (size_t)M * K, bf16, &ownA), *B = emu_operand(Bv, (size_t)K * Nc, bf16, &ownB);
    if (!A || !B) {
        free(ownA), free(ownB);
        return cudaErrorMemoryAllocation;
    }
    if (Cm && Cm != D)
        for (size_t i = 0; i < (size_t)M * Nc; i++) D[i] = Cm[i];
    if (bias) {
        /* The bias as the C operand (cuBLASLt adds it in the epilogue instead: the same sum,
         * rounded in another order). */
        for (int r = 0; r < M; r++)
            for (int c = 0; c < Nc; c++) D[(size_t)r * Nc + c] = (Cm ? beta * D[(size_t)r * Nc + c] : 0.0f) + bias[c];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, Nc, K, 1.0f, A,
                ta ? M : K, B, tb ? K : Nc, (Cm || bias) ? beta : 0.0f, D, Nc);
    free(ownA), free(ownB);
    return cudaSuccess;
}
#else
static cublasLtHandle_t g_lt;
static void *g_lt_ws;
static const size_t kLtWorkspace = 32u << 20;

static cudaError_t lt_status(cublasStatus_t s) {
    if (s == CUBLAS_STATUS_SUCCESS) return cudaSuccess;
    return s == CUBLAS_STATUS_ALLOC_FAILED ? cudaErrorMemoryAllocation : cudaErrorNotSupported;
}

#define LT(call)                                                                                                       \
    do {                                                                                                               \
        if ((st = (call)) != CUBLAS_STATUS_SUCCESS) goto done;                                                         \
    } while (0)

static cudaError_t gemm(float *D, const void *A, const void *B, const float *Cm, const float *bias, int ta, int tb,
                        int M, int Nc, int K, float beta, int bf16, cudaStream_t stream) {
    const cudaDataType_t ab = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!g_lt) {
        if ((st = cublasLtCreate(&g_lt)) != CUBLAS_STATUS_SUCCESS) return lt_status(st);
        cudaError_t err = cudaMalloc(&g_lt_ws, kLtWorkspace);
        if (err != cudaSuccess) return err;
    }
    /* Column-major: D'[Nc,M] = op(B)' op(A)', i.e. the operands swap. */
    cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    float alpha = 1.0f;
    if (!Cm) beta = 0.0f;
    LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    if (bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    LT(cublasLtMatrixLayoutCreate(&la, ab, tb ? K : Nc, tb ? Nc : K, tb ? K : Nc));
    LT(cublasLtMatrixLayoutCreate(&lb, ab, ta ? M : K, ta ? K : M, ta ? M : K));
    LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, Nc, M, Nc));
    LT(cublasLtMatmulPreferenceCreate(&pref));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kLtWorkspace,
                                            sizeof kLtWorkspace));
    LT(cublasLtMatmulAlgoGetHeuristic(g_lt, desc, la, lb, lc, lc, pref, 1, &heur, &found));
    if (!found) {
        st = CUBLAS_STATUS_NOT_SUPPORTED;
        goto done;
    }
    LT(cublasLtMatmul(g_lt, desc, &alpha, B, la, A, lb, &beta, Cm ? Cm : D, lc, D, lc, &heur.algo, g_lt_ws,
                      kLtWorkspace, stream));
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (desc) cublasLtMatmulDescDestroy(desc);
    return st == CUBLAS_STATUS_SUCCESS ? cudaGetLastError() : lt_status(st);
}
#endif

extern "C" cudaError_t cuda_matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                                           const float *resid, int N, int C, int OC, cudaStream_t stream) {
    if (N < 0 || C <= 0 || OC <= 0) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    return gemm(out, inp, w, resid, bias, 0, 1, N, OC, C, 1.0f, 0, stream);
}

/* The bias gradient: dbias += column sums of dout[N, OC] through partial (nchunks x OC). */
static cudaError_t dbias_sum(float *dbias, const float *dout, float *partial, int N, int OC, cudaStream_t stream) {
    int nchunks = (N + BIAS_CHUNK_ROWS - 1) / BIAS_CHUNK_ROWS;
    unsigned col_blocks = (unsigned)((OC + BIAS_THREADS - 1) / BIAS_THREADS);
    SIMT_LAUNCH(dbias_partial_kernel, dim3(col_blocks, (unsigned)nchunks), BIAS_THREADS, stream, partial, dout, N, OC);
    cudaError_t err = cudaGetLastError();
    if (err) return err;
    SIMT_LAUNCH(dbias_finish_kernel, col_blocks, BIAS_THREADS, stream, dbias, (const float *)partial, nchunks, OC);
    return cudaGetLastError();
}

extern "C" size_t cuda_matmul_backward_workspace(int N, int OC) {
    if (N <= 0 || OC <= 0) return 0;
    return (size_t)((N + BIAS_CHUNK_ROWS - 1) / BIAS_CHUNK_ROWS) * OC * sizeof(float);
}

extern "C" cudaError_t cuda_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                                            const float *w, int N, int C, int OC, int accumulate_dinp, void *ws,
                                            size_t ws_bytes, cudaStream_t stream) {
    if (N < 0 || C <= 0 || OC <= 0) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    if (dbias && ws_bytes < cuda_matmul_backward_workspace(N, OC)) return cudaErrorInvalidValue;
    cudaError_t err = cudaSuccess;
    /* dinp[N,C] (+)= dout[N,OC] @ w[OC,C] */
    if (dinp && (err = gemm(dinp, dout, w, accumulate_dinp ? dinp : NULL, NULL, 0, 0, N, C, OC, 1.0f, 0, stream)))
        return err;
    /* dw[OC,C] += dout^T[OC,N] @ inp[N,C] */
    if ((err = gemm(dw, dout, inp, dw, NULL, 1, 0, OC, C, N, 1.0f, 0, stream))) return err;
    return dbias ? dbias_sum(dbias, dout, (float *)ws, N, OC, stream) : cudaSuccess;
}

/* The bf16 workspace: the activations' bf16 copies (inp [N,C], dout [N,OC]) then the bias
 * partials, each 256-byte aligned. */
static size_t align256(size_t b) { return (b + 255) / 256 * 256; }

extern "C" size_t cuda_matmul_bf16_workspace(int N, int C, int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 0;
    return align256((size_t)N * C * 2) + align256((size_t)N * OC * 2) + cuda_matmul_backward_workspace(N, OC);
}

extern "C" cudaError_t cuda_matmul_forward_bf16(float *out, const float *inp, const uint16_t *w16, const float *bias,
                                                const float *resid, int N, int C, int OC, void *ws, size_t ws_bytes,
                                                cudaStream_t stream) {
    if (N < 0 || C <= 0 || OC <= 0) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    if (ws_bytes < (size_t)N * C * 2) return cudaErrorInvalidValue;
    uint16_t *inp16 = (uint16_t *)ws;
    cudaError_t err = cuda_to_bf16(inp16, inp, (size_t)N * C, stream);
    return err ? err : gemm(out, inp16, w16, resid, bias, 0, 1, N, OC, C, 1.0f, 1, stream);
}

extern "C" cudaError_t cuda_matmul_backward_bf16(float *dinp, float *dw, float *dbias, const float *dout,
                                                 const float *inp, const uint16_t *w16, int N, int C, int OC,
                                                 int accumulate_dinp, void *ws, size_t ws_bytes, cudaStream_t stream) {
    if (N < 0 || C <= 0 || OC <= 0) return cudaErrorInvalidValue;
    if (N == 0) return cudaSuccess;
    if (ws_bytes < cuda_matmul_bf16_workspace(N, C, OC)) return cudaErrorInvalidValue;
    uint16_t *inp16 = (uint16_t *)ws, *dout16 = (uint16_t *)((char *)ws + align256((size_t)N * C * 2));
    float *partial = (float *)((char *)dout16 + align256((size_t)N * OC * 2));
    cudaError_t err;
    if ((err = cuda_to_bf16(inp16, inp, (size_t)N * C, stream)) ||
        (err = cuda_to_bf16(dout16, dout, (size_t)N * OC, stream)))
        return err;
    if (dinp && (err = gemm(dinp, dout16, w16, accumulate_dinp ? dinp : NULL, NULL, 0, 0, N, C, OC, 1.0f, 1, stream)))
        return err;
    if ((err = gemm(dw, dout16, inp16, dw, NULL, 1, 0, OC, C, N, 1.0f, 1, stream))) return err;
    /* The bias gradient sums the fp32 dout: no product, nothing to gain from rounding it. */
    return dbias ? dbias_sum(dbias, dout, partial, N, OC, stream) : cudaSuccess;
}
