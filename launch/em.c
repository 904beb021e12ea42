/* ReST-EM rounds: sample -> reward/filter -> kept set -> M-step -> validate (see em.h). */
#include "launch/em.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/watchdog.h"
#include "data/dataset.h"
#include "launch/stages.h"
#include "reward/filter.h"
#include "reward/judge.h"
#include "reward/meteor.h"
#include "reward/reward.h"
#include "sampler/sampler.h"
#include "core/comm.h"

char *em_path(const char *dir, int t, const char *name, Error *e) {
    return xasprintf(e, "%s/round%d%s%s", dir, t, name[0] ? "/" : "", name);
}

int em_threads(const RunConfig *c) {
    if (c->threads > 0) return (int)c->threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per = (int)(cores / comm_local_ranks());
    return per > 0 ? per : 1;
}

/* eval.meteor_compat as a release (config_check has accepted only the known names). */
static NltkRelease meteor_compat(const RunConfig *c) {
    NltkRelease r = NLTK_3_10;
    Error ignored;
    meteor_compat_parse(c->eval.meteor_compat, &r, &ignored);
    return r;
}

void em_train_options(const RunConfig *c, long steps, long batch, long accum, double lr, long seed, const char *out,
                      const char *metrics, TrainStageOptions *t) {
    train_stage_options_default(t);
    t->train.out = out;
    t->train.metrics = metrics;
    t->train.steps = steps;
    t->train.batch_size = (int)batch;
    t->train.grad_accum = (int)accum;
    t->train.recompute = c->train.recompute;
    t->train.dtype = config_dtype(c);
    t->train.vocab_chunk = config_vocab_chunk(c);
    Error unused; /* config_check admitted only the names dp_reduce_parse knows */
    (void)dp_reduce_parse(c->train.reduce, &t->train.reduce, &unused);
    t->train.zero = (int)c->train.zero;
    t->train.overlap = (int)c->train.overlap;
    t->train.sched.max_lr = lr;
    (void)schedule_parse_kind(c->train.schedule, &t->train.sched.kind, &unused); /* config_check admitted it */
    t->train.seed = (uint64_t)seed;
    t->train.checkpoint_every = steps / 4 > 0 ? steps / 4 : 1;
    t->threads = em_threads(c);
    t->resume = 1;
}

int em_tensorboard_open(const RunConfig *c, const char *dir, TbEvents **tb, Error *e) {
    *tb = NULL;
    int rc = RP_OK;
    if (c->report.tensorboard && log_rank() == 0) {
        char *tdir = xasprintf(e, "%s/tensorboard", dir);
        rc = tdir ? tbevents_open(tb, tdir, e) : RP_ENOMEM;
        if (!rc) log_info("tensorboard: scalars go to %s (view: tensorboard --logdir %s)", (*tb)->path, tdir);
        free(tdir);
    }
    return comm_agree(rc, e);
}

void em_tensorboard_record(TbEvents *tb, const char *prefix, long step, const char *path) {
    char *text = NULL;
    Error e;
    if (!tb) return;
    if (file_read_all(path, &text, NULL, &e)) log_warn("tensorboard: %s", e.msg);
    else tbevents_json(tb, prefix, step, text);
    free(text);
}

void em_prompt_options(const RunConfig *c, PromptOptions *po) {
    prompt_options_default(po);
    po->k = (int)c->prompt.k;
    po->profile = strcmp(c->prompt.profile, "off") != 0;
    po->reasoning = strcmp(c->sft.reasoning, "off") != 0;
}

/* All ranks decide together whether a step's output exists, so none skips alone. */
static int exists_all(const char *path, Error *e, int *yes) {
    int v = path_exists(path);
    int rc = comm_bcast(&v, sizeof v, e);
    *yes = v;
    return rc;
}

/* The files of round t (see em.h); every rank builds them. */
typedef struct {
    char *dir, *samples, *partial, *estep, *kept, *model, *done, *val, *val_done, *metrics;
    char *stage; /* the M-step's metrics name, mstep_round<t>: its TensorBoard tags' prefix */
} Round;

static void round_free(Round *r) {
    free(r->dir), free(r->samples), free(r->partial), free(r->estep), free(r->kept);
    free(r->model), free(r->done), free(r->val), free(r->val_done), free(r->metrics), free(r->stage);
    memset(r, 0, sizeof *r);
}

/* Collective: every rank returns the same status. */
static int round_paths(const EmPlan *p, int t, Round *r, Error *e) {
    memset(r, 0, sizeof *r);
    r->dir = em_path(p->dir, t, "", e);
    r->samples = em_path(p->dir, t, "samples.h5", e);
    r->partial = em_path(p->dir, t, "samples.partial.h5", e);
    r->estep = em_path(p->dir, t, "estep.json", e);
    r->kept = em_path(p->dir, t, "kept.h5", e);
    r->model = em_path(p->dir, t, "model.h5", e);
    r->done = em_path(p->dir, t, "mstep.done", e);
    r->val = em_path(p->dir, t, "val", e);
    r->val_done = em_path(p->dir, t, "val/eval.json", e);
    r->stage = xasprintf(e, "mstep_round%d", t);
    r->metrics = r->stage ? xasprintf(e, "%s/%s.jsonl", p->metrics, r->stage) : NULL;
    int ok = r->dir && r->samples && r->partial && r->estep && r->kept && r->model && r->done && r->val && r->val_done &&
             r->metrics;
    int rc = comm_agree(ok ? RP_OK : RP_ENOMEM, e);
    if (rc) round_free(r);
    return rc;
}

static int estep_sample(const EmPlan *p, const Round *r, int t, const char *policy, Error *e) {
    const RunConfig *c = p->c;
    const char *out = r->samples, *partial = r->partial;
    Model m;
    Tokenizer *tok;
    Dataset d;
    int rc = eval_load(policy, p->data, &m, &tok, &d, e);
    if (rc) return rc;
    SamplerOptions so;
    sampler_options_default(&so);
    so.split = "train";
    so.limit = c->em.limit;
    so.limit_random = !strcmp(c->em.subset, "random");
    so.n = (int)c->em.n;
    so.sp = (SamplingParams){c->em.temperature, (int)c->em.top_k, c->em.top_p};
    so.max_new_tokens = (int)c->em.max_new_tokens;
    so.max_reasoning_tokens = (int)c->em.max_reasoning_tokens;
    so.max_answer_tokens = (int)c->em.max_answer_tokens;
    so.seed = (uint64_t)c->seed;
    so.round = t;
    em_prompt_options(c, &so.prompt);
    so.prompt.allow_missing_reasoning = 1;
    so.threads = em_threads(c);
    so.weights = config_dtype(c);
    so.partial = partial;
    so.model_path = policy;
    so.data_path = p->data;
    Samples s;
    samples_init(&s);
    log_info("em round %d: sampling %ld candidates per train input from %s", t, c->em.n, policy);
    rc = sampler_run(&m, tok, &d, &so, &s, e);
    if (!rc && log_rank() == 0) {
        rc = samples_write(&s, out, e);
        if (!rc) unlink(partial);
    }
    samples_free(&s);
    eval_unload(&m, tok, &d);
    return comm_agree(rc, e);
}

/* Rank 0: scores and filters the samples in place and records the E-step's statistics. */
static int estep_reward(const EmPlan *p, const Round *r, int t, Error *e) {
    const RunConfig *c = p->c;
    const char *path = r->samples, *stats = r->estep;
    Samples s;
    Dataset d;
    int rc = samples_read(path, &s, e), have_d = 0;
    if (!rc && s.has_reward && path_exists(stats)) {
        samples_free(&s);
        return RP_OK;
    }
    if (!rc && !(rc = dataset_read(p->data, &d, e))) have_d = 1;
    RewardSpec spec;
    RewardOptions ro;
    reward_options_default(&ro);
    ro.threads = em_threads(c);
    ro.judge_timeout = c->em.judge_timeout;
    ro.judge_batch = (int)c->em.judge_batch;
    ro.judge_retries = (int)c->em.judge_retries;
    if (!rc && c->em.judge[0]) rc = judge_argv_parse(c->em.judge, &ro.judge_argv, e);
    ro.meteor_compat = meteor_compat(c);
    FilterOptions fo;
    filter_options_default(&fo);
    fo.tau = c->em.tau;
    fo.keep = (int)c->em.keep;
    fo.require_separator = strcmp(c->sft.reasoning, "off") != 0;
    FilterStats st;
    if (!rc) rc = reward_spec_parse(c->em.reward, &spec, e);
    if (!rc) rc = reward_score_samples(&spec, &ro, &d, &s, e);
    if (!rc) rc = filter_apply(&s, &fo, &st, e);
    if (!rc) {
        free(s.reward_spec);
        s.reward_spec = xstrdup(c->em.reward, e);
        rc = s.reward_spec ? samples_write(&s, path, e) : RP_ENOMEM;
    }
    if (!rc) {
        double words = 0, kept_words = 0;
        for (int64_t i = 0; i < s.m; i++) {
            double w = 0;
            int in = 0;
            for (const char *q = s.answer[i]; *q; q++) {
                int sp = *q == ' ' || *q == '\n' || *q == '\t';
                if (!sp && !in) w++;
                in = !sp;
            }
            words += w;
            if (s.kept[i]) kept_words += w;
        }
        StrBuf j;
        strbuf_init(&j);
        rc = strbuf_printf(&j, e,
                           "{\"stage\": \"estep\", \"round\": %d, \"inputs\": %lld, \"candidates\": %lld, \"kept\": %lld, "
                           "\"inputs_kept\": %lld, \"kept_fraction\": %.6f, \"mean_reward\": %.6f, \"mean_kept_reward\": %.6f, "
                           "\"no_separator\": %lld, \"answer_words\": %.2f, \"kept_answer_words\": %.2f}\n",
                           t, (long long)st.inputs, (long long)st.candidates, (long long)st.kept, (long long)st.inputs_kept,
                           st.candidates ? (double)st.kept / (double)st.candidates : 0.0, st.mean_reward, st.mean_kept_reward,
                           (long long)st.no_separator, s.m ? words / (double)s.m : 0.0, st.kept ? kept_words / (double)st.kept : 0.0);
        /* TensorBoard first: a run killed between the two writes redoes this step on resume and
         * writes the record again (the same step, which TensorBoard replaces), never loses it. */
        if (!rc) tbevents_json(p->tb, "estep", t, j.s);
        if (!rc) rc = atomic_write(stats, j.s, j.len, e);
        if (!rc)
            log_info("em round %d: mean reward %.4f; kept %lld of %lld candidates (%lld inputs), mean kept reward %.4f", t,
                     st.mean_reward, (long long)st.kept, (long long)st.candidates, (long long)st.inputs_kept, st.mean_kept_reward);
        strbuf_free(&j);
    }
    samples_free(&s);
    judge_argv_free(ro.judge_argv);
    if (have_d) dataset_free(&d);
    return rc;
}

/* Rank 0: the kept candidates as training examples (same prompt, the candidate as target), plus
 * the val examples so the M-step can report validation loss. */
static int build_kept(const EmPlan *p, const Round *r, int64_t *n_kept, Error *e) {
    const char *spath = r->samples, *kpath = r->kept;
    Samples s;
    Dataset d, k;
    int rc = samples_read(spath, &s, e), have_d = 0, have_k = 0;
    if (!rc && !(rc = dataset_read(p->data, &d, e))) have_d = 1;
    if (!rc && !(rc = dataset_init(&k, d.task->name, e))) have_k = 1;
    StrBuf id;
    strbuf_init(&id);
    *n_kept = 0;
    for (int64_t pass = 0; pass < 2 && !rc; pass++) {
        int64_t rows = pass == 0 ? s.m : d.n;
        for (int64_t r = 0; r < rows && !rc; r++) {
            int64_t x;
            strbuf_clear(&id);
            if (pass == 0) {
                if (!s.kept[r]) continue;
                x = dataset_find(&d, s.example_id[r]);
                rc = strbuf_printf(&id, e, "%s#%d", s.example_id[r], s.candidate[r]);
                if (!rc) rc = dataset_add(&k, id.s, d.user[x], "train", d.input[x], s.answer[r], s.reasoning_text[r], e);
                (*n_kept)++;
            } else {
                if (strcmp(d.split[r], "val")) continue;
                x = r;
                rc = dataset_add(&k, d.id[x], d.user[x], "val", d.input[x], d.output[x], d.reasoning[x], e);
            }
            for (int64_t j = 0; !rc && j < dataset_n_items(&d, x); j++)
                rc = dataset_add_item(&k, (const char *const *)dataset_item(&d, x, j), e);
        }
    }
    if (!rc && *n_kept > 0) rc = dataset_write(&k, kpath, e);
    strbuf_free(&id);
    if (have_k) dataset_free(&k);
    if (have_d) dataset_free(&d);
    samples_free(&s);
    return rc;
}

long em_mstep_steps(const RunConfig *c, int64_t n_kept) {
    if (c->em.steps > 0) return c->em.steps;
    double per_step = (double)c->em.batch_size * (double)c->em.grad_accum;
    double steps = ceil(c->em.epochs * (double)n_kept / per_step);
    return steps < 1 ? 1 : steps > (double)LONG_MAX / 2 ? LONG_MAX / 2 : (long)steps;
}

/* The M-step: `restpg sft` on the kept set with the run's options (every rank), em_mstep_steps
 * long, the first em.warmup_frac of them warming up. */
static int mstep_train(const EmPlan *p, const Round *r, int t, const char *init, int64_t n_kept, Error *e) {
    const RunConfig *c = p->c;
    SftOptions o = {.init = init};
    long steps = em_mstep_steps(c, n_kept);
    em_train_options(c, steps, c->em.batch_size, c->em.grad_accum, c->em.lr, c->seed + t, r->model, r->metrics, &o.t);
    o.t.train.sched.warmup = (int64_t)(c->em.warmup_frac * (double)steps);
    o.t.train.tb = p->tb;
    o.t.train.tb_prefix = r->stage;
    o.t.data = r->kept;
    em_prompt_options(c, &o.prompt);
    return stage_sft(&o, e);
}

static int copy_file(const char *from, const char *to, Error *e) {
    char *buf;
    size_t len;
    int rc = file_read_all(from, &buf, &len, e);
    if (rc) return rc;
    rc = atomic_write(to, buf, len, e);
    free(buf);
    return rc;
}

void em_eval_options(const RunConfig *c, EvalOptions *eo) {
    eval_options_default(eo);
    eo->split = "val";
    eo->limit = c->eval.val_limit;
    eo->greedy = !strcmp(c->eval.decode, "greedy");
    eo->temperature = c->em.temperature;
    eo->top_p = c->em.top_p;
    eo->max_new_tokens = (int)c->eval.max_new_tokens;
    eo->max_reasoning_tokens = (int)c->eval.max_reasoning_tokens;
    eo->max_answer_tokens = (int)c->eval.max_answer_tokens;
    eo->seed = (uint64_t)c->seed;
    eo->threads = em_threads(c);
    eo->weights = config_dtype(c);
    em_prompt_options(c, &eo->prompt);
    eo->reward_spec = c->em.reward;
    eo->judge = c->em.judge;
    eo->judge_timeout = c->em.judge_timeout;
    eo->judge_batch = (int)c->em.judge_batch;
    eo->judge_retries = (int)c->em.judge_retries;
    eo->report_judge = c->eval.judge;
    eo->meteor_compat = meteor_compat(c);
}

static int validate(const EmPlan *p, const Round *r, int t, const char *model_path, Error *e) {
    int have;
    int rc = exists_all(r->val_done, e, &have);
    if (rc || have) return rc;
    watchdog_stage("em validation", 1);
    EvalOptions eo;
    em_eval_options(p->c, &eo);
    eo.out_dir = r->val;
    EvalMetrics em;
    rc = eval_checkpoint(model_path, p->data, &eo, &em, e);
    if (!rc) em_tensorboard_record(p->tb, "val", t, r->val_done); /* tb: rank 0 only */
    if (!rc)
        log_info("em round %d: validation on %lld examples: ROUGE-1 %.4f ROUGE-L %.4f METEOR %.4f reward %.4f", t,
                 (long long)em.n, em.rouge1, em.rougeL, em.meteor, em.reward);
    return rc;
}

/* One round after the policy prev (see em.h); every rank. */
static int em_round(const EmPlan *p, const Round *r, int t, const char *prev, Error *e) {
    const RunConfig *c = p->c;
    int rc = log_rank() == 0 ? mkdir_p(r->dir, e) : RP_OK;
    int have = 0;
    if ((rc = comm_agree(rc, e)) || (rc = exists_all(r->samples, e, &have))) return rc;
    watchdog_stage("em sampling", 1);
    if (!have && (rc = estep_sample(p, r, t, prev, e))) return rc;
    watchdog_stage("em reward", 0); /* rank 0 alone (core/watchdog.h) */
    if (log_rank() == 0) rc = estep_reward(p, r, t, e);
    if ((rc = comm_agree(rc, e))) return rc;

    if ((rc = exists_all(r->done, e, &have))) return rc;
    if (!have) {
        int64_t n_kept = 0;
        watchdog_stage("em kept set", 0);
        if (log_rank() == 0) rc = build_kept(p, r, &n_kept, e);
        if ((rc = comm_agree(rc, e)) || (rc = comm_bcast(&n_kept, sizeof n_kept, e))) return rc;
        if (n_kept == 0) {
            log_warn("em round %d: no candidate passed the filter (tau %g); the policy stays as it was", t, c->em.tau);
            if (log_rank() == 0) rc = copy_file(prev, r->model, e);
        } else {
            const char *init = !strcmp(c->em.mstep_init, "base") ? p->base : !strcmp(c->em.mstep_init, "sft") ? p->sft : prev;
            log_info("em round %d: M-step of %ld steps on %lld kept candidates from %s", t, em_mstep_steps(c, n_kept),
                     (long long)n_kept, init);
            watchdog_stage("em M-step", 1);
            rc = mstep_train(p, r, t, init, n_kept, e);
        }
        if (!rc && log_rank() == 0) rc = atomic_write(r->done, "done\n", 5, e);
        if ((rc = comm_agree(rc, e))) return rc;
    }
    return validate(p, r, t, r->model, e);
}

/* Rank 0: the validation reward of round t's policy from its eval.json. */
static int val_reward(const EmPlan *p, int t, double *reward, Error *e) {
    char *path = em_path(p->dir, t, "val/eval.json", e), *text = NULL;
    if (!path) return RP_ENOMEM;
    int rc = file_read_all(path, &text, NULL, e);
    cJSON *o = rc ? NULL : cJSON_Parse(text);
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, "reward") : NULL;
    if (!rc && !cJSON_IsNumber(v)) rc = error_set(e, RP_EINPUT, "%s: field 'reward': expected a number", path);
    if (!rc) *reward = v->valuedouble;
    cJSON_Delete(o);
    free(text);
    free(path);
    return rc;
}

/* Rank 0: picks the final round under em.select (best: the highest validation reward, the
 * earliest on a tie; last: round T) and records the choice in <dir>/select.json. */
static int select_round(const EmPlan *p, int *chosen, Error *e) {
    const RunConfig *c = p->c;
    int T = (int)c->em.rounds, best = T;
    double *rw = xcalloc((size_t)T + 1, sizeof(double), e);
    if (!rw) return RP_ENOMEM;
    int rc = RP_OK;
    for (int t = 0; t <= T && !rc; t++) rc = val_reward(p, t, &rw[t], e);
    if (!rc && !strcmp(c->em.select, "best"))
        for (int t = best = 0; t <= T; t++)
            if (rw[t] > rw[best]) best = t;
    StrBuf j;
    strbuf_init(&j);
    if (!rc) rc = strbuf_printf(&j, e, "{\"stage\": \"select\", \"select\": \"%s\", \"round\": %d, \"val_reward\": %.6f, "
                                        "\"val_rewards\": [", c->em.select, best, rw[best]);
    for (int t = 0; t <= T && !rc; t++) rc = strbuf_printf(&j, e, "%s%.6f", t ? ", " : "", rw[t]);
    if (!rc) rc = strbuf_puts(&j, "]}\n", e);
    char *path = rc ? NULL : xasprintf(e, "%s/select.json", p->dir);
    if (!rc) rc = path ? atomic_write(path, j.s, j.len, e) : RP_ENOMEM;
    if (!rc)
        log_info("em: final policy from round %d (em.select %s; validation reward %.4f%s)", best, c->em.select, rw[best],
                 best == 0 ? ", the SFT policy" : "");
    *chosen = best;
    free(path);
    strbuf_free(&j);
    free(rw);
    return rc;
}

int em_run(const EmPlan *p, char **final_model, Error *e) {
    const RunConfig *c = p->c;
    *final_model = NULL;
    char *prev = xstrdup(p->sft, e);
    em_threads(c); /* collective the first time: settle it on every rank before rank-0-only steps */
    int rc = log_rank() == 0 ? mkdir_p(p->metrics, e) : RP_OK;
    if (!(rc = comm_agree(prev ? rc : RP_ENOMEM, e))) {
        Round r;
        if (!(rc = round_paths(p, 0, &r, e))) {
            rc = validate(p, &r, 0, p->sft, e);
            round_free(&r);
        }
    }
    for (int t = 1; t <= c->em.rounds && !rc; t++) {
        Round r;
        if ((rc = round_paths(p, t, &r, e))) break;
        if (!(rc = em_round(p, &r, t, prev, e))) {
            free(prev);
            prev = r.model; /* the round's policy is the next one's start */
            r.model = NULL;
        }
        round_free(&r);
    }
    int chosen = 0;
    if (!rc) {
        rc = log_rank() == 0 ? select_round(p, &chosen, e) : RP_OK;
        if (!(rc = comm_agree(rc, e))) rc = comm_bcast(&chosen, sizeof chosen, e);
    }
    if (!rc && chosen < c->em.rounds) {
        free(prev);
        prev = chosen ? em_path(p->dir, chosen, "model.h5", e) : xstrdup(p->sft, e);
        rc = comm_agree(prev ? RP_OK : RP_ENOMEM, e);
    }
    if (!rc) *final_model = prev;
    else free(prev);
    return rc;
}
