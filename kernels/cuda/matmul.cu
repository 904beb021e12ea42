/* Matmuls of the CUDA backend (kernels/cpu/matmul.c's contract, over N rows): the products go to
 * cuBLASLt with fp32 inputs and fp32 compute (CUBLAS_COMPUTE_32F: no TF32), the bias and the
 * residual folded into the same call (bias epilogue; the residual as the C operand with beta 1);
 * the bias gradient is a column sum of our own, in fixed-order chunks of rows, so it is
 * reproducible. In the SIMT emulation the products go to the host BLAS (cblas_sgemm), so the
 * backend's whole training step runs on the CPU.
 *
 * Layouts: cuBLASLt is column-major, so a row-major [R, K] matrix is a column-major [K, R] one.
 * out[N,OC] = inp[N,C] @ w[OC,C]^T is then out'[OC,N] = (w'[C,OC])^T inp'[C,N]. */
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

/* Row-major D[M,Nc] = alpha * op(A) op(B) + beta * Cm (+ bias[Nc] per row when bias), with op
 * transposing when ta/tb; A is [M,K] (ta: [K,M]), B is [K,Nc] (tb: [Nc,K]); Cm may alias D. */
#ifdef RESTPG_SIMT_EMU
static cudaError_t gemm(float *D, const float *A, const float *B, const float *Cm, const float *bias, int ta, int tb,
                        int M, int Nc, int K, float beta, cudaStream_t stream) {
    (void)stream;
    if (Cm && Cm != D)
        for (size_t i = 0; i < (size_t)M * Nc; i++) D[i] = Cm[i];
    if (bias) {
        /* Added before the product like the epilogue's fused sum would round it after: the
         * emulation's tolerance covers either order. */
        for (int r = 0; r < M; r++)
            for (int c = 0; c < Nc; c++) D[(size_t)r * Nc + c] = (Cm ? beta * D[(size_t)r * Nc + c] : 0.0f) + bias[c];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, Nc, K, 1.0f, A,
                ta ? M : K, B, tb ? K : Nc, (Cm || bias) ? beta : 0.0f, D, Nc);
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

static cudaError_t gemm(float *D, const float *A, const float *B, const float *Cm, const float *bias, int ta, int tb,
                        int M, int Nc, int K, float beta, cudaStream_t stream) {
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
    LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, tb ? K : Nc, tb ? Nc : K, tb ? K : Nc));
    LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, ta ? M : K, ta ? K : M, ta ? M : K));
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
    return gemm(out, inp, w, resid, bias, 0, 1, N, OC, C, 1.0f, stream);
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
    if (dinp && (err = gemm(dinp, dout, w, accumulate_dinp ? dinp : NULL, NULL, 0, 0, N, C, OC, 1.0f, stream)))
        return err;
    /* dw[OC,C] += dout^T[OC,N] @ inp[N,C] */
    if ((err = gemm(dw, dout, inp, dw, NULL, 1, 0, OC, C, N, 1.0f, stream))) return err;
    if (!dbias) return cudaSuccess;
    int nchunks = (N + BIAS_CHUNK_ROWS - 1) / BIAS_CHUNK_ROWS;
    unsigned col_blocks = (unsigned)((OC + BIAS_THREADS - 1) / BIAS_THREADS);
    SIMT_LAUNCH(dbias_partial_kernel, dim3(col_blocks, (unsigned)nchunks), BIAS_THREADS, stream, (float *)ws, dout, N,
                OC);
    if ((err = cudaGetLastError())) return err;
    SIMT_LAUNCH(dbias_finish_kernel, col_blocks, BIAS_THREADS, stream, dbias, (const float *)ws, nchunks, OC);
    return cudaGetLastError();
}
