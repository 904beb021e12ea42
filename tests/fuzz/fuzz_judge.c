/* Fuzz target: what a judge program sends back (reward/judge.c over core/jsonl_worker.c). The
 * judge's answer check is internal to judge.c (call_answer), so this file includes judge.c itself
 * to reach it without starting a process per input; judge.c's public functions are then defined
 * here and the reward library's copy is never linked in. The input is split into lines, each taken
 * by jsonl_worker_take against a batch of three ids as the worker's exchange does; the whole input
 * is also parsed as a judge command line (judge_argv_parse), the other text a user hands the judge. */
#include "reward/judge.c"

#include <stdlib.h>

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    Error e;
    char **argv = NULL;
    if (!judge_argv_parse(text, &argv, &e)) judge_argv_free(argv);
    JudgeItem items[3] = {{.id = "a"}, {.id = "b"}, {.id = "c\xc3\xa9"}};
    double rewards[3] = {0};
    uint8_t done[3] = {0};
    JudgeCall call = {items, rewards};
    JsonlJob job = {&call, call_id, call_request, call_answer};
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (line[0] && jsonl_worker_take("judge", &job, 0, 3, line, done, &e)) break;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return 0;
}
