/* Token choice: top-k / top-p keep exactly the right tokens on constructed distributions,
 * temperature and greedy behave, draws follow the renormalised distribution, and the
 * threshold-search shortcut equals a brute-force full sort on a GPT-2-sized vocabulary. */
#include <math.h>
#include <stdlib.h>

#include "sampler/sampling.h"
#include "tests/test.h"

static int support_is(const float *lg, int n, SamplingParams p, SamplingWork *w, const int32_t *want, int nw) {
    int32_t ids[64];
    int m = sampling_support(lg, n, &p, w, ids);
    if (m != nw) return 0;
    for (int i = 0; i < m; i++)
        if (ids[i] != want[i]) return 0;
    return 1;
}

static const float *g_ref;
static int ref_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (g_ref[i] != g_ref[j]) return g_ref[i] > g_ref[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int main(void) {
    Error e;
    error_clear(&e);
    SamplingWork w;
    CHECK_OK(sampling_work_init(&w, 60000, &e), &e);
    const double pr[6] = {0.4, 0.25, 0.15, 0.1, 0.06, 0.04};
    float lg[8];
    for (int i = 0; i < 6; i++) lg[i] = (float)log(pr[i]);
    lg[6] = lg[7] = 100.0f; /* padding rows beyond n_valid = 6 must never be chosen */

    SamplingParams p = {1.0, 0, 1.0};
    CHECK(support_is(lg, 6, (SamplingParams){1.0, 3, 1.0}, &w, (int32_t[]){0, 1, 2}, 3));
    CHECK(support_is(lg, 6, (SamplingParams){1.0, 0, 0.45}, &w, (int32_t[]){0, 1}, 2));
    CHECK(support_is(lg, 6, (SamplingParams){1.0, 0, 0.3}, &w, (int32_t[]){0}, 1));
    CHECK(support_is(lg, 6, (SamplingParams){1.0, 0, 0.9}, &w, (int32_t[]){0, 1, 2, 3}, 4));
    /* top-p applies to the top-k renormalised: 0.5, 0.8125 -> {0, 1}; unrenormalised would need 3. */
    CHECK(support_is(lg, 6, (SamplingParams){1.0, 3, 0.7}, &w, (int32_t[]){0, 1}, 2));
    /* Ties are ordered by id. */
    float tie[4] = {0.0f, 1.0f, 1.0f, -1.0f};
    CHECK(support_is(tie, 4, (SamplingParams){1.0, 2, 1.0}, &w, (int32_t[]){1, 2}, 2));
    CHECK(sampling_choose(tie, 4, &(SamplingParams){0.0, 0, 1.0}, 0.99, &w, NULL) == 1);

    /* Greedy ignores u; logprob is the model's own log-probability. */
    double lp;
    CHECK(sampling_choose(lg, 6, &(SamplingParams){0.0, 0, 1.0}, 0.5, &w, &lp) == 0);
    CHECK_NEAR(lp, log(0.4), 1e-6);

    /* Draws over a fine grid of u reproduce the filtered, renormalised distribution. */
    int counts[8] = {0};
    const int G = 20000;
    for (int g = 0; g < G; g++) counts[sampling_choose(lg, 6, &(SamplingParams){1.0, 3, 1.0}, (g + 0.5) / G, &w, NULL)]++;
    CHECK_NEAR(counts[0] / (double)G, 0.4 / 0.8, 1e-3);
    CHECK_NEAR(counts[2] / (double)G, 0.15 / 0.8, 1e-3);
    CHECK(counts[3] == 0 && counts[6] == 0 && counts[7] == 0);
    /* Temperature 0.5 squares the probabilities before renormalising. */
    memset(counts, 0, sizeof counts);
    double z = 0;
    for (int i = 0; i < 6; i++) z += pr[i] * pr[i];
    for (int g = 0; g < G; g++) counts[sampling_choose(lg, 6, &(SamplingParams){0.5, 0, 1.0}, (g + 0.5) / G, &w, NULL)]++;
    CHECK_NEAR(counts[1] / (double)G, pr[1] * pr[1] / z, 1e-3);
    (void)p;

    /* GPT-2-sized vocabulary: the threshold search gives the same support as sorting everything. */
    const int V = 50257;
    float *big = malloc(sizeof(float) * V), *ref = malloc(sizeof(float) * V);
    int32_t *ids = malloc(sizeof(int32_t) * V), *all = malloc(sizeof(int32_t) * V);
    uint64_t x = 12345;
    for (int i = 0; i < V; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        big[i] = (float)((double)(x >> 11) / 9007199254740992.0 * 12.0 - 6.0);
    }
    big[777] = big[778] = 9.0f; /* a tie at the top */
    const SamplingParams cases[] = {{0.7, 0, 0.9}, {1.0, 40, 1.0}, {1.3, 50, 0.95}, {0.7, 0, 0.999}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int m = sampling_support(big, V, &cases[c], &w, ids);
        /* The same float arithmetic as the implementation, so near-ties order identically. */
        float mx = 9.0f;
        double zz = 0, inv_t = 1.0 / cases[c].temperature;
        for (int i = 0; i < V; i++) {
            ref[i] = (float)exp((big[i] - mx) * inv_t);
            zz += ref[i];
        }
        for (int i = 0; i < V; i++) ref[i] = (float)(ref[i] / zz);
        for (int i = 0; i < V; i++) all[i] = i;
        g_ref = ref;
        qsort(all, V, sizeof(int32_t), ref_desc);
        int k = cases[c].top_k > 0 ? cases[c].top_k : V;
        double kept = 0, acc = 0;
        for (int r = 0; r < k; r++) kept += ref[all[r]];
        int want = k;
        if (cases[c].top_p < 1)
            for (int r = 0; r < k; r++) {
                acc += ref[all[r]] / kept;
                if (acc >= cases[c].top_p) {
                    want = r + 1;
                    break;
                }
            }
        int same = m == want;
        for (int r = 0; same && r < m; r++) same = ids[r] == all[r];
        CHECK_MSG(same, "case %zu: support %d, brute force %d", c, m, want);
        CHECK(ids[0] == 777 && ids[1] == 778);
    }
    /* Logits of a broken model: no token is chosen (-1), whatever the filters; the top-k path once
     * read w->idx[-1] when every probability was NaN. */
    const SamplingParams modes[4] = {{0.0, 0, 1.0}, {1.0, 0, 1.0}, {0.7, 3, 1.0}, {0.7, 0, 0.9}};
    float nan_all[6], nan_one[6], pinf[6], ninf[6];
    for (int i = 0; i < 6; i++) nan_all[i] = NAN, nan_one[i] = lg[i], pinf[i] = lg[i], ninf[i] = -INFINITY;
    nan_one[3] = NAN;
    pinf[2] = INFINITY;
    const float *bad[4] = {nan_all, nan_one, pinf, ninf};
    for (int b = 0; b < 4; b++)
        for (int q = 0; q < 4; q++) {
            double blp = 123;
            CHECK_MSG(sampling_choose(bad[b], 6, &modes[q], 0.5, &w, &blp) == -1, "bad logits %d, mode %d", b, q);
            CHECK(sampling_support(bad[b], 6, &modes[q], &w, ids) == 0);
        }
    /* Some tokens at -Inf are fine: they just have probability 0. */
    float some_ninf[6] = {-INFINITY, 1.0f, -INFINITY, 0.5f, -INFINITY, -INFINITY};
    for (int q = 0; q < 4; q++) CHECK(sampling_choose(some_ninf, 6, &modes[q], 0.25, &w, NULL) == 1);

    free(big);
    free(ref);
    free(ids);
    free(all);
    sampling_work_free(&w);
    return test_summary("test_sampling");
}
