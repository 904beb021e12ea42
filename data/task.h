/* The task table: which tasks restpg knows and the profile fields each stores.
 *
 * Field names are canonical per task (LongLaMP's own keys where LongLaMP has the task); importers
 * map the variants seen in the wild onto them (topic_writing's input/output -> summary/content).
 * Retrieval and prompt rendering per task live in data/prompt.c and data/bm25.c. */
#ifndef RESTPG_DATA_TASK_H
#define RESTPG_DATA_TASK_H

#define TASK_MAX_FIELDS 4

typedef struct {
    const char *name;
    int n_fields;
    const char *fields[TASK_MAX_FIELDS];
    int body; /* the field holding the item's main text, the counterpart of an output */
} TaskInfo;

/* Returns the task with that name, or NULL. */
const TaskInfo *task_find(const char *name);
/* Index of a field within the task, or -1. */
int task_field_index(const TaskInfo *t, const char *field);
/* A comma-separated list of all task names, for error messages and --help. */
const char *task_names(void);

#endif
