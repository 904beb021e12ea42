/* Reward specs and scoring of a samples file (see reward.h). */
#include "reward/reward.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reward/judge.h"
#include "reward/meteor.h"
#include "reward/rouge.h"

static const char *NAMES[METRIC_COUNT] = {"rouge1", "rouge2", "rougeL", "meteor", "judge"};

int reward_spec_parse(const char *spec, RewardSpec *r, Error *e) {
    memset(r, 0, sizeof *r);
    double total = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char term[128];
        if (len == 0 || len >= sizeof term) return error_set(e, RP_EINPUT, "reward spec '%s': empty or overlong term", spec);
        memcpy(term, p, len);
        term[len] = '\0';
        char *colon = strchr(term, ':');
        double w = 1.0;
        if (colon) {
            *colon = '\0';
            char *rest;
            w = strtod(colon + 1, &rest);
            if (rest == colon + 1 || *rest || !isfinite(w) || w < 0)
                return error_set(e, RP_EINPUT, "reward spec '%s': weight of '%s' must be a number >= 0", spec, term);
        }
        int m = 0;
        while (m < METRIC_COUNT && strcmp(NAMES[m], term)) m++;
        if (m == METRIC_COUNT)
            return error_set(e, RP_EINPUT, "reward spec '%s': unknown metric '%s' (known: rouge1, rouge2, rougeL, meteor, judge)",
                             spec, term);
        if (r->weight[m] > 0) return error_set(e, RP_EINPUT, "reward spec '%s': metric '%s' given twice", spec, term);
        r->weight[m] = w;
        total += w;
        p += len + (end != NULL);
    }
    if (!(total > 0)) return error_set(e, RP_EINPUT, "reward spec '%s': needs at least one metric with a positive weight", spec);
    return RP_OK;
}

void reward_options_default(RewardOptions *o) {
    memset(o, 0, sizeof *o);
    o->judge_timeout = 60.0;
    o->judge_batch = 64;
    o->judge_retries = 1;
    o->threads = 1;
}

/* Maps each candidate to its dataset example; candidates of one example are contiguous in a
 * samples file, so groups are runs [start[g], start[g+1]). */
static int map_examples(const Dataset *d, const Samples *s, int64_t *ex, int64_t *start, int64_t *ng, Error *e) {
    *ng = 0;
    for (int64_t i = 0; i < s->m; i++) {
        ex[i] = dataset_find(d, s->example_id[i]);
        if (ex[i] < 0)
            return error_set(e, RP_EINPUT, "candidate %lld: example id '%s' is not in the dataset", (long long)i, s->example_id[i]);
        if (i == 0 || ex[i] != ex[i - 1]) start[(*ng)++] = i;
    }
    start[*ng] = s->m;
    return RP_OK;
}

static int score_metrics(const RewardSpec *spec, const RewardOptions *o, const Dataset *d, Samples *s, const int64_t *ex,
                         const int64_t *start, int64_t ng, double *wsum, Error *e) {
    int need_rouge = spec->weight[METRIC_ROUGE1] > 0 || spec->weight[METRIC_ROUGE2] > 0 || spec->weight[METRIC_ROUGEL] > 0;
    int need_meteor = spec->weight[METRIC_METEOR] > 0;
    Meteor meteor;
    int rc = need_meteor ? meteor_init(&meteor, o->meteor_compat, e) : RP_OK;
    if (rc) return rc;
    int first_rc = RP_OK;
#pragma omp parallel num_threads(o->threads > 0 ? o->threads : 1)
    {
        Rouge rouge;
        RougeRef ref;
        Error le;
        error_clear(&le);
        int lrc = need_rouge ? rouge_init(&rouge, 0, &le) : RP_OK;
        memset(&ref, 0, sizeof ref);
#pragma omp for schedule(dynamic, 4)
        for (int64_t g = 0; g < ng; g++) {
            if (lrc) continue;
            const char *reference = d->output[ex[start[g]]];
            if (need_rouge) lrc = rouge_ref_init(&rouge, &ref, reference, strlen(reference), &le);
            for (int64_t i = start[g]; i < start[g + 1] && !lrc; i++) {
                const char *ans = s->answer[i];
                double r = 0;
                if (need_rouge) {
                    RougeScores sc;
                    lrc = rouge_score_ref(&rouge, &ref, ans, strlen(ans), &sc, &le);
                    r += spec->weight[METRIC_ROUGE1] * sc.rouge1.f + spec->weight[METRIC_ROUGE2] * sc.rouge2.f +
                         spec->weight[METRIC_ROUGEL] * sc.rougeL.f;
                }
                double mt = 0;
                if (need_meteor && !lrc)
                    lrc = meteor_score_n(&meteor, ans, strlen(ans), reference, strlen(reference), &mt, &le);
                r += spec->weight[METRIC_METEOR] * mt;
                s->reward[i] = r;
            }
        }
        if (need_rouge) {
            rouge_ref_free(&ref);
            rouge_free(&rouge);
        }
#pragma omp critical
        if (lrc && !first_rc) {
            first_rc = lrc;
            *e = le;
        }
    }
    if (need_meteor) meteor_free(&meteor);
    for (int m = 0; m < METRIC_JUDGE; m++) *wsum += spec->weight[m];
    return first_rc;
}

static int score_judge(const RewardSpec *spec, const RewardOptions *o, const Dataset *d, Samples *s, const int64_t *ex,
                       Error *e) {
    if (!o->judge_argv) return error_set(e, RP_EINPUT, "the reward spec uses judge but no judge command was given (--judge)");
    JudgeItem *items = xmalloc(sizeof(JudgeItem) * (size_t)(s->m ? s->m : 1), e);
    double *jr = xmalloc(sizeof(double) * (size_t)(s->m ? s->m : 1), e);
    char **ids = xcalloc((size_t)(s->m ? s->m : 1), sizeof(char *), e);
    int rc = items && jr && ids ? RP_OK : RP_ENOMEM;
    /* The judge sees "example#candidate" ids, unique per request and readable in its logs. */
    for (int64_t i = 0; !rc && i < s->m; i++) {
        size_t n = strlen(s->example_id[i]) + 16;
        if (!(ids[i] = xmalloc(n, e))) {
            rc = RP_ENOMEM;
            break;
        }
        snprintf(ids[i], n, "%s#%d", s->example_id[i], s->candidate[i]);
        items[i] = (JudgeItem){ids[i], d->input[ex[i]], d->output[ex[i]], s->reasoning_text[i], s->answer[i]};
    }
    Judge j;
    if (!rc) rc = judge_start(&j, o->judge_argv, o->judge_timeout, o->judge_batch, o->judge_retries, e);
    if (!rc) {
        rc = judge_score(&j, items, s->m, jr, e);
        judge_stop(&j);
    }
    for (int64_t i = 0; !rc && i < s->m; i++) s->reward[i] += spec->weight[METRIC_JUDGE] * jr[i];
    for (int64_t i = 0; ids && i < s->m; i++) free(ids[i]);
    free(items);
    free(jr);
    free(ids);
    return rc;
}

int reward_score_samples(const RewardSpec *spec, const RewardOptions *o, const Dataset *d, Samples *s, Error *e) {
    int rc = samples_alloc_rewards(s, e);
    if (rc) return rc;
    int64_t *ex = xmalloc(sizeof(int64_t) * (size_t)(s->m ? s->m : 1), e);
    int64_t *start = xmalloc(sizeof(int64_t) * (size_t)(s->m + 1), e);
    if (!ex || !start) rc = RP_ENOMEM;
    int64_t ng = 0;
    double wsum = 0;
    if (!rc) rc = map_examples(d, s, ex, start, &ng, e);
    if (!rc) rc = score_metrics(spec, o, d, s, ex, start, ng, &wsum, e);
    if (!rc && spec->weight[METRIC_JUDGE] > 0) {
        rc = score_judge(spec, o, d, s, ex, e);
        wsum += spec->weight[METRIC_JUDGE];
    }
    for (int64_t i = 0; !rc && i < s->m; i++) s->reward[i] /= wsum;
    free(ex);
    free(start);
    return rc;
}
