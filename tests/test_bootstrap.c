/* reward/bootstrap: the percentile interval against what sampling theory says it must be:
 *  - one seed, n normal scores: its width matches the normal-theory 2 x 1.96 x sd / sqrt(n);
 *  - repeated experiments: a 95% interval covers the true mean in about 95% of them, with one seed
 *    (example noise) and with five seeds (seed effects plus example noise);
 *  - a paired difference that is constant has a zero-width interval at that constant;
 *  - bad arguments and a NaN score are refused. */
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "reward/bootstrap.h"
#include "tests/test.h"

int main(void) {
    Error e;
    Rng r;
    rng_seed(&r, 11);
    enum { N = 400 };
    double x[N];
    double s1 = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        x[i] = 0.3 + 0.1 * rng_normal(&r);
        s1 += x[i], s2 += x[i] * x[i];
    }
    double sd = sqrt((s2 - s1 * s1 / N) / (N - 1)), want = 2 * 1.959964 * sd / sqrt((double)N);
    BootstrapCI ci;
    CHECK_OK(bootstrap_ci(x, 1, N, 20000, 0.95, 1, &ci, &e), &e);
    CHECK_NEAR(ci.mean, s1 / N, 1e-12);
    CHECK_MSG(fabs((ci.hi - ci.lo) / want - 1) < 0.05, "width %g, normal theory %g", ci.hi - ci.lo, want);
    CHECK(ci.lo < ci.mean && ci.mean < ci.hi && ci.p_le_zero == 0);

    /* Coverage over 400 experiments each (standard error of a 95% rate: 1.1%). */
    for (int S = 1; S <= 5; S += 4) {
        enum { n = 60, T = 400 };
        double *y = malloc(sizeof(double) * S * n);
        int cover = 0;
        for (int t = 0; t < T; t++) {
            double seed_eff[5];
            for (int s = 0; s < S; s++) seed_eff[s] = S > 1 ? 0.05 * rng_normal(&r) : 0;
            double ex_eff[n];
            for (int i = 0; i < n; i++) ex_eff[i] = 0.1 * rng_normal(&r);
            for (int s = 0; s < S; s++)
                for (int i = 0; i < n; i++) y[s * n + i] = 0.5 + seed_eff[s] + ex_eff[i] + 0.02 * rng_normal(&r);
            CHECK_OK(bootstrap_ci(y, S, n, 1000, 0.95, (uint64_t)t, &ci, &e), &e);
            cover += ci.lo <= 0.5 && 0.5 <= ci.hi;
        }
        /* With 5 seeds the seed effect is estimated from 5 draws: the percentile bootstrap runs a
         * little narrow there, so the band allows some under-coverage (stated in docs). */
        double rate = (double)cover / T, lo = S == 1 ? 0.91 : 0.86;
        CHECK_MSG(rate >= lo && rate <= 0.99, "seeds %d: coverage %.3f", S, rate);
        printf("coverage of the 95%% interval, %d seed(s): %.3f over %d experiments\n", S, rate, T);
        free(y);
    }

    double d[3 * 10];
    for (int i = 0; i < 30; i++) d[i] = -0.25;
    CHECK_OK(bootstrap_ci(d, 3, 10, 500, 0.95, 7, &ci, &e), &e);
    CHECK(ci.lo == -0.25 && ci.hi == -0.25 && ci.mean == -0.25 && ci.p_le_zero == 1);

    CHECK(bootstrap_ci(d, 0, 10, 500, 0.95, 7, &ci, &e) == RP_EINPUT);
    CHECK(bootstrap_ci(d, 3, 10, 50, 0.95, 7, &ci, &e) == RP_EINPUT);
    CHECK(bootstrap_ci(d, 3, 10, 500, 1.0, 7, &ci, &e) == RP_EINPUT);
    d[13] = NAN;
    CHECK(bootstrap_ci(d, 3, 10, 500, 0.95, 7, &ci, &e) == RP_EINPUT && strstr(e.msg, "seed 1, example 3"));
    return test_summary("test_bootstrap");
}
