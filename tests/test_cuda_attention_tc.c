/* The tensor-core flash attention (kernels/cuda/attention_tc.cu) against the CPU ops
 * (kernels/cpu): GPT-2's packed qkv through attention_forward/backward and the grouped-query,
 * sliding-window layout through attention_gqa_forward/backward, both run on q, k, v and dout
 * already rounded to bf16, so what remains is the kernels' rounding of P and dS to bf16 and their
 * summation order. out, dq, dk, dv are measured as max |got - ref| / max |ref| over the array
 * (bf16 keeps 8 bits: about 1e-2 expected), lse as |got - ref| / max(1, |ref|) (fp32 from exact
 * bf16 products). The backward is fed the CPU's out and lse, so it is measured on its own
 * rounding. First the warp matrix API itself (tests/wmma_probe.cu) against a host product.
 * Built twice: test_cuda_attention_tc_emu in the SIMT emulation under the forward, reverse and a
 * random thread order; test_cuda_attention_tc_gpu (label gpu) on a device, skipped (77) without. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

static const double kTolOut = 1e-2, kTolLse = 1e-5, kTolGrad = 1e-2;
static double worst_out, worst_lse, worst_grad, worst_mma;

cudaError_t probe_wmma(float *d, const float *a, const float *b, const float *c, int a_col, int b_col, int with_sync);

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static float frand(float scale) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return scale * ((float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}
/* n values uniform in [-scale, scale], rounded to bf16 (the kernels' inputs as they see them). */
static float *randv(size_t n, float scale) {
    float *v = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) v[i] = bf16_to_f32(bf16_from_f32(frand(scale)));
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

/* Compares host got with ref over n floats: relative to the largest |ref|, at least 0.01
 * (scaled: dq and dk of T = 1 are rounding noise around 0), or to max(1, |ref|) per element;
 * tracks the worst error. */
static void compare_host(int scaled, double tol, double *worst, const char *what, const char *shape, const float *got,
                         const float *ref, size_t n) {
    double big = 0.0, e = 0.0;
    for (size_t i = 0; i < n; i++) big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], den = scaled ? (big > 0.01 ? big : 0.01) : (fabs(r) > 1.0 ? fabs(r) : 1.0);
        double d = fabs((double)got[i] - r) / den;
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    if (!(e <= *worst)) *worst = e;
    CHECK_MSG(e <= tol, "%s %s: error %.3g > %.3g", what, shape, e, tol);
}
/* The same for n floats of device memory. */
static void compare(int scaled, double tol, double *worst, const char *what, const char *shape, const float *dgot,
                    const float *ref, size_t n) {
    float *got = malloc(n * sizeof(float) + 1);
    cudaMemcpy(got, dgot, n * sizeof(float), cudaMemcpyDeviceToHost);
    compare_host(scaled, tol, worst, what, shape, got, ref, n);
    free(got);
}

/* One 16x16x16 mma per layout pair against c + sum_k a b in k order (products of bf16 are exact
 * in fp32): bitwise in the emulation, which adds in that order; within 1e-5 of the sum of
 * |terms| on a device, whose order differs. In the emulation, dropping the __syncwarp between
 * the store and the copy must change the result under every order. */
static void test_wmma(void) {
    float a[256], b[256], c[256], ref[256], got[256], mag[256];
    for (int i = 0; i < 256; i++) a[i] = frand(2.0f), b[i] = frand(2.0f), c[i] = frand(1.0f);
    for (int r = 0; r < 16; r++)
        for (int n = 0; n < 16; n++) {
            float s = c[r * 16 + n], m = fabsf(s);
            for (int k = 0; k < 16; k++) {
                float p = bf16_to_f32(bf16_from_f32(a[r * 16 + k])) * bf16_to_f32(bf16_from_f32(b[k * 16 + n]));
                s += p;
                m += fabsf(p);
            }
            ref[r * 16 + n] = s, mag[r * 16 + n] = m;
        }
    float *da = dup_dev(a, 256), *db = dup_dev(b, 256), *dc = dup_dev(c, 256), *dd = junk_dev(256);
    for (int lay = 0; lay < 4; lay++) {
        CHECK(probe_wmma(dd, da, db, dc, lay & 1, lay >> 1, 1) == cudaSuccess);
        cudaMemcpy(got, dd, sizeof got, cudaMemcpyDeviceToHost);
        double e = 0.0;
        for (int i = 0; i < 256; i++) {
            double d = fabs((double)got[i] - ref[i]) / mag[i];
            if (!(d <= e)) e = d;
        }
        if (!(e <= worst_mma)) worst_mma = e;
#ifdef RESTPG_SIMT_EMU
        CHECK_MSG(e == 0.0, "wmma layout %d: error %.3g, expected bitwise", lay, e);
        CHECK(probe_wmma(dd, da, db, dc, lay & 1, lay >> 1, 0) == cudaSuccess);
        cudaMemcpy(got, dd, sizeof got, cudaMemcpyDeviceToHost);
        int differ = 0;
        for (int i = 0; i < 256; i++) differ += got[i] != ref[i];
        CHECK_MSG(differ > 0, "wmma layout %d: the missing __syncwarp went unnoticed", lay);
#else
        CHECK_MSG(e <= 1e-5, "wmma layout %d: error %.3g > 1e-5", lay, e);
#endif
    }
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dd);
}

/* GPT-2's layout: qkv[B,T,3C], NH heads of hd = C/NH, scale 1/sqrt(hd), no window. */
static void check_packed(int B, int T, int NH, int hd) {
    const int C = NH * hd;
    const size_t nqkv = (size_t)B * T * 3 * C, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
    const float scale = 1.0f / sqrtf((float)hd);
    char shape[96];
    snprintf(shape, sizeof shape, "packed B=%d T=%d NH=%d hd=%d", B, T, NH, hd);
    float *qkv = randv(nqkv, 2.0f), *dout = randv(no, 1.0f), *out = malloc(4 * no), *lse = malloc(4 * nl),
          *dqkv = malloc(4 * nqkv);
    Error e = {0};
    size_t cwsb = attention_workspace(T);
    void *cws = malloc(cwsb);
    CHECK_OK(attention_forward(out, lse, qkv, B, T, C, NH, cws, cwsb, &e), &e);
    CHECK_OK(attention_backward(dqkv, dout, qkv, out, lse, B, T, C, NH, cws, cwsb, &e), &e);

    float *d_qkv = dup_dev(qkv, nqkv), *d_dout = dup_dev(dout, no), *d_out = junk_dev(no), *d_lse = junk_dev(nl),
          *d_dqkv = junk_dev(nqkv);
    CHECK(cuda_attention_tc_forward(d_out, d_lse, d_qkv, d_qkv + C, d_qkv + 2 * C, B, T, NH, NH, hd, 3 * C, 3 * C, 0,
                                    scale, 0) == cudaSuccess);
    compare(1, kTolOut, &worst_out, "out", shape, d_out, out, no);
    compare(0, kTolLse, &worst_lse, "lse", shape, d_lse, lse, nl);
    cudaMemcpy(d_out, out, 4 * no, cudaMemcpyHostToDevice);
    cudaMemcpy(d_lse, lse, 4 * nl, cudaMemcpyHostToDevice);
    size_t wsb = cuda_attention_tc_workspace(B, T, NH);
    void *ws = NULL;
    cudaMalloc(&ws, wsb);
    CHECK(cuda_attention_tc_backward(d_dqkv, d_dqkv + C, d_dqkv + 2 * C, d_dout, d_qkv, d_qkv + C, d_qkv + 2 * C,
                                     d_out, d_lse, B, T, NH, NH, hd, 3 * C, 3 * C, 0, scale, ws, wsb,
                                     0) == cudaSuccess);
    /* dq, dk, dv separately: each has its own scale. */
    float *got = malloc(4 * nqkv), *part = malloc(4 * no), *refp = malloc(4 * no);
    cudaMemcpy(got, d_dqkv, 4 * nqkv, cudaMemcpyDeviceToHost);
    static const char *names[] = {"dq", "dk", "dv"};
    for (int s = 0; s < 3; s++) {
        for (size_t r = 0; r < (size_t)B * T; r++)
            for (int c = 0; c < C; c++) {
                part[r * C + c] = got[r * 3 * C + s * C + c];
                refp[r * C + c] = dqkv[r * 3 * C + s * C + c];
            }
        compare_host(1, kTolGrad, &worst_grad, names[s], shape, part, refp, no);
    }
    cudaFree(ws), cudaFree(d_qkv), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_lse), cudaFree(d_dqkv);
    free(qkv), free(dout), free(out), free(lse), free(dqkv), free(cws), free(got), free(part), free(refp);
}

/* The Llama/Gemma layout: separate q[B,T,NH*hd], k, v[B,T,NKV*hd], a window and a given scale. */
static void check_gqa(int B, int T, int NH, int NKV, int hd, int window) {
    const size_t nq = (size_t)B * T * NH * hd, nk = (size_t)B * T * NKV * hd, nl = (size_t)B * NH * T;
    const float scale = 1.3f / sqrtf((float)hd);
    char shape[112];
    snprintf(shape, sizeof shape, "gqa B=%d T=%d NH=%d NKV=%d hd=%d window=%d", B, T, NH, NKV, hd, window);
    float *q = randv(nq, 2.0f), *k = randv(nk, 2.0f), *v = randv(nk, 1.0f), *dout = randv(nq, 1.0f);
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
    CHECK(cuda_attention_tc_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV, hd, qs, ks, window, scale, 0) ==
          cudaSuccess);
    compare(1, kTolOut, &worst_out, "out", shape, d_out, out, nq);
    compare(0, kTolLse, &worst_lse, "lse", shape, d_lse, lse, nl);
    cudaMemcpy(d_out, out, 4 * nq, cudaMemcpyHostToDevice);
    cudaMemcpy(d_lse, lse, 4 * nl, cudaMemcpyHostToDevice);
    size_t wsb = cuda_attention_tc_workspace(B, T, NH);
    void *ws = NULL;
    cudaMalloc(&ws, wsb);
    CHECK(cuda_attention_tc_backward(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_out, d_lse, B, T, NH, NKV, hd, qs, ks,
                                     window, scale, ws, wsb, 0) == cudaSuccess);
    compare(1, kTolGrad, &worst_grad, "dq", shape, d_dq, dq, nq);
    compare(1, kTolGrad, &worst_grad, "dk", shape, d_dk, dk, nk);
    compare(1, kTolGrad, &worst_grad, "dv", shape, d_dv, dv, nk);
    /* Scratch one byte short, and shapes the kernels do not take, are refused before any launch. */
    CHECK(cuda_attention_tc_backward(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_out, d_lse, B, T, NH, NKV, hd, qs, ks,
                                     window, scale, ws, wsb - 1, 0) == cudaErrorInvalidValue);
    static const int bad_hd[] = {8, 72, 272};
    for (int i = 0; i < 3; i++)
        CHECK(cuda_attention_tc_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV, bad_hd[i], 272 * NH, 272 * NKV,
                                        window, scale, 0) == cudaErrorInvalidValue);
    CHECK(cuda_attention_tc_forward(d_out, d_lse, d_q, d_k, d_v, B, T, NH, NKV + 1, hd, qs, ks, window, scale, 0) ==
          cudaErrorInvalidValue);
    cudaFree(ws), cudaFree(d_q), cudaFree(d_k), cudaFree(d_v), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_lse);
    cudaFree(d_dq), cudaFree(d_dk), cudaFree(d_dv);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv), free(cws);
}

static const int kT[] = {1, 7, 33, 70}, kHd[] = {16, 64};
static const int kHeads[][2] = {{1, 1}, {4, 1}, {6, 2}};

static void test_all(void) {
    test_wmma();
    for (size_t ti = 0; ti < sizeof kT / sizeof *kT; ti++)
        for (size_t di = 0; di < sizeof kHd / sizeof *kHd; di++) {
            int T = kT[ti], hd = kHd[di], B = T == 7 || T == 33 ? 2 : 1;
            check_packed(B, T, T == 33 ? 4 : 1, hd);
            for (size_t hi = 0; hi < sizeof kHeads / sizeof *kHeads; hi++)
                for (int window = 0; window <= 5; window += 5)
                    check_gqa(B, T, kHeads[hi][0], kHeads[hi][1], hd, window);
        }
    /* The other tile classes once each: hd 80 (class 128) and Gemma 3's 256. */
    check_gqa(1, 33, 4, 1, 80, 0);
    check_gqa(1, 33, 6, 2, 256, 5);
}

int main(void) {
    if (cuda_test_run(test_all, 11, "test_cuda_attention_tc_gpu")) return 77;
    printf("wmma mma            max error %.3g (of the sum of |terms|)\n", worst_mma);
    printf("attention tc out    max error %.3g (tolerance %.3g, of the largest |out|)\n", worst_out, kTolOut);
    printf("attention tc lse    max error %.3g (tolerance %.3g)\n", worst_lse, kTolLse);
    printf("attention tc grads  max error %.3g (tolerance %.3g, of the largest |grad|)\n", worst_grad, kTolGrad);
    return test_summary("test_cuda_attention_tc");
}
