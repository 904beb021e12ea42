/* The texts `restpg score` compares: (id, text) records read from either file shape LongLaMP
 * work uses, detected from the content:
 *   - JSON Lines, one {"id": ..., "text": ...} object per line (blank lines ignored);
 *   - LongLaMP's outputs/predictions file, one object {"task": ..., "golds": [{"id", "output"}]}.
 * Ids may be strings or integers (kept as their decimal text). */
#ifndef RESTPG_REWARD_TEXTSET_H
#define RESTPG_REWARD_TEXTSET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

typedef struct {
    size_t n;
    char **id;
    char **text;   /* valid UTF-8 */
    char **where;  /* "line 7" or "golds[6]": how error messages name a record */
    StrMap index;  /* id -> record */
    char *path;
    const char *shape; /* "jsonl" or "golds" */
} TextSet;

/* Reads path into t. Bad input (unreadable file, a line that is not a JSON object, a missing or
 * non-string field, invalid UTF-8, a duplicate id, no records) is RP_EINPUT naming the file, the
 * record and the field. t needs textset_free only after RP_OK. */
int textset_read(const char *path, TextSet *t, Error *e);
/* Releases the records and the index. */
void textset_free(TextSet *t);

/* Index of the record with this id, or -1. */
int64_t textset_find(const TextSet *t, const char *id);

#endif
