/* Bootstrap confidence intervals for evaluation scores over examples and seeds (restpg ablate,
 * docs/pipeline.md#ablation).
 *
 * The scores x[s * n + i] are metric values of example i (0..n-1) under seed s (0..S-1); every seed
 * scores the same examples, so seeds and examples are crossed. The estimate is the mean over all
 * S x n values. A bootstrap replicate draws S seeds and n examples with replacement, independently,
 * and takes the mean of x over the drawn (seed, example) pairs: the interval then covers both the
 * spread between examples and the spread between training runs (with S = 1, the plain bootstrap
 * over examples). The interval is the percentile interval of B replicates at level `level`
 * (0.95: the 2.5th and 97.5th percentiles). For a paired comparison pass the per-(seed, example)
 * differences of two methods: the same draws apply to both, which is what pairing means.
 *
 * Replicates come from a splitmix64 stream seeded by `seed`, so an interval is reproducible. */
#ifndef RESTPG_REWARD_BOOTSTRAP_H
#define RESTPG_REWARD_BOOTSTRAP_H

#include <stdint.h>

#include "core/error.h"

typedef struct {
    double mean;      /* over all S x n values */
    double lo, hi;    /* the percentile interval */
    double p_le_zero; /* fraction of replicates <= 0 (for differences: how often the sign flips) */
} BootstrapCI;

/* S >= 1, n >= 1, B >= 100, 0 < level < 1 (else RP_EINPUT). Non-finite scores are RP_EINPUT. */
int bootstrap_ci(const double *x, int S, int64_t n, int B, double level, uint64_t seed, BootstrapCI *out, Error *e);

#endif
