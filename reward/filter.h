/* Filtering of scored candidates (the E-step's selection, docs/reward.md).
 *
 * Per input: candidates with reward >= tau are eligible; the best `keep` of them are kept, best
 * first, ties broken by candidate index (lower first) so the result is deterministic. With
 * drop_uniform, an input whose candidates all have the same reward keeps none (nothing to learn
 * from a tie). The kept flags are written into the Samples. */
#ifndef RESTPG_REWARD_FILTER_H
#define RESTPG_REWARD_FILTER_H

#include <stdint.h>

#include "core/error.h"
#include "data/samples.h"

typedef struct {
    double tau;       /* default 0.3 */
    int keep;         /* K, default 10; 0 means no cap; negative is RP_EINPUT */
    int drop_uniform; /* default 0 */
    int require_separator; /* 1: candidates that never wrote the answer separator, or wrote it
                            * with an empty reasoning before it, are not kept (in reasoning mode
                            * they have no reasoning to learn from, and SFT refuses an empty one) */
} FilterOptions;

typedef struct {
    int64_t inputs, inputs_kept; /* inputs seen / with at least one kept candidate */
    int64_t candidates, kept;
    int64_t dropped_uniform;     /* inputs dropped because all rewards were equal */
    int64_t no_separator;        /* candidates passed over for a missing separator or reasoning */
    double mean_reward, mean_kept_reward;
} FilterStats;

void filter_options_default(FilterOptions *o);
/* Requires s->has_reward. Overwrites s->kept and records tau/keep in s. */
int filter_apply(Samples *s, const FilterOptions *o, FilterStats *st, Error *e);

#endif
