/* Thread control and the linear layers through OpenBLAS sgemm.
 *
 * OpenBLAS's sgemm gives a row a different rounding depending on where it falls relative to its
 * register-block edges, and its own threads split the output at size-dependent places. So the
 * work is cut here into a fixed grid that depends only on the shapes (one sequence of rows by
 * MM_COLS output columns) and each piece is one single-threaded sgemm on an OpenMP thread.
 * A sequence's outputs are then the same bits whatever else is in the batch and whatever the
 * thread count. Bias and residual are written into the output block first and added by sgemm
 * with beta = 1, which saves a pass over the output. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "kernels/cpu/ops.h"

/* Output columns per sgemm call: large enough to amortise packing the sequence's rows, small
 * enough to give two threads even work on every GPT-2 layer shape. */
#define MM_COLS 256

static int g_threads = 0;

void kernels_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int kernels_threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

int kernels_blas_single_begin(void) {
    int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return n;
}

void kernels_blas_single_end(int saved) { openblas_set_num_threads(saved); }

void residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* Whether a problem is worth waking the thread team for. */
static int worth_parallel(size_t flops, int ntasks) { return ntasks > 1 && flops > ((size_t)1 << 20); }

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid, int B, int T,
                    int C, int OC) {
    const int nblk = (OC + MM_COLS - 1) / MM_COLS, ntasks = nblk * B;
    int saved = kernels_blas_single_begin();
    /* Column block outermost so consecutive tasks reuse a weight block from cache; handed out
     * dynamically so a thread that loses its core to another process delays only its own task. */
#pragma omp parallel for schedule(dynamic, 1) if (worth_parallel((size_t)B * T * C * OC, ntasks))
    for (int task = 0; task < ntasks; task++) {
        int b = task % B, j0 = task / B * MM_COLS, nj = OC - j0 < MM_COLS ? OC - j0 : MM_COLS;
        float *o = out + (size_t)b * T * OC + j0;
        float beta = 0.0f;
        if (bias || resid) {
            for (int t = 0; t < T; t++) {
                float *ot = o + (size_t)t * OC;
                const float *r = resid ? resid + ((size_t)b * T + t) * OC + j0 : NULL;
                if (bias && r)
                    for (int j = 0; j < nj; j++) ot[j] = r[j] + bias[j0 + j];
                else if (bias)
                    memcpy(ot, bias + j0, sizeof(float) * nj);
                else if (r != ot)
                    memcpy(ot, r, sizeof(float) * nj);
            }
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nj, C, 1.0f, inp + (size_t)b * T * C, C,
                    w + (size_t)j0 * C, C, beta, o, OC);
    }
    kernels_blas_single_end(saved);
}

/* Rows of dw per backward task: about an eighth of OC (so a few threads share even a 768-row
 * layer), a multiple of 32, and between 64 and 512 (larger blocks pack the shared input fewer
 * times). A function of the shape only. */
static int dw_rows(int OC) {
    int r = (OC / 8 + 31) / 32 * 32;
    return r < 64 ? 64 : r > 512 ? 512 : r;
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int B,
                     int T, int C, int OC, int accumulate_dinp) {
    const int N = B * T, rw = dw_rows(OC);
    const int nblk_w = (OC + rw - 1) / rw, nblk_in = dinp ? (C + MM_COLS - 1) / MM_COLS : 0;
    const int ntasks = nblk_w + nblk_in * B;
    int saved = kernels_blas_single_begin();
    /* One pool of unequal tasks (dw blocks first, they are the larger), handed out dynamically;
     * which thread runs a task does not change its result. */
#pragma omp parallel for schedule(dynamic, 1) if (worth_parallel((size_t)N * C * OC, ntasks))
    for (int task = 0; task < ntasks; task++) {
        if (task < nblk_w) {
            /* dw rows j0.. and their bias entries, over all N rows in order. */
            int j0 = task * rw, nj = OC - j0 < rw ? OC - j0 : rw;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nj, C, N, 1.0f, dout + j0, OC, inp, C, 1.0f,
                        dw + (size_t)j0 * C, C);
            if (dbias)
                for (int j = 0; j < nj; j += MM_COLS) {
                    int nn = nj - j < MM_COLS ? nj - j : MM_COLS;
                    float acc[MM_COLS] = {0};
                    for (int i = 0; i < N; i++) {
                        const float *d = dout + (size_t)i * OC + j0 + j;
                        for (int k = 0; k < nn; k++) acc[k] += d[k];
                    }
                    for (int k = 0; k < nn; k++) dbias[j0 + j + k] += acc[k];
                }
        } else {
            /* dinp, per sequence and block of input columns, like the forward. */
            int t = task - nblk_w, b = t % B, c0 = t / B * MM_COLS, nc = C - c0 < MM_COLS ? C - c0 : MM_COLS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, nc, OC, 1.0f, dout + (size_t)b * T * OC, OC,
                        w + c0, C, accumulate_dinp ? 1.0f : 0.0f, dinp + (size_t)b * T * C + c0, C);
        }
    }
    kernels_blas_single_end(saved);
}
