/* Choosing the next token from logits: temperature, top-k, top-p (nucleus), greedy.
 *
 * Order of operations (as Hugging Face's generate applies them): logits / temperature ->
 * keep the top_k largest -> softmax over the kept -> keep the smallest prefix (by probability,
 * descending) whose mass reaches top_p -> renormalise -> inverse-CDF draw with u. Ties are
 * ordered by token id so the result is a pure function of (logits, params, u). Temperature 0 is
 * greedy: the argmax, lowest id on ties. Only ids < n_valid are candidates (padded vocabulary
 * rows never are). */
#ifndef RESTPG_SAMPLER_SAMPLING_H
#define RESTPG_SAMPLER_SAMPLING_H

#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"

/* temperature (0 = greedy), top_k (0 = off), top_p (1 = off): the backends' SampleSpec, one
 * definition for the host choice and the device's (kernels/backend.h, decoder_decode_sample). */
typedef SampleSpec SamplingParams;

/* Scratch space for one sampler thread, sized for a vocabulary. */
typedef struct {
    int n;
    float *prob;
    int32_t *idx;
} SamplingWork;

int sampling_work_init(SamplingWork *w, int n_vocab, Error *e);
void sampling_work_free(SamplingWork *w);

/* Returns the chosen token, or -1 when no token has a finite probability (a NaN or +Inf logit, or
 * every logit -Inf: the model is broken, and the caller reports where). u is uniform in [0, 1). If logprob is non-NULL it receives the
 * token's log-probability under the model's own distribution (softmax of the raw logits at
 * temperature 1, before any truncation), which is what a sequence likelihood needs. */
int32_t sampling_choose(const float *logits, int n_valid, const SamplingParams *p, double u, SamplingWork *w,
                        double *logprob);

/* Number of tokens the filters would keep (0 for logits sampling_choose refuses), and their ids in
 * order (best first); for tests and for `restpg generate --explain`. ids needs n_valid slots. */
int sampling_support(const float *logits, int n_valid, const SamplingParams *p, SamplingWork *w, int32_t *ids);

#endif
