/* GPT-2 model: configuration, the parameter table with named views, and the training
 * forward/backward and AdamW step, run through the selected backend's ops (kernels/backend.h).
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
#include "kernels/backend.h"
#include "model/params.h"

#define GPT_N_TENSORS 16

typedef struct {
    int vocab_size;        /* V: real tokens */
    int padded_vocab_size; /* Vp: V rounded up to a multiple of 128 */
    int n_layer, n_head, n_embd, n_positions;
} GPTConfig;

/* Fills padded_vocab_size and checks the config (n_embd % n_head == 0, all positive). */
int gpt_config_check(GPTConfig *c, Error *e);

/* What the model knows of tensor k, defined once for initialisation, weight decay and the
 * checkpoint names: llm.c's name, the GPT2Tensors field, whether AdamW decays it, how GPT-2
 * initialises it, and its Hugging Face name (per-layer tensors: "transformer.h.%d." + hf) with
 * whether HF stores it transposed (Conv1D [in, out]). */
typedef enum { GPT_INIT_ZERO, GPT_INIT_ONE, GPT_INIT_NORMAL, GPT_INIT_NORMAL_RESID } GPTInit;
typedef struct {
    const char *name;
    size_t field; /* offsetof(GPT2Tensors, ...) */
    int decays, layered;
    GPTInit init;
    const char *hf;
    int hf_transposed;
} GPTTensorInfo;

/* The model owns its memory through the selected backend (kernels/backend.h): parameters,
 * gradients, AdamW moments (model/params.h's store; moments NULL until params_opt_reset or a load)
 * and activations are device buffers that only model/ and the backend touch; callers move data
 * through the store's download/upload calls. params, grads, opt_m and opt_v are named views
 * (GPT2Tensors) into the store's buffers. */
typedef struct {
    GPTConfig cfg;
    ParamStore store;
    GPT2Tensors params, grads, opt_m, opt_v;
    /* Activations: planned for (B, T) by gpt_plan; opaque to callers. */
    struct GPTActs *acts;
    int B, T;
    int recompute; /* the activation mode the next gpt_plan allocates (gpt_set_recompute) */
    int vocab_chunk; /* vocabulary columns per loss chunk the next gpt_plan allocates for (0: whole) */
    float mean_loss; /* of the last forward with targets */
} GPT;

/* Tensor k's description (llm.c's order), NULL if k is out of range. AdamW decays the
 * embeddings and the four per-layer weight matrices, as llm.c does, not biases or norms. */
const GPTTensorInfo *gpt_tensor_info(int k);
/* Name of tensor `k` for layer `l` in Hugging Face's GPT-2 state dict (e.g.
 * "transformer.h.3.attn.c_attn.weight"), and whether HF stores it transposed (Conv1D). */
void gpt_tensor_hf_name(int k, int l, char *buf, size_t n, int *transposed);

/* Allocates the parameters (zeroed) for a config on the selected backend; gradients come with the
 * first backward (model/params.h). */
int gpt_init(GPT *m, const GPTConfig *cfg, Error *e);
void gpt_free(GPT *m);
/* GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), biases 0,
 * LayerNorm weights 1; padding rows zero. Deterministic for a seed. */
int gpt_init_random(GPT *m, uint64_t seed, Error *e);
/* Activation checkpointing per layer, off by default: on, the forward keeps of each layer only
 * its output (the next layer's input, [B*T, C]) and all layers share one set of the other
 * buffers; the backward re-runs each layer's forward from its input before its backward (all but
 * the top layer, and only as far as the backward reads: about 2/3 of a layer forward's matmuls
 * each). Every result (loss, token losses, logits, gradients) is bitwise the same as off. Takes
 * effect at the next gpt_plan, which reallocates when the mode changed. */
void gpt_set_recompute(GPT *m, int on);
/* The LM head's loss chunked over the vocabulary (model/vocab_chunk.h), off (0) by default: cols
 * > 0 is rounded up to a multiple of 128 and the training forward and backward hold [B*T, cols]
 * logits at a time instead of [B*T, Vp] (a chunk covering the whole vocabulary is the whole
 * path); the losses and gradients agree with the whole path to float rounding. Without whole
 * logits, a forward without targets computes no logits and gpt_logits_download refuses. Takes
 * effect at the next gpt_plan, which reallocates when it changed. */
void gpt_set_vocab_chunk(GPT *m, int cols);
/* Plans (allocates) activations for batches of up to B sequences of up to T tokens, in the mode
 * of gpt_set_recompute. A plan of the same B, T and mode keeps the buffers it has. */
int gpt_plan(GPT *m, int B, int T, Error *e);
/* Bytes of activation memory gpt_plan would allocate for (B, T) with recomputation on (1) or off
 * (0) and the loss chunked by vocab_chunk (gpt_set_vocab_chunk's cols; 0: whole) (padded_vocab_size
 * need not be filled in yet). */
size_t gpt_activation_bytes(const GPTConfig *c, int B, int T, int recompute, int vocab_chunk);

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
/* Zeroing the gradients, the AdamW moments and the AdamW step (clipping folded in) are the
 * store's: params_zero_grad(&m->store), params_opt_reset, params_adamw (model/params.h). */

/* Host copy of the logits of the last forward, rows [row0, row0 + n) of [B*T, Vp] (valid until
 * the next gpt_backward, which turns that buffer into dlogits). Padding columns are 0. RP_EINPUT
 * when the plan chunks the loss over the vocabulary (no whole logits exist). */
int gpt_logits_download(const GPT *m, int row0, int n, float *host, Error *e);
/* Per-position cross-entropy of the last forward with targets, [B, T] (a host copy the forward
 * keeps for the loss); 0 where the mask is 0. */
const float *gpt_token_losses(const GPT *m);

/* Model FLOPs per token of a training step, for MFU reports: 6 * params + 12 * L * C * T
 * (nanoGPT/PaLM's count: params without wpe and with the real vocabulary V; attention counted as
 * full, not causal, T x T). */
double gpt_flops_per_token(const GPTConfig *c, int T);

#endif
