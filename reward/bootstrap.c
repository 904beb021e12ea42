/* Two-level (seeds x examples) percentile bootstrap (see bootstrap.h). */
#include "reward/bootstrap.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/text.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..m) by linear interpolation between order statistics (numpy's
 * default). */
static double quantile(const double *v, int m, double q) {
    double h = q * (m - 1);
    int k = (int)floor(h);
    if (k >= m - 1) return v[m - 1];
    return v[k] + (h - k) * (v[k + 1] - v[k]);
}

int bootstrap_ci(const double *x, int S, int64_t n, int B, double level, uint64_t seed, BootstrapCI *out, Error *e) {
    if (S < 1 || n < 1 || B < 100 || !(level > 0 && level < 1))
        return error_set(e, RP_EINPUT, "bootstrap: need seeds >= 1 (got %d), examples >= 1 (got %lld), replicates >= 100 "
                         "(got %d) and 0 < level < 1 (got %g)", S, (long long)n, B, level);
    double sum = 0;
    for (int64_t k = 0; k < (int64_t)S * n; k++) {
        if (!isfinite(x[k]))
            return error_set(e, RP_EINPUT, "bootstrap: score of seed %lld, example %lld is %g", (long long)(k / n),
                             (long long)(k % n), x[k]);
        sum += x[k];
    }
    double *rep = xmalloc(sizeof(double) * (size_t)B, e);
    int64_t *cnt = xmalloc(sizeof(int64_t) * (size_t)n, e);
    int *ss = xmalloc(sizeof(int) * (size_t)S, e);
    if (!rep || !cnt || !ss) {
        free(rep), free(cnt), free(ss);
        return RP_ENOMEM;
    }
    Rng r;
    rng_seed(&r, seed);
    int le0 = 0;
    for (int b = 0; b < B; b++) {
        /* Examples are drawn once per replicate and shared by the drawn seeds (the crossed design);
         * counting them turns the mean into a weighted sum over the distinct examples. */
        for (int64_t i = 0; i < n; i++) cnt[i] = 0;
        for (int64_t i = 0; i < n; i++) cnt[rng_next(&r) % (uint64_t)n]++;
        for (int s = 0; s < S; s++) ss[s] = (int)(rng_next(&r) % (uint64_t)S);
        double t = 0;
        for (int s = 0; s < S; s++) {
            const double *row = x + (int64_t)ss[s] * n;
            for (int64_t i = 0; i < n; i++) t += (double)cnt[i] * row[i];
        }
        rep[b] = t / ((double)S * (double)n);
        le0 += rep[b] <= 0;
    }
    qsort(rep, (size_t)B, sizeof *rep, cmp_double);
    out->mean = sum / ((double)S * (double)n);
    out->lo = quantile(rep, B, (1 - level) / 2);
    out->hi = quantile(rep, B, 1 - (1 - level) / 2);
    out->p_le_zero = (double)le0 / B;
    free(rep), free(cnt), free(ss);
    return RP_OK;
}
