/* The statistics of `restpg ablate` (docs/pipeline.md#ablation): per method and metric the mean
 * over seeds and test examples with its 95% bootstrap interval (reward/bootstrap.h: examples and
 * seeds resampled), and the paired difference of the reference method (REST-PG) against every
 * other method with its interval, read from each evaluation's predictions and references; then
 * ablation.md, ablation.json and plots/ablation.png under the root. Rank 0 only. */
#ifndef RESTPG_LAUNCH_ABLATE_STATS_H
#define RESTPG_LAUNCH_ABLATE_STATS_H

#include "core/error.h"
#include "reward/pyclass.h"

typedef struct {
    const char *name, *label;
} AblateMethod;

/* Bootstrap replicates and level of every interval. */
#define ABLATE_BOOTSTRAP_B 10000
#define ABLATE_LEVEL 0.95

/* eval_dir[s * M + k] holds predictions.json and references.json of method k under seeds[s].
 * Every evaluation must cover the same example ids (RP_EINPUT naming the directory and id
 * otherwise). ref is the method the differences are taken from, base the one the relative gain
 * is reported against (RAG + SFT, as in the paper). */
int ablate_stats_write(const char *root, const char *const *eval_dir, const long *seeds, int S, const AblateMethod *methods,
                       int M, int ref, int base, NltkRelease meteor, Error *e);

#endif
