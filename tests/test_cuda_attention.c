/* The CUDA flash attention (kernels/cuda/attention.cu) against the CPU ops (kernels/cpu): GPT-2's
 * packed qkv through attention_forward/backward and the grouped-query, sliding-window layout
 * through attention_gqa_forward/backward; out, lse, dq, dk, dv within the tolerances of
 * docs/cuda.md, on sequence lengths that are not tile multiples and head dims of each tile class.
 * Built twice from this file: test_cuda_attention_emu runs the kernels in the SIMT emulation under
 * the forward, reverse and a random thread order; test_cuda_attention_gpu (label gpu, CUDA builds)
 * runs them on a device and skips (77) without one. The backward is fed the CPU's out and lse, so
 * it is measured on its own rounding. Error measure: |got - ref| / max(1, |ref|). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

static const double kTolFwd = 2e-6, kTolBwd = 1e-5;
static double worst_fwd, worst_bwd;

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static float frand(float scale) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return scale * ((float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}
static float *randv(size_t n, float scale) {
    float *v = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) v[i] = frand(scale);
    return v;
}
static float *dup_dev(const float *h, size_t n) {
    void *d = NULL;
    if (cudaMalloc(&d, n * sizeof(float) + 1) != cudaSuccess) abort();
    cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}
/* A device buffer of n floats set to a value no op writes, so a skipped element shows. */
static float *junk_dev(size_t n) {
    float *h = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) h[i] = 1234.5f;
    float *d = dup_dev(h, n);
    free(h);
    return d;
}

/* Compares device got with host ref over n floats against tol; tracks the worst error. */
static void compare(double tol, double *worst, const char *what, const char *shape, const float *dgot,
                    const float *ref, size_t n) {
    float *got = malloc(n * sizeof(float) + 1);
    cudaMemcpy(got, dgot, n * sizeof(float), cudaMemcpyDeviceToHost);
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], d = fabs((double)got[i] - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    if (!(e <= *worst)) *worst = e;
    CHECK_MSG(e <= tol, "%s %s: error %.3g > %.3g", what, shape, e, tol);
    free(got);
}

/* GPT-2's layout: qkv[B,T,3C], NH heads of hd = C/NH, scale 1/sqrt(hd), no window. */
static void check_packed(int B, int T, int NH, int hd) {
    const int C = NH * hd;
    const size_t nqkv = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
    const float scale = 1.0f / sqrtf((float)hd);
    char shape[96];
    snprintf(shape, sizeof shape, "packed B=%d T=%d NH=%d hd=%d", B, T, NH, hd);
    float *qkv = randv(nqkv, 1.5f), *dout = randv(no, 1.0f), *out = malloc(4 * no), *lse = malloc(4 * nl),
          *dqkv = malloc(4 * nqkv);
    Error e = {0};
    size_t cwsb = attention_workspace(T);
    void *cws = malloc(cwsb);
    CHECK_OK(attention_forward(out, lse, qkv, B, T, C, NH, cws, cwsb, &e), &e);
    CHECK_OK(attention_backward(dqkv, dout, qkv, out, lse, B, T, C, NH, cws, cwsb, &e), &e);

    float *d_qkv = dup_dev(qkv, nqkv), *d_dout = dup_dev(dout, no), *d_out = junk_dev(no), *d_lse = junk_dev(nl),
          *d_dqkv = junk_dev(nqkv);
    CHECK(cuda_attention_forward(d_out, d_lse, d_qkv, d_qkv + C, d_qkv + 2 * C, B, T, NH, NH, hd, 3 * C, 3 * C, 0,
                                 scale, 0) == cudaSuccess);
    compare(kTolFwd, &worst_fwd, "out", shape, d_out, out, no);
    compare(kTolFwd, &worst_fwd, "lse", shape, d_lse, lse, nl);
    cudaMemcpy(d_out, out, 4 * no, cudaMemcpyHostToDevice);
    cudaMemcpy(d_lse, lse, 4 * nl, cudaMemcpyHostToDevice);
    size_t wsb = cuda_attention_workspace(B, T, NH);
    void *ws = NULL;
    cudaMalloc(&ws, wsb);
    CHECK(cuda_attention_backward(d_dqkv, d_dqkv + C, d_dqkv + 2 * C, d_dout, d_qkv, d_qkv + C, d_qkv + 2 * C, d_out,
                                  d_lse, B, T, NH, NH, hd, 3 * C, 3 * C, 0, scale, ws, wsb, 0) == cudaSuccess);
    compare(kTolBwd, &worst_bwd, "dqkv", shape, d_dqkv, dqkv, nqkv);
    cudaFree(ws), cudaFree(d_qkv), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_lse), cudaFree(d_dqkv);
    free(qkv), free(dout), free(out), free(lse), free(dqkv), free(cws);
}

/* The Llama/Gemma layout: separate q[B,T,NH*hd], k, v[B,T,NKV*hd], a window and a given scale. */
static void check_gqa(int B, int T, int NH, int NKV, int hd, int window) {
    const size_t nq = (size_t)B * T * NH * hd, nk = (size_t)B * T * NKV * hd, nl = (size_t)B * NH * T;
    const float scale = 1.3f / sqrtf((float)hd);
    char shape[112];
    snprintf(shape, sizeof shape, "gqa B=%d T=%d NH=%d NKV=%d hd=%d window=%d", B, T, NH, NKV, hd, window);
    float *q = randv(nq, 1.5f), *k = randv(nk, 1.5f), *v = randv(nk, 1.0f), *dout = randv(nq, 1.0f);
    float *out = malloc(4 * nq), *lse = malloc(4 * nl), *dq = malloc(4 * nq), *dk = malloc(4 * nk),
          *dv = malloc(4 * nk);
    Error e = {0};
    size_t cwsb = attention_gqa_workspace(B, T, NH);
    void *cws = malloc(cwsb);
    CHECK_OK(attention_gqa_forward(out, lse, q, k, v, B, T, NH, NKV, hd, window, scale, cws, cwsb, &e), &e);
    CHECK_OK(attention_gqa_backward(dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, hd, window, scale, cws, cwsb,
                                    &e),
             &e);

    float *d_q = dup_dev(q, nq), *d_k = dup_dev(k, nk), *d_v = dup_dev(v, nk), *d_dout = dup_dev(dout, nq);
    float *d_out = junk_dev(nq), *d_lse = junk_dev(nl), *d_dq = junk_dev(nq), *d_dk = junk_dev(nk),
          *d_dv = junk_dev(nk);
    const int qs = NH * hd, ks = NKV * hd;
    CHECK(cuda_attention_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV, hd, qs, ks, window, scale, 0) ==
          cudaSuccess);
    compare(kTolFwd, &worst_fwd, "out", shape, d_out, out, nq);
    compare(kTolFwd, &worst_fwd, "lse", shape, d_lse, lse, nl);
    cudaMemcpy(d_out, out, 4 * nq, cudaMemcpyHostToDevice);
    cudaMemcpy(d_lse, lse, 4 * nl, cudaMemcpyHostToDevice);
    size_t wsb = cuda_attention_workspace(B, T, NH);
    void *ws = NULL;
    cudaMalloc(&ws, wsb);
    CHECK(cuda_attention_backward(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_out, d_lse, B, T, NH, NKV, hd, qs, ks,
                                  window, scale, ws, wsb, 0) == cudaSuccess);
    compare(kTolBwd, &worst_bwd, "dq", shape, d_dq, dq, nq);
    compare(kTolBwd, &worst_bwd, "dk", shape, d_dk, dk, nk);
    compare(kTolBwd, &worst_bwd, "dv", shape, d_dv, dv, nk);
    /* Scratch one float short, and shapes the kernels do not take, are refused before any launch. */
    CHECK(cuda_attention_backward(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_out, d_lse, B, T, NH, NKV, hd, qs, ks,
                                  window, scale, ws, wsb - 1, 0) == cudaErrorInvalidValue);
    CHECK(cuda_attention_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV, 257, qs, ks, window, scale, 0) ==
          cudaErrorInvalidValue);
    CHECK(cuda_attention_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV + 1, hd, qs, ks, window, scale, 0) ==
          cudaErrorInvalidValue);
    cudaFree(ws), cudaFree(d_q), cudaFree(d_k), cudaFree(d_v), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_lse);
    cudaFree(d_dq), cudaFree(d_dk), cudaFree(d_dv);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv), free(cws);
}

static const int kT[] = {1, 7, 33, 70}, kB[] = {1, 2}, kHd[] = {8, 64, 100};
static const int kHeads[][2] = {{1, 1}, {4, 4}, {4, 1}, {6, 2}};

static void test_all(void) {
    for (size_t ti = 0; ti < sizeof kT / sizeof *kT; ti++)
        for (size_t bi = 0; bi < sizeof kB / sizeof *kB; bi++)
            for (size_t di = 0; di < sizeof kHd / sizeof *kHd; di++) {
                int T = kT[ti], B = kB[bi], hd = kHd[di];
                for (size_t hi = 0; hi < sizeof kHeads / sizeof *kHeads; hi++) {
                    int NH = kHeads[hi][0], NKV = kHeads[hi][1];
                    if (NH == NKV) check_packed(B, T, NH, hd);
                    for (int window = 0; window <= 5; window += 5) check_gqa(B, T, NH, NKV, hd, window);
                }
            }
    /* Gemma 3's head dim, the largest tile class, once per layout. */
    check_packed(1, 33, 1, 256);
    check_gqa(1, 33, 6, 2, 256, 5);
}

int main(void) {
    if (cuda_test_run(test_all, 7, "test_cuda_attention_gpu")) return 77;
    printf("attention forward  max error %.3g (tolerance %.3g)\n", worst_fwd, kTolFwd);
    printf("attention backward max error %.3g (tolerance %.3g)\n", worst_bwd, kTolBwd);
    return test_summary("test_cuda_attention");
}
