/* Reward functions: a weighted mix of metrics of a candidate's answer against the expected
 * output, optionally with an external judge (docs/reward.md).
 *
 * A spec is a comma-separated list of metric[:weight] with metrics rouge1, rouge2, rougeL (F1,
 * rouge_score semantics, no stemming), meteor (NLTK semantics) and judge (reward/judge.h). The
 * reward is the weighted mean sum(w_m * m) / sum(w_m), so it stays in [0, 1] and a threshold keeps
 * its meaning whatever the weights. Default: "rouge1:0.5,rougeL:0.5" (the mean of ROUGE-1 and
 * ROUGE-L F1). Only the answer is scored: the reasoning is free-form and has no reference. */
#ifndef RESTPG_REWARD_REWARD_H
#define RESTPG_REWARD_REWARD_H

#include "core/error.h"
#include "data/dataset.h"
#include "data/samples.h"
#include "reward/pyclass.h"

#define REWARD_DEFAULT_SPEC "rouge1:0.5,rougeL:0.5"

typedef enum { METRIC_ROUGE1, METRIC_ROUGE2, METRIC_ROUGEL, METRIC_METEOR, METRIC_JUDGE, METRIC_COUNT } MetricKind;

typedef struct {
    double weight[METRIC_COUNT]; /* 0 = unused */
} RewardSpec;

/* Parses a spec; RP_EINPUT naming the bad term (unknown metric, negative or non-numeric weight,
 * all weights zero, a metric given twice). */
int reward_spec_parse(const char *spec, RewardSpec *r, Error *e);

typedef struct {
    char **judge_argv;    /* required when the spec uses judge */
    double judge_timeout; /* seconds per answer line (default 60) */
    int judge_batch;      /* default 64 */
    int judge_retries;    /* default 1 */
    int threads;          /* OpenMP threads for the metrics (default 1) */
    NltkRelease meteor_compat; /* the NLTK release METEOR follows (default 3.10, reward/meteor.h) */
} RewardOptions;

void reward_options_default(RewardOptions *o);

/* Scores every candidate of s against the outputs of d (matched by example id; an unknown id is
 * RP_EINPUT naming it) and stores the rewards in s (allocating reward/kept, clearing kept). */
int reward_score_samples(const RewardSpec *spec, const RewardOptions *o, const Dataset *d, Samples *s, Error *e);

#endif
