/* Corpus means of the metrics over id-paired texts (see evaluate.h). */
#include "reward/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "reward/meteor.h"
#include "reward/rouge.h"

static const char *const NAMES[EVAL_COUNT] = {"rouge1", "rouge2", "rougeL", "meteor"};

const char *eval_metric_name(EvalMetric m) { return m >= 0 && m < EVAL_COUNT ? NAMES[m] : "?"; }

int eval_parse_metrics(const char *list, int want[EVAL_COUNT], Error *e) {
    memset(want, 0, EVAL_COUNT * sizeof *want);
    int any = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int m = 0; m < EVAL_COUNT; m++)
            if (strlen(NAMES[m]) == n && !strncmp(p, NAMES[m], n)) found = m;
        if (found < 0)
            return error_set(e, RP_EINPUT, "--metrics: unknown metric '%.*s' (known: rouge1, rouge2, rougeL, meteor)",
                             (int)n, p);
        if (want[found]) return error_set(e, RP_EINPUT, "--metrics: '%s' is listed twice", NAMES[found]);
        want[found] = 1;
        any = 1;
        p += n + (p[n] == ',');
    }
    return any ? RP_OK : error_set(e, RP_EINPUT, "--metrics: empty list");
}

static int check_pairing(const TextSet *pred, const TextSet *ref, Error *e) {
    for (size_t i = 0; i < ref->n; i++)
        if (textset_find(pred, ref->id[i]) < 0)
            return error_set(e, RP_EINPUT, "%s: no prediction for id '%s' (reference %s, %s)", pred->path, ref->id[i],
                             ref->path, ref->where[i]);
    for (size_t i = 0; i < pred->n; i++)
        if (textset_find(ref, pred->id[i]) < 0)
            return error_set(e, RP_EINPUT, "%s: %s: id '%s' has no reference in %s", pred->path, pred->where[i],
                             pred->id[i], ref->path);
    return RP_OK;
}

static int rouge_means(const TextSet *pred, const TextSet *ref, const int want[EVAL_COUNT], int stem,
                       EvalResult *out, Error *e) {
    Rouge r;
    int rc = rouge_init(&r, stem, e);
    if (rc) return rc;
    for (size_t i = 0; i < ref->n; i++) {
        const char *p = pred->text[textset_find(pred, ref->id[i])], *t = ref->text[i];
        RougeScores s;
        if ((rc = rouge_score(&r, p, strlen(p), t, strlen(t), &s, e))) break;
        const RougeScore *by[3] = {&s.rouge1, &s.rouge2, &s.rougeL};
        for (int m = EVAL_ROUGE1; m <= EVAL_ROUGEL; m++) {
            if (!want[m]) continue;
            out->mean[m] += by[m]->f;
            out->mean_p[m] += by[m]->p;
            out->mean_r[m] += by[m]->r;
            if (out->pair) {
                out->pair[i * EVAL_COUNT + m] = by[m]->f;
                out->pair_p[i * EVAL_COUNT + m] = by[m]->p;
                out->pair_r[i * EVAL_COUNT + m] = by[m]->r;
            }
        }
    }
    rouge_free(&r);
    return rc;
}

/* The one place METEOR is dispatched: sums the METEOR score of every pair into *sum (texts
 * stripped first, as LongLaMP does). */
static int meteor_sum(const TextSet *pred, const TextSet *ref, EvalResult *out, Error *e) {
    Meteor m;
    int rc = meteor_init(&m, out->meteor_compat, e);
    if (rc) return rc;
    for (size_t i = 0; i < ref->n && rc == RP_OK; i++) {
        const char *p = pred->text[textset_find(pred, ref->id[i])], *t = ref->text[i];
        size_t ps, ts, pn = meteor_strip(p, strlen(p), &ps), tn = meteor_strip(t, strlen(t), &ts);
        double s;
        rc = meteor_score_n(&m, p + ps, pn, t + ts, tn, &s, e);
        out->mean[EVAL_METEOR] += s;
        if (out->pair) out->pair[i * EVAL_COUNT + EVAL_METEOR] = s;
    }
    meteor_free(&m);
    return rc;
}

void eval_result_free(EvalResult *r) {
    free(r->pair);
    free(r->pair_p);
    free(r->pair_r);
    r->pair = r->pair_p = r->pair_r = NULL;
}

int eval_corpus(const TextSet *pred, const TextSet *ref, const int want[EVAL_COUNT], int stem, NltkRelease meteor,
                int keep_pairs, EvalResult *out, Error *e) {
    memset(out, 0, sizeof *out);
    memcpy(out->want, want, sizeof out->want);
    out->stem = stem;
    out->meteor_compat = meteor;
    out->pairs = ref->n;
    int rc = check_pairing(pred, ref, e);
    if (rc == RP_OK && keep_pairs) {
        size_t n = (ref->n ? ref->n : 1) * EVAL_COUNT;
        out->pair = xcalloc(n, sizeof *out->pair, e);
        out->pair_p = out->pair ? xcalloc(n, sizeof *out->pair_p, e) : NULL;
        out->pair_r = out->pair_p ? xcalloc(n, sizeof *out->pair_r, e) : NULL;
        if (!out->pair_r) rc = RP_ENOMEM;
    }
    if (rc == RP_OK && want[EVAL_METEOR]) rc = meteor_sum(pred, ref, out, e);
    if (rc == RP_OK && (want[EVAL_ROUGE1] || want[EVAL_ROUGE2] || want[EVAL_ROUGEL]))
        rc = rouge_means(pred, ref, want, stem, out, e);
    if (rc) return rc;
    for (int m = 0; m < EVAL_COUNT; m++) {
        out->mean[m] /= (double)ref->n;
        out->mean_p[m] /= (double)ref->n;
        out->mean_r[m] /= (double)ref->n;
    }
    return RP_OK;
}
