/* RMSNorm with the (w_offset + w) weight (Gemma: 1 + w; Llama, Qwen: w), forward and backward.
 * Rows are independent; the weight gradient is a column sum computed per block of columns with
 * the rows walked in order inside one thread, so it does not depend on the thread count. */
#include <math.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define COL_BLOCK 64

/* out = resid + x * s * (w_offset + w) in one expression (each element's residual is read before
 * its output is written, so out may alias resid). In GNU C mode GCC would contract that product
 * into the add on FMA targets (-march=native): one rounding fewer than the norm followed by a
 * separate add, which this replaces bit for bit. So contraction is off for this function alone
 * (fm_dot, called out of line, keeps the file's options). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N, int C,
                     float eps, float w_offset) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float s = 1.0f / sqrtf(fm_dot(x, x, C) / C + eps);
        if (resid) {
            const float *r = resid + (size_t)i * C;
            for (int c = 0; c < C; c++) o[c] = r[c] + x[c] * s * (w_offset + w[c]);
        } else {
            for (int c = 0; c < C; c++) o[c] = x[c] * s * (w_offset + w[c]);
        }
        rstd[i] = s;
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* With xhat = x * s and g = dout * (w_offset + w): dx = s * (g - xhat * mean(g * xhat)), dw = dout * xhat. */
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, const float *rstd,
                      int N, int C, float w_offset) {
#pragma omp parallel if ((size_t)N * C > 32768)
    {
#pragma omp for schedule(static) nowait
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
            float *di = dinp + (size_t)i * C;
            float s = rstd[i];
            float acc[FM_LANES] = {0};
            int c = 0;
            for (; c + FM_LANES <= C; c += FM_LANES)
                for (int l = 0; l < FM_LANES; l++) acc[l] += d[c + l] * (w_offset + w[c + l]) * x[c + l];
            float sum = 0.0f;
            for (int l = 0; l < FM_LANES; l++) sum += acc[l];
            for (; c < C; c++) sum += d[c] * (w_offset + w[c]) * x[c];
            /* mean(g * xhat) = s * mean(g * x); the s^2 below folds both factors of s. */
            float k = sum * s * s / C;
            for (c = 0; c < C; c++) di[c] += s * (d[c] * (w_offset + w[c]) - x[c] * k);
        }
        int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int c0 = blk * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
            float aw[COL_BLOCK] = {0};
            for (int i = 0; i < N; i++) {
                const float *x = inp + (size_t)i * C + c0, *d = dout + (size_t)i * C + c0;
                float s = rstd[i];
                for (int c = 0; c < nc; c++) aw[c] += d[c] * (x[c] * s);
            }
            for (int c = 0; c < nc; c++) dw[c0 + c] += aw[c];
        }
    }
}
