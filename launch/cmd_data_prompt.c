/* `restpg data prompt`: shows the prompt and target built for one example, with token counts and
 * how many retrieved items fit the budget, so prompt and truncation choices can be inspected. */
#include <stdio.h>

#include "core/args.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "launch/cmd_data.h"

int cmd_data_prompt(int argc, char **argv, Error *e) {
    const char *path = NULL, *id = NULL, *tok_path = NULL;
    long k = 4, max_tokens = 0;
    int no_reasoning = 0, no_profile = 0;
    ArgSpec specs[] = {
        {"--data", ARG_STR, &path, "dataset file (.h5)", 1, 0},
        {"--id", ARG_STR, &id, "example id", 1, ARG_NONEMPTY},
        {"--k", ARG_INT, &k, "profile items to retrieve (default 4)", 0, ARG_RANGE(0, 100000)},
        {"--tokenizer", ARG_STR, &tok_path, "tokenizer file or GPT-2 directory: adds token counts and the budget", 0, 0},
        {"--no-reasoning", ARG_FLAG, &no_reasoning, "target is the answer alone (baselines)", 0, 0},
        {"--no-profile", ARG_FLAG, &no_profile, "no retrieved items (no-personalization prompt)", 0, 0},
        {"--max-tokens", ARG_INT, &max_tokens, "budget for prompt + target (0 = unlimited; needs --tokenizer)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("data prompt",
                        "Prints the prompt and target built for one example (BM25 retrieval, the task's template, "
                        "REST-PG's reasoning layout), with token counts when a tokenizer is given.",
                        specs, argc, argv, e);
    if (rc) return rc;
    if (k < 0 || k > 100000) return error_set(e, RP_EINPUT, "--k %ld: expected 0..100000", k);
    if (max_tokens < 0 || max_tokens == 1 || max_tokens > 1 << 30)
        return error_set(e, RP_EINPUT, "--max-tokens %ld: expected 0 (unlimited) or 2..%d", max_tokens, 1 << 30);
    if (max_tokens && !tok_path) return error_set(e, RP_EINPUT, "--max-tokens needs --tokenizer (budgets count tokens)");

    Dataset d;
    if ((rc = dataset_read(path, &d, e))) return rc;
    int64_t i = dataset_find(&d, id);
    if (i < 0) {
        dataset_free(&d);
        return error_set(e, RP_EINPUT, "%s: no example with id '%s'", path, id);
    }
    Tokenizer *t = NULL;
    if (tok_path && (rc = tokenizer_load(tok_path, &t, e))) {
        dataset_free(&d);
        return rc;
    }
    PromptOptions o;
    prompt_options_default(&o);
    o.k = (int)k;
    o.reasoning = !no_reasoning;
    o.profile = !no_profile;
    o.max_tokens = (int)max_tokens;
    /* Inspection should work on val/test examples too, which have no reasoning text. */
    o.allow_missing_reasoning = 1;
    BuiltPrompt b;
    built_prompt_init(&b);
    rc = prompt_build(&d, i, t, &o, &b, e);
    if (!rc) {
        const char *marker = o.reasoning ? "<|reasoning|>" : "<|answer|>";
        printf("example   %s (record %lld, split %s, user %s, task %s)\n", id, (long long)i, d.split[i], d.user[i],
               d.task->name);
        printf("items     %d retrieved, %d used (k %ld, profile %lld items)\n", b.items_retrieved, b.items_used, k,
               (long long)dataset_n_items(&d, i));
        if (o.reasoning && !d.reasoning[i][0]) printf("note      the example has no reasoning text: the target's is empty\n");
        if (t)
            printf("tokens    prompt %lld (with %s), target %lld, total %lld%s\n", (long long)b.n_prompt, marker,
                   (long long)(b.tokens.n - b.n_prompt), (long long)b.tokens.n,
                   b.target_truncated ? " (target truncated to fit --max-tokens)" : "");
        printf("----- prompt -----\n%s\n----- target -----\n%s\n", b.prompt_text.s, b.target_text.s);
    }
    built_prompt_free(&b);
    tokenizer_free(t);
    dataset_free(&d);
    return rc;
}
