/* `restpg ablate`: the paper's comparison on one dataset (docs/pipeline.md#ablation):
 * no personalization, RAG + SFT, SFT with reasoning, ReST-EM without reasoning, and REST-PG,
 * with ROUGE-1 / ROUGE-L / METEOR and the relative gain over RAG + SFT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/watchdog.h"
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

/* One variant of the base config as its own (resumable) run. */
static int variant(const RunConfig *base, const char *root, const char *name, const char *const *sets, int n_sets,
                   PipelineResult *res, Error *e) {
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
    c.report.tensorboard = base->report.tensorboard; /* a runtime key: not in the YAML */
    if (!rc) rc = config_set(&c, kv, "ablate", e);
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

static double gain(double x, double ref) { return ref > 0 ? 100.0 * (x - ref) / ref : 0.0; }

static int write_table(const char *root, const EvalMetrics *m, Error *e) {
    StrBuf md, js;
    strbuf_init(&md);
    strbuf_init(&js);
    const EvalMetrics *rag = &m[M_RAG];
    int rc = strbuf_puts(&md, "| method | ROUGE-1 | ROUGE-L | METEOR | gain vs RAG + SFT (R-1 / R-L / METEOR) |\n"
                              "| --- | --- | --- | --- | --- |\n", e);
    if (!rc) rc = strbuf_puts(&js, "{\"methods\": [", e);
    for (int k = 0; k < M_COUNT && !rc; k++) {
        const EvalMetrics *x = &m[k];
        rc = strbuf_printf(&md, e, "| %s | %.4f | %.4f | %.4f | %+.1f%% / %+.1f%% / %+.1f%% |\n", LABEL[k], x->rouge1, x->rougeL,
                           x->meteor, gain(x->rouge1, rag->rouge1), gain(x->rougeL, rag->rougeL), gain(x->meteor, rag->meteor));
        if (!rc)
            rc = strbuf_printf(&js, e,
                               "%s{\"method\": \"%s\", \"label\": \"%s\", \"n\": %lld, \"rouge1\": %.6f, \"rougeL\": %.6f, "
                               "\"meteor\": %.6f, \"reward\": %.6f, \"gain_vs_rag_sft_pct\": {\"rouge1\": %.3f, \"rougeL\": %.3f, "
                               "\"meteor\": %.3f}}",
                               k ? ", " : "", METHOD[k], LABEL[k], (long long)x->n, x->rouge1, x->rougeL, x->meteor, x->reward,
                               gain(x->rouge1, rag->rouge1), gain(x->rougeL, rag->rougeL), gain(x->meteor, rag->meteor));
    }
    if (!rc) rc = strbuf_puts(&js, "]}\n", e);
    char *md_path = xasprintf(e, "%s/ablation.md", root), *js_path = xasprintf(e, "%s/ablation.json", root);
    if (!rc && !(md_path && js_path)) rc = RP_ENOMEM;
    if (!rc) rc = atomic_write(md_path, md.s, md.len, e);
    if (!rc) rc = atomic_write(js_path, js.s, js.len, e);
    free(md_path);
    free(js_path);
    if (!rc) log_info("\n%s\ntable: %s/ablation.md and ablation.json", md.s, root);
    strbuf_free(&md);
    strbuf_free(&js);
    return rc;
}

/* The run_dir paths of the variants the others reuse. */
typedef struct {
    char *base, *data, *init_kv, *data_kv, *sft_pg, *sft_em, *dir_sft_r, *dir_rag;
} AblatePaths;

static void ablate_paths_free(AblatePaths *a) {
    free(a->base), free(a->data), free(a->init_kv), free(a->data_kv);
    free(a->sft_pg), free(a->sft_em), free(a->dir_sft_r), free(a->dir_rag);
}

static int ablate_paths(const RunConfig *c, AblatePaths *a, Error *e) {
    const char *root = c->run_dir;
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

static int do_ablate(const RunConfig *c, Error *e) {
    const char *root = c->run_dir;
    AblatePaths ap;
    PipelineResult r[M_COUNT];
    memset(r, 0, sizeof r);
    EvalMetrics m[M_COUNT];
    int rc = ablate_paths(c, &ap, e);
    if (!rc && log_rank() == 0) rc = mkdir_p(root, e);
    rc = comm_agree(rc, e);
    /* REST-PG builds the data (with reasoning) and base model the other variants reuse. */
    if (!rc) rc = variant(c, root, METHOD[M_RESTPG], NULL, 0, &r[M_RESTPG], e);
    const char *restem[] = {"sft.reasoning=off", "data.source=file", ap.data_kv, ap.init_kv};
    if (!rc) rc = variant(c, root, METHOD[M_RESTEM], restem, 4, &r[M_RESTEM], e);
    const char *nopers[] = {"sft.reasoning=off", "prompt.profile=off", "em.rounds=0", "data.source=file", ap.data_kv, ap.init_kv};
    if (!rc) rc = variant(c, root, METHOD[M_NOPERS], nopers, 6, &r[M_NOPERS], e);
    if (!rc) {
        m[M_RESTPG] = r[M_RESTPG].eval;
        m[M_RESTEM] = r[M_RESTEM].eval;
        m[M_NOPERS] = r[M_NOPERS].eval;
    }
    /* The SFT baselines are the round-0 policies of the two EM runs. */
    if (!rc) rc = eval_ckpt(c, ap.sft_pg, ap.data, ap.dir_sft_r, 1, &m[M_SFT_R], e);
    if (!rc) rc = eval_ckpt(c, ap.sft_em, ap.data, ap.dir_rag, 0, &m[M_RAG], e);
    if (!rc && log_rank() == 0) rc = write_table(root, m, e);
    for (int k = 0; k < M_COUNT; k++) pipeline_result_free(&r[k]);
    ablate_paths_free(&ap);
    return comm_agree(rc, e);
}

int cmd_ablate(int argc, char **argv, Error *e) {
    RunConfig c;
    RunArgs a = {0};
    int rc = config_parse_args("ablate", "CONFIG.yaml [--section.key=value ...]",
                               "Runs the paper's comparison on one dataset under run_dir: no personalization (prompt "
                               "without profile), RAG + SFT (no reasoning), SFT with reasoning, ReST-EM without "
                               "reasoning, and REST-PG; prints ROUGE-1 / ROUGE-L / METEOR per method with the relative "
                               "gain over RAG + SFT and writes run_dir/ablation.md and ablation.json. Every variant is a "
                               "resumable run of its own; rerunning continues.",
                               argc, argv, &c, &a, 1, NULL, e);
    if (!rc && !a.config) rc = error_set(e, RP_EINPUT, "ablate: missing CONFIG.yaml (see restpg ablate --help)");
    Runtime rt;
    if (!rc && !(rc = runtime_init(&rt, e))) {
        if (!(rc = watchdog_start(c.stall_timeout, "setup", e))) rc = do_ablate(&c, e);
        watchdog_stop();
        runtime_finalize(&rt);
    }
    config_free(&c);
    return rc;
}
