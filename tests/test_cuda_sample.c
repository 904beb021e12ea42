/* cuda_sample_rows (kernels/cuda/sample.cu) against sampler/sampling.c's sampling_choose, the
 * reference it must reproduce: the same token for every row, the log-probability within 1e-12
 * (its normaliser is a block reduction where sampling.c sums in id order). Rows: random logits,
 * ties, -inf entries, a nearly flat row (thousands of candidates: the sort in the workspace), a
 * NaN row, a +Inf row and an all -inf row (refused: -1); the padding columns V..Vp-1 hold +Inf,
 * NaN and huge values, which would change or refuse every row if read. Params: greedy, and
 * temperature 0.7 / 1 / 1.3 x top_k 0 / 1 / 5 / V x top_p 1 / 0.9 / 0.3; u: random, 0, just
 * under 1, and u at the host's CDF boundaries (acc_r / total) and one double to either side.
 * Built twice: test_cuda_sample_emu runs under the three emulated thread orders,
 * test_cuda_sample_gpu on a device (77 without one). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/ops_cuda.h"
#include "sampler/sampling.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

#define MAX_U 12

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static double urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float nrand(void) { /* roughly normal */
    double s = 0;
    for (int i = 0; i < 4; i++) s += urand();
    return (float)((s - 2.0) * 1.7);
}

enum { K_RANDOM, K_TIES, K_NEGINF, K_FLAT, K_PEAKED, K_NAN, K_POSINF, K_ALLNEG, N_KINDS };

static void fill_row(float *x, int V, int Vp, int kind) {
    for (int i = 0; i < V; i++) {
        float v = nrand();
        if (kind == K_RANDOM) x[i] = 3.0f * v;
        else if (kind == K_TIES) x[i] = (float)(int)(2.0f * v);
        else if (kind == K_NEGINF) x[i] = i % 3 == 1 ? -INFINITY : 2.0f * v;
        else if (kind == K_FLAT) x[i] = 0.05f * v;
        else if (kind == K_PEAKED) x[i] = 8.0f * v;
        else if (kind == K_NAN) x[i] = i == V / 2 ? NAN : v;
        else if (kind == K_POSINF) x[i] = i == V - 1 ? INFINITY : v;
        else x[i] = -INFINITY;
    }
    for (int i = V; i < Vp; i++) x[i] = i % 3 == 0 ? INFINITY : i % 3 == 1 ? NAN : 1e30f;
}

/* The us of one row: random ones, the ends, and the host's CDF boundaries with a double either side. */
static int row_us(const float *x, int V, const SamplingParams *p, SamplingWork *w, int32_t *ids, double *us) {
    int nu = 0;
    us[nu++] = urand();
    us[nu++] = 0.0;
    us[nu++] = nextafter(1.0, 0.0);
    if (p->temperature <= 0.0) return nu;
    int m = sampling_support(x, V, p, w, ids);
    if (m < 1) return nu;
    double total = 0;
    for (int r = 0; r < m; r++) total += w->prob[ids[r]];
    int at[3] = {0, m / 2, m - 2};
    for (int j = 0; j < 3 && nu + 3 <= MAX_U; j++) {
        if (at[j] < 0) continue;
        double acc = 0;
        for (int r = 0; r <= at[j]; r++) acc += w->prob[ids[r]];
        double b = acc / total;
        if (b >= 1.0) continue;
        us[nu++] = b;
        us[nu++] = nextafter(b, 0.0);
        us[nu++] = nextafter(b, 1.0);
    }
    return nu;
}

static double worst_lp;
static int big_sorts, cases;

static void check_params(int V, int Vp, const SamplingParams *p, SamplingWork *w, int32_t *ids) {
    int cap = N_KINDS * MAX_U;
    float *x = malloc(sizeof(float) * (size_t)cap * Vp);
    double *u = malloc(sizeof(double) * cap), *us = malloc(sizeof(double) * MAX_U);
    int n = 0;
    for (int kind = 0; kind < N_KINDS; kind++) {
        fill_row(x + (size_t)n * Vp, V, Vp, kind);
        if (kind == K_FLAT && p->temperature > 0 && sampling_support(x + (size_t)n * Vp, V, p, w, ids) > 2048)
            big_sorts++;
        int nu = row_us(x + (size_t)n * Vp, V, p, w, ids, us);
        for (int j = 0; j < nu; j++) {
            if (j) memcpy(x + (size_t)n * Vp, x + (size_t)(n - j) * Vp, sizeof(float) * Vp);
            u[n++] = us[j];
        }
    }
    size_t ws_bytes = cuda_sample_rows_workspace(n, V);
    float *dx;
    double *du, *dlp;
    int32_t *dnext;
    void *ws;
    cudaMalloc((void **)&dx, sizeof(float) * (size_t)n * Vp);
    cudaMalloc((void **)&du, sizeof(double) * n);
    cudaMalloc((void **)&dlp, sizeof(double) * n);
    cudaMalloc((void **)&dnext, sizeof(int32_t) * n);
    cudaMalloc(&ws, ws_bytes);
    cudaMemcpy(dx, x, sizeof(float) * (size_t)n * Vp, cudaMemcpyHostToDevice);
    cudaMemcpy(du, u, sizeof(double) * n, cudaMemcpyHostToDevice);
    CHECK(cuda_sample_rows(dnext, dlp, dx, n, V, Vp, du, *p, ws, ws_bytes - 1, 0) == cudaErrorInvalidValue);
    CHECK(cuda_sample_rows(dnext, dlp, dx, n, V, Vp, du, *p, ws, ws_bytes, 0) == cudaSuccess);
    int32_t *next = malloc(sizeof(int32_t) * n);
    double *lp = malloc(sizeof(double) * n);
    cudaMemcpy(next, dnext, sizeof(int32_t) * n, cudaMemcpyDeviceToHost);
    cudaMemcpy(lp, dlp, sizeof(double) * n, cudaMemcpyDeviceToHost);
    for (int r = 0; r < n; r++) {
        double want_lp = 0;
        int32_t want = sampling_choose(x + (size_t)r * Vp, V, p, u[r], w, &want_lp);
        cases++;
        CHECK_MSG(next[r] == want, "V %d T %g k %d p %g row %d u %.17g: token %d, sampling_choose %d", V,
                  p->temperature, p->top_k, p->top_p, r, u[r], next[r], want);
        if (want >= 0) {
            double d = fabs(lp[r] - want_lp) / (fabs(want_lp) > 1 ? fabs(want_lp) : 1);
            if (!(d <= worst_lp)) worst_lp = d;
        }
    }
    cudaFree(dx), cudaFree(du), cudaFree(dlp), cudaFree(dnext), cudaFree(ws);
    free(x), free(u), free(us), free(next), free(lp);
}

static void test_all(void) {
    static const int Vs[] = {1, 7, 300, 5000};
    static const double temps[] = {0.7, 1.0, 1.3}, tps[] = {1.0, 0.9, 0.3};
    for (int v = 0; v < 4; v++) {
        int V = Vs[v], Vp = V + 37;
        SamplingWork w;
        Error e;
        if (sampling_work_init(&w, V, &e)) abort();
        int32_t *ids = malloc(sizeof(int32_t) * V);
        SamplingParams greedy = {0.0, 0, 1.0};
        check_params(V, Vp, &greedy, &w, ids);
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 4; k++)
                for (int q = 0; q < 3; q++) {
                    int ks[4] = {0, 1, 5, V};
                    SamplingParams p = {temps[t], ks[k], tps[q]};
                    check_params(V, Vp, &p, &w, ids);
                }
        free(ids);
        sampling_work_free(&w);
    }
}

int main(void) {
    if (cuda_test_run(test_all, 7, "test_cuda_sample_gpu")) return 77;
    CHECK(big_sorts > 0); /* a flat row sorted more candidates than shared memory holds */
    printf("%d rows compared, %d with over 2048 candidates sorted; log-probability max error %.3g (tolerance 1e-12)\n",
           cases, big_sorts, worst_lp);
    CHECK(worst_lp <= 1e-12);
    return test_summary("test_cuda_sample");
}
