/* LayerNorm forward and backward. The input gradient is a per-row computation; the weight and
 * bias gradients are column sums, computed per block of columns with the rows walked in order
 * inside one thread, so they do not depend on the thread count. */
#include <math.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define LN_EPS 1e-5f
#define COL_BLOCK 64

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N,
                       int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float m = fm_sum(x, C) / C;
        /* Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - m^2. */
        for (int c = 0; c < C; c++) o[c] = x[c] - m;
        float var = fm_dot(o, o, C) / C;
        float s = 1.0f / sqrtf(var + LN_EPS);
        for (int c = 0; c < C; c++) o[c] = o[c] * s * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel if ((size_t)N * C > 32768)
    {
#pragma omp for schedule(static) nowait
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
            float *di = dinp + (size_t)i * C;
            float m = mean[i], s = rstd[i];
            /* dnorm = d * w; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)). */
            float acc1[FM_LANES] = {0}, acc2[FM_LANES] = {0};
            int c = 0;
            for (; c + FM_LANES <= C; c += FM_LANES)
                for (int l = 0; l < FM_LANES; l++) {
                    float dn = d[c + l] * w[c + l];
                    acc1[l] += dn;
                    acc2[l] += dn * (x[c + l] - m) * s;
                }
            float sum1 = 0.0f, sum2 = 0.0f;
            for (int l = 0; l < FM_LANES; l++) {
                sum1 += acc1[l];
                sum2 += acc2[l];
            }
            for (; c < C; c++) {
                float dn = d[c] * w[c];
                sum1 += dn;
                sum2 += dn * (x[c] - m) * s;
            }
            float mean1 = sum1 / C, mean2 = sum2 / C;
            for (c = 0; c < C; c++) {
                float xhat = (x[c] - m) * s;
                di[c] += (d[c] * w[c] - mean1 - xhat * mean2) * s;
            }
        }
        int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int c0 = blk * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
            float aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};
            for (int i = 0; i < N; i++) {
                const float *x = inp + (size_t)i * C + c0, *d = dout + (size_t)i * C + c0;
                float m = mean[i], s = rstd[i];
                for (int c = 0; c < nc; c++) {
                    aw[c] += d[c] * ((x[c] - m) * s);
                    ab[c] += d[c];
                }
            }
            for (int c = 0; c < nc; c++) {
                dw[c0 + c] += aw[c];
                db[c0 + c] += ab[c];
            }
        }
    }
}
