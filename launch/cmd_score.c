/* `restpg score`: corpus ROUGE (and METEOR) of predictions against references, LongLaMP style, and
 * optionally every pair's scores (--per-pair). */
#include <stdio.h>
#include <stdlib.h>

#include "core/args.h"
#include "core/fileio.h"
#include "core/text.h"
#include "launch/commands.h"
#include "reward/evaluate.h"
#include "reward/meteor.h"
#include "reward/textset.h"

static int print_json(const TextSet *pred, const TextSet *ref, const EvalResult *r, Error *e) {
    StrBuf b;
    strbuf_init(&b);
    int rc = strbuf_puts(&b, "{\"pred\": ", e);
    if (!rc) rc = strbuf_json_string(&b, pred->path, e);
    if (!rc) rc = strbuf_printf(&b, e, ", \"pred_shape\": \"%s\", \"ref\": ", pred->shape);
    if (!rc) rc = strbuf_json_string(&b, ref->path, e);
    if (!rc)
        rc = strbuf_printf(&b, e, ", \"ref_shape\": \"%s\", \"pairs\": %zu, \"stem\": %s", ref->shape, r->pairs,
                           r->stem ? "true" : "false");
    if (!rc && r->want[EVAL_METEOR])
        rc = strbuf_printf(&b, e, ", \"meteor_compat\": \"%s\"", meteor_compat_name(r->meteor_compat));
    static const char *const key[3] = {"means", "precision", "recall"};
    for (int k = 0; k < 3 && !rc; k++) {
        const double *v = k == 0 ? r->mean : k == 1 ? r->mean_p : r->mean_r;
        rc = strbuf_printf(&b, e, ", \"%s\": {", key[k]);
        const char *sep = "";
        for (int m = 0; m < EVAL_COUNT && !rc; m++) {
            if (!r->want[m] || (k > 0 && m == EVAL_METEOR)) continue; /* METEOR has one score */
            rc = strbuf_printf(&b, e, "%s\"%s\": %.17g", sep, eval_metric_name((EvalMetric)m), v[m]);
            sep = ", ";
        }
        if (!rc) rc = strbuf_puts(&b, "}", e);
    }
    if (!rc) printf("%s}\n", b.s);
    strbuf_free(&b);
    return rc;
}

static void print_table(const TextSet *pred, const TextSet *ref, const EvalResult *r) {
    printf("pred   %s (%s, %zu records)\nref    %s (%s, %zu records)\n", pred->path, pred->shape, pred->n, ref->path,
           ref->shape, ref->n);
    printf("pairs  %zu, ROUGE stemming %s", r->pairs, r->stem ? "on" : "off");
    if (r->want[EVAL_METEOR]) printf(", METEOR as %s", meteor_compat_name(r->meteor_compat));
    printf("\n\n");
    printf("%-8s %10s %10s %10s\n", "metric", "mean", "precision", "recall");
    for (int m = 0; m < EVAL_COUNT; m++) {
        if (!r->want[m]) continue;
        if (m == EVAL_METEOR)
            printf("%-8s %10.6f %10s %10s\n", eval_metric_name((EvalMetric)m), r->mean[m], "-", "-");
        else
            printf("%-8s %10.6f %10.6f %10.6f\n", eval_metric_name((EvalMetric)m), r->mean[m], r->mean_p[m],
                   r->mean_r[m]);
    }
}

/* Every pair's scores as JSON Lines, in the references' order: {"id", then per wanted metric its F1
 * (or METEOR's score) and for ROUGE "<metric>_precision" and "<metric>_recall"}, all exact
 * (%.17g). Written to a temp file and renamed. */
static int write_per_pair(const char *path, const TextSet *ref, const EvalResult *r, Error *e) {
    StrBuf b;
    strbuf_init(&b);
    int rc = RP_OK;
    for (size_t i = 0; i < ref->n && !rc; i++) {
        rc = strbuf_puts(&b, "{\"id\": ", e);
        if (!rc) rc = strbuf_json_string(&b, ref->id[i], e);
        for (int m = 0; m < EVAL_COUNT && !rc; m++) {
            if (!r->want[m]) continue;
            const char *name = eval_metric_name((EvalMetric)m);
            size_t k = i * EVAL_COUNT + (size_t)m;
            rc = strbuf_printf(&b, e, ", \"%s\": %.17g", name, r->pair[k]);
            if (!rc && m != EVAL_METEOR)
                rc = strbuf_printf(&b, e, ", \"%s_precision\": %.17g, \"%s_recall\": %.17g", name, r->pair_p[k], name,
                                   r->pair_r[k]);
        }
        if (!rc) rc = strbuf_puts(&b, "}\n", e);
    }
    if (!rc) rc = atomic_write(path, b.s ? b.s : "", b.len, e);
    strbuf_free(&b);
    return rc;
}

int cmd_score(int argc, char **argv, Error *e) {
    const char *pred_path = NULL, *ref_path = NULL, *metrics = EVAL_DEFAULT_METRICS, *per_pair = NULL,
               *compat = METEOR_COMPAT_DEFAULT;
    int stem = 0, json = 0;
    ArgSpec specs[] = {
        {"--pred", ARG_STR, &pred_path, "predictions: JSON Lines {id, text} or LongLaMP {task, golds: [{id, output}]}", 1, 0},
        {"--ref", ARG_STR, &ref_path, "references, either shape", 1, 0},
        {"--metrics", ARG_STR, &metrics, "comma-separated: rouge1, rouge2, rougeL, meteor (default " EVAL_DEFAULT_METRICS ")", 0, 0},
        {"--stem", ARG_FLAG, &stem, "Porter-stem ROUGE tokens longer than 3 characters (LongLaMP does not)", 0, 0},
        {"--json", ARG_FLAG, &json, "print one JSON object (means, precision, recall, pairs) instead of a table", 0, 0},
        {"--per-pair", ARG_STR, &per_pair, "also write every pair's scores to FILE as JSON Lines {id, metric, ...}", 0, 0},
        {"--meteor-compat", ARG_STR, &compat, "METEOR as NLTK 3.10 (nltk3.10, default: pip's today) or 3.8 computes it "
         "(nltk3.8: LongLaMP's published numbers)", 0, ARG_ONE_OF("nltk3.10", "nltk3.8")},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("score",
                        "Scores predictions against references paired by id and prints corpus means, with the "
                        "semantics of LongLaMP's evaluation (rouge_score, NLTK METEOR); see docs/metrics.md.",
                        specs, argc, argv, e);
    const char *ins[] = {"--pred", pred_path, "--ref", ref_path};
    if (rc || (rc = file_check_out("--per-pair", per_pair, 2, ins, e))) return rc;
    int want[EVAL_COUNT];
    NltkRelease rel;
    if ((rc = eval_parse_metrics(metrics, want, e)) || (rc = meteor_compat_parse(compat, &rel, e))) return rc;
    TextSet pred, ref;
    if ((rc = textset_read(pred_path, &pred, e))) return rc;
    if ((rc = textset_read(ref_path, &ref, e))) {
        textset_free(&pred);
        return rc;
    }
    EvalResult r;
    rc = eval_corpus(&pred, &ref, want, stem, rel, per_pair != NULL, &r, e);
    if (rc == RP_OK && per_pair && (rc = write_per_pair(per_pair, &ref, &r, e))) error_wrap(e, "--per-pair %s", per_pair);
    if (rc == RP_OK) {
        if (json) rc = print_json(&pred, &ref, &r, e);
        else print_table(&pred, &ref, &r);
    }
    eval_result_free(&r);
    textset_free(&pred);
    textset_free(&ref);
    return rc;
}
