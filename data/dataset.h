/* The in-memory dataset and its HDF5 file (format "restpg-dataset", docs/formats.md).
 *
 * A dataset is one task's examples: id, user, split, input, expected output, a reasoning text
 * (empty until `restpg reason` adds one) and the example's profile items. Profile items are stored
 * CSR-style: example i owns items prof_off[i] .. prof_off[i+1]-1, and item k's field f is
 * items[k * n_fields + f]. All strings are owned by the dataset and valid UTF-8. */
#ifndef RESTPG_DATA_DATASET_H
#define RESTPG_DATA_DATASET_H

#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "data/task.h"

#define DATASET_FORMAT "restpg-dataset"
#define DATASET_VERSION 1

typedef struct {
    const TaskInfo *task;
    int n_fields;
    int64_t n;            /* examples */
    char **id, **user, **split, **input, **output, **reasoning;
    int64_t *prof_off;    /* [n + 1] */
    int64_t n_items;
    char **items;         /* [n_items * n_fields] */
    int64_t cap, item_cap;
    StrMap index;         /* id -> example index */
} Dataset;

/* Starts an empty dataset for a task (RP_EINPUT if the task name is unknown). */
int dataset_init(Dataset *d, const char *task, Error *e);
void dataset_free(Dataset *d);

/* Appends an example (strings are copied). Its profile items follow with dataset_add_item.
 * RP_EINPUT if the id is already present or a string is not valid UTF-8. reasoning may be NULL. */
int dataset_add(Dataset *d, const char *id, const char *user, const char *split, const char *input,
                const char *output, const char *reasoning, Error *e);
/* Appends a profile item to the last example added: values[f] for each task field (copied). */
int dataset_add_item(Dataset *d, const char *const *values, Error *e);

/* Index of the example with this id, or -1. */
int64_t dataset_find(const Dataset *d, const char *id);
/* Replaces example i's reasoning text (copied). */
int dataset_set_reasoning(Dataset *d, int64_t i, const char *reasoning, Error *e);
/* Number of profile items of example i and a pointer to item j's fields. */
static inline int64_t dataset_n_items(const Dataset *d, int64_t i) { return d->prof_off[i + 1] - d->prof_off[i]; }
static inline char **dataset_item(const Dataset *d, int64_t i, int64_t j) {
    return d->items + (d->prof_off[i] + j) * d->n_fields;
}

/* Checks the invariants a finished dataset must hold: at least one example, every example has a
 * non-empty profile, ids unique, split one of train/val/test. Messages name `source`. */
int dataset_validate(const Dataset *d, const char *source, Error *e);

/* Writes atomically (temp file + rename). */
int dataset_write(const Dataset *d, const char *path, Error *e);
/* Reads a dataset file written by dataset_write (or by h5py following docs/formats.md). */
int dataset_read(const char *path, Dataset *d, Error *e);

#endif
