/* Continuous batching of candidates over the KV cache (see engine.h). */
#include "sampler/engine.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/text.h"
#include "core/watchdog.h"
#include "model/infer.h"
#include "data/samples.h"

/* Separates the sampler's draws from any other use of rng_hash with the same seed. */
#define SAMPLER_STREAM 0x73616d706c657231ULL

int input_result_init(InputResult *r, int n, int max_new, Error *e) {
    memset(r, 0, sizeof *r);
    r->n = n;
    r->max_new = max_new;
    r->len = xcalloc((size_t)n, sizeof(int32_t), e);
    r->finish = xcalloc((size_t)n, 1, e);
    r->logprob = xcalloc((size_t)n, sizeof(double), e);
    r->tokens = xcalloc((size_t)n * (size_t)max_new, sizeof(int32_t), e);
    if (!r->len || !r->finish || !r->logprob || !r->tokens) {
        input_result_free(r);
        return RP_ENOMEM;
    }
    return RP_OK;
}

void input_result_free(InputResult *r) {
    free(r->len);
    free(r->finish);
    free(r->logprob);
    free(r->tokens);
    memset(r, 0, sizeof *r);
}

static uint64_t input_key(uint64_t seed, int64_t round, const char *id) {
    return rng_hash(seed, (uint64_t)round, hash_bytes(id, strlen(id)), SAMPLER_STREAM);
}

int engine_prefix_slots(int n, int batch) {
    int per = (batch + n - 1) / n;
    return (per < batch ? per : batch) + 1;
}

typedef struct {
    int used;
    int64_t seq; /* admission order: candidates start first come, first served */
    uint64_t key;
    int started, done;
    InputResult res;
    float *logits; /* the prompt's last-position logits: every candidate's first token */
} Prefix;

typedef struct {
    int prefix, cand, len;
    double lp;
    int32_t last;
    int ans_start; /* separate budgets: position where the answer starts, -1 while reasoning */
    int forced;    /* tokens of spec->force given so far; -1 when not forcing */
} Row;

typedef struct {
    const EngineSpec *s;
    const EngineIO *io;
    Infer inf;
    int np, Vp, n_act, no_more, n_work;
    int64_t seq;
    Prefix *pre;
    Row *row;
    int *act, *slots, *busy;
    int32_t *tok, *next; /* next, u, lp: the device's choice (infer_can_sample) */
    double *u, *lp;
    float *logits, *plogits;
    SamplingWork *work;
    BuiltPrompt bp;
} Engine;

static InferPlan engine_plan(const EngineSpec *s) {
    InferPlan p = {.max_rows = s->batch, .n_prefixes = engine_prefix_slots(s->n, s->batch), .max_prompt = s->max_prompt,
                   .max_new = s->max_new, .weights = s->weights};
    return p;
}

size_t engine_bytes(const EngineSpec *s) {
    InferPlan p = engine_plan(s);
    size_t Vp = (size_t)s->m->padded_vocab_size;
    int threads = s->m->be->ops->threads();
    ModelConfig c = model_config(s->m);
    return infer_bytes(&c, &p, threads) + ((size_t)s->batch + p.n_prefixes) * Vp * sizeof(float) +
           (size_t)p.n_prefixes * s->n * (size_t)s->max_new * sizeof(int32_t);
}

static void engine_free(Engine *g) {
    infer_free(&g->inf);
    if (g->pre)
        for (int p = 0; p < g->np; p++) input_result_free(&g->pre[p].res);
    if (g->work)
        for (int i = 0; i < g->n_work; i++) sampling_work_free(&g->work[i]);
    free(g->pre);
    free(g->row);
    free(g->act);
    free(g->tok);
    free(g->next);
    free(g->u);
    free(g->lp);
    free(g->logits);
    free(g->plogits);
    free(g->work);
    built_prompt_free(&g->bp);
}

static int engine_init(Engine *g, const EngineSpec *s, const EngineIO *io, Error *e) {
    memset(g, 0, sizeof *g);
    g->s = s;
    g->io = io;
    built_prompt_init(&g->bp);
    InferPlan plan = engine_plan(s);
    g->np = plan.n_prefixes;
    g->Vp = s->m->padded_vocab_size;
    g->n_work = s->m->be->ops->threads();
    int rc = infer_init(&g->inf, s->m, &plan, e);
    if (rc) return rc;
    g->pre = xcalloc((size_t)g->np, sizeof(Prefix), e);
    g->row = xcalloc((size_t)s->batch, sizeof(Row), e);
    g->act = xcalloc((size_t)s->batch * 3, sizeof(int), e);
    g->tok = xcalloc((size_t)s->batch, sizeof(int32_t), e);
    if (infer_can_sample(&g->inf)) { /* the steps' logits stay on the device */
        g->next = xcalloc((size_t)s->batch, sizeof(int32_t), e);
        g->u = xcalloc((size_t)s->batch, sizeof(double), e);
        g->lp = xcalloc((size_t)s->batch, sizeof(double), e);
        if (!g->next || !g->u || !g->lp) return RP_ENOMEM;
    } else if (!(g->logits = xmalloc((size_t)s->batch * g->Vp * sizeof(float), e))) {
        return RP_ENOMEM;
    }
    g->plogits = xmalloc((size_t)g->np * g->Vp * sizeof(float), e);
    g->work = xcalloc((size_t)g->n_work, sizeof(SamplingWork), e);
    if (!g->pre || !g->row || !g->act || !g->tok || !g->plogits || !g->work) return RP_ENOMEM;
    g->slots = g->act + s->batch;
    g->busy = g->slots + s->batch;
    for (int i = 0; i < g->n_work; i++)
        if ((rc = sampling_work_init(&g->work[i], s->m->vocab_size, e))) return rc;
    for (int p = 0; p < g->np; p++) {
        g->pre[p].logits = g->plogits + (size_t)p * g->Vp;
        if ((rc = input_result_init(&g->pre[p].res, s->n, s->max_new, e))) return rc;
    }
    return RP_OK;
}

/* Builds input's prompt and prefills it into prompt cache p. */
static int admit(Engine *g, int p, int64_t input, Error *e) {
    const EngineSpec *s = g->s;
    int64_t idx = s->inputs[input];
    int rc = prompt_build_with(s->d, idx, s->t, &s->prompt, "", "", &g->bp, e);
    if (rc) return rc;
    if (g->bp.n_prompt < 1 || g->bp.n_prompt > s->max_prompt)
        return error_set(e, RP_EINTERNAL, "example '%s': prompt of %lld tokens, budget %d", s->d->id[idx],
                         (long long)g->bp.n_prompt, s->max_prompt);
    Prefix *pr = &g->pre[p];
    if ((rc = infer_prefill(&g->inf, p, g->bp.tokens.v, (int)g->bp.n_prompt, pr->logits, e)))
        return error_wrap(e, "example '%s'", s->d->id[idx]);
    pr->used = 1;
    pr->seq = g->seq++;
    pr->key = input_key(s->seed, s->round, s->d->id[idx]);
    pr->started = pr->done = 0;
    pr->res.input = input;
    return RP_OK;
}

/* Admits inputs while rows would otherwise idle and a prompt cache is free. */
static int admit_more(Engine *g, Error *e) {
    const EngineSpec *s = g->s;
    while (!g->no_more) {
        int free_p = -1, n_free = 0, pending = 0;
        for (int p = 0; p < g->np; p++) {
            if (!g->pre[p].used) {
                if (free_p < 0) free_p = p;
                n_free++;
            } else {
                pending += s->n - g->pre[p].started;
            }
        }
        int free_rows = s->batch - g->n_act;
        if (!n_free || pending >= free_rows) return RP_OK;
        int want = (free_rows - pending + s->n - 1) / s->n;
        if (want > n_free) want = n_free;
        int got = 0;
        int64_t input = -1;
        int rc = g->io->next(g->io->ctx, want, &got, &input, e);
        if (rc) return rc;
        if (got < 0) g->no_more = 1;
        if (got <= 0) return RP_OK;
        if ((rc = admit(g, free_p, input, e)) || (rc = g->io->poll(g->io->ctx, 0, e))) return rc;
    }
    return RP_OK;
}

/* The uniform of candidate c's token at step: a pure function of (input, candidate, step). */
static double draw_u(const Prefix *pr, int c, int step) {
    return rng_to_uniform(rng_hash(pr->key, (uint64_t)c, (uint64_t)step, 0));
}

static int32_t choose(const Engine *g, const Prefix *pr, int c, int step, const float *logits, SamplingWork *w,
                      double *lp) {
    return sampling_choose(logits, g->s->m->vocab_size, &g->s->sp, draw_u(pr, c, step), w, lp);
}

/* Row i's choice of this step: made on the device (the step's next/lp), else on the host from its
 * logits. */
static int32_t step_choice(Engine *g, int i, const Row *r, double *lp) {
    const Prefix *pr = &g->pre[r->prefix];
    if (g->next) {
        *lp = g->lp[i];
        return g->next[i];
    }
    return choose(g, pr, r->cand, r->len, g->logits + (size_t)i * g->Vp, &g->work[omp_get_thread_num()], lp);
}

/* A token choice sampling_choose refused: the logits held NaN or Inf (a model with broken weights,
 * or activations that overflowed). */
static int no_token(const Engine *g, const Prefix *pr, int c, int step, Error *e) {
    return error_set(e, RP_EINPUT, "no token has finite probability at step %d of candidate %d of example '%s' (the model's "
                     "logits are NaN or infinite)", step, c, g->s->d->id[g->s->inputs[pr->res.input]]);
}

/* Records a finished candidate; emits its input when it was the last one. */
static int finish(Engine *g, int p, int c, int len, double lp, FinishReason why, Error *e) {
    Prefix *pr = &g->pre[p];
    pr->res.len[c] = len;
    pr->res.logprob[c] = lp;
    pr->res.finish[c] = (uint8_t)why;
    if (++pr->done < g->s->n) return RP_OK;
    pr->used = 0;
    return g->io->emit(g->io->ctx, &pr->res, e);
}

/* Separate budgets: the token at position r->len is chosen (*tok, *lp); overrides it with the next
 * forced token when the reasoning has used its budget, and tracks where the answer starts. */
static void budget_apply(const EngineSpec *s, Row *r, int32_t *tok, double *lp) {
    if (!s->max_answer || r->ans_start >= 0) return;
    if (r->forced < 0 && r->len >= s->max_reason) r->forced = 0;
    if (r->forced >= 0) {
        *tok = s->force[r->forced++];
        *lp = 0;
    }
    if (*tok == tokenizer_special(s->t, TOK_ANSWER)) r->ans_start = r->len + 1;
}

/* After the token at position r->len - 1 (r->last) was chosen: is the candidate done? */
static int done_reason(const Engine *g, const Row *r, FinishReason *why) {
    const EngineSpec *s = g->s;
    if (r->last == tokenizer_special(s->t, TOK_EOT)) *why = FINISH_EOS;
    else if (r->len >= s->max_new || (s->max_answer && r->ans_start >= 0 && r->len - r->ans_start >= s->max_answer))
        *why = FINISH_LENGTH;
    else return 0;
    return 1;
}

/* Gives free rows to waiting candidates (oldest input first); each takes its first token from
 * its prompt's logits. */
static int start_candidates(Engine *g, Error *e) {
    const EngineSpec *s = g->s;
    memset(g->busy, 0, sizeof(int) * (size_t)s->batch);
    for (int i = 0; i < g->n_act; i++) g->busy[g->act[i]] = 1;
    int slot = 0;
    for (;;) {
        int p = -1;
        for (int q = 0; q < g->np; q++)
            if (g->pre[q].used && g->pre[q].started < s->n && (p < 0 || g->pre[q].seq < g->pre[p].seq)) p = q;
        while (slot < s->batch && g->busy[slot]) slot++;
        if (p < 0 || slot == s->batch) return RP_OK;
        Prefix *pr = &g->pre[p];
        int c = pr->started++;
        double lp = 0;
        int32_t tok = choose(g, pr, c, 0, pr->logits, &g->work[0], &lp);
        if (tok < 0) return no_token(g, pr, c, 0, e);
        /* Without reasoning the prompt ends with <|answer|>: the answer starts at once. */
        Row *r = &g->row[slot];
        *r = (Row){.prefix = p, .cand = c, .len = 0, .ans_start = s->prompt.reasoning ? -1 : 0, .forced = -1};
        budget_apply(s, r, &tok, &lp);
        pr->res.tokens[(size_t)c * s->max_new] = tok;
        r->len = 1, r->lp = lp, r->last = tok;
        FinishReason why;
        if (done_reason(g, r, &why)) {
            int rc = finish(g, p, c, 1, lp, why, e);
            if (rc) return rc;
            continue;
        }
        infer_attach(&g->inf, slot, p);
        g->busy[slot] = 1;
        g->act[g->n_act++] = slot;
    }
}

/* One decode step over every active row, then the token choice of each row: on the device when
 * the backend can (only n tokens and log-probabilities cross to the host, with each row's u drawn
 * here as choose() draws it), else on the host from the rows' logits. */
static int step(Engine *g, Error *e) {
    const EngineSpec *s = g->s;
    int n = g->n_act;
    /* Rows of one prompt side by side: the attention reads that prompt once for all of them. */
    for (int i = 1; i < n; i++) {
        int v = g->act[i], j = i;
        for (; j > 0; j--) {
            const Row *a = &g->row[g->act[j - 1]], *b = &g->row[v];
            if (a->prefix < b->prefix || (a->prefix == b->prefix && g->act[j - 1] < v)) break;
            g->act[j] = g->act[j - 1];
        }
        g->act[j] = v;
    }
    for (int i = 0; i < n; i++) {
        g->slots[i] = g->act[i];
        g->tok[i] = g->row[g->act[i]].last;
    }
    int rc;
    if (g->next) {
        for (int i = 0; i < n; i++) {
            const Row *r = &g->row[g->act[i]];
            g->u[i] = draw_u(&g->pre[r->prefix], r->cand, r->len);
        }
        rc = infer_decode_sample(&g->inf, n, g->slots, g->tok, &s->sp, g->u, g->next, g->lp, e);
    } else {
        rc = infer_decode(&g->inf, n, g->slots, g->tok, g->logits, e);
    }
    if (rc) return rc;
    watchdog_progress(); /* per decoded token, not per input: one input's N candidates may take long */
#pragma omp parallel for schedule(dynamic, 1) num_threads(g->n_work) if (n > 1 && g->n_work > 1 && !g->next)
    for (int i = 0; i < n; i++) {
        Row *r = &g->row[g->act[i]];
        Prefix *pr = &g->pre[r->prefix];
        double lp = 0;
        int32_t tok = step_choice(g, i, r, &lp);
        if (tok >= 0) budget_apply(s, r, &tok, &lp);
        pr->res.tokens[(size_t)r->cand * s->max_new + r->len] = tok;
        r->len++;
        r->lp += lp;
        r->last = tok;
    }
    for (int i = 0; i < n; i++) {
        const Row *r = &g->row[g->act[i]];
        if (r->last < 0) return no_token(g, &g->pre[r->prefix], r->cand, r->len - 1, e);
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        Row *r = &g->row[g->act[i]];
        FinishReason why;
        if (!done_reason(g, r, &why)) {
            g->act[kept++] = g->act[i];
            continue;
        }
        if ((rc = finish(g, r->prefix, r->cand, r->len, r->lp, why, e))) return rc;
    }
    g->n_act = kept;
    return RP_OK;
}

int engine_run(const EngineSpec *s, const EngineIO *io, Error *e) {
    Engine g;
    int rc = engine_init(&g, s, io, e);
    while (!rc) {
        if ((rc = io->poll(io->ctx, 0, e)) || (rc = admit_more(&g, e)) || (rc = start_candidates(&g, e))) break;
        if (g.n_act) {
            rc = step(&g, e);
            continue;
        }
        int live = 0;
        for (int p = 0; p < g.np; p++) live |= g.pre[p].used;
        if (g.no_more && !live) break;
        if (!live) rc = io->poll(io->ctx, 1, e);
    }
    engine_free(&g);
    return rc;
}
