/* Gemma 3's attention: causal grouped-query attention with an optional sliding window and a
 * given score scale, flash-style like attention.c (tiles of ATTN_TILE, online softmax, per-row
 * log-sum-exp, no T x T matrix). q/out rows hold NH heads, k/v rows NKV heads; query head h
 * reads kv head h / (NH/NKV).
 *
 * Parallel decomposition (fixed by the shapes, never by the thread count, so results are the
 * same bits for any thread count): the forward's tasks are (sequence, head, query tile). The
 * backward would sum dk/dv over the group's query heads and dq over key tiles from different
 * tasks, so it runs two passes that each own their outputs: dk/dv per (sequence, kv head, key
 * tile), then dq per (sequence, head, query tile); each recomputes its probability tiles from
 * the saved log-sum-exp. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define TILE ATTN_TILE

typedef struct {
    int T, NH, NKV, hd, window;
    float scale;
} Geom;

/* Key columns [*lo, *hi) of the key tile at kj0 (kn keys) that query i sees; empty if hi <= lo. */
static void visible(const Geom *g, int i, int kj0, int kn, int *lo, int *hi) {
    int h = i - kj0 + 1, l = g->window > 0 ? i - g->window + 1 - kj0 : 0;
    *hi = h < kn ? h : kn;
    *lo = l > 0 ? l : 0;
}

/* Start of the first key tile any query from i0 on can see. */
static int first_key_tile(const Geom *g, int i0) {
    int j = g->window > 0 ? i0 - g->window + 1 : 0;
    return j > 0 ? j / TILE * TILE : 0;
}

/* Forward of query rows i0..i0+rn-1 of one head: q, o at row i0 (stride NH*hd), k, v at row 0
 * of the head's kv head (stride NKV*hd), lse at entry i0. */
static void fwd_tile(float *o, float *lse, const float *q, const float *k, const float *v, int i0, int rn,
                     const Geom *g, float *s, float *mrow, float *lrow) {
    const int QS = g->NH * g->hd, KS = g->NKV * g->hd, hd = g->hd, j0 = first_key_tile(g, i0);
    for (int r = 0; r < rn; r++) mrow[r] = -INFINITY, lrow[r] = 0.0f;
    for (int kj0 = j0; kj0 <= i0 + rn - 1; kj0 += TILE) {
        int kn = i0 + rn - kj0 < TILE ? i0 + rn - kj0 : TILE;
        const float *kt = k + (size_t)kj0 * KS, *vt = v + (size_t)kj0 * KS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hd, g->scale, q, QS, kt, KS, 0.0f, s, TILE);
        for (int r = 0; r < rn; r++) {
            float *sr = s + (size_t)r * TILE, *orow = o + (size_t)r * QS;
            int lo, hi;
            visible(g, i0 + r, kj0, kn, &lo, &hi);
            if (hi <= lo) {
                /* Nothing visible here: a zero row leaves o (and m, l) as they are. */
                memset(sr, 0, sizeof(float) * kn);
                continue;
            }
            float mt = fm_max(sr + lo, hi - lo), mnew = mt > mrow[r] ? mt : mrow[r];
            /* fm_expf(-inf) is 0: a row's first visible tile discards its (zero) history. */
            float corr = fm_expf(mrow[r] - mnew);
            lrow[r] = lrow[r] * corr + fm_exp_shift_sum(sr + lo, hi - lo, mnew);
            mrow[r] = mnew;
            if (kj0 != j0)
                for (int d = 0; d < hd; d++) orow[d] *= corr;
            for (int c = 0; c < lo; c++) sr[c] = 0.0f;
            for (int c = hi; c < kn; c++) sr[c] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hd, kn, 1.0f, s, TILE, vt, KS,
                    kj0 == j0 ? 0.0f : 1.0f, o, QS);
    }
    for (int r = 0; r < rn; r++) {
        float inv = 1.0f / lrow[r];
        float *orow = o + (size_t)r * QS;
        for (int d = 0; d < hd; d++) orow[d] *= inv;
        lse[r] = mrow[r] + logf(lrow[r]);
    }
}

/* One thread's scratch in floats (the forward's score tile and row statistics, or the
 * backward's two tiles), rounded to 64 bytes so slices stay aligned; the backward's per-row
 * terms D = dout . out ([B,NH,T]) come first in the workspace. */
static size_t thread_floats(void) { return (2 * TILE * TILE + 2 * TILE + 15) / 16 * 16; }
static size_t drow_floats(int B, int T, int NH) { return ((size_t)B * NH * T + 15) / 16 * 16; }

size_t attention_gqa_workspace(int B, int T, int NH) {
    return (drow_floats(B, T, NH) + thread_floats() * (size_t)kernels_threads()) * sizeof(float);
}

/* Threads the workspace has room for (at most the kernels' count); the tasks do not depend on it. */
static int ws_threads(int B, int T, int NH, size_t ws_bytes) {
    size_t fixed = drow_floats(B, T, NH) * sizeof(float);
    size_t fit = ws_bytes > fixed ? (ws_bytes - fixed) / (thread_floats() * sizeof(float)) : 0;
    int n = kernels_threads();
    return fit < (size_t)n ? (int)fit : n;
}

int attention_gqa_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T, int NH,
                          int NKV, int hd, int window, float scale, void *ws, size_t ws_bytes, Error *e) {
    const Geom g = {T, NH, NKV, hd, window, scale};
    const int ntiles = (T + TILE - 1) / TILE, ntasks = B * NH * ntiles, grp = NH / NKV;
    const size_t QS = (size_t)NH * hd, KS = (size_t)NKV * hd;
    int nth = ws_threads(B, T, NH, ws_bytes);
    if (nth < 1)
        return error_set(e, RP_EINTERNAL, "attention_gqa_forward: workspace of %zu bytes is too small", ws_bytes);
    float *thread_ws = (float *)ws + drow_floats(B, T, NH);
    int blas_threads = kernels_blas_single_begin();
#pragma omp parallel num_threads(nth)
    {
        float *s = thread_ws + thread_floats() * (size_t)omp_get_thread_num();
        /* Later query tiles see more keys: hand them out first so dynamic scheduling balances. */
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < ntasks; task++) {
            int it = ntiles - 1 - task % ntiles, bh = task / ntiles, b = bh / NH, h = bh % NH;
            int i0 = it * TILE, rn = T - i0 < TILE ? T - i0 : TILE;
            size_t qoff = ((size_t)b * T + i0) * QS + (size_t)h * hd;
            size_t koff = (size_t)b * T * KS + (size_t)(h / grp) * hd;
            fwd_tile(out + qoff, lse + (size_t)bh * T + i0, q + qoff, k + koff, v + koff, i0, rn, &g, s,
                     s + TILE * TILE, s + TILE * TILE + TILE);
        }
    }
    kernels_blas_single_end(blas_threads);
    return RP_OK;
}

/* For the query tile at i0 (rn rows of one head: q, dout at row i0, lse and drow at entry i0)
 * and the key tile at kj0 (kn keys: k, v at row kj0): p = softmax probabilities (0 where not
 * visible) and ds = p * (dout.v - D) * scale, the gradient of the scaled scores. */
static void prob_tiles(float *p, float *ds, const float *q, const float *dout, const float *lse, const float *drow,
                       const float *k, const float *v, int i0, int rn, int kj0, int kn, const Geom *g) {
    const int QS = g->NH * g->hd, KS = g->NKV * g->hd, hd = g->hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hd, g->scale, q, QS, k, KS, 0.0f, p, TILE);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, kn, hd, 1.0f, dout, QS, v, KS, 0.0f, ds, TILE);
    for (int r = 0; r < rn; r++) {
        float *pr = p + (size_t)r * TILE, *dr = ds + (size_t)r * TILE;
        int lo, hi;
        visible(g, i0 + r, kj0, kn, &lo, &hi);
        float l = lse[r], d = drow[r];
        for (int c = 0; c < kn; c++) {
            pr[c] = c >= lo && c < hi ? fm_expf(pr[c] - l) : 0.0f;
            dr[c] = pr[c] * (dr[c] - d) * g->scale;
        }
    }
}

int attention_gqa_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV, int hd,
                           int window, float scale, void *ws, size_t ws_bytes, Error *e) {
    const Geom g = {T, NH, NKV, hd, window, scale};
    const int ntiles = (T + TILE - 1) / TILE, grp = NH / NKV;
    const size_t QS = (size_t)NH * hd, KS = (size_t)NKV * hd;
    int nth = ws_threads(B, T, NH, ws_bytes);
    if (nth < 1)
        return error_set(e, RP_EINTERNAL, "attention_gqa_backward: workspace of %zu bytes is too small", ws_bytes);
    float *drow = (float *)ws, *thread_ws = drow + drow_floats(B, T, NH);
    int blas_threads = kernels_blas_single_begin();
#pragma omp parallel num_threads(nth)
    {
        float *p = thread_ws + thread_floats() * (size_t)omp_get_thread_num(), *ds = p + TILE * TILE;
        /* D[b,h,t] = dout . out, the softmax backward's row term. */
#pragma omp for schedule(static)
        for (int bt = 0; bt < B * T; bt++)
            for (int h = 0; h < NH; h++) {
                size_t off = (size_t)bt * QS + (size_t)h * hd;
                drow[((size_t)(bt / T) * NH + h) * T + bt % T] = fm_dot(dout + off, out + off, hd);
            }
        /* Pass 1: dk, dv of one key tile of one kv head; query heads, then query tiles, in order. */
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < B * NKV * ntiles; task++) {
            int jt = task % ntiles, bk = task / ntiles, b = bk / NKV, kvh = bk % NKV;
            int kj0 = jt * TILE, kn = T - kj0 < TILE ? T - kj0 : TILE;
            size_t koff = ((size_t)b * T + kj0) * KS + (size_t)kvh * hd;
            float *dkt = dk + koff, *dvt = dv + koff;
            for (int r = 0; r < kn; r++) {
                memset(dkt + (size_t)r * KS, 0, sizeof(float) * hd);
                memset(dvt + (size_t)r * KS, 0, sizeof(float) * hd);
            }
            int i_end = window > 0 && kj0 + kn - 1 + window - 1 < T - 1 ? kj0 + kn - 1 + window - 1 : T - 1;
            for (int h = kvh * grp; h < (kvh + 1) * grp; h++) {
                const float *lh = lse + ((size_t)b * NH + h) * T, *dh = drow + ((size_t)b * NH + h) * T;
                for (int i0 = kj0; i0 <= i_end; i0 += TILE) {
                    int rn = T - i0 < TILE ? T - i0 : TILE;
                    size_t qoff = ((size_t)b * T + i0) * QS + (size_t)h * hd;
                    prob_tiles(p, ds, q + qoff, dout + qoff, lh + i0, dh + i0, k + koff, v + koff, i0, rn, kj0, kn, &g);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hd, rn, 1.0f, p, TILE, dout + qoff, QS,
                                1.0f, dvt, KS);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hd, rn, 1.0f, ds, TILE, q + qoff, QS,
                                1.0f, dkt, KS);
                }
            }
        }
        /* Pass 2: dq of one query tile of one head, key tiles in order. */
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < B * NH * ntiles; task++) {
            int it = ntiles - 1 - task % ntiles, bh = task / ntiles, b = bh / NH, h = bh % NH;
            int i0 = it * TILE, rn = T - i0 < TILE ? T - i0 : TILE;
            size_t qoff = ((size_t)b * T + i0) * QS + (size_t)h * hd;
            float *dqt = dq + qoff;
            for (int r = 0; r < rn; r++) memset(dqt + (size_t)r * QS, 0, sizeof(float) * hd);
            for (int kj0 = first_key_tile(&g, i0); kj0 <= i0 + rn - 1; kj0 += TILE) {
                int kn = T - kj0 < TILE ? T - kj0 : TILE;
                size_t koff = ((size_t)b * T + kj0) * KS + (size_t)(h / grp) * hd;
                prob_tiles(p, ds, q + qoff, dout + qoff, lse + (size_t)bh * T + i0, drow + (size_t)bh * T + i0,
                           k + koff, v + koff, i0, rn, kj0, kn, &g);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hd, kn, 1.0f, ds, TILE, k + koff, KS, 1.0f,
                            dqt, QS);
            }
        }
    }
    kernels_blas_single_end(blas_threads);
    return RP_OK;
}
