/* KV-cached inference for GPT-2 (docs/sampler.md): prefill a prompt once, then decode many
 * candidates that share it.
 *
 * A plan fixes the memory once: n_prefixes prompt caches (keys transposed [C, P] and values
 * [P, C] per layer, P <= max_prompt) and max_rows candidate slots, each with its own suffix cache
 * of up to max_new positions. A slot is attached to a prompt cache and reads it in place, so N
 * candidates of one prompt cost one prefill and one copy of the prompt's keys and values.
 *
 * One decode step feeds one token to each of n slots (slots of several prompts may be mixed) and
 * runs every linear layer as one matrix product over the n rows; the attention of the rows that
 * share a prompt reads that prompt's keys as a matrix product too, then each row's own suffix.
 * Only the new position's logits are computed.
 *
 * Results are batch-invariant (kernels/cpu/decode.h): a slot's logits do not depend on which
 * other slots share its step, on their order, or on the thread count. They match gpt_forward
 * over the whole sequence up to float rounding (the products are summed in another order). */
#ifndef RESTPG_MODEL_INFER_H
#define RESTPG_MODEL_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/gpt.h"

typedef struct {
    int max_rows;   /* candidate slots (rows of one decode step) */
    int n_prefixes; /* prompt caches held at once */
    int max_prompt; /* tokens of one prompt */
    int max_new;    /* tokens fed to one slot after its prompt */
} InferPlan;

typedef struct {
    const GPT *m;
    InferPlan plan;
    int n_threads;      /* threads the attention tasks may use (scratch is per thread) */
    int ld_scratch;     /* max_prompt + max_new + 1 */
    float *mem;         /* every float buffer below */
    float *pkt, *pv;    /* prompt caches, [L][n_prefixes]: keys [C][max_prompt], values [max_prompt][C] */
    float *sk, *sv;     /* suffix caches: [L][max_rows][max_new * C] each */
    float *x, *ln, *qkv, *att, *fch, *mean, *rstd, *lse, *scratch;
    float *wt;          /* per layer qkv, proj, fc, fcproj weights transposed, then wte transposed */
    int *plen;          /* [n_prefixes] prompt length, 0 = empty */
    int *slen, *sprefix; /* [max_rows] suffix length and attached prompt (-1 = none) */
    int *ns, *mark, *starts; /* per-step scratch: [max_rows], [max_rows], [max_rows + 1] */
    const float **ks, **vs;
} Infer;

/* Bytes infer_init allocates for a plan (caches, activations, scratch for `threads`, and a
 * transposed copy of the weight matrices and token embedding). */
size_t infer_bytes(const GPTConfig *c, const InferPlan *p, int threads);

/* Plans the memory for m (which must outlive s; its parameters are copied at init, so changes
 * to them afterwards are not seen). Every count must be >= 1 and max_prompt + max_new <=
 * n_positions. */
int infer_init(Infer *s, const GPT *m, const InferPlan *p, Error *e);
void infer_free(Infer *s);

/* Fills prompt cache `prefix` with tokens[0..n) (a causal forward) and writes the logits of the
 * last position to logits[Vp]. Slots attached to this cache must not be decoded afterwards
 * until re-attached. Bad token ids or lengths are RP_EINPUT. */
int infer_prefill(Infer *s, int prefix, const int32_t *tokens, int n, float *logits, Error *e);

/* Attaches slot to prompt cache `prefix` with an empty suffix (the next token it is fed sits at
 * position len(prompt)). */
void infer_attach(Infer *s, int slot, int prefix);

/* One decode step: row r feeds tokens[r] to slots[r] (distinct, attached slots), appends its key
 * and value to the slot's suffix and writes the logits of that position to logits[r * Vp].
 * RP_EINPUT for a bad token id, a slot whose suffix is full, or a position past n_positions. */
int infer_decode(Infer *s, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);

#endif
