/* KV-cached inference for any architecture of model/model.h (docs/sampler.md): prefill a prompt once, then decode many
 * candidates that share it. The work is the selected backend's decoder (kernels/backend.h's
 * decoder_* ops; the CPU one and its layouts are kernels/cpu/decoder.h).
 *
 * A plan fixes the memory once: n_prefixes prompt caches of up to max_prompt positions and
 * max_rows candidate slots, each with its own suffix cache of up to max_new positions. A slot is
 * attached to a prompt cache and reads it in place, so N candidates of one prompt cost one
 * prefill and one copy of the prompt's keys and values.
 *
 * One decode step feeds one token to each of n slots (slots of several prompts may be mixed) and
 * runs every linear layer as one matrix product over the n rows; the attention of the rows that
 * share a prompt reads that prompt's keys as a matrix product too, then each row's own suffix.
 * Only the new position's logits are computed.
 *
 * Results are batch-invariant: a slot's logits do not depend on which other slots share its
 * step, on their order, or on the thread count. They match model_forward over the whole sequence
 * up to float rounding (the products are summed in another order). */
#ifndef RESTPG_MODEL_INFER_H
#define RESTPG_MODEL_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/model.h"

/* max_rows, n_prefixes, max_prompt, max_new (kernels/backend.h). */
typedef DecodePlan InferPlan;

typedef struct {
    const Model *m;
    InferPlan plan;
    void *dec; /* the backend's decoder */
} Infer;

/* Bytes infer_init allocates for a plan on the selected backend (caches, activations, scratch
 * for `threads`, and whatever copy of the weights the backend's decoder keeps). */
size_t infer_bytes(const ModelConfig *c, const InferPlan *p, int threads);

/* Plans the memory for m (which must outlive s; the decoder may copy its parameters at init, so
 * change them only before infer_init). Every count must be >= 1 and max_prompt + max_new <=
 * n_positions. */
int infer_init(Infer *s, const Model *m, const InferPlan *p, Error *e);
/* Safe on a zeroed or failed-to-init s. */
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

/* Whether the backend chooses tokens on the device (BackendOps decoder_decode_sample). */
int infer_can_sample(const Infer *s);

/* One decode step as infer_decode, then row r's next token chosen by the backend as
 * sampler/sampling.h's sampling_choose(logits of row r, vocab_size, sp, u[r]) would: next[r],
 * -1 where it refuses the row, and logprob[r], the token's log-probability under the raw logits.
 * Only the n tokens and log-probabilities reach the host. RP_EINTERNAL if !infer_can_sample. */
int infer_decode_sample(Infer *s, int n, const int *slots, const int32_t *tokens, const SampleSpec *sp,
                        const double *u, int32_t *next, double *logprob, Error *e);

#endif
