/* Fuzz target: what a judge program sends back (reward/judge.c). The reply parser is internal to
 * judge.c (take_response), so this file includes judge.c itself to reach it without starting a
 * process per input; judge.c's public functions are then defined here and the reward library's
 * copy is never linked in. The input is split into lines, each answered against a batch of three
 * ids as exchange() does; the whole input is also parsed as a judge command line
 * (judge_argv_parse), the other text a user hands the judge. */
#include "reward/judge.c"

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
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (line[0] && take_response(line, items, 3, rewards, done, &e)) break;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return 0;
}
