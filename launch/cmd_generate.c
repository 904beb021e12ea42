/* `restpg generate`, in two modes:
 *  - --data/--id: candidates for one dataset example, printed for a person to read (reasoning,
 *    answer, log-probability, finish reason). The same generation as `restpg sample`: with the
 *    same seed, round and settings a candidate here equals that candidate in the samples file.
 *  - --prompt TEXT: a plain continuation of TEXT (no dataset, no template), e.g. to try an
 *    imported model by hand. The prompt is the tokenizer's BOS (if it wants one) + encode(TEXT);
 *    it is prefilled once into the KV cache and every candidate decodes from that shared cache.
 *    If the backend cannot decode the architecture, each step runs a full forward instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/text.h"
#include "data/dataset.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "model/checkpoint.h"
#include "model/infer.h"
#include "sampler/sampler.h"
#include "sampler/sampling.h"

/* Separates plain-text generation's draws from the sampler's (and any other rng_hash use). */
#define PLAIN_STREAM 0x706c61696e676e31ULL

typedef struct {
    const char *model, *data, *id, *prompt, *reasoning, *dtype;
    long n, top_k, max_new, seed, round, k, batch, threads;
    DType weights; /* parsed from dtype */
    double temperature, top_p;
    int show_prompt, full_forward;
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
    o->weights = a->weights;
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

/* The dataset mode: the sampler's own generation for one example. */
static int generate_example(const GenArgs *a, Model *m, const Tokenizer *tok, Error *e) {
    SamplerOptions o;
    gen_options(a, &o);
    Dataset d;
    int rc = dataset_read(a->data, &d, e);
    if (rc) return rc;
    Samples s;
    samples_init(&s);
    BuiltPrompt b;
    built_prompt_init(&b);
    int64_t idx = dataset_find(&d, a->id);
    if (idx < 0) rc = error_set(e, RP_EINPUT, "%s: no example with id '%s'", a->data, a->id);
    if (!rc) rc = sampler_prompt(m, tok, &d, idx, &o, &b, e);
    if (!rc && a->show_prompt) printf("----- prompt -----\n%s\n------------------\n", b.prompt_text.s ? b.prompt_text.s : "");
    if (!rc) rc = sampler_run(m, tok, &d, &o, &s, e);
    if (!rc) print_candidates(&s, &d, idx, b.n_prompt);
    built_prompt_free(&b);
    samples_free(&s);
    dataset_free(&d);
    return rc;
}

/* Plain-text generation: n candidates of at most max_new tokens after one prompt. Candidate c's
 * tokens are out[c * max_new .. + len[c]); a final end-of-text token is counted in len but not
 * printed. */
typedef struct {
    Model *m;
    const Tokenizer *t;
    SamplingParams sp;
    SamplingWork w;
    int n, max_new, n_prompt;
    const int32_t *prompt;
    uint64_t key;
    int32_t eot;
    int32_t *out;
    int *len, *eos;
    double *lp;
} Plain;

/* Candidate c's token at step s, keyed like the sampler's (sampler/engine.c): its draw depends on
 * (seed, prompt text, c, s) only, so the cached and the full-forward paths choose alike. */
static int plain_choose(Plain *g, int c, const float *logits) {
    int s = g->len[c];
    double u = rng_to_uniform(rng_hash(g->key, (uint64_t)c, (uint64_t)s, 0));
    double lp;
    int32_t tok = sampling_choose(logits, g->m->vocab_size, &g->sp, u, &g->w, &lp);
    g->out[(size_t)c * g->max_new + s] = tok;
    g->len[c] = s + 1;
    g->lp[c] += lp;
    g->eos[c] = tok == g->eot;
    return g->eos[c] || g->len[c] >= g->max_new; /* done */
}

/* KV-cached: one prefill, then every live candidate advances one token per decode step. */
static int plain_cached(Plain *g, Infer *inf, Error *e) {
    size_t Vp = (size_t)g->m->padded_vocab_size;
    float *logits = xmalloc(Vp * (size_t)g->n * sizeof(float), e);
    int *slots = xmalloc(sizeof(int) * (size_t)g->n, e);
    int32_t *toks = xmalloc(sizeof(int32_t) * (size_t)g->n, e);
    int rc = logits && slots && toks ? RP_OK : RP_ENOMEM;
    if (!rc) rc = infer_prefill(inf, 0, g->prompt, g->n_prompt, logits, e);
    int live = 0;
    for (int c = 0; c < g->n && !rc; c++) {
        if (plain_choose(g, c, logits)) continue;
        infer_attach(inf, c, 0);
        slots[live++] = c;
    }
    while (live && !rc) {
        for (int i = 0; i < live; i++) toks[i] = g->out[(size_t)slots[i] * g->max_new + g->len[slots[i]] - 1];
        if ((rc = infer_decode(inf, live, slots, toks, logits, e))) break;
        int kept = 0;
        for (int i = 0; i < live; i++)
            if (!plain_choose(g, slots[i], logits + (size_t)i * Vp)) slots[kept++] = slots[i];
        live = kept;
    }
    free(logits);
    free(slots);
    free(toks);
    return rc;
}

/* Without a KV cache: a full forward over the whole sequence for every new token. */
static int plain_full(Plain *g, Error *e) {
    int Tmax = g->n_prompt + g->max_new - 1;
    int32_t *seq = xmalloc(sizeof(int32_t) * (size_t)Tmax, e);
    float *logits = xmalloc(sizeof(float) * (size_t)g->m->padded_vocab_size, e);
    int rc = seq && logits ? RP_OK : RP_ENOMEM;
    if (!rc) rc = model_plan(g->m, 1, Tmax, e);
    if (!rc) memcpy(seq, g->prompt, sizeof(int32_t) * (size_t)g->n_prompt);
    for (int c = 0; c < g->n && !rc; c++) {
        for (int T = g->n_prompt;; T++) {
            if ((rc = model_forward(g->m, seq, NULL, NULL, 1, T, NULL, e)) ||
                (rc = model_logits_download(g->m, T - 1, 1, logits, e)))
                break;
            int done = plain_choose(g, c, logits);
            if (done) break;
            seq[T] = g->out[(size_t)c * g->max_new + g->len[c] - 1];
        }
    }
    free(seq);
    free(logits);
    return rc;
}

/* Prints the candidates: the text alone for one, each under a header for several. */
static int plain_print(const Plain *g, Error *e) {
    StrBuf text;
    strbuf_init(&text);
    int rc = RP_OK;
    for (int c = 0; c < g->n && !rc; c++) {
        strbuf_clear(&text);
        int n_text = g->len[c] - g->eos[c];
        if ((rc = tokenizer_decode(g->t, g->out + (size_t)c * g->max_new, n_text, &text, e))) break;
        if (g->n > 1)
            printf("%s--- candidate %d: logprob %.3f, %d tokens, finish %s\n", c ? "\n" : "", c, g->lp[c], g->len[c],
                   g->eos[c] ? "eos" : "length");
        if (text.len) fwrite(text.s, 1, text.len, stdout);
        putchar('\n');
    }
    strbuf_free(&text);
    if (!rc && (fflush(stdout) || ferror(stdout))) rc = error_set(e, RP_EIO, "stdout: write failed");
    return rc;
}

/* The prompt ids: BOS (if the tokenizer wants one) + encode(text), within the model's context. */
static int plain_prompt(const GenArgs *a, const Model *m, const Tokenizer *t, TokenVec *ids, Error *e) {
    int rc = tokenizer_bos(t) >= 0 ? tokvec_push(ids, tokenizer_bos(t), e) : RP_OK;
    if (!rc) rc = tokenizer_encode(t, a->prompt, strlen(a->prompt), ids, e);
    if (rc) return error_wrap(e, "--prompt");
    if (ids->n == 0)
        return error_set(e, RP_EINPUT, "--prompt: the text is empty and %s's tokenizer has no BOS token to start from",
                         a->model);
    if (ids->n >= m->n_positions)
        return error_set(e, RP_EINPUT, "--prompt: %lld tokens leave no room in %s's context of %d positions",
                         (long long)ids->n, a->model, m->n_positions);
    return RP_OK;
}

static int generate_plain(const GenArgs *a, Model *m, const Tokenizer *t, Error *e) {
    if (a->threads > 0) backend_get()->ops->set_threads((int)a->threads);
    TokenVec ids;
    tokvec_init(&ids);
    int rc = plain_prompt(a, m, t, &ids, e);
    if (rc) {
        tokvec_free(&ids);
        return rc;
    }
    Plain g = {.m = m, .t = t, .n = (int)a->n, .n_prompt = (int)ids.n, .prompt = ids.v,
               .eot = tokenizer_special(t, TOK_EOT)};
    g.sp = (SamplingParams){.temperature = a->temperature, .top_k = (int)a->top_k, .top_p = a->top_p};
    /* The context bounds the continuation; a shorter one ends with finish "length". */
    g.max_new = a->max_new < m->n_positions - g.n_prompt ? (int)a->max_new : m->n_positions - g.n_prompt;
    g.key = rng_hash((uint64_t)a->seed, 0, hash_bytes(a->prompt, strlen(a->prompt)), PLAIN_STREAM);
    g.out = xcalloc((size_t)g.n * (size_t)g.max_new, sizeof(int32_t), e);
    g.len = xcalloc((size_t)g.n, sizeof(int), e);
    g.eos = xcalloc((size_t)g.n, sizeof(int), e);
    g.lp = xcalloc((size_t)g.n, sizeof(double), e);
    rc = g.out && g.len && g.eos && g.lp ? sampling_work_init(&g.w, m->vocab_size, e) : RP_ENOMEM;
    if (a->show_prompt && !rc) {
        printf("----- prompt: %d tokens -----\n", g.n_prompt);
        for (int i = 0; i < g.n_prompt; i++) printf(i + 1 < g.n_prompt ? "%d " : "%d\n", g.prompt[i]);
    }
    double t0 = time_now();
    double t_setup = 0; /* the decoder's own copy of the weights: seconds, not per token */
    int cached = 0;
    char why[2200] = " (--full-forward)";
    if (!rc && !a->full_forward) {
        InferPlan plan = {.max_rows = g.n, .n_prefixes = 1, .max_prompt = g.n_prompt, .max_new = g.max_new,
                          .weights = a->weights};
        Infer inf;
        Error ie = {0};
        int irc = infer_init(&inf, m, &plan, &ie);
        if (!irc) {
            cached = 1;
            t_setup = time_now() - t0;
            rc = plain_cached(&g, &inf, e);
            infer_free(&inf);
        } else if (irc == RP_EINPUT) { /* the backend cannot decode this architecture */
            snprintf(why, sizeof why, " (no KV-cached decoder: %s)", ie.msg);
        } else {
            *e = ie;
            rc = irc;
        }
    }
    if (!rc && !cached) rc = plain_full(&g, e);
    if (!rc) {
        long total = 0;
        for (int c = 0; c < g.n; c++) total += g.len[c];
        double dt = time_now() - t0 - t_setup;
        log_info("generate: %s%s; prompt of %d tokens, %d candidate(s), %ld new tokens in %.2f s (%.1f tokens/s) "
                 "after %.2f s of set-up",
                 cached ? "KV-cached decode" : "full forward per token", cached ? "" : why, g.n_prompt, g.n, total, dt,
                 dt > 0 ? (double)total / dt : 0.0, t_setup);
        rc = plain_print(&g, e);
    }
    sampling_work_free(&g.w);
    free(g.out);
    free(g.len);
    free(g.eos);
    free(g.lp);
    tokvec_free(&ids);
    return rc;
}

/* Exactly one mode: --prompt, or --data with --id. */
static int check_mode(const GenArgs *a, Error *e) {
    if (a->prompt && (a->data || a->id))
        return error_set(e, RP_EINPUT, "--prompt and --data/--id are mutually exclusive: continue a text, or "
                                       "generate for a dataset example");
    if (!a->prompt && !a->data && !a->id)
        return error_set(e, RP_EINPUT, "give --prompt TEXT, or --data FILE with --id ID");
    if (!a->prompt && (!a->data || !a->id))
        return error_set(e, RP_EINPUT, "%s needs %s too", a->data ? "--data" : "--id", a->data ? "--id" : "--data");
    if (a->full_forward && !a->prompt) return error_set(e, RP_EINPUT, "--full-forward: only with --prompt");
    return RP_OK;
}

int cmd_generate(int argc, char **argv, Error *e) {
    GenArgs a = {.reasoning = "on", .dtype = "auto", .n = 0, .max_new = 256, .k = -1, .batch = 32, .temperature = 0.7, .top_p = 0.9};
    const char *device = "cpu";
    ArgSpec specs[] = {
        {"--model", ARG_STR, &a.model, "checkpoint (.h5) or GGUF file", 1, 0},
        {"--prompt", ARG_STR, &a.prompt, "text to continue (no dataset, no template); excludes --data/--id", 0, 0},
        {"--data", ARG_STR, &a.data, "dataset file (restpg-dataset), with --id", 0, 0},
        {"--id", ARG_STR, &a.id, "example id in --data", 0, ARG_NONEMPTY},
        {"--n", ARG_INT, &a.n, "candidates (default 4 with --data, 1 with --prompt)", 0, ARG_RANGE(1, 100000)},
        {"--temperature", ARG_DOUBLE, &a.temperature, "softmax temperature, 0 = greedy (default 0.7)", 0, ARG_MIN(0)},
        {"--top-p", ARG_DOUBLE, &a.top_p, "nucleus mass in (0, 1] (default 0.9)", 0, ARG_ABOVE_UPTO(0, 1)},
        {"--top-k", ARG_INT, &a.top_k, "keep the k most likely tokens, 0 = off (default 0)", 0, ARG_RANGE(0, 1 << 30)},
        {"--max-new-tokens", ARG_INT, &a.max_new, "generated tokens per candidate at most (default 256)", 0, ARG_RANGE(1, 1 << 30)},
        {"--seed", ARG_INT, &a.seed, "random seed (default 0)", 0, ARG_MIN(0)},
        {"--round", ARG_INT, &a.round, "EM round, part of the random key (--data mode; default 0)", 0, ARG_MIN(0)},
        {"--reasoning", ARG_STR, &a.reasoning, "on (default): reasoning + answer; off: answer only (--data mode)", 0, ARG_ONE_OF("on", "off")},
        {"--k", ARG_INT, &a.k, "profile items retrieved into the prompt (--data mode; default 4)", 0, ARG_RANGE(0, 100000)},
        {"--batch", ARG_INT, &a.batch, "candidates decoded together (--data mode; default 32)", 0, ARG_RANGE(1, 65536)},
        {"--threads", ARG_INT, &a.threads, "CPU threads (default: OMP_NUM_THREADS or all cores)", 0, ARG_THREADS},
        BACKEND_DEVICE_SPEC(device),
        MODEL_DTYPE_SPEC(a.dtype),
        {"--show-prompt", ARG_FLAG, &a.show_prompt, "print the prompt first (its text; with --prompt, its token ids)", 0, 0},
        {"--full-forward", ARG_FLAG, &a.full_forward, "with --prompt: recompute the whole sequence per token instead of "
                                                      "using the KV cache (slower; for checking the cache)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("generate",
                        "Continues a plain text (--prompt), or generates candidates for one dataset example "
                        "(--data/--id) and prints each one's reasoning, answer, log-probability and finish reason "
                        "(end of text or length limit). With --prompt and --n 1 only the continuation is printed.",
                        specs, argc, argv, e);
    if (rc || (rc = check_mode(&a, e)) || (rc = backend_select(device, e)) ||
        (rc = model_dtype_parse(a.dtype, &a.weights, e)))
        return rc;
    /* The full forward computes with the fp32 weights: auto means fp32 there. */
    if (a.full_forward && a.weights != DTYPE_F32 && strcmp(a.dtype, "auto"))
        return error_set(e, RP_EINPUT, "--full-forward computes with the fp32 weights; --dtype %s needs the KV-cached decoder",
                         a.dtype);
    if (a.full_forward) a.weights = DTYPE_F32;
    if (!a.n) a.n = a.prompt ? 1 : 4; /* a text by hand wants one continuation; EM-style inspection several */
    Model m;
    Tokenizer *tok = NULL;
    if ((rc = checkpoint_load_any(a.model, &m, &tok, NULL, e))) return rc;
    rc = a.prompt ? generate_plain(&a, &m, tok, e) : generate_example(&a, &m, tok, e);
    model_free(&m);
    tokenizer_free(tok);
    return rc;
}
