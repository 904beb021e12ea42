/* `restpg generate`: candidates for one example, printed for a person to read (reasoning,
 * answer, log-probability, finish reason). The same generation as `restpg sample`: with the same
 * seed, round and settings a candidate here equals that candidate in the samples file. */
#include <stdio.h>
#include <string.h>

#include "core/args.h"
#include "data/dataset.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "model/checkpoint.h"
#include "sampler/sampler.h"

typedef struct {
    const char *model, *data, *id, *reasoning;
    long n, top_k, max_new, seed, round, k, batch, threads;
    double temperature, top_p;
    int show_prompt;
} GenArgs;

/* SamplerOptions from the parsed arguments (already within the option table's rules). */
static void gen_options(const GenArgs *a, SamplerOptions *o) {
    sampler_options_default(o);
    o->model_path = a->model;
    o->data_path = a->data;
    o->example_id = a->id;
    o->sp.temperature = a->temperature;
    o->sp.top_p = a->top_p;
    o->n = (int)a->n;
    o->sp.top_k = (int)a->top_k;
    o->max_new_tokens = (int)a->max_new;
    o->batch = (int)a->batch;
    o->threads = (int)a->threads;
    if (a->k >= 0) o->prompt.k = a->k > 100000 ? 100000 : (int)a->k;
    o->seed = (uint64_t)a->seed;
    o->round = a->round;
    o->prompt.reasoning = !strcmp(a->reasoning, "on");
}

static void print_candidates(const Samples *s, const Dataset *d, int64_t idx, int64_t n_prompt) {
    printf("example %s (split %s, user %s): prompt of %lld tokens, %lld candidates\n", d->id[idx], d->split[idx],
           d->user[idx], (long long)n_prompt, (long long)s->m);
    for (int64_t i = 0; i < s->m; i++) {
        printf("\n--- candidate %d: logprob %.3f, %d tokens, finish %s, separator %s\n", s->candidate[i], s->logprob[i],
               s->length[i], s->finish[i] == FINISH_EOS ? "eos" : "length", s->has_separator[i] ? "yes" : "no");
        if (s->reasoning) printf("reasoning: %s\n", s->reasoning_text[i]);
        printf("answer: %s\n", s->answer[i]);
    }
}

int cmd_generate(int argc, char **argv, Error *e) {
    GenArgs a = {.reasoning = "on", .n = 4, .max_new = 256, .k = -1, .batch = 32, .temperature = 0.7, .top_p = 0.9};
    const char *device = "cpu";
    ArgSpec specs[] = {
        {"--model", ARG_STR, &a.model, "checkpoint (.h5)", 1, 0},
        {"--data", ARG_STR, &a.data, "dataset file (restpg-dataset)", 1, 0},
        {"--id", ARG_STR, &a.id, "example id", 1, ARG_NONEMPTY},
        {"--n", ARG_INT, &a.n, "candidates (default 4)", 0, ARG_RANGE(1, 100000)},
        {"--temperature", ARG_DOUBLE, &a.temperature, "softmax temperature, 0 = greedy (default 0.7)", 0, ARG_MIN(0)},
        {"--top-p", ARG_DOUBLE, &a.top_p, "nucleus mass in (0, 1] (default 0.9)", 0, ARG_ABOVE_UPTO(0, 1)},
        {"--top-k", ARG_INT, &a.top_k, "keep the k most likely tokens, 0 = off (default 0)", 0, ARG_RANGE(0, 1 << 30)},
        {"--max-new-tokens", ARG_INT, &a.max_new, "generated tokens per candidate at most (default 256)", 0, ARG_RANGE(1, 1 << 30)},
        {"--seed", ARG_INT, &a.seed, "random seed (default 0)", 0, ARG_MIN(0)},
        {"--round", ARG_INT, &a.round, "EM round, part of the random key (default 0)", 0, ARG_MIN(0)},
        {"--reasoning", ARG_STR, &a.reasoning, "on (default): reasoning + answer; off: answer only", 0, ARG_ONE_OF("on", "off")},
        {"--k", ARG_INT, &a.k, "profile items retrieved into the prompt (default 4)", 0, ARG_RANGE(0, 100000)},
        {"--batch", ARG_INT, &a.batch, "candidates decoded together (default 32)", 0, ARG_RANGE(1, 65536)},
        {"--threads", ARG_INT, &a.threads, "CPU threads (default: OMP_NUM_THREADS or all cores)", 0, ARG_THREADS},
        BACKEND_DEVICE_SPEC(device),
        {"--show-prompt", ARG_FLAG, &a.show_prompt, "print the prompt text first", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("generate",
                        "Generates candidates for one example and prints each one's reasoning, answer, "
                        "log-probability and finish reason (end of text or length limit).",
                        specs, argc, argv, e);
    if (rc || (rc = backend_select(device, e))) return rc;
    SamplerOptions o;
    gen_options(&a, &o);
    Model m;
    Tokenizer *tok = NULL;
    Dataset d;
    if ((rc = checkpoint_load_any(a.model, &m, &tok, NULL, e))) return rc;
    if ((rc = dataset_read(a.data, &d, e))) {
        model_free(&m);
        tokenizer_free(tok);
        return rc;
    }
    Samples s;
    samples_init(&s);
    BuiltPrompt b;
    built_prompt_init(&b);
    int64_t idx = dataset_find(&d, a.id);
    if (idx < 0) rc = error_set(e, RP_EINPUT, "%s: no example with id '%s'", a.data, a.id);
    if (!rc) rc = sampler_prompt(&m, tok, &d, idx, &o, &b, e);
    if (!rc && a.show_prompt) printf("----- prompt -----\n%s\n------------------\n", b.prompt_text.s ? b.prompt_text.s : "");
    if (!rc) rc = sampler_run(&m, tok, &d, &o, &s, e);
    if (!rc) print_candidates(&s, &d, idx, b.n_prompt);
    built_prompt_free(&b);
    samples_free(&s);
    dataset_free(&d);
    model_free(&m);
    tokenizer_free(tok);
    return rc;
}
