/* `restpg ablate`: the paper's comparison on one dataset (docs/pipeline.md#ablation):
 * no personalization, RAG + SFT, SFT with reasoning, ReST-EM without reasoning, and REST-PG,
 * with ROUGE-1 / ROUGE-L / METEOR and the relative gain over RAG + SFT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
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
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.config.yaml", root, name);
    /* Copy the base config through its YAML, so every key carries over exactly. */
    int rc = config_to_yaml(base, &y, e);
    if (!rc && log_rank() == 0) rc = atomic_write(path, y.s, y.len, e);
    if (!rc) rc = comm_agree(rc, e);
    if (!rc) rc = config_load(&c, path, e);
    char kv[4400];
    snprintf(kv, sizeof kv, "run_dir=%s/%s", root, name);
    if (!rc) rc = config_set(&c, kv, "ablate", e);
    for (int i = 0; i < n_sets && !rc; i++) rc = config_set(&c, sets[i], "ablate", e);
    if (!rc) rc = config_check(&c, e);
    if (!rc) {
        log_info("ablate: %s", name);
        rc = pipeline_run(&c, 1, res, e);
    }
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
    char path[4300];
    snprintf(path, sizeof path, "%s/ablation.md", root);
    if (!rc) rc = atomic_write(path, md.s, md.len, e);
    snprintf(path, sizeof path, "%s/ablation.json", root);
    if (!rc) rc = atomic_write(path, js.s, js.len, e);
    if (!rc) log_info("\n%s\ntable: %s/ablation.md and ablation.json", md.s, root);
    strbuf_free(&md);
    strbuf_free(&js);
    return rc;
}

static int do_ablate(const RunConfig *c, Error *e) {
    const char *root = c->run_dir;
    char p_base[4300], p_data[4300], s_init[4400], s_data[4400], p_sft[4300], path[4300];
    snprintf(p_base, sizeof p_base, "%s/rest_pg/base.h5", root);
    snprintf(p_data, sizeof p_data, "%s/rest_pg/data.h5", root);
    snprintf(s_init, sizeof s_init, "model.init=%s", c->model.init[0] ? c->model.init : p_base);
    snprintf(s_data, sizeof s_data, "data.path=%s", p_data);
    PipelineResult r[M_COUNT];
    EvalMetrics m[M_COUNT];
    int rc = RP_OK;
    if (log_rank() == 0) rc = mkdir_p(root, e);
    if (!rc) rc = comm_agree(rc, e);
    /* REST-PG builds the data (with reasoning) and base model the other variants reuse. */
    if (!rc) rc = variant(c, root, METHOD[M_RESTPG], NULL, 0, &r[M_RESTPG], e);
    const char *restem[] = {"sft.reasoning=off", "data.source=file", s_data, s_init};
    if (!rc) rc = variant(c, root, METHOD[M_RESTEM], restem, 4, &r[M_RESTEM], e);
    const char *nopers[] = {"sft.reasoning=off", "prompt.profile=off", "em.rounds=0", "data.source=file", s_data, s_init};
    if (!rc) rc = variant(c, root, METHOD[M_NOPERS], nopers, 6, &r[M_NOPERS], e);
    if (!rc) {
        m[M_RESTPG] = r[M_RESTPG].eval;
        m[M_RESTEM] = r[M_RESTEM].eval;
        m[M_NOPERS] = r[M_NOPERS].eval;
    }
    /* The SFT baselines are the round-0 policies of the two EM runs. */
    snprintf(p_sft, sizeof p_sft, "%s/rest_pg/sft.h5", root);
    snprintf(path, sizeof path, "%s/%s", root, METHOD[M_SFT_R]);
    if (!rc) rc = eval_ckpt(c, p_sft, p_data, path, 1, &m[M_SFT_R], e);
    snprintf(p_sft, sizeof p_sft, "%s/rest_em/sft.h5", root);
    snprintf(path, sizeof path, "%s/%s", root, METHOD[M_RAG]);
    if (!rc) rc = eval_ckpt(c, p_sft, p_data, path, 0, &m[M_RAG], e);
    if (!rc && log_rank() == 0) rc = write_table(root, m, e);
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
        rc = do_ablate(&c, e);
        runtime_finalize(&rt);
    }
    config_free(&c);
    return rc;
}
