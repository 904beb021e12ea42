/* Fuzz target: LongLaMP import (data/longlamp.c), both shapes. The first byte picks the task
 * (low two bits) and the shape (bit 2: GitHub questions + outputs, split at the first NUL byte;
 * otherwise JSON Lines), so one corpus covers every reader path. A finished dataset is validated
 * as `restpg data import` does. */
#include <string.h>

#include "data/dataset.h"
#include "data/longlamp.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *tasks[4] = {"abstract_generation", "product_review", "topic_writing", "email_completion"};
    if (size < 1) return 0;
    const char *task = tasks[data[0] & 3];
    int github = (data[0] >> 2) & 1;
    data++, size--;
    Dataset d;
    Error e;
    if (dataset_init(&d, task, &e)) return 0;
    int rc;
    if (github) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t nq = nul ? (size_t)(nul - data) : size;
        const char *q = fuzz_file(0, data, nq, ".json");
        const char *o = fuzz_file(1, nul ? nul + 1 : data + size, nul ? size - nq - 1 : 0, ".json");
        rc = longlamp_read_github(&d, q, o, "train", &e);
    } else {
        rc = longlamp_read_jsonl(&d, fuzz_file(0, data, size, ".jsonl"), "val", &e);
    }
    if (!rc) dataset_validate(&d, "fuzz", &e);
    dataset_free(&d);
    return 0;
}
