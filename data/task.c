/* The task table (see task.h). */
#include "data/task.h"

#include <string.h>

static const TaskInfo TASKS[] = {
    {"abstract_generation", 2, {"title", "abstract"}, 1},
    {"product_review", 4, {"overall", "summary", "description", "reviewText"}, 3},
    {"topic_writing", 2, {"summary", "content"}, 1},
    {"email_completion", 2, {"title", "text"}, 1},
    /* Debian-maintainer benchmark (data/debian.c): a package's long description from its name,
     * section and short description. */
    {"package_description", 3, {"package", "summary", "description"}, 2},
    /* Synthetic users with latent traits (data/synth.c). */
    {"synthetic", 2, {"title", "text"}, 1},
};

const TaskInfo *task_find(const char *name) {
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (!strcmp(TASKS[i].name, name)) return &TASKS[i];
    return NULL;
}

int task_field_index(const TaskInfo *t, const char *field) {
    for (int i = 0; i < t->n_fields; i++)
        if (!strcmp(t->fields[i], field)) return i;
    return -1;
}

const char *task_names(void) {
    return "abstract_generation, product_review, topic_writing, email_completion, package_description, synthetic";
}
