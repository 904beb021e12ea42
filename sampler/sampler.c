/* sampler_run: option checks, the inputs of a split, the prompt budget, resume from the progress
 * file, and rank 0's collection of results into a samples file in dataset order (see sampler.h;
 * the generation itself is sampler/engine.c, the distribution sampler/shard.c). */
#include "sampler/sampler.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/text.h"
#include "kernels/backend.h"
#include "sampler/engine.h"
#include "sampler/shard.h"
#include "core/comm.h"

void sampler_options_default(SamplerOptions *o) {
    memset(o, 0, sizeof *o);
    o->split = "train";
    o->n = 32;
    o->sp.temperature = 0.7;
    o->sp.top_p = 0.9;
    o->sp.top_k = 0;
    o->max_new_tokens = 256;
    prompt_options_default(&o->prompt);
    o->prompt.allow_missing_reasoning = 1;
    o->batch = 32;
    o->save_every = 5.0;
}

static int check_options(const SamplerOptions *o, const Model *m, const Tokenizer *t, Error *e) {
    const SamplingParams *p = &o->sp;
    if (o->n < 1 || o->n > 1000000) return error_set(e, RP_EINPUT, "n (--n, candidates per input) must be in 1..1000000, got %d", o->n);
    if (!(p->temperature >= 0.0) || !isfinite(p->temperature))
        return error_set(e, RP_EINPUT, "temperature (--temperature) must be a finite number >= 0, got %g", p->temperature);
    if (!(p->top_p > 0.0 && p->top_p <= 1.0)) return error_set(e, RP_EINPUT, "top_p (--top-p) must be in (0, 1], got %g", p->top_p);
    if (p->top_k < 0) return error_set(e, RP_EINPUT, "top_k (--top-k) must be >= 0 (0 = off), got %d", p->top_k);
    if (o->max_new_tokens < 1 || o->max_new_tokens >= m->n_positions)
        return error_set(e, RP_EINPUT,
                         "max_new_tokens (--max-new-tokens) must be in 1..%d (the model's n_positions %d leaves room for "
                         "a prompt), got %d",
                         m->n_positions - 1, m->n_positions, o->max_new_tokens);
    if (o->batch < 1 || o->batch > 65536) return error_set(e, RP_EINPUT, "batch (--batch) must be in 1..65536, got %d", o->batch);
    if (o->threads < 0) return error_set(e, RP_EINPUT, "threads (--threads) must be >= 0 (0 = default), got %d", o->threads);
    if (o->limit < 0) return error_set(e, RP_EINPUT, "limit (--limit) must be >= 0 (0 = all), got %lld", (long long)o->limit);
    if (o->prompt.k < 0) return error_set(e, RP_EINPUT, "k (--k, profile items) must be >= 0, got %d", o->prompt.k);
    if (!(o->save_every >= 0.0)) return error_set(e, RP_EINPUT, "save_every must be >= 0 seconds, got %g", o->save_every);
    if (!o->example_id && !o->split) return error_set(e, RP_EINPUT, "sampler: no split given");
    if (tokenizer_vocab_size(t) > m->vocab_size)
        return error_set(e, RP_EINPUT, "the tokenizer has %d tokens but the model only %d", tokenizer_vocab_size(t),
                         m->vocab_size);
    return RP_OK;
}

/* The options with separate budgets resolved: *eff is *o with max_new_tokens the total the
 * budgets allow, and force the tokens that close a reasoning at its budget ("\n\n" and the answer
 * cue sentence, encoded as prompt_build encodes a target's, then <|answer|>). */
static int budget_resolve(const SamplerOptions *o, const Tokenizer *t, SamplerOptions *eff, TokenVec *force, Error *e) {
    *eff = *o;
    int R = o->max_reasoning_tokens, A = o->max_answer_tokens;
    if (R < 0 || A < 0) return error_set(e, RP_EINPUT, "max_reasoning_tokens and max_answer_tokens must be >= 0 (0 = off)");
    if (!A) {
        if (R) return error_set(e, RP_EINPUT, "max_reasoning_tokens (%d) needs max_answer_tokens too (the separate budgets "
                                              "go together)", R);
        return RP_OK;
    }
    if (!o->prompt.reasoning) {
        eff->max_new_tokens = A;
        return RP_OK;
    }
    if (!R) return error_set(e, RP_EINPUT, "max_answer_tokens (%d) with reasoning needs max_reasoning_tokens too", A);
    static const char close[] = "\n\n" PROMPT_ANSWER_CUE;
    int rc = tokenizer_encode(t, close, strlen(close), force, e);
    if (!rc) rc = tokvec_push(force, tokenizer_special(t, TOK_ANSWER), e);
    if (!rc && (int64_t)R + force->n + A > INT_MAX / 2) rc = error_set(e, RP_EINPUT, "token budgets %d + %d too large", R, A);
    if (!rc) eff->max_new_tokens = R + (int)force->n + A;
    return rc;
}

/* Separates the subset's draws from the sampler's token draws under the same seed. */
#define SUBSET_STREAM 0x73756273657431ULL

typedef struct {
    uint64_t key;
    int64_t idx;
} Keyed;

static int keyed_cmp(const void *a, const void *b) {
    const Keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int idx_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Keeps o->limit of the n candidate inputs: those with the smallest keys rng_hash(seed, round,
 * hash of id), a uniform draw without replacement that depends on the ids, not their order; the
 * kept ones go back in dataset order. */
static int draw_subset(const Dataset *d, const SamplerOptions *o, int64_t *idx, int64_t *n, Error *e) {
    Keyed *k = xmalloc(sizeof(Keyed) * (size_t)*n, e);
    if (!k) return RP_ENOMEM;
    for (int64_t i = 0; i < *n; i++) {
        const char *id = d->id[idx[i]];
        k[i] = (Keyed){rng_hash(o->seed, (uint64_t)o->round, hash_bytes(id, strlen(id)), SUBSET_STREAM), idx[i]};
    }
    qsort(k, (size_t)*n, sizeof *k, keyed_cmp);
    for (int64_t i = 0; i < o->limit; i++) idx[i] = k[i].idx;
    free(k);
    *n = o->limit;
    qsort(idx, (size_t)*n, sizeof *idx, idx_cmp);
    return RP_OK;
}

/* The dataset indices of the run's inputs, in dataset order. */
static int select_inputs(const Dataset *d, const SamplerOptions *o, int64_t **out, int64_t *n_out, Error *e) {
    const char *src = o->data_path ? o->data_path : "dataset";
    *n_out = 0;
    *out = xmalloc(sizeof(int64_t) * (size_t)(d->n ? d->n : 1), e);
    if (!*out) return RP_ENOMEM;
    if (o->example_id) {
        int64_t i = dataset_find(d, o->example_id);
        if (i < 0) return error_set(e, RP_EINPUT, "%s: no example with id '%s'", src, o->example_id);
        (*out)[(*n_out)++] = i;
        return RP_OK;
    }
    for (int64_t i = 0; i < d->n && (o->limit_random || !o->limit || *n_out < o->limit); i++)
        if (!strcmp(d->split[i], o->split)) (*out)[(*n_out)++] = i;
    if (!*n_out) return error_set(e, RP_EINPUT, "%s: no examples in split '%s'", src, o->split);
    return o->limit_random && o->limit && *n_out > o->limit ? draw_subset(d, o, *out, n_out, e) : RP_OK;
}

/* Prompt options whose token budget leaves max_new_tokens of the model's positions for the
 * generation. The budget counts the target too; with an empty reasoning and answer the target is
 * the same few tokens for every example (the cue and separators, or just <|endoftext|>), so it
 * is measured once on the first input. */
static int prompt_budget(const Model *m, const Tokenizer *t, const Dataset *d, int64_t first, const SamplerOptions *o,
                         PromptOptions *po, int *max_prompt, Error *e) {
    *po = o->prompt;
    po->allow_missing_reasoning = 1;
    po->max_tokens = 0;
    BuiltPrompt b;
    built_prompt_init(&b);
    int rc = prompt_build_with(d, first, t, po, "", "", &b, e);
    *max_prompt = m->n_positions - o->max_new_tokens;
    po->max_tokens = *max_prompt + (int)(b.tokens.n - b.n_prompt);
    built_prompt_free(&b);
    return rc;
}

int sampler_prompt(const Model *m, const Tokenizer *t, const Dataset *d, int64_t i, const SamplerOptions *opt,
                   BuiltPrompt *b, Error *e) {
    PromptOptions po;
    int max_prompt;
    SamplerOptions eff;
    TokenVec force;
    tokvec_init(&force);
    int rc = budget_resolve(opt, t, &eff, &force, e);
    tokvec_free(&force);
    const SamplerOptions *o = &eff;
    if (!rc) rc = check_options(o, m, t, e);
    if (!rc && (i < 0 || i >= d->n)) rc = error_set(e, RP_EINTERNAL, "sampler_prompt: example %lld of %lld", (long long)i, (long long)d->n);
    if (!rc) rc = prompt_budget(m, t, d, i, o, &po, &max_prompt, e);
    if (!rc) rc = prompt_build_with(d, i, t, &po, "", "", b, e);
    return rc;
}

/* Rank 0's collection of finished inputs. */
typedef struct {
    const SamplerOptions *o;
    const Dataset *d;
    const Tokenizer *t;
    const int64_t *inputs;
    int64_t n_inputs;
    Samples acc;         /* finished candidates in completion order; what the progress file holds */
    int64_t *first_row;  /* [n_inputs] acc row of the input's candidate 0, -1 until it is done */
    uint8_t *skip;       /* [n_inputs] done by an earlier run */
    StrBuf reasoning, answer;
    Progress prog;
    int64_t done, total, resumed, tokens;
    double last_save, save_cost; /* when the progress file was last written, and how long that took */
    int save_failed;
} Collector;

static int set_settings(Samples *s, const SamplerOptions *o, Error *e) {
    free(s->model);
    free(s->dataset);
    free(s->split);
    s->model = xstrdup(o->model_path ? o->model_path : "", e);
    s->dataset = xstrdup(o->data_path ? o->data_path : "", e);
    s->split = xstrdup(o->example_id ? "" : o->split, e);
    if (!s->model || !s->dataset || !s->split) return RP_ENOMEM;
    s->n_per_input = o->n;
    s->round = o->round;
    s->seed = (int64_t)o->seed;
    s->max_new_tokens = o->max_new_tokens;
    s->max_reasoning_tokens = o->max_answer_tokens && o->prompt.reasoning ? o->max_reasoning_tokens : 0;
    s->max_answer_tokens = o->max_answer_tokens;
    s->top_k = o->sp.top_k;
    s->reasoning = o->prompt.reasoning;
    s->temperature = o->sp.temperature;
    s->top_p = o->sp.top_p;
    free(s->dtype);
    if (!(s->dtype = xstrdup(model_dtype_name(o->weights), e))) return RP_ENOMEM;
    return RP_OK;
}

/* Loads the progress file, checks it belongs to this run, and marks its inputs done. */
static int resume(Collector *c, Error *e) {
    const char *path = c->o->partial;
    Samples *a = &c->acc;
    int rc = samples_read(path, a, e);
    if (rc) return rc;
    Samples want;
    samples_init(&want);
    if ((rc = set_settings(&want, c->o, e))) goto out;
    const struct {
        const char *name;
        int same;
    } chk[] = {
        {"n_per_input", a->n_per_input == want.n_per_input}, {"round", a->round == want.round},
        {"seed", a->seed == want.seed},                       {"max_new_tokens", a->max_new_tokens == want.max_new_tokens},
        {"top_k", a->top_k == want.top_k},                   {"reasoning", a->reasoning == want.reasoning},
        {"temperature", a->temperature == want.temperature}, {"top_p", a->top_p == want.top_p},
        {"split", !strcmp(a->split, want.split)},            {"model", !strcmp(a->model, want.model)},
        {"dataset", !strcmp(a->dataset, want.dataset)},      {"dtype", !strcmp(a->dtype, want.dtype)},
        {"max_reasoning_tokens", a->max_reasoning_tokens == want.max_reasoning_tokens},
        {"max_answer_tokens", a->max_answer_tokens == want.max_answer_tokens},
    };
    for (size_t k = 0; k < sizeof chk / sizeof chk[0]; k++)
        if (!chk[k].same) {
            rc = error_set(e, RP_EINPUT, "%s: attribute '%s' differs from this run's settings; it belongs to another run "
                                         "(delete it to start over)", path, chk[k].name);
            goto out;
        }
    StrMap pos;
    if ((rc = strmap_init(&pos, (size_t)c->n_inputs, e))) goto out;
    for (int64_t i = 0; i < c->n_inputs && !rc; i++) {
        const char *id = c->d->id[c->inputs[i]];
        rc = strmap_put(&pos, id, strlen(id), i, e);
    }
    for (int64_t r = 0; r < a->m && !rc; r += c->o->n) {
        int64_t i;
        if (!strmap_get(&pos, a->example_id[r], strlen(a->example_id[r]), &i)) {
            rc = error_set(e, RP_EINPUT, "%s: record %lld: example '%s' is not one of this run's inputs", path, (long long)r,
                           a->example_id[r]);
            break;
        }
        for (int k = 0; k < c->o->n && !rc; k++)
            if (r + k >= a->m || a->candidate[r + k] != k || strcmp(a->example_id[r + k], a->example_id[r]))
                rc = error_set(e, RP_EINPUT, "%s: record %lld: expected candidate %d of example '%s'", path,
                               (long long)(r + k), k, a->example_id[r]);
        if (!rc) {
            c->first_row[i] = r;
            c->skip[i] = 1;
            c->resumed++;
        }
    }
    strmap_free(&pos);
out:
    samples_free(&want);
    if (rc) samples_free(a);
    return rc;
}

static int save_partial(Collector *c, Error *e) {
    double t0 = time_now();
    int rc = samples_write(&c->acc, c->o->partial, e);
    c->last_save = time_now();
    c->save_cost = c->last_save - t0;
    c->save_failed = rc != RP_OK;
    return rc;
}

static int collect(void *ctx, const InputResult *r, Error *e) {
    Collector *c = ctx;
    const char *id = c->d->id[c->inputs[r->input]];
    c->first_row[r->input] = c->acc.m;
    int rc = RP_OK;
    for (int k = 0; k < r->n && !rc; k++) {
        const int32_t *tok = r->tokens + (size_t)k * r->max_new;
        int has_sep = 0;
        strbuf_clear(&c->reasoning);
        strbuf_clear(&c->answer);
        if (!(rc = prompt_split_generation(c->t, tok, r->len[k], &c->reasoning, &c->answer, &has_sep, e)))
            rc = samples_add(&c->acc, id, k, tok, r->len[k], c->reasoning.s ? c->reasoning.s : "",
                             c->answer.s ? c->answer.s : "", has_sep, r->logprob[k], (FinishReason)r->finish[k], e);
        c->tokens += r->len[k];
    }
    if (rc) return error_wrap(e, "example '%s'", id);
    c->done++;
    char extra[96];
    double el = time_now() - c->prog.t_start;
    snprintf(extra, sizeof extra, "inputs, %.0f tok/s%s", el > 0 ? (double)c->tokens / el : 0.0,
             c->resumed ? " (resumed run)" : "");
    progress_update(&c->prog, c->done, extra);
    /* Saved at least every save_every seconds, and more often while a save is cheap (the file
     * is rewritten whole each time, so at most about 5% of the time goes to saving). */
    double gap = 20.0 * c->save_cost < c->o->save_every ? 20.0 * c->save_cost : c->o->save_every;
    if (c->o->partial && time_now() - c->last_save >= gap) return save_partial(c, e);
    return RP_OK;
}

/* Rank 0's output: every candidate in input order, then candidate order. */
static int assemble(Collector *c, Samples *out, Error *e) {
    const Samples *a = &c->acc;
    int rc = set_settings(out, c->o, e);
    for (int64_t i = 0; i < c->n_inputs && !rc; i++) {
        if (c->first_row[i] < 0) return error_set(e, RP_EINTERNAL, "sampler: input %lld has no candidates", (long long)i);
        for (int64_t r = c->first_row[i]; r < c->first_row[i] + c->o->n && !rc; r++)
            rc = samples_add(out, a->example_id[r], a->candidate[r], a->tokens + a->token_offset[r], a->length[r],
                             a->reasoning_text[r], a->answer[r], a->has_separator[r], a->logprob[r],
                             (FinishReason)a->finish[r], e);
    }
    return rc;
}

static void collector_free(Collector *c) {
    samples_free(&c->acc);
    free(c->first_row);
    free(c->skip);
    strbuf_free(&c->reasoning);
    strbuf_free(&c->answer);
}

/* Rank 0's setup: the collector and, with a progress file present, its content. */
static int collector_init(Collector *c, const SamplerOptions *o, const Dataset *d, const Tokenizer *t,
                          const int64_t *inputs, int64_t n_inputs, Error *e) {
    memset(c, 0, sizeof *c);
    c->o = o, c->d = d, c->t = t, c->inputs = inputs, c->n_inputs = n_inputs;
    samples_init(&c->acc);
    strbuf_init(&c->reasoning);
    strbuf_init(&c->answer);
    c->first_row = xmalloc(sizeof(int64_t) * (size_t)n_inputs, e);
    c->skip = xcalloc((size_t)n_inputs, 1, e);
    if (!c->first_row || !c->skip) return RP_ENOMEM;
    for (int64_t i = 0; i < n_inputs; i++) c->first_row[i] = -1;
    int rc = set_settings(&c->acc, o, e);
    if (!rc && o->partial && path_exists(o->partial)) rc = resume(c, e);
    c->total = n_inputs - c->resumed;
    c->last_save = time_now();
    return rc;
}

int sampler_run(const Model *m, const Tokenizer *t, const Dataset *d, const SamplerOptions *opt, Samples *out, Error *e) {
    int rank, world;
    comm_world(&rank, &world);
    int64_t *inputs = NULL, n_inputs = 0;
    EngineSpec spec;
    memset(&spec, 0, sizeof spec);
    Collector col;
    memset(&col, 0, sizeof col);
    SamplerOptions eff;
    TokenVec force;
    tokvec_init(&force);
    int rc = budget_resolve(opt, t, &eff, &force, e);
    const SamplerOptions *o = &eff;
    if (!rc) rc = check_options(o, m, t, e);
    if (!rc) rc = select_inputs(d, o, &inputs, &n_inputs, e);
    if (!rc) rc = prompt_budget(m, t, d, inputs[0], o, &spec.prompt, &spec.max_prompt, e);
    if (!rc && o->threads > 0) backend_get()->ops->set_threads(o->threads);
    if (!rc && rank == 0) rc = collector_init(&col, o, d, t, inputs, n_inputs, e);
    Shard sh;
    memset(&sh, 0, sizeof sh);
    /* Every rank reaches each agreement, and shard_init (collective) only when all are ready. */
    if (world > 1) rc = comm_agree(rc, e);
    if (!rc) rc = shard_init(&sh, n_inputs, col.skip, o->n, o->max_new_tokens, collect, &col, e);
    if (world > 1) rc = comm_agree(rc, e);
    if (rc) goto out;
    spec.m = m, spec.t = t, spec.d = d, spec.inputs = inputs, spec.sp = o->sp;
    spec.n = o->n, spec.max_new = o->max_new_tokens, spec.batch = o->batch, spec.seed = o->seed, spec.round = o->round;
    spec.weights = o->weights;
    spec.max_reason = o->max_reasoning_tokens, spec.max_answer = o->max_answer_tokens;
    spec.force = force.v, spec.n_force = (int)force.n;
    /* The memory the rank computes in: the host's (shared by the node's ranks) or its GPU's. */
    const BackendOps *ops = backend_get()->ops;
    size_t avail = 0, total = 0;
    Error ignored;
    if (ops->mem_info(&avail, &total, &ignored)) avail = 0;
    if (ops->host_memory) avail /= (size_t)comm_local_ranks();
    log_info("sample: %lld inputs x %d candidates (%lld done earlier) on %d rank%s, batch %d; memory per rank: model "
             "%.1f MiB (fp32) + %.1f MiB for the KV cache, activations and the decoder's %s weights, of %.1f MiB "
             "available on %s",
             (long long)n_inputs, o->n, (long long)col.resumed, world, world > 1 ? "s" : "", o->batch,
             (double)m->n_params * sizeof(float) / (1 << 20), (double)engine_bytes(&spec) / (1 << 20),
             model_dtype_name(o->weights), (double)avail / (1 << 20), ops->name);
    progress_init(&col.prog, "sample", col.total);
    EngineIO io = shard_io(&sh);
    rc = engine_run(&spec, &io, e);
    rc = shard_finish(&sh, rc, e);
    if (rank == 0 && !rc) {
        char extra[64];
        double el = time_now() - col.prog.t_start;
        snprintf(extra, sizeof extra, "inputs, %.0f tok/s", el > 0 ? (double)col.tokens / el : 0.0);
        progress_finish(&col.prog, col.done, extra);
        if (world > 1) {
            char line[512];
            int at = snprintf(line, sizeof line, "sample: inputs generated per rank:");
            for (int r = 0; r < world && at < (int)sizeof line - 24; r++)
                at += snprintf(line + at, sizeof line - at, " %lld", (long long)sh.per_rank[r]);
            log_info("%s", line);
        }
        rc = assemble(&col, out, e);
    } else if (rank == 0 && o->partial && col.done && !col.save_failed) {
        /* Keep what finished before the failure for the next attempt. */
        Error se;
        if (save_partial(&col, &se)) log_warn("%s", se.msg);
    }
out:
    shard_free(&sh);
    collector_free(&col);
    free(inputs);
    tokvec_free(&force);
    return rc;
}
