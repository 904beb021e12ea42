/* Softmax cross-entropy over the real vocabulary, fused with the loss mask; the backward turns
 * the logits buffer into its own gradient so no second [N, Vp] buffer exists. The chunked pair
 * does the same over one chunk of vocabulary columns at a time (train.vocab_chunk), so only
 * [N, chunk] logits exist. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

/* sum_j e^(x_j - max) over n entries, with the max in *mx; the sum of up to ~1e5 terms is kept
 * in double lanes so the loss does not drift with the vocabulary size. */
static double row_sumexp(const float *x, int n, float *mx) {
    float m = fm_max(x, n);
    double acc[FM_LANES] = {0};
    float tmp[FM_LANES];
    int i = 0;
    for (; i + FM_LANES <= n; i += FM_LANES) {
        for (int l = 0; l < FM_LANES; l++) tmp[l] = fm_expf(x[i + l] - m);
        for (int l = 0; l < FM_LANES; l++) acc[l] += tmp[l];
    }
    double s = 0.0;
    for (int l = 0; l < FM_LANES; l++) s += acc[l];
    for (; i < n; i++) s += fm_expf(x[i] - m);
    *mx = m;
    return s;
}

/* log sum_j e^(x_j) over n entries, max-subtracted. */
static float row_logsumexp(const float *x, int n) {
    float m;
    double s = row_sumexp(x, n, &m);
    return m + (float)log(s);
}

void crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets, const float *mask,
                          int N, int V, int Vp) {
#pragma omp parallel for schedule(static) if ((size_t)N * V > 65536)
    for (int i = 0; i < N; i++) {
        const float *row = logits + (size_t)i * Vp;
        lse[i] = row_logsumexp(row, V);
        losses[i] = (!mask || mask[i] != 0.0f) ? lse[i] - row[targets[i]] : 0.0f;
    }
}

void crossentropy_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N, int V,
                           int Vp) {
#pragma omp parallel for schedule(static) if ((size_t)N * V > 65536)
    for (int i = 0; i < N; i++) {
        float *row = logits + (size_t)i * Vp;
        float dl = dloss[i];
        if (dl == 0.0f) {
            memset(row, 0, sizeof(float) * Vp);
            continue;
        }
        float l = lse[i];
        for (int j = 0; j < V; j++) row[j] = fm_expf(row[j] - l) * dl;
        row[targets[i]] -= dl;
        memset(row + V, 0, sizeof(float) * (Vp - V));
    }
}

void crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c, const int32_t *targets,
                                const float *mask, int N, int V, int j0, int n) {
    float *run_m = stats, *run_s = stats + N, *tlogit = stats + 2 * (size_t)N;
#pragma omp parallel for schedule(static) if ((size_t)N * n > 65536)
    for (int i = 0; i < N; i++) {
        const float *row = logits_c + (size_t)i * n;
        float mc;
        double sc = row_sumexp(row, n, &mc);
        if (j0 > 0) {
            /* Both sides rescaled to the larger max, in double; the running sum is kept in float. */
            float mo = run_m[i], mx = mo > mc ? mo : mc;
            sc = (double)run_s[i] * exp((double)mo - mx) + sc * exp((double)mc - mx);
            mc = mx;
        }
        run_m[i] = mc;
        run_s[i] = (float)sc;
        int t = targets[i] - j0;
        if (t >= 0 && t < n) tlogit[i] = row[t];
        if (j0 + n == V) {
            lse[i] = mc + (float)log((double)run_s[i]);
            losses[i] = (!mask || mask[i] != 0.0f) ? lse[i] - tlogit[i] : 0.0f;
        }
    }
}

void crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets, const float *dloss, int N,
                                 int j0, int n) {
#pragma omp parallel for schedule(static) if ((size_t)N * n > 65536)
    for (int i = 0; i < N; i++) {
        float *row = logits_c + (size_t)i * n;
        float dl = dloss[i];
        if (dl == 0.0f) {
            memset(row, 0, sizeof(float) * n);
            continue;
        }
        float l = lse[i];
        for (int j = 0; j < n; j++) row[j] = fm_expf(row[j] - l) * dl;
        int t = targets[i] - j0;
        if (t >= 0 && t < n) row[t] -= dl;
    }
}
