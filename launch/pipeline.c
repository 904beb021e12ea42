/* The stage runner of `restpg run` (see pipeline.h). Stages call the same code as the
 * individual commands (in-process, with argv), so a run is exactly the documented commands. */
#include "launch/pipeline.h"

#include <stdarg.h>
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
#include "trainer/dp.h"

typedef struct {
    const RunConfig *c;
    char dir[4096];
    char data[4200], tok[4200], base[4200], sft[4200], state[4200];
} Run;

/* Builds argv from a NULL-terminated list of printf-formatted words and runs fn with it. */
static int run_words(CommandFn fn, Error *e, ...) {
    char words[32][4300];
    char *argv[33];
    int n = 0;
    va_list ap;
    va_start(ap, e);
    for (const char *fmt; n < 32 && (fmt = va_arg(ap, const char *));) {
        const char *arg = va_arg(ap, const char *);
        snprintf(words[n], sizeof words[n], fmt, arg);
        argv[n] = words[n];
        n++;
    }
    va_end(ap);
    argv[n] = NULL;
    return fn(n, argv, e);
}

static void stage_marker(const Run *r, const char *stage, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s.done", r->state, stage);
}

/* 1 on every rank if the stage finished earlier. */
static int stage_done(const Run *r, const char *stage, int *done, Error *e) {
    char m[4300];
    stage_marker(r, stage, m, sizeof m);
    int v = path_exists(m);
    int rc = dp_bcast(&v, sizeof v, e);
    *done = v;
    return rc;
}

static int stage_finish(const Run *r, const char *stage, int rc, Error *e) {
    if (!rc && log_rank() == 0) {
        char m[4300];
        stage_marker(r, stage, m, sizeof m);
        rc = atomic_write(m, "done\n", 5, e);
    }
    return dp_agree(rc, e);
}

static char g_num[8][64]; /* numbers formatted for run_words, one slot per argument */
static const char *num(int slot, long v) {
    snprintf(g_num[slot], sizeof g_num[slot], "%ld", v);
    return g_num[slot];
}
static const char *dbl(int slot, double v) {
    snprintf(g_num[slot], sizeof g_num[slot], "%.17g", v);
    return g_num[slot];
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
        if (!strcmp(src, "debian"))
            rc = run_words(cmd_data_debian, e, "debian", "", "--out=%s", r->data, "--seed=%s", num(0, c->seed),
                           "--min-items=%s", num(1, c->data.min_items), "--max-users=%s", num(2, c->data.max_users),
                           "--max-examples-per-user=%s", num(3, c->data.max_examples_per_user), NULL);
        else if (!strcmp(src, "synth"))
            rc = run_words(cmd_data_synth, e, "synth", "", "--out=%s", r->data, "--users=%s", num(0, c->data.synth_users),
                           "--seed=%s", num(1, c->seed), NULL);
        else {
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
    if (log_rank() == 0)
        rc = run_words(cmd_tokenizer, e, "tokenizer", "", "train", "", "--data=%s", r->data, "--vocab-size=%s",
                       num(0, c->tokenizer.vocab_size), "--out=%s", r->tok, NULL);
    return stage_finish(r, "tokenizer", rc, e);
}

static int stage_reason(Run *r, Error *e) {
    const RunConfig *c = r->c;
    if (!strcmp(c->sft.reasoning, "off")) return RP_OK;
    int done, rc = stage_done(r, "reason", &done, e);
    if (rc || done) return rc;
    if (log_rank() == 0)
        rc = run_words(cmd_reason, e, "reason", "", "--data=%s", r->data, "--teacher=%s", c->reason.teacher, "--k=%s",
                       num(0, c->prompt.k), NULL);
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
    if ((rc = dp_agree(rc, e))) return rc;
    rc = run_words(cmd_pretrain, e, "pretrain", "", "--data=%s", r->data, "--config=%s", yaml, "--tokenizer=%s", r->tok,
                   "--out=%s", r->base, "--steps=%s", num(0, c->pretrain.steps), "--batch-size=%s", num(1, c->pretrain.batch_size),
                   "--seq-len=%s", num(2, c->pretrain.seq_len), "--lr=%s", dbl(3, c->pretrain.lr), "--seed=%s", num(4, c->seed),
                   "--threads=%s", num(5, em_threads(c)), "--checkpoint-every=%s", num(6, c->pretrain.steps / 4 > 0 ? c->pretrain.steps / 4 : 1),
                   "--warmup=%s", num(7, c->pretrain.steps / 20), "--metrics=%s", metrics, "--resume", "", NULL);
    return stage_finish(r, "pretrain", rc, e);
}

static int stage_sft(Run *r, Error *e) {
    const RunConfig *c = r->c;
    int done, rc = stage_done(r, "sft", &done, e);
    if (rc || done) return rc;
    char metrics[4200];
    snprintf(metrics, sizeof metrics, "%s/metrics/sft.jsonl", r->dir);
    rc = run_words(cmd_sft, e, "sft", "", "--data=%s", r->data, "--init=%s", r->base, "--out=%s", r->sft, "--steps=%s",
                   num(0, c->sft.steps), "--batch-size=%s", num(1, c->sft.batch_size), "--lr=%s", dbl(2, c->sft.lr),
                   "--seed=%s", num(3, c->seed), "--threads=%s", num(4, em_threads(c)), "--checkpoint-every=%s",
                   num(5, c->sft.steps / 4 > 0 ? c->sft.steps / 4 : 1), "--reasoning=%s", c->sft.reasoning, "--k=%s",
                   num(6, c->prompt.k), "--profile=%s", c->prompt.profile, "--val-every=%s", num(7, c->sft.steps / 4 > 0 ? c->sft.steps / 4 : 1),
                   "--metrics=%s", metrics, "--resume", "", NULL);
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
    return dp_agree(rc, e);
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
    int rc = check_config(&r, resume, e);
    double t0 = time_now();
    if (!rc) rc = stage_data(&r, e);
    if (!rc) rc = stage_tokenizer(&r, e);
    if (!rc) rc = stage_reason(&r, e);
    if (!rc) rc = stage_pretrain(&r, e);
    if (!rc) rc = stage_sft(&r, e);
    char em_dir[4200];
    snprintf(em_dir, sizeof em_dir, "%s/em", r.dir);
    EmPlan plan = {c, em_dir, r.data, r.base, r.sft};
    if (!rc) rc = em_run(&plan, res->final_model, sizeof res->final_model, e);
    int done = 0;
    if (!rc) rc = stage_done(&r, "eval", &done, e);
    if (!rc && !done) rc = stage_finish(&r, "eval", stage_eval(&r, res->final_model, res, e), e);
    if (!rc && log_rank() == 0) rc = report_write(r.dir, (int)c->em.rounds, res, e);
    rc = dp_agree(rc, e);
    if (!rc) log_info("run finished in %.0f s", time_now() - t0);
    return rc;
}
