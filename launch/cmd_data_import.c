/* `restpg data import`: LongLaMP (JSON Lines or GitHub questions/outputs) -> a dataset file. */
#include <string.h>

#include "core/args.h"
#include "core/fileio.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/longlamp.h"
#include "launch/cmd_data.h"

int cmd_data_import(int argc, char **argv, Error *e) {
    const char *task = NULL, *input = NULL, *outputs = NULL, *split = "train", *out = NULL;
    int append = 0, force = 0;
    ArgSpec specs[] = {
        {"--task", ARG_STR, &task, "abstract_generation, product_review, topic_writing or email_completion", 1, 0},
        {"--input", ARG_STR, &input, "JSON Lines rows (Hugging Face export) or a GitHub *_questions.json", 1, 0},
        {"--outputs", ARG_STR, &outputs, "the GitHub *_outputs.json that goes with --input", 0, 0},
        {"--split", ARG_STR, &split, "train, val (dev, validation) or test; default train", 0, 0},
        {"--out", ARG_STR, &out, "dataset file to write (HDF5)", 1, 0},
        {"--append", ARG_FLAG, &append, "add to --out if it exists (same task; ids must stay unique)", 0, 0},
        {"--force", ARG_FLAG, &force, "replace an existing --out (without it, an existing dataset is never lost)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("data import",
                        "Imports one LongLaMP split into a restpg dataset file. Both published shapes are read: "
                        "JSON Lines rows exported from Hugging Face, and the GitHub *_questions.json with its "
                        "*_outputs.json. Use --append to collect train/val/test into one file.",
                        specs, argc, argv, e);
    const char *ins[] = {"--input", input, "--outputs", outputs};
    if (rc || (rc = file_check_out("--out", out, 2, ins, e))) return rc;
    if (append && force) return error_set(e, RP_EINPUT, "--append and --force: choose one (add to --out, or replace it)");
    if (!append && !force && path_exists(out))
        return error_set(e, RP_EINPUT, "--out %s: already exists; add --append to add to it or --force to replace it", out);
    const char *canon;
    if ((rc = longlamp_split_name(split, &canon, e))) return error_wrap(e, "--split");
    if (!task_find(task)) return error_set(e, RP_EINPUT, "--task: unknown task '%s' (known: %s)", task, task_names());
    Dataset d;
    int64_t before = 0, items_before = 0;
    if (append && path_exists(out)) {
        if ((rc = dataset_read(out, &d, e))) return error_wrap(e, "--append");
        if (strcmp(d.task->name, task)) {
            rc = error_set(e, RP_EINPUT, "--append: %s holds task %s, not %s", out, d.task->name, task);
            dataset_free(&d);
            return rc;
        }
        before = d.n;
        items_before = d.n_items;
    } else if ((rc = dataset_init(&d, task, e))) {
        return error_wrap(e, "--task");
    }
    if (!(rc = longlamp_import(&d, input, outputs, canon, e)) && !(rc = dataset_validate(&d, input, e)))
        rc = dataset_write(&d, out, e);
    if (!rc)
        log_info("imported %lld %s examples (%lld profile items) from %s into %s (%lld examples in all)",
                 (long long)(d.n - before), canon, (long long)(d.n_items - items_before), input, out, (long long)d.n);
    dataset_free(&d);
    return rc;
}
