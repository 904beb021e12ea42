/* The token side of a causal language model's activations, the same for every architecture
 * (model/gpt.c, model/llama.c): the batch checked and staged on the host then uploaded, the loss
 * weights, the per-token losses read back for the weighted mean, and dloss for the backward. The
 * architecture carves the device mask and dloss buffers out of its own activation memory and
 * points this struct at them; the token ids and host mirrors are allocated here. */
#ifndef RESTPG_MODEL_TOKENS_H
#define RESTPG_MODEL_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"

typedef struct {
    size_t cap;                          /* rows planned (B * T) */
    int32_t *inputs, *targets;           /* device [cap] (allocated by tokens_alloc) */
    float *mask, *dloss;                 /* device [cap] (the architecture's activation memory) */
    float *h_mask, *h_dloss, *h_losses;  /* host mirrors [cap] */
    int32_t *h_inputs, *h_targets;       /* host staging [cap] */
    double weight_sum;                   /* sum of the mask over the staged rows */
} TokenBatch;

int tokens_alloc(TokenBatch *b, const Backend *be, size_t cap, Error *e);
void tokens_free(TokenBatch *b, const Backend *be);

/* Checks B*T rows (ids in [0, V); weights finite and >= 0; targets in range where the weight is
 * non-zero, else stored as 0 so no kernel indexes with a placeholder) and uploads them. Errors
 * are RP_EINPUT naming `who` (e.g. "gpt_forward"), the field and [b][t]. */
int tokens_stage(TokenBatch *b, const Backend *be, const int32_t *inputs, const int32_t *targets, const float *mask,
                 int B, int T, int V, const char *who, Error *e);
/* Reads back the per-token losses of N rows and returns their mask-weighted mean (0 when no
 * weight is positive), summed in row order in double. */
int tokens_mean_loss(TokenBatch *b, const Backend *be, const float *losses, int N, float *mean, Error *e);
/* dloss[i] = loss_scale * mask[i] / weight_sum for N rows, uploaded for the backward. */
int tokens_dloss(TokenBatch *b, const Backend *be, float loss_scale, int N, Error *e);

#endif
