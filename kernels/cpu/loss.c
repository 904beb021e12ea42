/* Softmax cross-entropy over the real vocabulary, fused with the loss mask; the backward turns
 * the logits buffer into its own gradient so no second [N, Vp] buffer exists. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

/* log sum_j e^(x_j) over n entries, max-subtracted; the sum of up to ~1e5 terms is kept in
 * double lanes so the loss does not drift with the vocabulary size. */
static float row_logsumexp(const float *x, int n) {
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
