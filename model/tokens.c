/* Staging of token batches and the masked mean loss, shared by the architectures (see tokens.h). */
#include "model/tokens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tokens_alloc(TokenBatch *b, const Backend *be, size_t cap, Error *e) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    int rc = be->ops->alloc(cap * sizeof(int32_t), (void **)&b->inputs, e);
    if (!rc) rc = be->ops->alloc(cap * sizeof(int32_t), (void **)&b->targets, e);
    if (!rc && (!(b->h_mask = xcalloc(cap * 3, sizeof(float), e)) || !(b->h_inputs = xcalloc(cap * 2, sizeof(int32_t), e))))
        rc = RP_ENOMEM;
    if (rc) {
        tokens_free(b, be);
        return rc;
    }
    b->h_dloss = b->h_mask + cap;
    b->h_losses = b->h_dloss + cap;
    b->h_targets = b->h_inputs + cap;
    return RP_OK;
}

void tokens_free(TokenBatch *b, const Backend *be) {
    be->ops->free(b->inputs);
    be->ops->free(b->targets);
    free(b->h_mask);
    free(b->h_inputs);
    memset(b, 0, sizeof *b);
}

int tokens_stage(TokenBatch *b, const Backend *be, const int32_t *inputs, const int32_t *targets, const float *mask,
                 int B, int T, int V, const char *who, Error *e) {
    double wsum = 0.0;
    for (int i = 0; i < B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return error_set(e, RP_EINPUT, "%s: field 'inputs' [%d][%d] = %d is not a token id (vocabulary %d)", who,
                             i / T, i % T, inputs[i], V);
        float w = mask ? mask[i] : 1.0f;
        if (!(w >= 0.0f) || isinf(w))
            return error_set(e, RP_EINPUT, "%s: field 'mask' [%d][%d] = %g must be finite and >= 0", who, i / T, i % T,
                             (double)w);
        if (targets && w != 0.0f && (targets[i] < 0 || targets[i] >= V))
            return error_set(e, RP_EINPUT, "%s: field 'targets' [%d][%d] = %d is not a token id (vocabulary %d)", who,
                             i / T, i % T, targets[i], V);
        b->h_inputs[i] = inputs[i];
        b->h_targets[i] = targets && w != 0.0f ? targets[i] : 0;
        b->h_mask[i] = w;
        wsum += w;
    }
    b->weight_sum = wsum;
    size_t n = (size_t)B * T;
    int rc = be->ops->upload(b->inputs, b->h_inputs, n * sizeof(int32_t), e);
    if (!rc) rc = be->ops->upload(b->targets, b->h_targets, n * sizeof(int32_t), e);
    if (!rc) rc = be->ops->upload(b->mask, b->h_mask, n * sizeof(float), e);
    return rc;
}

int tokens_mean_loss(TokenBatch *b, const Backend *be, const float *losses, int N, float *mean, Error *e) {
    int rc = be->ops->download(b->h_losses, losses, (size_t)N * sizeof(float), e);
    if (rc) return rc;
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += (double)b->h_mask[i] * b->h_losses[i];
    *mean = b->weight_sum > 0.0 ? (float)(sum / b->weight_sum) : 0.0f;
    return RP_OK;
}

int tokens_dloss(TokenBatch *b, const Backend *be, float loss_scale, int N, Error *e) {
    for (int i = 0; i < N; i++) b->h_dloss[i] = (float)(loss_scale * b->h_mask[i] / b->weight_sum);
    return be->ops->upload(b->dloss, b->h_dloss, (size_t)N * sizeof(float), e);
}
