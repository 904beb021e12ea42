/* Sharded candidate generation: the E-step of REST-PG (docs/sampler.md).
 *
 * For every input of a split, N candidates (reasoning + answer, or answer only) are generated with
 * a KV cache: the prompt is prefilled once and shared by the N candidates, and the candidates of
 * one or more inputs decode together, so each decode step is a matrix product.
 *
 * Determinism: candidate c of example x draws its step-s uniform from a counter-based generator
 * keyed by (seed, round, hash of x's id, c, s), so a candidate's tokens never depend on batch
 * composition, thread count or the number of ranks.
 *
 * Distribution: sampler_run is collective over MPI_COMM_WORLD. Inputs are handed out dynamically
 * (outputs differ in length, so static splits idle ranks); rank 0 gathers every candidate and
 * returns them in dataset order then candidate order; other ranks return an empty Samples.
 * With `partial` set, rank 0 saves finished inputs to that file as it goes, and a later call with
 * the same options skips the inputs already there (resume after a kill). */
#ifndef RESTPG_SAMPLER_SAMPLER_H
#define RESTPG_SAMPLER_SAMPLER_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/tokenizer.h"
#include "model/model.h"
#include "data/samples.h"
#include "sampler/sampling.h"

typedef struct {
    const char *split;       /* "train", "val" or "test" */
    int64_t limit;           /* at most this many inputs of the split; 0 = all */
    int limit_random;        /* 0: the first `limit` inputs in dataset order; 1: `limit` inputs drawn
                              * without replacement, keyed by (seed, round, each input's id), so each
                              * round gets a fresh subset that does not depend on dataset order */
    int n;                   /* candidates per input (default 32) */
    SamplingParams sp;       /* default temperature 0.7, top_p 0.9, top_k 0 */
    int max_new_tokens;      /* default 256; one budget shared by reasoning and answer */
    int max_reasoning_tokens, max_answer_tokens; /* separate budgets instead (max_answer_tokens > 0;
                              * with reasoning both are needed): a reasoning that reaches its budget
                              * is closed by the separator sentence and <|answer|>, forced, and the
                              * answer gets its own budget, so methods with and without reasoning
                              * can be given the same answer budget. max_new_tokens is then
                              * their sum with the forced tokens' count (set by the sampler). */
    uint64_t seed;
    int64_t round;           /* EM round, part of the random key */
    PromptOptions prompt;    /* reasoning on/off, k, profile; max_tokens is set from the model */
    int batch;               /* candidates decoded together (default 32) */
    DType weights;           /* model.dtype: the decoder's copy of the weights (default fp32) */
    int threads;             /* OpenMP/BLAS threads per rank */
    const char *partial;     /* progress file for resume, or NULL */
    double save_every;       /* most seconds between saves of `partial` (default 5; 0 = after every
                              * input); saves come sooner while they take under 1/20 of the gap */
    const char *example_id;  /* only this example, whatever its split (restpg generate); NULL = the split */
    const char *model_path, *data_path; /* recorded in the samples file's attributes */
} SamplerOptions;

void sampler_options_default(SamplerOptions *o);

/* Generates the candidates (see above). out must be samples_init'ed; rank 0 receives them with
 * the settings attributes filled in. Options out of range, a split without examples or an
 * unknown example_id are RP_EINPUT; so is a `partial` file made with other settings or for other
 * inputs. Every rank returns the same status. */
int sampler_run(const Model *m, const Tokenizer *t, const Dataset *d, const SamplerOptions *o, Samples *out, Error *e);

/* The prompt sampler_run feeds for dataset example i under o: b->tokens[0..b->n_prompt), within
 * the budget that leaves o->max_new_tokens of the model's positions (for `restpg generate` and
 * tests). */
int sampler_prompt(const Model *m, const Tokenizer *t, const Dataset *d, int64_t i, const SamplerOptions *o, BuiltPrompt *b,
                   Error *e);

#endif
