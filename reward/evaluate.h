/* Corpus evaluation as LongLaMP reports it: predictions paired with references by id, each metric
 * averaged over the pairs (plain means; Hugging Face `evaluate`'s rouge with its default
 * aggregator reports a bootstrap median instead, which differs from the mean in the 3rd-4th
 * decimal). Used by `restpg score`. */
#ifndef RESTPG_REWARD_EVALUATE_H
#define RESTPG_REWARD_EVALUATE_H

#include <stddef.h>

#include "core/error.h"
#include "reward/pyclass.h"
#include "reward/textset.h"

typedef enum { EVAL_ROUGE1, EVAL_ROUGE2, EVAL_ROUGEL, EVAL_METEOR, EVAL_COUNT } EvalMetric;

/* What `restpg score` computes when --metrics is not given. */
#define EVAL_DEFAULT_METRICS "rouge1,rouge2,rougeL"

/* "rouge1", "rouge2", "rougeL", "meteor". */
const char *eval_metric_name(EvalMetric m);

/* Parses a comma-separated list of metric names into want[] (1 = compute). RP_EINPUT naming an
 * unknown or repeated name, or an empty list. */
int eval_parse_metrics(const char *list, int want[EVAL_COUNT], Error *e);

typedef struct {
    size_t pairs;
    int want[EVAL_COUNT];
    int stem;
    NltkRelease meteor_compat; /* the NLTK release METEOR followed */
    double mean[EVAL_COUNT];   /* mean F1 (ROUGE) or score (METEOR) */
    double mean_p[EVAL_COUNT]; /* mean precision / recall, ROUGE only */
    double mean_r[EVAL_COUNT];
    /* With keep_pairs: every pair's values, in the references' order, pair i metric m at
     * [i * EVAL_COUNT + m] (F1 or score, precision, recall; 0 for metrics not wanted). NULL
     * otherwise. The means are the sums of these in that order, divided by the pair count. */
    double *pair, *pair_p, *pair_r;
} EvalResult;

/* Pairs every reference with the prediction of the same id and averages the wanted metrics
 * (ROUGE stems when stem = 1; METEOR follows NLTK release meteor). A reference id without a
 * prediction, or a prediction id without a reference, is RP_EINPUT naming the file, the id and
 * where it is. Nothing is scored before the pairing is checked. keep_pairs = 1 also keeps every
 * pair's values in out (eval_result_free releases them, on failure too). */
int eval_corpus(const TextSet *pred, const TextSet *ref, const int want[EVAL_COUNT], int stem, NltkRelease meteor,
                int keep_pairs, EvalResult *out, Error *e);

/* Releases the per-pair values (a result without them is left as it is). */
void eval_result_free(EvalResult *r);

#endif
