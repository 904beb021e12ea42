/* Reward-threshold and top-K filtering of candidates (see filter.h). */
#include "reward/filter.h"

#include <stdlib.h>
#include <string.h>

#include "core/text.h"

void filter_options_default(FilterOptions *o) {
    o->tau = 0.3;
    o->keep = 10;
    o->drop_uniform = 0;
    o->require_separator = 0;
}

typedef struct {
    double reward;
    int32_t candidate;
    int64_t row;
} Ranked;

static int by_reward_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->reward != y->reward) return x->reward > y->reward ? -1 : 1;
    return (x->candidate > y->candidate) - (x->candidate < y->candidate);
}

int filter_apply(Samples *s, const FilterOptions *o, FilterStats *st, Error *e) {
    if (!s->has_reward) return error_set(e, RP_EINPUT, "samples have no rewards yet (run restpg reward first)");
    if (!(o->tau >= 0.0 && o->tau <= 1.0)) return error_set(e, RP_EINPUT, "filter: tau must be in [0, 1], got %g", o->tau);
    if (o->keep < 0) return error_set(e, RP_EINPUT, "filter: keep must be >= 0 (0 = no cap), got %d", o->keep);
    memset(st, 0, sizeof *st);
    memset(s->kept, 0, (size_t)s->m);
    s->tau = o->tau;
    s->keep_k = o->keep;
    /* Group rows by example id: group[i] is the group number of row i, in first-seen order. */
    StrMap groups;
    int rc = strmap_init(&groups, (size_t)s->m / 8 + 16, e);
    if (rc) return rc;
    int64_t *group = xmalloc(sizeof(int64_t) * (size_t)(s->m ? s->m : 1), e);
    Ranked *order = xmalloc(sizeof(Ranked) * (size_t)(s->m ? s->m : 1), e);
    int64_t *start = xcalloc((size_t)s->m + 2, sizeof(int64_t), e);
    if (!group || !order || !start) rc = RP_ENOMEM;
    int64_t ng = 0;
    for (int64_t i = 0; i < s->m && !rc; i++) {
        const char *id = s->example_id[i];
        int64_t *g = strmap_slot(&groups, id, strlen(id), ng, e);
        if (!g) rc = RP_ENOMEM;
        else {
            if (*g == ng) ng++;
            group[i] = *g;
            start[*g + 1]++;
        }
    }
    if (!rc) {
        for (int64_t g = 0; g < ng; g++) start[g + 1] += start[g];
        int64_t *fill = xmalloc(sizeof(int64_t) * (size_t)(ng ? ng : 1), e);
        if (!fill) rc = RP_ENOMEM;
        else {
            memcpy(fill, start, sizeof(int64_t) * (size_t)ng);
            for (int64_t i = 0; i < s->m; i++) order[fill[group[i]]++] = (Ranked){s->reward[i], s->candidate[i], i};
            free(fill);
        }
    }
    double sum = 0, sum_kept = 0;
    for (int64_t g = 0; g < ng && !rc; g++) {
        Ranked *rows = order + start[g];
        int64_t n = start[g + 1] - start[g];
        qsort(rows, (size_t)n, sizeof(Ranked), by_reward_desc);
        st->inputs++;
        st->candidates += n;
        for (int64_t k = 0; k < n; k++) sum += rows[k].reward;
        if (o->drop_uniform && n > 1 && rows[0].reward == rows[n - 1].reward) {
            st->dropped_uniform++;
            continue;
        }
        int64_t kept = 0;
        for (int64_t k = 0; k < n && (o->keep == 0 || kept < o->keep); k++) {
            if (!(rows[k].reward >= o->tau)) break; /* sorted: the rest are lower */
            if (o->require_separator && (!s->has_separator[rows[k].row] || !s->reasoning_text[rows[k].row][0])) {
                st->no_separator++;
                continue;
            }
            s->kept[rows[k].row] = 1;
            sum_kept += rows[k].reward;
            kept++;
        }
        st->kept += kept;
        st->inputs_kept += kept > 0;
    }
    st->mean_reward = st->candidates ? sum / (double)st->candidates : 0.0;
    st->mean_kept_reward = st->kept ? sum_kept / (double)st->kept : 0.0;
    strmap_free(&groups);
    free(group);
    free(order);
    free(start);
    return rc;
}
