/* The LLM teacher (stage 1 of REST-PG with an external model, docs/reward.md "The LLM teacher"): the
 * request each training example becomes, the reasoning-generation prompt in it, the checks on an
 * answer, and a teacher program spoken to over core/jsonl_worker.h.
 *
 * A request is one JSON object {"id", "input", "output", "profile": [...], "prompt"}: the
 * example's id, task input and expected output, the texts of the profile items the policy prompt
 * retrieves for it (data/prompt_templates.h: same BM25 ranking and k, each item as the text BM25
 * indexes), and the full prompt for the teacher model (TEACHER_PROMPT_* below). The answer is
 * {"id", "reasoning"}. `restpg reason --export` writes requests to a file; `--teacher cmd:...`
 * sends them to a program. */
#ifndef RESTPG_DATA_TEACHER_LLM_H
#define RESTPG_DATA_TEACHER_LLM_H

#include <stdint.h>

#include "core/error.h"
#include "core/jsonl_worker.h"
#include "core/text.h"
#include "data/dataset.h"

/* Appends the teacher prompt: the instructions, then the sections "## profile:" (the items joined
 * with " | "), "## subject:" (input), "## expected output:" (output) and "## Your output:", each
 * heading on its own line with its text on the next; the full text is in docs/reward.md. */
int teacher_prompt_render(const char *input, const char *output, const char *const *items, int64_t n_items,
                          StrBuf *out, Error *e);

/* Appends example i's request as one JSON object without a newline; k = profile items retrieved. */
int teacher_request_json(const Dataset *d, int64_t i, int k, StrBuf *out, Error *e);

/* Checks a teacher's reasoning for the example with this id and expected output: not empty once
 * surrounding whitespace is removed, and sharing no run of more than TEACHER_MAX_COPY consecutive
 * words with the output (teacher_longest_shared_run). RP_EINPUT naming the id and the fault. */
int teacher_answer_check(const char *id, const char *reasoning, const char *output, Error *e);

/* Sends the requests of examples[0..n) (indices into d) to the started teacher program w and sets
 * each example's reasoning to its checked answer, surrounding whitespace removed. On failure some
 * examples may already hold new texts: the caller must not write d. */
int teacher_cmd_run(JsonlWorker *w, Dataset *d, const int64_t *examples, int64_t n, int k, Error *e);

#endif
