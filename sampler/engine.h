/* One rank's generator (internal to sampler/): continuous batching of candidates over the KV
 * cache of model/infer.h.
 *
 * Inputs are admitted one at a time (prompt built and prefilled into a free prompt cache); their
 * candidates take free rows as earlier candidates finish, so a decode step mixes candidates of
 * several inputs and no row idles while work remains. An input whose N candidates have all
 * finished is handed to io->emit and its prompt cache is reused. Where inputs come from and where
 * results go is the caller's (sampler/shard.c: local queue, or rank 0 over MPI). */
#ifndef RESTPG_SAMPLER_ENGINE_H
#define RESTPG_SAMPLER_ENGINE_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/tokenizer.h"
#include "model/model.h"
#include "sampler/sampling.h"

/* The candidates of one input: candidate c's tokens are tokens[c * max_new .. + len[c]). */
typedef struct {
    int64_t input; /* position in the run's input list */
    int n, max_new;
    int32_t *len;
    uint8_t *finish; /* FinishReason */
    double *logprob;
    int32_t *tokens;
} InputResult;

int input_result_init(InputResult *r, int n, int max_new, Error *e);
void input_result_free(InputResult *r);

/* What every rank generates with (the same on all ranks). */
typedef struct {
    const Model *m;
    const Tokenizer *t;
    const Dataset *d;
    const int64_t *inputs;   /* dataset index of each input position */
    PromptOptions prompt;    /* max_tokens already set for the model */
    SamplingParams sp;
    int n, max_new, batch;
    DType weights;           /* the decoder's weight copy (model.dtype) */
    int max_prompt;          /* prompt tokens the budget allows */
    /* Separate budgets (max_answer > 0; max_new is then their sum with n_force): a candidate in
     * reasoning mode that has written max_reason reasoning tokens without <|answer|> is given the
     * force[0..n_force) tokens (the separator sentence and <|answer|>) instead of its own choices,
     * and any candidate ends after max_answer answer tokens. Forced tokens add 0 to the
     * log-probability. max_answer = 0: one shared budget of max_new tokens. */
    int max_reason, max_answer;
    const int32_t *force;
    int n_force;
    uint64_t seed;
    int64_t round;
} EngineSpec;


/* Work source and result sink. */
typedef struct {
    /* Up to `want` inputs could be admitted now: sets *got to 1 and *input (a position) for one,
     * 0 if none is available yet, -1 if there will be no more. */
    int (*next)(void *ctx, int want, int *got, int64_t *input, Error *e);
    /* A finished input (the engine frees it afterwards). */
    int (*emit)(void *ctx, const InputResult *r, Error *e);
    /* Called between steps; idle = 1 when the engine has nothing to compute until an input
     * arrives (the callee may block until then). */
    int (*poll)(void *ctx, int idle, Error *e);
    void *ctx;
} EngineIO;

/* Prompt caches the engine plans for: enough for `batch` rows of n-candidate inputs plus one
 * input being admitted while the last candidates of another finish. */
int engine_prefix_slots(int n, int batch);

/* Bytes the engine's KV caches and activations take. */
size_t engine_bytes(const EngineSpec *s);

/* Generates until io->next reports no more inputs and every admitted input is emitted. */
int engine_run(const EngineSpec *s, const EngineIO *io, Error *e);

#endif
