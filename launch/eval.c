/* LongLaMP-style evaluation of a model on a dataset split (see eval.h). */
#include "launch/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "reward/evaluate.h"
#include "reward/judge.h"
#include "reward/meteor.h"
#include "reward/reward.h"
#include "reward/textset.h"
#include "sampler/sampler.h"
#include "core/comm.h"

void eval_options_default(EvalOptions *o) {
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->greedy = 1;
    o->temperature = 0.7;
    o->top_p = 0.9;
    o->max_new_tokens = 256;
    o->seed = 1;
    o->threads = 1;
    prompt_options_default(&o->prompt);
    o->reward_spec = REWARD_DEFAULT_SPEC;
    o->judge_timeout = 60.0;
    o->judge_batch = 64;
    o->judge_retries = 1;
}

/* Writes {"task": ..., "golds": [{"id": ..., "output": ...}]} atomically. */
static int write_golds(const char *path, const char *task, const Samples *s, const Dataset *d, int refs, Error *e) {
    StrBuf b;
    strbuf_init(&b);
    int rc = strbuf_puts(&b, "{\"task\": ", e);
    if (!rc) rc = strbuf_json_string(&b, task, e);
    if (!rc) rc = strbuf_puts(&b, ", \"golds\": [", e);
    for (int64_t i = 0; i < s->m && !rc; i++) {
        rc = strbuf_puts(&b, i ? ",\n  {\"id\": " : "\n  {\"id\": ", e);
        if (!rc) rc = strbuf_json_string(&b, s->example_id[i], e);
        if (!rc) rc = strbuf_puts(&b, ", \"output\": ", e);
        if (!rc) rc = strbuf_json_string(&b, refs ? d->output[dataset_find(d, s->example_id[i])] : s->answer[i], e);
        if (!rc) rc = strbuf_puts(&b, "}", e);
    }
    if (!rc) rc = strbuf_puts(&b, "\n]}\n", e);
    if (!rc) rc = atomic_write(path, b.s, b.len, e);
    strbuf_free(&b);
    return rc;
}

int eval_metrics_json(const EvalMetrics *m, NltkRelease meteor_compat, StrBuf *out, Error *e) {
    int rc = strbuf_printf(out, e,
                           "\"n\": %lld, \"rouge1\": %.6f, \"rougeL\": %.6f, \"meteor\": %.6f, \"meteor_compat\": \"%s\", "
                           "\"reward\": %.6f, \"answer_words\": %.2f, \"with_separator\": %.4f",
                           (long long)m->n, m->rouge1, m->rougeL, m->meteor, meteor_compat_name(meteor_compat), m->reward,
                           m->answer_words, m->with_separator);
    return !rc && m->has_judge ? strbuf_printf(out, e, ", \"judge\": %.6f", m->judge) : rc;
}

/* The mean judge score of s's answers; s's rewards are overwritten (the caller scores its spec
 * after). */
static int judge_mean(const Dataset *d, const RewardOptions *ro, Samples *s, double *mean, Error *e) {
    RewardSpec js = {{0}};
    js.weight[METRIC_JUDGE] = 1.0;
    int rc = reward_score_samples(&js, ro, d, s, e);
    double sum = 0;
    for (int64_t i = 0; !rc && i < s->m; i++) sum += s->reward[i];
    *mean = s->m ? sum / (double)s->m : 0.0;
    return rc;
}

/* Rank 0: files and metrics from the generated samples. */
static int score(const Dataset *d, const EvalOptions *o, Samples *s, EvalMetrics *m, Error *e) {
    char *pred = xasprintf(e, "%s/predictions.json", o->out_dir);
    char *refs = pred ? xasprintf(e, "%s/references.json", o->out_dir) : NULL;
    int rc = refs ? mkdir_p(o->out_dir, e) : RP_ENOMEM;
    if (!rc) rc = write_golds(pred, d->task->name, s, d, 0, e);
    if (!rc) rc = write_golds(refs, d->task->name, s, d, 1, e);
    TextSet tp, tr;
    int have_p = 0, have_r = 0;
    if (!rc && !(rc = textset_read(pred, &tp, e))) have_p = 1;
    if (!rc && !(rc = textset_read(refs, &tr, e))) have_r = 1;
    EvalResult er;
    int want[EVAL_COUNT] = {0};
    want[EVAL_ROUGE1] = want[EVAL_ROUGEL] = want[EVAL_METEOR] = 1;
    if (!rc) rc = eval_corpus(&tp, &tr, want, 0, o->meteor_compat, 0, &er, e);
    RewardSpec spec;
    RewardOptions ro;
    reward_options_default(&ro);
    ro.threads = o->threads;
    ro.meteor_compat = o->meteor_compat;
    ro.judge_timeout = o->judge_timeout;
    ro.judge_batch = o->judge_batch;
    ro.judge_retries = o->judge_retries;
    if (!rc && o->judge && o->judge[0]) rc = judge_argv_parse(o->judge, &ro.judge_argv, e);
    if (!rc && o->report_judge) {
        if (!ro.judge_argv) rc = error_set(e, RP_EINPUT, "evaluation: the judge's score was asked for but no judge command given");
        else if (!(rc = judge_mean(d, &ro, s, &m->judge, e))) m->has_judge = 1;
    }
    if (!rc) rc = reward_spec_parse(o->reward_spec, &spec, e);
    if (!rc) rc = reward_score_samples(&spec, &ro, d, s, e);
    judge_argv_free(ro.judge_argv);
    if (!rc) {
        m->n = s->m;
        m->rouge1 = er.mean[EVAL_ROUGE1];
        m->rougeL = er.mean[EVAL_ROUGEL];
        m->meteor = er.mean[EVAL_METEOR];
        double words = 0, sep = 0, rew = 0;
        for (int64_t i = 0; i < s->m; i++) {
            int in = 0;
            for (const char *p = s->answer[i]; *p; p++) {
                int sp = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
                if (!sp && !in) words++;
                in = !sp;
            }
            sep += s->has_separator[i];
            rew += s->reward[i];
        }
        double n = s->m ? (double)s->m : 1.0;
        m->answer_words = words / n;
        m->with_separator = sep / n;
        m->reward = rew / n;
        char *path = xasprintf(e, "%s/samples.h5", o->out_dir);
        rc = path ? samples_write(s, path, e) : RP_ENOMEM;
        free(path);
    }
    if (!rc) {
        StrBuf j;
        strbuf_init(&j);
        rc = strbuf_printf(&j, e, "{\"model\": \"%s\", \"data\": \"%s\", \"split\": \"%s\", \"decode\": \"%s\", ", o->model_path,
                           o->data_path, o->split, o->greedy ? "greedy" : "sample");
        if (!rc) rc = eval_metrics_json(m, o->meteor_compat, &j, e);
        if (!rc) rc = strbuf_puts(&j, "}\n", e);
        char *path = rc ? NULL : xasprintf(e, "%s/eval.json", o->out_dir);
        if (!rc) rc = path ? atomic_write(path, j.s, j.len, e) : RP_ENOMEM;
        free(path);
        strbuf_free(&j);
    }
    if (have_p) textset_free(&tp);
    if (have_r) textset_free(&tr);
    free(pred);
    free(refs);
    return rc;
}

int eval_run(const Model *model, const Tokenizer *t, const Dataset *d, const EvalOptions *o, EvalMetrics *m, Error *e) {
    memset(m, 0, sizeof *m);
    SamplerOptions so;
    sampler_options_default(&so);
    so.split = o->split;
    so.limit = o->limit;
    so.n = 1;
    so.sp.temperature = o->greedy ? 0.0 : o->temperature;
    so.sp.top_p = o->greedy ? 1.0 : o->top_p;
    so.sp.top_k = 0;
    so.max_new_tokens = o->max_new_tokens;
    so.max_reasoning_tokens = o->max_reasoning_tokens;
    so.max_answer_tokens = o->max_answer_tokens;
    so.seed = o->seed;
    so.round = -1; /* evaluation draws from its own random streams, never a training round's */
    so.prompt = o->prompt;
    so.prompt.allow_missing_reasoning = 1;
    so.threads = o->threads;
    so.weights = o->weights;
    so.model_path = o->model_path;
    so.data_path = o->data_path;
    Samples s;
    samples_init(&s);
    int rc = sampler_run(model, t, d, &so, &s, e);
    int rank = log_rank();
    if (!rc && rank == 0) rc = score(d, o, &s, m, e);
    samples_free(&s);
    rc = comm_agree(rc, e);
    if (!rc) {
        double v[9] = {(double)m->n, m->rouge1,       m->rougeL,         m->meteor,          m->reward,
                       m->answer_words, m->with_separator, (double)m->has_judge, m->judge};
        if ((rc = comm_bcast(v, sizeof v, e))) return rc;
        *m = (EvalMetrics){.n = (int64_t)v[0], .rouge1 = v[1], .rougeL = v[2], .meteor = v[3], .reward = v[4],
                           .answer_words = v[5], .with_separator = v[6], .has_judge = (int)v[7], .judge = v[8]};
    }
    return rc;
}

int eval_load(const char *model, const char *data, Model *g, Tokenizer **t, Dataset *d, Error *e) {
    *t = NULL;
    int have_g = 0, have_d = 0;
    int rc = checkpoint_load_any(model, g, t, NULL, e);
    if (!rc) have_g = 1;
    if (!rc && !(rc = dataset_read(data, d, e))) have_d = 1;
    if ((rc = comm_agree(rc, e))) {
        if (have_d) dataset_free(d);
        if (have_g) model_free(g);
        tokenizer_free(*t);
        *t = NULL;
    }
    return rc;
}

void eval_unload(Model *g, Tokenizer *t, Dataset *d) {
    dataset_free(d);
    model_free(g);
    tokenizer_free(t);
}

int eval_checkpoint(const char *model, const char *data, EvalOptions *o, EvalMetrics *m, Error *e) {
    Model g;
    Tokenizer *tok;
    Dataset d;
    int rc = eval_load(model, data, &g, &tok, &d, e);
    if (rc) return rc;
    o->model_path = model;
    o->data_path = data;
    rc = eval_run(&g, tok, &d, o, m, e);
    eval_unload(&g, tok, &d);
    return rc;
}
