/* Means, bootstrap intervals and paired differences of an ablation (see ablate_stats.h). */
#include "launch/ablate_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "launch/report.h"
#include "reward/bootstrap.h"
#include "reward/evaluate.h"
#include "reward/meteor.h"
#include "reward/textset.h"

enum { NM = 3 };
static const EvalMetric METRIC[NM] = {EVAL_ROUGE1, EVAL_ROUGEL, EVAL_METEOR};
static const char *TITLE[NM] = {"ROUGE-1", "ROUGE-L", "METEOR"};

/* Per-pair scores of one evaluation, in the order of ids (the first evaluation's references):
 * out[i * NM + j] is metric j of example ids[i]. */
static int pair_scores(const char *dir, NltkRelease meteor, TextSet *first, double *out, Error *e) {
    char *pp = xasprintf(e, "%s/predictions.json", dir), *rp = pp ? xasprintf(e, "%s/references.json", dir) : NULL;
    TextSet tp, tr;
    int have_p = 0, have_r = 0;
    int rc = rp ? textset_read(pp, &tp, e) : RP_ENOMEM;
    if (!rc) have_p = 1;
    if (!rc && !(rc = textset_read(rp, &tr, e))) have_r = 1;
    if (!rc && first->n && tr.n != first->n)
        rc = error_set(e, RP_EINPUT, "%s: %zu examples, but %s has %zu: every method must be evaluated on the same "
                       "examples (same eval.split and eval.limit)", rp, tr.n, first->path, first->n);
    EvalResult er;
    memset(&er, 0, sizeof er);
    int want[EVAL_COUNT] = {0};
    for (int j = 0; j < NM; j++) want[METRIC[j]] = 1;
    if (!rc) rc = eval_corpus(&tp, &tr, want, 0, meteor, 1, &er, e);
    for (size_t i = 0; !rc && i < tr.n; i++) {
        /* The first evaluation fixes the order; the others are matched to it by id. */
        const char *id = first->n ? first->id[i] : tr.id[i];
        int64_t k = textset_find(&tr, id);
        if (k < 0) {
            rc = error_set(e, RP_EINPUT, "%s: no example '%s', which %s has", rp, id, first->path);
            break;
        }
        for (int j = 0; j < NM; j++) out[i * NM + j] = er.pair[(size_t)k * EVAL_COUNT + METRIC[j]];
    }
    eval_result_free(&er);
    if (!rc && !first->n) {
        *first = tr;
        have_r = 0;
    }
    if (have_p) textset_free(&tp);
    if (have_r) textset_free(&tr);
    free(pp);
    free(rp);
    return rc;
}

typedef struct {
    BootstrapCI mean[NM], diff[NM];
} MethodStats;

/* x[(s * M + k) * n * NM + i * NM + j]: method k, seed s, example i, metric j. */
static int compute(const double *x, int S, int M, int64_t n, int ref, MethodStats *st, Error *e) {
    double *v = xmalloc(sizeof(double) * (size_t)S * (size_t)n, e);
    if (!v) return RP_ENOMEM;
    int rc = RP_OK;
    for (int k = 0; k < M && !rc; k++)
        for (int j = 0; j < NM && !rc; j++) {
            for (int pass = 0; pass < 2 && !rc; pass++) {
                if (pass && k == ref) {
                    st[k].diff[j] = (BootstrapCI){0, 0, 0, 1};
                    continue;
                }
                for (int s = 0; s < S; s++)
                    for (int64_t i = 0; i < n; i++) {
                        double a = x[((size_t)(s * M + k) * n + i) * NM + j];
                        double r = x[((size_t)(s * M + ref) * n + i) * NM + j];
                        v[s * n + i] = pass ? r - a : a;
                    }
                /* One stream per (metric, method, kind), fixed, so the tables are reproducible. */
                rc = bootstrap_ci(v, S, n, ABLATE_BOOTSTRAP_B, ABLATE_LEVEL, (uint64_t)(1000 * j + 10 * k + pass),
                                  pass ? &st[k].diff[j] : &st[k].mean[j], e);
            }
        }
    free(v);
    return rc;
}

static double gain(double x, double base) { return base > 0 ? 100.0 * (x - base) / base : 0.0; }

static int write_md(StrBuf *md, const long *seeds, int S, const AblateMethod *mt, int M, int ref, int base, int64_t n,
                    NltkRelease meteor, const MethodStats *st, Error *e) {
    int rc = strbuf_printf(md, e, "Ablation on %lld test examples x %d seed(s) (", (long long)n, S);
    for (int s = 0; s < S && !rc; s++) rc = strbuf_printf(md, e, "%s%ld", s ? ", " : "", seeds[s]);
    if (!rc)
        rc = strbuf_printf(md, e, "); mean and %.0f%% bootstrap interval over examples and seeds (%d replicates); METEOR "
                           "as %s.\n\n| method | ROUGE-1 | ROUGE-L | METEOR | gain vs %s (R-1 / R-L / METEOR) |\n"
                           "| --- | --- | --- | --- | --- |\n",
                           100 * ABLATE_LEVEL, ABLATE_BOOTSTRAP_B, meteor_compat_name(meteor), mt[base].label);
    for (int k = 0; k < M && !rc; k++) {
        rc = strbuf_printf(md, e, "| %s |", mt[k].label);
        for (int j = 0; j < NM && !rc; j++)
            rc = strbuf_printf(md, e, " %.4f [%.4f, %.4f] |", st[k].mean[j].mean, st[k].mean[j].lo, st[k].mean[j].hi);
        if (!rc)
            rc = strbuf_printf(md, e, " %+.1f%% / %+.1f%% / %+.1f%% |\n", gain(st[k].mean[0].mean, st[base].mean[0].mean),
                               gain(st[k].mean[1].mean, st[base].mean[1].mean), gain(st[k].mean[2].mean, st[base].mean[2].mean));
    }
    if (!rc)
        rc = strbuf_printf(md, e, "\nPaired difference %s minus each method (same examples and seeds):\n\n"
                           "| %s minus | ROUGE-1 | ROUGE-L | METEOR |\n| --- | --- | --- | --- |\n", mt[ref].label, mt[ref].label);
    for (int k = 0; k < M && !rc; k++) {
        if (k == ref) continue;
        rc = strbuf_printf(md, e, "| %s |", mt[k].label);
        for (int j = 0; j < NM && !rc; j++) {
            const BootstrapCI *d = &st[k].diff[j];
            const char *verdict = d->lo > 0 ? "better" : d->hi < 0 ? "worse" : "no clear difference";
            rc = strbuf_printf(md, e, " %+.4f [%+.4f, %+.4f] %s |", d->mean, d->lo, d->hi, verdict);
        }
        if (!rc) rc = strbuf_puts(md, "\n", e);
    }
    if (!rc)
        rc = strbuf_printf(md, e, "\n\"better\"/\"worse\": the %.0f%% interval of the difference excludes 0. The intervals "
                           "cover example-to-example and seed-to-seed variation; with few seeds the seed part is "
                           "estimated from few draws and runs narrow.\n", 100 * ABLATE_LEVEL);
    return rc;
}

static int write_json(StrBuf *js, const long *seeds, int S, const AblateMethod *mt, int M, int ref, int base, int64_t n,
                      NltkRelease meteor, const MethodStats *st, Error *e) {
    static const char *KEY[NM] = {"rouge1", "rougeL", "meteor"};
    int rc = strbuf_puts(js, "{\"seeds\": [", e);
    for (int s = 0; s < S && !rc; s++) rc = strbuf_printf(js, e, "%s%ld", s ? ", " : "", seeds[s]);
    if (!rc)
        rc = strbuf_printf(js, e, "], \"examples\": %lld, \"meteor_compat\": \"%s\", \"bootstrap\": {\"replicates\": %d, "
                           "\"level\": %.2f}, \"reference\": \"%s\", \"methods\": [",
                           (long long)n, meteor_compat_name(meteor), ABLATE_BOOTSTRAP_B, ABLATE_LEVEL, mt[ref].name);
    for (int k = 0; k < M && !rc; k++) {
        rc = strbuf_printf(js, e, "%s{\"method\": \"%s\", \"label\": \"%s\", \"n\": %lld", k ? ", " : "", mt[k].name,
                           mt[k].label, (long long)n);
        for (int j = 0; j < NM && !rc; j++)
            rc = strbuf_printf(js, e, ", \"%s\": %.6f, \"%s_ci\": [%.6f, %.6f]", KEY[j], st[k].mean[j].mean, KEY[j],
                               st[k].mean[j].lo, st[k].mean[j].hi);
        if (!rc) rc = strbuf_printf(js, e, ", \"gain_vs_%s_pct\": {", mt[base].name);
        for (int j = 0; j < NM && !rc; j++)
            rc = strbuf_printf(js, e, "%s\"%s\": %.3f", j ? ", " : "", KEY[j], gain(st[k].mean[j].mean, st[base].mean[j].mean));
        if (!rc && k != ref) {
            rc = strbuf_printf(js, e, "}, \"%s_minus_this\": {", mt[ref].name);
            for (int j = 0; j < NM && !rc; j++) {
                const BootstrapCI *d = &st[k].diff[j];
                rc = strbuf_printf(js, e, "%s\"%s\": {\"diff\": %.6f, \"ci\": [%.6f, %.6f], \"p_le_zero\": %.4f}", j ? ", " : "",
                                   KEY[j], d->mean, d->lo, d->hi, d->p_le_zero);
            }
        }
        if (!rc) rc = strbuf_puts(js, "}}", e);
    }
    return rc ? rc : strbuf_puts(js, "]}\n", e);
}

/* plots/ablation.png: each metric's means with their intervals, one cluster per method. */
static int plot(const char *root, const AblateMethod *mt, int M, const MethodStats *st, Error *e) {
    char *pdir = xasprintf(e, "%s/plots", root);
    char *tsv = pdir ? xasprintf(e, "%s/ablation.tsv", pdir) : NULL, *gp = tsv ? xasprintf(e, "%s/ablation.gp", pdir) : NULL;
    int rc = gp ? mkdir_p(pdir, e) : RP_ENOMEM;
    StrBuf t, s;
    strbuf_init(&t);
    strbuf_init(&s);
    for (int k = 0; k < M && !rc; k++) {
        rc = strbuf_printf(&t, e, "%d \"%s\"", k, mt[k].label);
        for (int j = 0; j < NM && !rc; j++)
            rc = strbuf_printf(&t, e, " %.6f %.6f %.6f", st[k].mean[j].mean, st[k].mean[j].lo, st[k].mean[j].hi);
        if (!rc) rc = strbuf_puts(&t, "\n", e);
    }
    if (!rc) rc = atomic_write(tsv, t.s, t.len, e);
    if (!rc)
        rc = strbuf_printf(&s, e, "set terminal pngcairo size 1000,520 noenhanced\nset output '%s/ablation.png'\n"
                           "set title 'ablation: mean and 95%% bootstrap interval (examples x seeds)'\nset ylabel 'score'\n"
                           "set xrange [-0.5:%d.5]\nset xtics rotate by -20\nset key outside\nplot ", pdir, M - 1);
    for (int j = 0; j < NM && !rc; j++)
        rc = strbuf_printf(&s, e, "%s'%s' using ($1+%.2f):%d:%d:%d%s with yerrorbars pt 7 title '%s'", j ? ", " : "", tsv,
                           0.15 * (j - 1), 3 + 3 * j, 4 + 3 * j, 5 + 3 * j, j == 0 ? ":xtic(2)" : "", TITLE[j]);
    if (!rc) rc = strbuf_puts(&s, "\n", e);
    if (!rc) rc = atomic_write(gp, s.s, s.len, e);
    if (!rc && report_gnuplot(gp, e)) {
        log_warn("ablation plot not drawn: %s", e->msg);
        error_clear(e);
    }
    strbuf_free(&t);
    strbuf_free(&s);
    free(pdir), free(tsv), free(gp);
    return rc;
}

int ablate_stats_write(const char *root, const char *const *eval_dir, const long *seeds, int S, const AblateMethod *methods,
                       int M, int ref, int base, NltkRelease meteor, Error *e) {
    TextSet first;
    memset(&first, 0, sizeof first);
    /* The first evaluation gives the example count and so the size of the score buffer. */
    TextSet probe;
    char *rp = xasprintf(e, "%s/references.json", eval_dir[0]);
    int rc = rp ? textset_read(rp, &probe, e) : RP_ENOMEM;
    free(rp);
    size_t n = rc ? 0 : probe.n;
    if (!rc) textset_free(&probe);
    double *x = rc ? NULL : xmalloc(sizeof(double) * (size_t)S * M * n * NM, e);
    if (!rc && !x) rc = RP_ENOMEM;
    for (int q = 0; q < S * M && !rc; q++) rc = pair_scores(eval_dir[q], meteor, &first, x + (size_t)q * n * NM, e);
    MethodStats *st = rc ? NULL : xcalloc((size_t)M, sizeof(MethodStats), e);
    if (!rc && !st) rc = RP_ENOMEM;
    if (!rc) rc = compute(x, S, M, (int64_t)first.n, ref, st, e);
    StrBuf md, js;
    strbuf_init(&md);
    strbuf_init(&js);
    if (!rc) rc = write_md(&md, seeds, S, methods, M, ref, base, (int64_t)first.n, meteor, st, e);
    if (!rc) rc = write_json(&js, seeds, S, methods, M, ref, base, (int64_t)first.n, meteor, st, e);
    char *md_path = rc ? NULL : xasprintf(e, "%s/ablation.md", root);
    char *js_path = md_path ? xasprintf(e, "%s/ablation.json", root) : NULL;
    if (!rc && !js_path) rc = RP_ENOMEM;
    if (!rc) rc = atomic_write(md_path, md.s, md.len, e);
    if (!rc) rc = atomic_write(js_path, js.s, js.len, e);
    if (!rc) rc = plot(root, methods, M, st, e);
    if (!rc) log_info("\n%s\ntables: %s/ablation.md, ablation.json; plot: %s/plots/ablation.png", md.s, root, root);
    free(md_path), free(js_path);
    strbuf_free(&md);
    strbuf_free(&js);
    free(st);
    free(x);
    if (first.n) textset_free(&first);
    return rc;
}
