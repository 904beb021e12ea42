/* `restpg ablate`: the paper's comparison on one dataset (docs/pipeline.md#ablation):
 * no personalization, RAG + SFT, SFT with reasoning, ReST-EM without reasoning, and REST-PG, per
 * seed (--seeds), with ROUGE-1 / ROUGE-L / METEOR, bootstrap intervals, the paired differences of
 * REST-PG against each method and the relative gain over RAG + SFT (launch/ablate_stats.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/watchdog.h"
#include "launch/ablate_stats.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/em.h"
#include "launch/eval.h"
#include "launch/pipeline.h"
#include "launch/runtime.h"
#include "core/comm.h"

enum { M_NOPERS, M_RAG, M_SFT_R, M_RESTEM, M_RESTPG, M_COUNT };
static const char *METHOD[M_COUNT] = {"no_personalization", "rag_sft", "sft_reasoning", "rest_em", "rest_pg"};
static const char *LABEL[M_COUNT] = {"No personalization", "RAG + SFT", "SFT with reasoning", "ReST-EM without reasoning",
                                     "REST-PG"};

/* One variant of the base config as its own (resumable) run: the base's keys (through its YAML,
 * so every key carries over exactly, and its runtime keys), then seed_kv, then sets. */
static int variant(const RunConfig *base, const char *root, const char *name, const char *seed_kv, const char *const *sets,
                   int n_sets, PipelineResult *res, Error *e) {
    RunConfig c;
    config_defaults(&c);
    StrBuf y;
    strbuf_init(&y);
    char *path = xasprintf(e, "%s/%s.config.yaml", root, name), *kv = xasprintf(e, "run_dir=%s/%s", root, name);
    /* Copy the base config through its YAML, so every key carries over exactly. */
    int rc = path && kv ? config_to_yaml(base, &y, e) : RP_ENOMEM;
    if (!rc && log_rank() == 0) rc = atomic_write(path, y.s, y.len, e);
    if (!rc) rc = comm_agree(rc, e);
    if (!rc) rc = config_load(&c, path, e);
    if (!rc) rc = config_copy_runtime(&c, base, e);
    if (!rc) rc = config_set(&c, kv, "ablate", e);
    if (!rc) rc = config_set(&c, seed_kv, "ablate", e);
    for (int i = 0; i < n_sets && !rc; i++) rc = config_set(&c, sets[i], "ablate", e);
    if (!rc) rc = config_check(&c, e);
    if (!rc) {
        log_info("ablate: %s", name);
        rc = pipeline_run(&c, 1, res, e);
    }
    free(path);
    free(kv);
    strbuf_free(&y);
    config_free(&c);
    return rc;
}

/* Evaluates an existing checkpoint of a variant on the config's eval split. */
static int eval_ckpt(const RunConfig *c, const char *model, const char *data, const char *dir, int reasoning, EvalMetrics *m,
                     Error *e) {
    EvalOptions eo;
    em_eval_options(c, &eo);
    eo.split = c->eval.split;
    eo.limit = c->eval.limit;
    eo.prompt.reasoning = reasoning;
    eo.out_dir = dir;
    return eval_checkpoint(model, data, &eo, m, e);
}

/* The run_dir paths of the variants the others reuse. */
typedef struct {
    char *base, *data, *init_kv, *data_kv, *sft_pg, *sft_em, *dir_sft_r, *dir_rag;
} AblatePaths;

static void ablate_paths_free(AblatePaths *a) {
    free(a->base), free(a->data), free(a->init_kv), free(a->data_kv);
    free(a->sft_pg), free(a->sft_em), free(a->dir_sft_r), free(a->dir_rag);
}

static int ablate_paths(const RunConfig *c, const char *root, AblatePaths *a, Error *e) {
    memset(a, 0, sizeof *a);
    a->base = xasprintf(e, "%s/rest_pg/base.h5", root);
    a->data = xasprintf(e, "%s/rest_pg/data.h5", root);
    a->init_kv = a->base ? xasprintf(e, "model.init=%s", c->model.init[0] ? c->model.init : a->base) : NULL;
    a->data_kv = a->data ? xasprintf(e, "data.path=%s", a->data) : NULL;
    a->sft_pg = xasprintf(e, "%s/rest_pg/sft.h5", root);
    a->sft_em = xasprintf(e, "%s/rest_em/sft.h5", root);
    a->dir_sft_r = xasprintf(e, "%s/%s", root, METHOD[M_SFT_R]);
    a->dir_rag = xasprintf(e, "%s/%s", root, METHOD[M_RAG]);
    return a->init_kv && a->data_kv && a->sft_pg && a->sft_em && a->dir_sft_r && a->dir_rag ? RP_OK : RP_ENOMEM;
}

/* The five methods under root for one seed. shared_data_kv (NULL for the first seed) points
 * REST-PG at the first seed's dataset, so every seed trains and evaluates on the same examples
 * and the comparison can pair them. */
static int ablate_seed(const RunConfig *c, const char *root, long seed, const char *shared_data_kv, Error *e) {
    AblatePaths ap = {0};
    PipelineResult r[M_COUNT];
    memset(r, 0, sizeof r);
    EvalMetrics m[2];
    char *seed_kv = xasprintf(e, "seed=%ld", seed);
    int rc = seed_kv ? ablate_paths(c, root, &ap, e) : RP_ENOMEM;
    if (!rc && log_rank() == 0) rc = mkdir_p(root, e);
    rc = comm_agree(rc, e);
    /* REST-PG builds the data (with reasoning) and base model the other variants reuse. */
    const char *shared[] = {"data.source=file", shared_data_kv};
    if (!rc) rc = variant(c, root, METHOD[M_RESTPG], seed_kv, shared, shared_data_kv ? 2 : 0, &r[M_RESTPG], e);
    const char *restem[] = {"sft.reasoning=off", "data.source=file", ap.data_kv, ap.init_kv};
    if (!rc) rc = variant(c, root, METHOD[M_RESTEM], seed_kv, restem, 4, &r[M_RESTEM], e);
    const char *nopers[] = {"sft.reasoning=off", "prompt.profile=off", "em.rounds=0", "data.source=file", ap.data_kv, ap.init_kv};
    if (!rc) rc = variant(c, root, METHOD[M_NOPERS], seed_kv, nopers, 6, &r[M_NOPERS], e);
    /* The SFT baselines are the round-0 policies of the two EM runs. */
    if (!rc) rc = eval_ckpt(c, ap.sft_pg, ap.data, ap.dir_sft_r, 1, &m[0], e);
    if (!rc) rc = eval_ckpt(c, ap.sft_em, ap.data, ap.dir_rag, 0, &m[1], e);
    for (int k = 0; k < M_COUNT; k++) pipeline_result_free(&r[k]);
    ablate_paths_free(&ap);
    free(seed_kv);
    return comm_agree(rc, e);
}

/* Parses --seeds "1,2,3" (distinct integers >= 0). */
static int parse_seeds(const char *list, long **out, int *n, Error *e) {
    *n = 0;
    *out = xcalloc(strlen(list) / 2 + 2, sizeof(long), e);
    if (!*out) return RP_ENOMEM;
    for (const char *p = list;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ','))
            return error_set(e, RP_EINPUT, "--seeds '%s': expected comma-separated integers >= 0", list);
        for (int i = 0; i < *n; i++)
            if ((*out)[i] == v) return error_set(e, RP_EINPUT, "--seeds '%s': seed %ld appears twice", list, v);
        (*out)[(*n)++] = v;
        if (!*end) return RP_OK;
        p = end + 1;
    }
}

static int do_ablate(const RunConfig *c, const long *seeds, int S, int per_seed_dirs, Error *e) {
    char **root = xcalloc((size_t)S, sizeof(char *), e);
    const char **dirs = xcalloc((size_t)S * M_COUNT, sizeof(char *), e);
    char *shared = NULL;
    int rc = root && dirs ? RP_OK : RP_ENOMEM;
    for (int s = 0; s < S && !rc; s++) {
        root[s] = per_seed_dirs ? xasprintf(e, "%s/seed%ld", c->run_dir, seeds[s]) : xstrdup(c->run_dir, e);
        if (!root[s]) rc = RP_ENOMEM;
        if (!rc && s > 0 && !shared && !(shared = xasprintf(e, "data.path=%s/rest_pg/data.h5", root[0]))) rc = RP_ENOMEM;
        if (!rc) {
            log_info("ablate: seed %ld (%d of %d)", seeds[s], s + 1, S);
            rc = ablate_seed(c, root[s], seeds[s], shared, e);
        }
    }
    /* Where each method's evaluation lies: the EM runs' final eval, or the SFT checkpoints'. */
    static const char *EVAL_SUB[M_COUNT] = {"no_personalization/eval", "rag_sft", "sft_reasoning", "rest_em/eval",
                                            "rest_pg/eval"};
    for (int s = 0; s < S && !rc; s++)
        for (int k = 0; k < M_COUNT && !rc; k++)
            if (!(dirs[s * M_COUNT + k] = xasprintf(e, "%s/%s", root[s], EVAL_SUB[k]))) rc = RP_ENOMEM;
    if (!rc && log_rank() == 0) {
        AblateMethod mt[M_COUNT];
        for (int k = 0; k < M_COUNT; k++) mt[k] = (AblateMethod){METHOD[k], LABEL[k]};
        EvalOptions eo;
        em_eval_options(c, &eo);
        rc = ablate_stats_write(c->run_dir, dirs, seeds, S, mt, M_COUNT, M_RESTPG, M_RAG, eo.meteor_compat, e);
    }
    for (int s = 0; root && s < S; s++) free(root[s]);
    for (int q = 0; dirs && q < S * M_COUNT; q++) free((char *)dirs[q]);
    free(root);
    free(dirs);
    free(shared);
    return comm_agree(rc, e);
}

int cmd_ablate(int argc, char **argv, Error *e) {
    RunConfig c;
    RunArgs a = {0};
    int rc = config_parse_args("ablate", "CONFIG.yaml [--seeds 1,2,3] [--preset NAME] [--section.key=value ...]",
                               "Runs the paper's comparison on one dataset under run_dir: no personalization (prompt "
                               "without profile), RAG + SFT (no reasoning), SFT with reasoning, ReST-EM without "
                               "reasoning, and REST-PG. With --seeds every method runs once per seed (run_dir/seed<S>/, "
                               "all on the first seed's dataset); the table gives per metric the mean over examples and "
                               "seeds with its 95% bootstrap interval, the paired difference of REST-PG against each "
                               "method with its interval, and the relative gain over RAG + SFT, in run_dir/ablation.md, "
                               "ablation.json and plots/ablation.png. Without --seeds: one run with the config's seed, "
                               "directly under run_dir. Every variant is a resumable run of its own; rerunning continues.",
                               argc, argv, &c, &a, 1, NULL, e);
    if (!rc && !a.config) rc = error_set(e, RP_EINPUT, "ablate: missing CONFIG.yaml (see restpg ablate --help)");
    long *seeds = NULL;
    int S = 0;
    if (!rc && a.seeds) rc = parse_seeds(a.seeds, &seeds, &S, e);
    Runtime rt;
    if (!rc && !(rc = runtime_init(&rt, e))) {
        long one = c.seed;
        if (!(rc = watchdog_start(c.stall_timeout, "setup", e)))
            rc = seeds ? do_ablate(&c, seeds, S, 1, e) : do_ablate(&c, &one, 1, 0, e);
        watchdog_stop();
        runtime_finalize(&rt);
    }
    free(seeds);
    config_free(&c);
    return rc;
}
