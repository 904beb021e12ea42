/* The stage runner of `restpg run` (see pipeline.h). Stages call the same code as the
 * individual commands (in-process, with argv), so a run is exactly the documented commands. */
#include "launch/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/aptlists.h"
#include "launch/cmd_data.h"
#include "launch/commands.h"
#include "launch/em.h"
#include "launch/report.h"
#include "launch/runtime.h"
#include "core/comm.h"

typedef struct {
    const RunConfig *c;
    char dir[4096];
    char data[4200], tok[4200], base[4200], sft[4200], state[4200];
} Run;

static void stage_marker(const Run *r, const char *stage, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s.done", r->state, stage);
}

/* 1 on every rank if the stage finished earlier. */
static int stage_done(const Run *r, const char *stage, int *done, Error *e) {
    char m[4300];
    stage_marker(r, stage, m, sizeof m);
    int v = path_exists(m);
    int rc = comm_bcast(&v, sizeof v, e);
    *done = v;
    return rc;
}

static int stage_finish(const Run *r, const char *stage, int rc, Error *e) {
    if (!rc && log_rank() == 0) {
        char m[4300];
        stage_marker(r, stage, m, sizeof m);
        rc = atomic_write(m, "done\n", 5, e);
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

static int stage_data(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "data", &done, e);
    if (rc || done) return rc;
    if (log_rank() == 0) {
        const char *src = c->data.source;
        if (!strcmp(src, "debian") && !apt_lists_present()) {
            log_warn("data.source is debian but /var/lib/apt/lists has no Packages lists; using the synthetic dataset");
            src = "synth";
        }
        CmdArgs a;
        if (!strcmp(src, "debian")) {
            cmdargs_init(&a, "debian");
            cmdargs_add(&a, "--out=%s", r->data);
            cmdargs_add(&a, "--seed=%ld", c->seed);
            cmdargs_add(&a, "--min-items=%ld", c->data.min_items);
            cmdargs_add(&a, "--max-users=%ld", c->data.max_users);
            cmdargs_add(&a, "--max-examples-per-user=%ld", c->data.max_examples_per_user);
            rc = cmdargs_run(&a, cmd_data_debian, e);
        } else if (!strcmp(src, "synth")) {
            cmdargs_init(&a, "synth");
            cmdargs_add(&a, "--out=%s", r->data);
            cmdargs_add(&a, "--users=%ld", c->data.synth_users);
            cmdargs_add(&a, "--seed=%ld", c->seed);
            rc = cmdargs_run(&a, cmd_data_synth, e);
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

static int stage_tokenizer(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (c->tokenizer.path[0] || c->model.init[0]) return RP_OK; /* a given tokenizer, or the base model's own */
    int done, rc = stage_done(r, "tokenizer", &done, e);
    if (rc || done) return rc;
    if (log_rank() == 0) {
        CmdArgs a;
        cmdargs_init(&a, "tokenizer");
        cmdargs_add(&a, "train");
        cmdargs_add(&a, "--data=%s", r->data);
        cmdargs_add(&a, "--vocab-size=%ld", c->tokenizer.vocab_size);
        cmdargs_add(&a, "--out=%s", r->tok);
        rc = cmdargs_run(&a, cmd_tokenizer, e);
    }
    return stage_finish(r, "tokenizer", rc, e);
}

static int stage_reason(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (!strcmp(c->sft.reasoning, "off")) return RP_OK;
    int done, rc = stage_done(r, "reason", &done, e);
    if (rc || done) return rc;
    if (log_rank() == 0) {
        CmdArgs a;
        cmdargs_init(&a, "reason");
        cmdargs_add(&a, "--data=%s", r->data);
        cmdargs_add(&a, "--teacher=%s", c->reason.teacher);
        cmdargs_add(&a, "--k=%ld", c->prompt.k);
        rc = cmdargs_run(&a, cmd_reason, e);
    }
    return stage_finish(r, "reason", rc, e);
}

static int stage_pretrain(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (c->model.init[0]) {
        snprintf(r->base, sizeof r->base, "%s", c->model.init);
        return RP_OK;
    }
    int done, rc = stage_done(r, "pretrain", &done, e);
    if (rc || done) return rc;
    char yaml[4200], metrics[4200];
    snprintf(yaml, sizeof yaml, "%s/model.yaml", r->dir);
    snprintf(metrics, sizeof metrics, "%s/metrics/pretrain.jsonl", r->dir);
    if (log_rank() == 0) {
        char text[256];
        int n = snprintf(text, sizeof text, "n_layer: %ld\nn_head: %ld\nn_embd: %ld\nn_positions: %ld\n", c->model.n_layer,
                         c->model.n_head, c->model.n_embd, c->model.n_positions);
        rc = atomic_write(yaml, text, (size_t)n, e);
    }
    if ((rc = comm_agree(rc, e))) return rc;
    CmdArgs a;
    cmdargs_init(&a, "pretrain");
    cmdargs_add(&a, "--data=%s", r->data);
    cmdargs_add(&a, "--config=%s", yaml);
    cmdargs_add(&a, "--tokenizer=%s", r->tok);
    cmdargs_add(&a, "--out=%s", r->base);
    cmdargs_add(&a, "--seq-len=%ld", c->pretrain.seq_len);
    cmdargs_add(&a, "--warmup=%ld", c->pretrain.steps / 20);
    add_train_args(&a, c, c->pretrain.steps, c->pretrain.batch_size, c->pretrain.grad_accum, c->pretrain.lr, c->seed, metrics);
    rc = cmdargs_run(&a, cmd_pretrain, e);
    return stage_finish(r, "pretrain", rc, e);
}

static int stage_sft(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "sft", &done, e);
    if (rc || done) return rc;
    char metrics[4200];
    snprintf(metrics, sizeof metrics, "%s/metrics/sft.jsonl", r->dir);
    CmdArgs a;
    cmdargs_init(&a, "sft");
    cmdargs_add(&a, "--data=%s", r->data);
    cmdargs_add(&a, "--init=%s", r->base);
    cmdargs_add(&a, "--out=%s", r->sft);
    cmdargs_add(&a, "--val-every=%ld", c->sft.steps / 4 > 0 ? c->sft.steps / 4 : 1);
    add_prompt_args(&a, c);
    add_train_args(&a, c, c->sft.steps, c->sft.batch_size, c->sft.grad_accum, c->sft.lr, c->seed, metrics);
    rc = cmdargs_run(&a, cmd_sft, e);
    return stage_finish(r, "sft", rc, e);
}

static int stage_eval(Run *r, const char *model, PipelineResult *res, Error *e) {
    const RunConfig *c = r->c;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/eval", r->dir);
    EvalOptions eo;
    em_eval_options(c, &eo);
    eo.split = c->eval.split;
    eo.limit = c->eval.limit;
    eo.out_dir = dir;
    return eval_checkpoint(model, r->data, &eo, &res->eval, e);
}

/* The run directory's config.yaml: written on the first start; a later start must match it. */
static int check_config(Run *r, int resume, Error *e) {
    StrBuf y;
    strbuf_init(&y);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    int rc = config_to_yaml(r->c, &y, e);
    if (!rc && log_rank() == 0) {
        if (path_exists(path)) {
            char *old = NULL;
            if (!resume)
                rc = error_set(e, RP_EINPUT, "%s already holds a run; continue it with --resume, or choose another run_dir", r->dir);
            else if (!(rc = file_read_all(path, &old, NULL, e)) && strcmp(old, y.s))
                rc = error_set(e, RP_EINPUT,
                               "%s was started with a different config (compare %s with the new settings); a resumed run "
                               "must use the same one, or choose another run_dir",
                               r->dir, path);
            free(old);
        } else {
            if (!(rc = mkdir_p(r->state, e))) rc = atomic_write(path, y.s, y.len, e);
        }
        char metrics[4200];
        snprintf(metrics, sizeof metrics, "%s/metrics", r->dir);
        if (!rc) rc = mkdir_p(metrics, e);
    }
    strbuf_free(&y);
    return comm_agree(rc, e);
}

int pipeline_run(const RunConfig *c, int resume, PipelineResult *res, Error *e) {
    memset(res, 0, sizeof *res);
    Run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    snprintf(r.dir, sizeof r.dir, "%s", c->run_dir);
    snprintf(r.data, sizeof r.data, "%s/data.h5", r.dir);
    if (c->tokenizer.path[0]) snprintf(r.tok, sizeof r.tok, "%s", c->tokenizer.path);
    else snprintf(r.tok, sizeof r.tok, "%s/tokenizer.rptk", r.dir);
    snprintf(r.base, sizeof r.base, "%s/base.h5", r.dir);
    snprintf(r.sft, sizeof r.sft, "%s/sft.h5", r.dir);
    snprintf(r.state, sizeof r.state, "%s/state", r.dir);
    em_threads(c); /* collective the first time: settle it on every rank before rank-0-only steps */
    int rc = check_config(&r, resume, e);
    double t0 = time_now();
    if (!rc) rc = stage_data(&r, e);
    if (!rc) rc = stage_tokenizer(&r, e);
    if (!rc) rc = stage_reason(&r, e);
    if (!rc) rc = stage_pretrain(&r, e);
    if (!rc) rc = stage_sft(&r, e);
    char em_dir[4200], metrics[4200];
    snprintf(em_dir, sizeof em_dir, "%s/em", r.dir);
    snprintf(metrics, sizeof metrics, "%s/metrics", r.dir);
    EmPlan plan = {c, em_dir, r.data, r.base, r.sft, metrics};
    if (!rc) rc = em_run(&plan, res->final_model, sizeof res->final_model, e);
    int done = 0;
    if (!rc) rc = stage_done(&r, "eval", &done, e);
    if (!rc && !done) rc = stage_finish(&r, "eval", stage_eval(&r, res->final_model, res, e), e);
    if (!rc && log_rank() == 0) rc = report_write(r.dir, (int)c->em.rounds, res, e);
    rc = comm_agree(rc, e);
    if (!rc) log_info("run finished in %.0f s", time_now() - t0);
    return rc;
}
