/* The per-task retrieval and rendering rules behind prompt_build (docs/prompts.md): the BM25 query
 * taken from an input, the corpus string of a profile item, and LongLaMP's RAG rendering of the
 * retrieved items followed by the input. Rules for LongLaMP's four tasks follow LongLaMP's code;
 * package_description and synthetic have rules of our own in the same spirit. */
#ifndef RESTPG_DATA_PROMPT_TEMPLATES_H
#define RESTPG_DATA_PROMPT_TEMPLATES_H

#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "data/dataset.h"
#include "data/task.h"

/* Appends the retrieval query for `input` to out: the text after the first "items:"
 * (abstract_generation) or after the first ":" (email_completion), surrounding whitespace
 * removed; the whole input for the other tasks, and also when the marker is missing. */
int prompt_query(const TaskInfo *task, const char *input, StrBuf *out, Error *e);

/* Appends the text BM25 indexes for a profile item (fields in the task's field order). */
int prompt_corpus_item(const TaskInfo *task, const char *const *fields, StrBuf *out, Error *e);

/* Appends the RAG rendering: one clause per item (items[r] = fields of the item of rank r), the
 * clauses joined with ", and ", the task's suffix, then `input`. With n_items == 0 the rendering
 * is `input` alone (the no-personalization prompt). */
int prompt_render(const TaskInfo *task, const char *input, const char *const *const *items, int n_items,
                  StrBuf *out, Error *e);

/* Ranks example i's profile items with BM25 against the example's query: idx[0..*n_out) gets the
 * best min(k, items) item positions within the example's profile (0-based), best first. */
int prompt_retrieve(const Dataset *d, int64_t i, int k, int64_t *idx, int64_t *n_out, Error *e);

#endif
