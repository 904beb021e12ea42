/* The built-in reasoning teacher (stage 1 of REST-PG, docs/reward.md#teacher).
 *
 * Given a training example's profile items (those the prompt retrieves) and its expected output,
 * writes a short bulleted reasoning text that explains the output from the user's habits: which
 * recurring topics and terms of the user shape it, phrasing the user reuses, the user's typical
 * length and structure, and the tone. It never copies a span of 4 or more consecutive words of
 * the expected output: every bullet is checked against the output's word 4-grams and dropped if
 * it shares one. */
#ifndef RESTPG_DATA_TEACHER_H
#define RESTPG_DATA_TEACHER_H

#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "data/dataset.h"

/* Longest run of consecutive words (lowercased alphanumeric tokens) a reasoning text may share
 * with the expected output. */
#define TEACHER_MAX_COPY 3

/* Writes the reasoning for example i of d from items[0..n_items) (indices into the example's
 * profile) into out (cleared first). */
int teacher_reason(const Dataset *d, int64_t i, const int64_t *items, int64_t n_items, StrBuf *out, Error *e);

/* Length of the longest run of consecutive words shared by a and b (same tokenization as the
 * leak check); used by tests and by `restpg reason` to verify imported reasoning too. */
int64_t teacher_longest_shared_run(const char *a, const char *b, Error *e);

#endif
