/* GPT-2 model: configuration, the one contiguous parameter buffer with its offset table, and the
 * training forward/backward on CPU kernels (kernels/cpu).
 *
 * Parameter layout (llm.c's order, 16 tensors; L layers, C channels, Vp padded vocabulary):
 *   0 wte [Vp, C]      1 wpe [maxT, C]
 *   2 ln1w [L, C]      3 ln1b [L, C]
 *   4 qkvw [L, 3C, C]  5 qkvb [L, 3C]       (out x in, i.e. PyTorch nn.Linear layout)
 *   6 attprojw [L, C, C]  7 attprojb [L, C]
 *   8 ln2w [L, C]      9 ln2b [L, C]
 *  10 fcw [L, 4C, C]  11 fcb [L, 4C]
 *  12 fcprojw [L, C, 4C] 13 fcprojb [L, C]
 *  14 lnfw [C]        15 lnfb [C]
 * Gradients and optimizer moments use the same layout and offsets, so reduction, sharding and
 * checkpoint I/O are one call over n_params floats. Rows V..Vp-1 of wte are padding: kept at
 * zero, never a softmax target, and excluded from the loss. */
#ifndef RESTPG_MODEL_GPT_H
#define RESTPG_MODEL_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GPT_N_TENSORS 16

typedef struct {
    int vocab_size;        /* V: real tokens */
    int padded_vocab_size; /* Vp: V rounded up to a multiple of 128 */
    int n_layer, n_head, n_embd, n_positions;
} GPTConfig;

/* Fills padded_vocab_size and checks the config (n_embd % n_head == 0, all positive). */
int gpt_config_check(GPTConfig *c, Error *e);

/* Where tensor k lives in the parameter buffer and its shape (up to 3 dims, unused dims 0). */
typedef struct {
    size_t offset, numel;
    int ndim;
    size_t dims[3];
} ParamTensor;

typedef struct {
    GPTConfig cfg;
    ParamTensor tensors[GPT_N_TENSORS];
    size_t n_params;
    float *params;   /* [n_params] */
    float *grads;    /* [n_params], zeroed by gpt_zero_grad; accumulates across backward calls */
    /* Activations: planned for (B, T) by gpt_plan; opaque to callers. */
    struct GPTActs *acts;
    int B, T;
    float mean_loss; /* of the last forward with targets */
} GPT;

/* Name of tensor k in llm.c's order ("wte", "wpe", "ln1w", ...); NULL if k is out of range. */
const char *gpt_tensor_name(int k);
/* 1 if AdamW's weight decay applies to tensor k (the embeddings and the four per-layer weight
 * matrices, as in llm.c), 0 for biases and LayerNorm parameters. */
int gpt_tensor_decays(int k);

/* Allocates params and grads for a config (parameters zeroed). */
int gpt_init(GPT *m, const GPTConfig *cfg, Error *e);
void gpt_free(GPT *m);
/* GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), biases 0,
 * LayerNorm weights 1; padding rows zero. Deterministic for a seed. */
void gpt_init_random(GPT *m, uint64_t seed);
/* Plans (allocates) activations for batches of up to B sequences of up to T tokens. */
int gpt_plan(GPT *m, int B, int T, Error *e);
/* Bytes of activation memory gpt_plan would allocate for (B, T) (padded_vocab_size need not be
 * filled in yet). */
size_t gpt_activation_bytes(const GPTConfig *c, int B, int T);

/* Training forward on inputs[B*T] (token ids). If targets is non-NULL computes the mean
 * cross-entropy over positions whose mask is non-zero (mask NULL = all positions); the result
 * is in m->mean_loss and *loss if non-NULL. Requires gpt_plan with at least this B and T.
 * Mask entries are token weights (normally 0/1): the loss is sum(w_i loss_i) / sum(w_i), and 0
 * when no weight is positive. Targets are only read where the mask is non-zero. Bad token ids,
 * negative or non-finite weights give RP_EINPUT naming the field and [b][t]. */
int gpt_forward(GPT *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T, float *loss,
                Error *e);
/* Backward of the last forward: ADDS d(loss_scale * sum of masked token losses / n_masked)/d(params)
 * into m->grads. loss_scale lets gradient accumulation and data parallelism weight micro-batches. */
int gpt_backward(GPT *m, float loss_scale, Error *e);
void gpt_zero_grad(GPT *m);

/* Logits of the last forward, [B, T, Vp] (valid until the next gpt_forward or gpt_backward: the
 * backward turns this buffer into dlogits in place). Padding columns are 0. */
const float *gpt_logits(const GPT *m);
/* Per-position cross-entropy of the last forward with targets, [B, T]; 0 where the mask is 0. */
const float *gpt_token_losses(const GPT *m);

/* Model FLOPs per token of a training step, for MFU reports: 6 * params + 12 * L * C * T
 * (nanoGPT/PaLM's count: params without wpe and with the real vocabulary V; attention counted as
 * full, not causal, T x T). */
double gpt_flops_per_token(const GPTConfig *c, int T);

#endif
