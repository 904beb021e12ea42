/* The samples file (format "restpg-samples", docs/formats.md): every candidate the sampler wrote
 * for a split, and after `restpg reward` its reward and kept flag.
 *
 * One row per candidate, sorted by (example order in the dataset, candidate index) whatever the
 * number of ranks that produced them, so files from 1 and N ranks are identical. Token ids are
 * stored CSR-style (token_offset[M+1] into tokens[]). */
#ifndef RESTPG_DATA_SAMPLES_H
#define RESTPG_DATA_SAMPLES_H

#include <stdint.h>

#include "core/error.h"

#define SAMPLES_FORMAT "restpg-samples"
#define SAMPLES_VERSION 1

typedef enum { FINISH_EOS = 0, FINISH_LENGTH = 1 } FinishReason;

typedef struct {
    /* Generation settings, stored as root attributes. */
    char *model, *dataset, *split;
    int64_t n_per_input, round, seed, max_new_tokens, top_k, reasoning;
    int64_t max_reasoning_tokens, max_answer_tokens; /* separate budgets; 0 (and absent) = one
                                                      * shared budget of max_new_tokens */
    double temperature, top_p;
    char *dtype; /* the decoder's weight dtype, "fp32" or "bf16" (absent in files before it: "fp32") */

    int64_t m; /* candidates */
    char **example_id;
    int32_t *candidate;
    int64_t *token_offset; /* [m + 1] */
    int32_t *tokens;
    char **reasoning_text, **answer;
    uint8_t *has_separator;
    double *logprob;
    int32_t *length;       /* generated tokens */
    uint8_t *finish;       /* FinishReason */

    /* Present after scoring (has_reward != 0). */
    int has_reward;
    double *reward;
    uint8_t *kept;
    char *reward_spec;
    double tau;
    int64_t keep_k;

    int64_t cap, tok_cap;
} Samples;

void samples_init(Samples *s);
void samples_free(Samples *s);

/* Appends one candidate (strings and tokens copied). */
int samples_add(Samples *s, const char *example_id, int32_t candidate, const int32_t *tokens, int32_t n_tokens,
                const char *reasoning, const char *answer, int has_separator, double logprob, FinishReason finish,
                Error *e);
/* Allocates reward[] and kept[] (zeroed) so a scorer can fill them. */
int samples_alloc_rewards(Samples *s, Error *e);

/* Atomic write (temp file + rename) and read. The reader validates shapes and that
 * (example_id, candidate) pairs are unique. */
int samples_write(const Samples *s, const char *path, Error *e);
int samples_read(const char *path, Samples *s, Error *e);

#endif
