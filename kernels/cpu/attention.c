/* Causal multi-head attention without a T x T matrix: the forward walks key tiles with an online
 * softmax and keeps only each row's log-sum-exp; the backward recomputes the probabilities of
 * one tile at a time from that log-sum-exp (FlashAttention-2's recurrences). Tile products are
 * single-threaded sgemm calls; parallelism is across (sequence, head, query tile) in the forward
 * and across (sequence, head) in the backward, so every output element is written by exactly one
 * thread in a fixed order. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define TILE ATTN_TILE

/* Forward for query rows i0..i0+rn-1 of one head: o rows (stride C) and lse entries. */
static void fwd_query_tile(float *o, float *lse, const float *q, const float *kbase, const float *vbase, int i0,
                           int rn, int hs, int C, float scale, float *s, float *mrow, float *lrow) {
    const int C3 = 3 * C;
    for (int kj0 = 0; kj0 <= i0 + rn - 1; kj0 += TILE) {
        int kn = i0 + rn - kj0 < TILE ? i0 + rn - kj0 : TILE;
        const float *k = kbase + (size_t)kj0 * C3, *v = vbase + (size_t)kj0 * C3;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hs, scale, q, C3, k, C3, 0.0f, s, TILE);
        for (int r = 0; r < rn; r++) {
            float *sr = s + (size_t)r * TILE;
            /* Keys after the query are masked: only the first nv of this tile are visible. */
            int nv = i0 + r - kj0 + 1 < kn ? i0 + r - kj0 + 1 : kn;
            float mt = fm_max(sr, nv);
            float *orow = o + (size_t)r * C;
            if (kj0 == 0) {
                mrow[r] = mt;
                lrow[r] = fm_exp_shift_sum(sr, nv, mt);
            } else {
                float mnew = mt > mrow[r] ? mt : mrow[r];
                float corr = fm_expf(mrow[r] - mnew);
                lrow[r] = lrow[r] * corr + fm_exp_shift_sum(sr, nv, mnew);
                mrow[r] = mnew;
                for (int d = 0; d < hs; d++) orow[d] *= corr;
            }
            for (int c = nv; c < kn; c++) sr[c] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hs, kn, 1.0f, s, TILE, v, C3,
                    kj0 == 0 ? 0.0f : 1.0f, o, C);
    }
    for (int r = 0; r < rn; r++) {
        float inv = 1.0f / lrow[r];
        float *orow = o + (size_t)r * C;
        for (int d = 0; d < hs; d++) orow[d] *= inv;
        lse[r] = mrow[r] + logf(lrow[r]);
    }
}

/* Floats of one thread's scratch: the forward's score tile and row statistics, the backward's
 * two tiles and its per-row term; rounded to 64 bytes so every thread's slice stays aligned. */
static size_t thread_floats(int T) {
    size_t fwd = TILE * TILE + 2 * TILE, bwd = 2 * TILE * TILE + (size_t)T, n = fwd > bwd ? fwd : bwd;
    return (n + 15) / 16 * 16;
}

size_t attention_workspace(int T) { return thread_floats(T) * sizeof(float) * (size_t)kernels_threads(); }

/* Threads the workspace has room for (at most the kernels' count): the split of work into tasks
 * does not depend on it, so neither do the results. */
static int ws_threads(int T, size_t ws_bytes) {
    size_t fit = ws_bytes / (thread_floats(T) * sizeof(float));
    int n = kernels_threads();
    return fit < (size_t)n ? (int)fit : n;
}

int attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, void *ws, size_t ws_bytes,
                      Error *e) {
    const int hs = C / NH, C3 = 3 * C, ntiles = (T + TILE - 1) / TILE;
    const float scale = 1.0f / sqrtf((float)hs);
    const int ntasks = B * NH * ntiles;
    int nth = ws_threads(T, ws_bytes);
    if (nth < 1) return error_set(e, RP_EINTERNAL, "attention_forward: workspace of %zu bytes is too small", ws_bytes);
    int blas_threads = kernels_blas_single_begin();
#pragma omp parallel num_threads(nth)
    {
        float *s = (float *)ws + thread_floats(T) * (size_t)omp_get_thread_num();
        /* Heavier (later) query tiles first so dynamic scheduling balances the causal triangle. */
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < ntasks; task++) {
            int it = ntiles - 1 - task % ntiles, bh = task / ntiles;
            int b = bh / NH, h = bh % NH;
            int i0 = it * TILE, rn = T - i0 < TILE ? T - i0 : TILE;
            const float *base = qkv + (size_t)b * T * C3 + h * hs;
            fwd_query_tile(out + ((size_t)b * T + i0) * C + h * hs, lse + (size_t)bh * T + i0,
                           base + (size_t)i0 * C3, base + C, base + 2 * C, i0, rn, hs, C, scale, s,
                           s + TILE * TILE, s + TILE * TILE + TILE);
        }
    }
    kernels_blas_single_end(blas_threads);
    return RP_OK;
}

/* Backward of one (sequence, head). q/k/v point at row 0 of this head (stride 3C), dq/dk/dv
 * likewise into dqkv, o/dout at row 0 (stride C), lse at this head's T entries. Scratch: p and
 * dp (TILE x TILE each) and drow (T). */
static void bwd_head(float *dq, float *dk, float *dv, const float *q, const float *k, const float *v,
                     const float *o, const float *dout, const float *lse, int T, int hs, int C, float scale, float *p,
                     float *dp, float *drow) {
    const int C3 = 3 * C;
    for (int t = 0; t < T; t++) {
        memset(dq + (size_t)t * C3, 0, sizeof(float) * hs);
        memset(dk + (size_t)t * C3, 0, sizeof(float) * hs);
        memset(dv + (size_t)t * C3, 0, sizeof(float) * hs);
        /* D_t = dout_t . o_t = sum_j P_tj dP_tj, the softmax backward's row term. */
        drow[t] = fm_dot(dout + (size_t)t * C, o + (size_t)t * C, hs);
    }
    for (int kj0 = 0; kj0 < T; kj0 += TILE) {
        int kn = T - kj0 < TILE ? T - kj0 : TILE;
        const float *kt = k + (size_t)kj0 * C3, *vt = v + (size_t)kj0 * C3;
        float *dkt = dk + (size_t)kj0 * C3, *dvt = dv + (size_t)kj0 * C3;
        /* Only query tiles at or after this key tile see it. */
        for (int i0 = kj0; i0 < T; i0 += TILE) {
            int rn = T - i0 < TILE ? T - i0 : TILE;
            const float *qt = q + (size_t)i0 * C3, *dot = dout + (size_t)i0 * C;
            float *dqt = dq + (size_t)i0 * C3;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hs, scale, qt, C3, kt, C3, 0.0f, p, TILE);
            for (int r = 0; r < rn; r++) {
                float *pr = p + (size_t)r * TILE;
                int nv = i0 + r - kj0 + 1 < kn ? i0 + r - kj0 + 1 : kn;
                float l = lse[i0 + r];
                for (int c = 0; c < nv; c++) pr[c] = fm_expf(pr[c] - l);
                for (int c = nv; c < kn; c++) pr[c] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hs, rn, 1.0f, p, TILE, dot, C, 1.0f, dvt, C3);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hs, 1.0f, dot, C, vt, C3, 0.0f, dp, TILE);
            for (int r = 0; r < rn; r++) {
                float *pr = p + (size_t)r * TILE, *dpr = dp + (size_t)r * TILE;
                float d = drow[i0 + r];
                for (int c = 0; c < kn; c++) dpr[c] = pr[c] * (dpr[c] - d) * scale;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hs, kn, 1.0f, dp, TILE, kt, C3, 1.0f, dqt, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hs, rn, 1.0f, dp, TILE, qt, C3, 1.0f, dkt, C3);
        }
    }
}

int attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, int B,
                       int T, int C, int NH, void *ws, size_t ws_bytes, Error *e) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    int nth = ws_threads(T, ws_bytes);
    if (nth < 1) return error_set(e, RP_EINTERNAL, "attention_backward: workspace of %zu bytes is too small", ws_bytes);
    int blas_threads = kernels_blas_single_begin();
#pragma omp parallel num_threads(nth)
    {
        float *s = (float *)ws + thread_floats(T) * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            size_t qoff = (size_t)b * T * C3 + h * hs, ooff = (size_t)b * T * C + h * hs;
            bwd_head(dqkv + qoff, dqkv + qoff + C, dqkv + qoff + 2 * C, qkv + qoff, qkv + qoff + C,
                     qkv + qoff + 2 * C, out + ooff, dout + ooff, lse + (size_t)bh * T, T, hs, C, scale, s,
                     s + TILE * TILE, s + 2 * TILE * TILE);
        }
    }
    kernels_blas_single_end(blas_threads);
    return RP_OK;
}
