/* LongLaMP import: reads the benchmark's two published shapes into a Dataset (docs/data.md).
 *
 *  - JSON Lines exported from the Hugging Face dataset: one object per line with `input`,
 *    `output`, `profile` (list of objects), a user field (abstract_generation `name`,
 *    product_review `reviewerId`, topic_writing `author`, email_completion `user_id` or `user`;
 *    `user_id` is accepted for every task) and an optional `id`;
 *  - the GitHub shape: `*_questions.json` (a JSON list of {id, input, profile[, user_id]}) plus
 *    `*_outputs.json` ({task, golds: [{id, output}]}).
 * Profile keys are mapped onto the task's canonical fields (data/task.c); topic_writing accepts
 * both summary/content and input/output. Every problem is RP_EINPUT with a message naming the
 * file, the line (JSON Lines) or record (JSON lists, 0-based), the id when known, and the field. */
#ifndef RESTPG_DATA_LONGLAMP_H
#define RESTPG_DATA_LONGLAMP_H

#include "core/error.h"
#include "data/dataset.h"

/* Maps a split name onto train/val/test (dev and validation mean val). *canonical points to a
 * static string. RP_EINPUT naming the bad name otherwise. */
int longlamp_split_name(const char *name, const char **canonical, Error *e);

/* Adds every row of a JSON Lines file to d (whose task must be one of the four LongLaMP tasks),
 * all with the given canonical split. A row without `id` gets "<split>-<line number>". The file
 * is read line by line, so lines of any length work and memory holds one line at a time. Blank
 * lines and a leading UTF-8 byte-order mark are skipped. On error d may hold part of the file:
 * callers discard it. */
int longlamp_read_jsonl(Dataset *d, const char *path, const char *split, Error *e);

/* Adds the GitHub shape: every question of `questions` joined by id with its gold in `outputs`.
 * A question without `user_id` (or the task's user field) is its own user: user id = example id.
 * Questions without a gold, golds without a question, duplicate gold ids and an outputs `task`
 * naming a different task are errors; an outputs `task` that names no known task only warns. */
int longlamp_read_github(Dataset *d, const char *questions, const char *outputs, const char *split, Error *e);

/* Picks the shape: with outputs != NULL the GitHub shape, else JSON Lines (a file that starts
 * with '[' without outputs is refused with a hint to pass --outputs). */
int longlamp_import(Dataset *d, const char *input, const char *outputs, const char *split, Error *e);

#endif
