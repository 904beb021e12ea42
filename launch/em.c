/* ReST-EM rounds: sample -> reward/filter -> kept set -> M-step -> validate (see em.h). */
#include "launch/em.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/dataset.h"
#include "launch/commands.h"
#include "reward/filter.h"
#include "reward/reward.h"
#include "sampler/sampler.h"
#include "core/comm.h"

void em_path(const char *dir, int t, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/round%d%s%s", dir, t, name[0] ? "/" : "", name);
}

int em_threads(const RunConfig *c) {
    if (c->threads > 0) return (int)c->threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per = (int)(cores / comm_local_ranks());
    return per > 0 ? per : 1;
}

void add_train_args(CmdArgs *a, const RunConfig *c, long steps, long batch, long accum, double lr, long seed,
                    const char *metrics) {
    cmdargs_add(a, "--steps=%ld", steps);
    cmdargs_add(a, "--batch-size=%ld", batch);
    cmdargs_add(a, "--grad-accum=%ld", accum);
    cmdargs_add(a, "--lr=%.17g", lr);
    cmdargs_add(a, "--seed=%ld", seed);
    cmdargs_add(a, "--threads=%d", em_threads(c));
    cmdargs_add(a, "--checkpoint-every=%ld", steps / 4 > 0 ? steps / 4 : 1);
    cmdargs_add(a, "--metrics=%s", metrics);
    cmdargs_add(a, "--resume");
}

void add_prompt_args(CmdArgs *a, const RunConfig *c) {
    cmdargs_add(a, "--reasoning=%s", c->sft.reasoning);
    cmdargs_add(a, "--k=%ld", c->prompt.k);
    cmdargs_add(a, "--profile=%s", c->prompt.profile);
}

static void prompt_from_config(const RunConfig *c, PromptOptions *po) {
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

static int estep_sample(const EmPlan *p, int t, const char *policy, Error *e) {
    const RunConfig *c = p->c;
    char out[4200], partial[4200];
    em_path(p->dir, t, "samples.h5", out, sizeof out);
    em_path(p->dir, t, "samples.partial.h5", partial, sizeof partial);
    GPT m;
    Tokenizer *tok;
    Dataset d;
    int rc = eval_load(policy, p->data, &m, &tok, &d, e);
    if (rc) return rc;
    SamplerOptions so;
    sampler_options_default(&so);
    so.split = "train";
    so.limit = c->em.limit;
    so.n = (int)c->em.n;
    so.sp = (SamplingParams){c->em.temperature, (int)c->em.top_k, c->em.top_p};
    so.max_new_tokens = (int)c->em.max_new_tokens;
    so.seed = (uint64_t)c->seed;
    so.round = t;
    prompt_from_config(c, &so.prompt);
    so.prompt.allow_missing_reasoning = 1;
    so.threads = em_threads(c);
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
static int estep_reward(const EmPlan *p, int t, Error *e) {
    const RunConfig *c = p->c;
    char path[4200], stats[4200];
    em_path(p->dir, t, "samples.h5", path, sizeof path);
    em_path(p->dir, t, "estep.json", stats, sizeof stats);
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
        if (!rc) rc = atomic_write(stats, j.s, j.len, e);
        if (!rc)
            log_info("em round %d: mean reward %.4f; kept %lld of %lld candidates (%lld inputs), mean kept reward %.4f", t,
                     st.mean_reward, (long long)st.kept, (long long)st.candidates, (long long)st.inputs_kept, st.mean_kept_reward);
        strbuf_free(&j);
    }
    samples_free(&s);
    if (have_d) dataset_free(&d);
    return rc;
}

/* Rank 0: the kept candidates as training examples (same prompt, the candidate as target), plus
 * the val examples so the M-step can report validation loss. */
static int build_kept(const EmPlan *p, int t, int64_t *n_kept, Error *e) {
    char spath[4200], kpath[4200];
    em_path(p->dir, t, "samples.h5", spath, sizeof spath);
    em_path(p->dir, t, "kept.h5", kpath, sizeof kpath);
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

/* Runs `restpg sft` in-process with the M-step's options (every rank). */
static int mstep_train(const EmPlan *p, int t, const char *init, Error *e) {
    const RunConfig *c = p->c;
    char kept[4200], out[4200], metrics[4200];
    em_path(p->dir, t, "kept.h5", kept, sizeof kept);
    em_path(p->dir, t, "model.h5", out, sizeof out);
    snprintf(metrics, sizeof metrics, "%s/mstep_round%d.jsonl", p->metrics, t);
    CmdArgs a;
    cmdargs_init(&a, "sft");
    cmdargs_add(&a, "--data=%s", kept);
    cmdargs_add(&a, "--init=%s", init);
    cmdargs_add(&a, "--out=%s", out);
    add_prompt_args(&a, c);
    add_train_args(&a, c, c->em.steps, c->em.batch_size, c->em.grad_accum, c->em.lr, c->seed + t, metrics);
    return cmdargs_run(&a, cmd_sft, e);
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
    eo->seed = (uint64_t)c->seed;
    eo->threads = em_threads(c);
    prompt_from_config(c, &eo->prompt);
    eo->reward_spec = c->em.reward;
}

static int validate(const EmPlan *p, int t, const char *model_path, Error *e) {
    char dir[4200], done[4300];
    em_path(p->dir, t, "val", dir, sizeof dir);
    snprintf(done, sizeof done, "%s/eval.json", dir);
    int have;
    int rc = exists_all(done, e, &have);
    if (rc || have) return rc;
    EvalOptions eo;
    em_eval_options(p->c, &eo);
    eo.out_dir = dir;
    EvalMetrics em;
    rc = eval_checkpoint(model_path, p->data, &eo, &em, e);
    if (!rc)
        log_info("em round %d: validation on %lld examples: ROUGE-1 %.4f ROUGE-L %.4f METEOR %.4f reward %.4f", t,
                 (long long)em.n, em.rouge1, em.rougeL, em.meteor, em.reward);
    return rc;
}

int em_run(const EmPlan *p, char *final_model, size_t fn, Error *e) {
    const RunConfig *c = p->c;
    char prev[4200];
    snprintf(prev, sizeof prev, "%s", p->sft);
    em_threads(c); /* collective the first time: settle it on every rank before rank-0-only steps */
    int rc = log_rank() == 0 ? mkdir_p(p->metrics, e) : RP_OK;
    if (!(rc = comm_agree(rc, e))) rc = validate(p, 0, p->sft, e);
    for (int t = 1; t <= c->em.rounds && !rc; t++) {
        char dir[4200];
        em_path(p->dir, t, "", dir, sizeof dir);
        if (log_rank() == 0) rc = mkdir_p(dir, e);
        int have = 0;
        char samples[4200];
        em_path(p->dir, t, "samples.h5", samples, sizeof samples);
        if ((rc = comm_agree(rc, e)) || (rc = exists_all(samples, e, &have))) break;
        if (!have && (rc = estep_sample(p, t, prev, e))) break;
        if (log_rank() == 0) rc = estep_reward(p, t, e);
        if ((rc = comm_agree(rc, e))) break;

        char kept[4200], model[4200], done[4200];
        em_path(p->dir, t, "kept.h5", kept, sizeof kept);
        em_path(p->dir, t, "model.h5", model, sizeof model);
        em_path(p->dir, t, "mstep.done", done, sizeof done);
        if ((rc = exists_all(done, e, &have))) break;
        if (!have) {
            int64_t n_kept = 0;
            if (log_rank() == 0) rc = build_kept(p, t, &n_kept, e);
            if ((rc = comm_agree(rc, e)) || (rc = comm_bcast(&n_kept, sizeof n_kept, e))) break;
            if (n_kept == 0) {
                log_warn("em round %d: no candidate passed the filter (tau %g); the policy stays as it was", t, c->em.tau);
                if (log_rank() == 0) rc = copy_file(prev, model, e);
            } else {
                const char *init = !strcmp(c->em.mstep_init, "base") ? p->base : !strcmp(c->em.mstep_init, "sft") ? p->sft : prev;
                log_info("em round %d: M-step on %lld kept candidates from %s", t, (long long)n_kept, init);
                rc = mstep_train(p, t, init, e);
            }
            if (!rc && log_rank() == 0) rc = atomic_write(done, "done\n", 5, e);
            if ((rc = comm_agree(rc, e))) break;
        }
        if ((rc = validate(p, t, model, e))) break;
        snprintf(prev, sizeof prev, "%s", model);
    }
    if (!rc) snprintf(final_model, fn, "%s", prev);
    return rc;
}
