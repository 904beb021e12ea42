/* `restpg data ...`: the dataset command group and `restpg data info`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "data/dataset.h"
#include "launch/commands.h"
#include "launch/cmd_data.h"

static const Command DATA_COMMANDS[] = {
    {"info", cmd_data_info, "counts per split, users, mean lengths of input/output/profile"},
    {"import", cmd_data_import, "import a LongLaMP split (JSON Lines or GitHub questions/outputs)"},
    {"synth", cmd_data_synth, "generate the synthetic personalized task (users with latent traits)"},
    {"debian", cmd_data_debian, "build the Debian-maintainer benchmark from apt's Packages/Translation-en lists"},
    {"prompt", cmd_data_prompt, "show the prompt and target built for one example (retrieval, template, tokens)"},
    {NULL, NULL, NULL},
};

int cmd_data(int argc, char **argv, Error *e) { return command_dispatch("data", DATA_COMMANDS, argc, argv, e); }

static size_t words(const char *s) {
    size_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

int cmd_data_info(int argc, char **argv, Error *e) {
    const char *path = NULL;
    int json = 0;
    ArgSpec specs[] = {
        {"FILE.h5", ARG_STR, &path, "dataset file", 1, 0},
        {"--json", ARG_FLAG, &json, "print one JSON object instead of a table", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("data info", "Prints a dataset's task, counts per split, users, and mean lengths (words).",
                        specs, argc, argv, e);
    if (rc) return rc;
    Dataset d;
    if ((rc = dataset_read(path, &d, e))) return rc;
    const char *splits[3] = {"train", "val", "test"};
    int64_t count[3] = {0}, users[3] = {0}, with_reason = 0;
    double in_w = 0, out_w = 0, items = 0, item_w = 0;
    StrMap seen[3];
    for (int s = 0; s < 3; s++)
        if ((rc = strmap_init(&seen[s], 1024, e))) return rc;
    for (int64_t i = 0; i < d.n && !rc; i++) {
        int s = !strcmp(d.split[i], "train") ? 0 : !strcmp(d.split[i], "val") ? 1 : 2;
        count[s]++;
        int64_t dummy;
        if (!strmap_get(&seen[s], d.user[i], strlen(d.user[i]), &dummy)) {
            users[s]++;
            rc = strmap_put(&seen[s], d.user[i], strlen(d.user[i]), 1, e);
        }
        in_w += (double)words(d.input[i]);
        out_w += (double)words(d.output[i]);
        with_reason += d.reasoning[i][0] != '\0';
        int64_t ni = dataset_n_items(&d, i);
        items += (double)ni;
        for (int64_t j = 0; j < ni; j++)
            for (int f = 0; f < d.n_fields; f++) item_w += (double)words(dataset_item(&d, i, j)[f]);
    }
    double n = d.n ? (double)d.n : 1.0;
    if (!rc && json) {
        printf("{\"file\": \"%s\", \"task\": \"%s\", \"examples\": %lld, ", path, d.task->name, (long long)d.n);
        for (int s = 0; s < 3; s++)
            printf("\"%s\": {\"examples\": %lld, \"users\": %lld}, ", splits[s], (long long)count[s], (long long)users[s]);
        printf("\"with_reasoning\": %lld, \"mean_input_words\": %.2f, \"mean_output_words\": %.2f, "
               "\"mean_profile_items\": %.2f, \"mean_item_words\": %.2f}\n",
               (long long)with_reason, in_w / n, out_w / n, items / n, items ? item_w / items : 0.0);
    } else if (!rc) {
        printf("dataset   %s\ntask      %s\n", path, d.task->name);
        printf("%-8s %10s %8s\n", "split", "examples", "users");
        for (int s = 0; s < 3; s++) printf("%-8s %10lld %8lld\n", splits[s], (long long)count[s], (long long)users[s]);
        printf("mean words: input %.1f, output %.1f; profile items per example %.1f (%.1f words each)\n", in_w / n,
               out_w / n, items / n, items ? item_w / items : 0.0);
        printf("examples with a reasoning text: %lld\n", (long long)with_reason);
    }
    for (int s = 0; s < 3; s++) strmap_free(&seen[s]);
    dataset_free(&d);
    return rc;
}
