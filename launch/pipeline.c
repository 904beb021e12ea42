/* The stage runner of `restpg run` (see pipeline.h). Stages are the typed calls the individual
 * commands make (launch/stages.h), so a run is exactly the documented commands. */
#include "launch/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/watchdog.h"
#include "data/aptlists.h"
#include "launch/cmd_data.h"
#include "launch/em.h"
#include "launch/report.h"
#include "launch/runtime.h"
#include "launch/stages.h"
#include "model/checkpoint.h"
#include "core/comm.h"

typedef struct {
    const RunConfig *c;
    const char *dir;
    char *data, *tok, *base, *sft, *state, *metrics;
    TbEvents *tb; /* rank 0's TensorBoard writer with report.tensorboard on, else NULL */
} Run;

/* 1 on every rank if the stage finished earlier. */
static int stage_done(const Run *r, const char *stage, int *done, Error *e) {
    char *m = xasprintf(e, "%s/%s.done", r->state, stage);
    int v = m && path_exists(m);
    free(m);
    int rc = comm_agree(m ? RP_OK : RP_ENOMEM, e);
    if (!rc) rc = comm_bcast(&v, sizeof v, e);
    *done = v;
    return rc;
}

static int stage_finish(const Run *r, const char *stage, int rc, Error *e) {
    if (!rc && log_rank() == 0) {
        char *m = xasprintf(e, "%s/%s.done", r->state, stage);
        rc = m ? atomic_write(m, "done\n", 5, e) : RP_ENOMEM;
        free(m);
    }
    return comm_agree(rc, e);
}

/* 1 if the default apt lists hold at least one Packages file with a Translation-en to match. */
static int apt_lists_present(void) {
    char **pk = NULL, **tr = NULL;
    int np = 0, nt = 0;
    Error e;
    if (apt_list_dir("/var/lib/apt/lists", &pk, &np, &tr, &nt, &e)) return 0;
    apt_paths_free(pk, np);
    apt_paths_free(tr, nt);
    return np > 0 && nt > 0;
}

static int run_data(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "data", &done, e);
    if (rc || done) return rc;
    watchdog_stage("data", 0); /* rank 0 alone: see core/watchdog.h */
    if (log_rank() == 0) {
        const char *src = c->data.source;
        if (!strcmp(src, "debian") && !apt_lists_present()) {
            log_warn("data.source is debian but /var/lib/apt/lists has no Packages lists; using the synthetic dataset");
            src = "synth";
        }
        if (!strcmp(src, "debian")) {
            DebianOptions o;
            debian_options_default(&o);
            o.seed = c->seed;
            o.min_items = c->data.min_items;
            o.max_users = c->data.max_users;
            o.max_examples_per_user = c->data.max_examples_per_user;
            rc = stage_debian(&o, r->data, e);
        } else if (!strcmp(src, "synth")) {
            /* 8 notes per user: `restpg data synth`'s default. */
            SynthConfig sc = {c->data.synth_users, 8, (uint64_t)c->seed};
            rc = stage_synth(&sc, r->data, e);
        } else {
            Dataset d;
            if (!(rc = dataset_read(c->data.path, &d, e))) {
                rc = dataset_write(&d, r->data, e);
                dataset_free(&d);
            }
        }
    }
    return stage_finish(r, "data", rc, e);
}

static int run_tokenizer(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (c->tokenizer.path[0] || c->model.init[0]) return RP_OK; /* a given tokenizer, or the base model's own */
    int done, rc = stage_done(r, "tokenizer", &done, e);
    if (rc || done) return rc;
    watchdog_stage("tokenizer", 0);
    if (log_rank() == 0) {
        TokenizerTrainOptions o = {r->data, r->tok, "all", (int)c->tokenizer.vocab_size};
        rc = stage_tokenizer_train(&o, e);
    }
    return stage_finish(r, "tokenizer", rc, e);
}

static int run_reason(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (!strcmp(c->sft.reasoning, "off")) return RP_OK;
    int done, rc = stage_done(r, "reason", &done, e);
    if (rc || done) return rc;
    watchdog_stage("reason", 0);
    if (log_rank() == 0) {
        ReasonOptions o = {r->data,          NULL, c->reason.teacher, "train,val", (int)c->prompt.k, c->reason.teacher_timeout,
                           (int)c->reason.teacher_batch, (int)c->reason.teacher_retries};
        rc = stage_reason(&o, e);
    }
    return stage_finish(r, "reason", rc, e);
}

/* model.init names a GGUF file or a Hugging Face directory: imported once into the run's base.h5
 * with its context limited to model.n_positions, so every later stage loads a restpg checkpoint
 * planned for that context. */
static int run_import(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "import", &done, e);
    if (rc || done) return rc;
    if (log_rank() == 0) {
        Model m;
        Tokenizer *t = NULL;
        if (!(rc = checkpoint_load_any(c->model.init, &m, &t, NULL, e))) {
            if (!(rc = model_limit_positions(&m, (int)c->model.n_positions, e))) rc = checkpoint_save(r->base, &m, t, NULL, e);
            char what[256];
            model_describe(&m, what, sizeof what);
            if (!rc) log_info("imported %s into %s: %s, context %d", c->model.init, r->base, what, m.n_positions);
            model_free(&m);
            tokenizer_free(t);
        }
    }
    return stage_finish(r, "import", rc, e);
}

static int run_pretrain(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (c->model.init[0]) return model_file_is_import(c->model.init) ? run_import(r, e) : RP_OK;
    int done, rc = stage_done(r, "pretrain", &done, e);
    if (rc || done) return rc;
    watchdog_stage("pretrain", 1);
    char *metrics = xasprintf(e, "%s/pretrain.jsonl", r->metrics);
    if ((rc = comm_agree(metrics ? RP_OK : RP_ENOMEM, e))) return rc;
    PretrainOptions o = {.shape_origin = "the run config's model.*"};
    em_train_options(c, c->pretrain.steps, c->pretrain.batch_size, c->pretrain.grad_accum, c->pretrain.lr, c->seed, r->base,
                     metrics, &o.t);
    o.t.train.tb = r->tb;
    o.t.data = r->data;
    o.t.tokenizer = r->tok;
    o.t.train.seq_len = (int)c->pretrain.seq_len;
    o.t.train.sched.warmup = c->pretrain.steps / 20;
    o.shape = (GPTConfig){.n_layer = (int)c->model.n_layer, .n_head = (int)c->model.n_head, .n_embd = (int)c->model.n_embd,
                          .n_positions = (int)c->model.n_positions};
    rc = stage_pretrain(&o, e);
    free(metrics);
    return stage_finish(r, "pretrain", rc, e);
}

static int run_sft(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "sft", &done, e);
    if (rc || done) return rc;
    watchdog_stage("sft", 1);
    char *metrics = xasprintf(e, "%s/sft.jsonl", r->metrics);
    if ((rc = comm_agree(metrics ? RP_OK : RP_ENOMEM, e))) return rc;
    SftOptions o = {.init = r->base};
    em_train_options(c, c->sft.steps, c->sft.batch_size, c->sft.grad_accum, c->sft.lr, c->seed, r->sft, metrics, &o.t);
    o.t.train.tb = r->tb;
    o.t.data = r->data;
    o.t.train.val_every = c->sft.steps / 4 > 0 ? c->sft.steps / 4 : 1;
    o.t.train.sched.warmup = c->sft.warmup < c->sft.steps ? c->sft.warmup : c->sft.steps - 1;
    em_prompt_options(c, &o.prompt);
    rc = stage_sft(&o, e);
    free(metrics);
    return stage_finish(r, "sft", rc, e);
}

static int run_eval(Run *r, const char *model, PipelineResult *res, Error *e) {
    const RunConfig *c = r->c;
    char *dir = xasprintf(e, "%s/eval", r->dir);
    if (!dir) return RP_ENOMEM;
    watchdog_stage("evaluation", 1);
    EvalOptions eo;
    em_eval_options(c, &eo);
    eo.split = c->eval.split;
    eo.limit = c->eval.limit;
    eo.out_dir = dir;
    int rc = eval_checkpoint(model, r->data, &eo, &res->eval, e);
    if (!rc && r->tb) { /* rank 0 */
        char *json = xasprintf(NULL, "%s/eval.json", dir);
        if (json) em_tensorboard_record(r->tb, "eval", c->em.rounds, json);
        free(json);
    }
    free(dir);
    return rc;
}

/* Whether the config.yaml at path, read as a config (keys it lacks take their defaults), has the
 * settings yaml states: a run started by a restpg that knew fewer keys resumes under a newer one
 * as long as the new keys keep their defaults. */
static int same_settings(const char *path, const StrBuf *yaml) {
    RunConfig old;
    config_defaults(&old);
    Error e;
    StrBuf y;
    strbuf_init(&y);
    int same = !config_load(&old, path, &e) && !config_to_yaml(&old, &y, &e) && !strcmp(y.s, yaml->s);
    strbuf_free(&y);
    config_free(&old);
    return same;
}

/* The run directory's config.yaml: written on the first start; a later start must match it. */
static int check_config(Run *r, int resume, Error *e) {
    StrBuf y;
    strbuf_init(&y);
    char *path = xasprintf(e, "%s/config.yaml", r->dir);
    int rc = path ? config_to_yaml(r->c, &y, e) : RP_ENOMEM;
    if (!rc && log_rank() == 0) {
        if (path_exists(path)) {
            char *old = NULL;
            if (!resume)
                rc = error_set(e, RP_EINPUT, "%s already holds a run; continue it with --resume, or choose another run_dir", r->dir);
            else if (!(rc = file_read_all(path, &old, NULL, e)) && strcmp(old, y.s) && !same_settings(path, &y))
                rc = error_set(e, RP_EINPUT,
                               "%s was started with a different config (compare %s with the new settings); a resumed run "
                               "must use the same one, or choose another run_dir",
                               r->dir, path);
            free(old);
        } else {
            if (!(rc = mkdir_p(r->state, e))) rc = atomic_write(path, y.s, y.len, e);
        }
        if (!rc) rc = mkdir_p(r->metrics, e);
    }
    free(path);
    strbuf_free(&y);
    return comm_agree(rc, e);
}

static void run_free(Run *r) {
    free(r->data);
    free(r->tok);
    free(r->base);
    free(r->sft);
    free(r->state);
    free(r->metrics);
    tbevents_close(r->tb);
}

void pipeline_result_free(PipelineResult *res) {
    free(res->final_model);
    res->final_model = NULL;
}

int pipeline_run(const RunConfig *c, int resume, PipelineResult *res, Error *e) {
    memset(res, 0, sizeof *res);
    Run r = {c, c->run_dir, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    r.data = xasprintf(e, "%s/data.h5", r.dir);
    r.tok = c->tokenizer.path[0] ? xstrdup(c->tokenizer.path, e) : xasprintf(e, "%s/tokenizer.rptk", r.dir);
    r.base = c->model.init[0] && !model_file_is_import(c->model.init) ? xstrdup(c->model.init, e)
                                                                      : xasprintf(e, "%s/base.h5", r.dir);
    r.sft = xasprintf(e, "%s/sft.h5", r.dir);
    r.state = xasprintf(e, "%s/state", r.dir);
    r.metrics = xasprintf(e, "%s/metrics", r.dir);
    char *em_dir = xasprintf(e, "%s/em", r.dir);
    int rc = r.data && r.tok && r.base && r.sft && r.state && r.metrics && em_dir ? RP_OK : RP_ENOMEM;
    em_threads(c); /* collective the first time: settle it on every rank before rank-0-only steps */
    watchdog_stage("setup", 1);
    if (!rc) rc = check_config(&r, resume, e);
    if (!rc) rc = em_tensorboard_open(c, r.dir, &r.tb, e);
    double t0 = time_now();
    if (!rc) rc = run_data(&r, e);
    if (!rc) rc = run_tokenizer(&r, e);
    if (!rc) rc = run_reason(&r, e);
    if (!rc) rc = run_pretrain(&r, e);
    if (!rc) rc = run_sft(&r, e);
    EmPlan plan = {c, em_dir, r.data, r.base, r.sft, r.metrics, r.tb};
    if (!rc) rc = em_run(&plan, &res->final_model, e);
    int done = 0;
    if (!rc) rc = stage_done(&r, "eval", &done, e);
    if (!rc && !done) rc = stage_finish(&r, "eval", run_eval(&r, res->final_model, res, e), e);
    watchdog_stage("report", 0);
    if (!rc && log_rank() == 0) rc = report_write(r.dir, (int)c->em.rounds, res, e);
    rc = comm_agree(rc, e);
    if (!rc) log_info("run finished in %.0f s", time_now() - t0);
    free(em_dir);
    run_free(&r);
    return rc;
}
