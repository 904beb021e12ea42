/* The second slice of CUDA kernels (kernels/cuda: crossentropy backward, LayerNorm, GELU,
 * embeddings, RoPE, add, sumsq) against the CPU ops of the same name (kernels/cpu), on shapes
 * that are not multiples of the warp, block or tile sizes, within each op's stated tolerance
 * (docs/cuda.md). Built twice from this file: test_cuda_ops_emu runs the kernels in the SIMT
 * emulation under the forward, reverse and a random thread order; test_cuda_ops_gpu (label gpu,
 * CUDA builds) runs the same comparisons on a device and skips (77) without one. The error
 * measure is |got - ref| / max(1, |ref|), except sumsq's, which is relative: |got - ref| / ref. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

static const int kRows[] = {1, 7, 33, 130};
static const int kWidths[] = {1, 31, 33, 100, 1000};
static const size_t kLens[] = {1, 31, 33, 100, 1000, 70001};
#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Tolerances of the measure above, and the largest error seen, per op. The embeddings and add
 * are the CPU's operations in the CPU's order, so bitwise. */
enum { OP_CE_BWD, OP_LN_FWD, OP_LN_BWD, OP_GELU, OP_ENC_FWD, OP_ENC_BWD, OP_EMB_FWD, OP_EMB_BWD, OP_ROPE, OP_ADD,
       OP_SUMSQ, NOPS };
static const char *kOpName[NOPS] = {"crossentropy_backward", "layernorm_forward", "layernorm_backward",
                                    "gelu",                  "encoder_forward",   "encoder_backward",
                                    "embedding_forward",     "embedding_backward", "rope",
                                    "add",                   "sumsq"};
static const double kTol[NOPS] = {1e-6, 4e-6, 1e-5, 1e-6, 0.0, 0.0, 0.0, 0.0, 1e-6, 0.0, 1e-12};
static double worst[NOPS];

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint32_t urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}
static float frand(float scale) { return scale * ((float)(urand() >> 7) / (float)(1u << 24) * 2.0f - 1.0f); }
static float *randv(size_t n, float scale) {
    float *v = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) v[i] = frand(scale);
    return v;
}
static void *dup_dev(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    if (bytes) cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}
static void *new_dev(size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    return d;
}

/* Compares n floats of dgot (device) with ref (host). */
static void compare(int op, const char *what, int a, int b, const float *dgot, const float *ref, size_t n) {
    float *got = malloc(n * sizeof(float) + 1);
    cudaMemcpy(got, dgot, n * sizeof(float), cudaMemcpyDeviceToHost);
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], d = fabs((double)got[i] - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    if (!(e <= worst[op])) worst[op] = e;
    CHECK_MSG(e <= kTol[op], "%s %s (%d, %d): error %.3g > %.3g", kOpName[op], what, a, b, e, kTol[op]);
    free(got);
}

/* Padding columns hold 1e30 and must become 0; rows with dloss 0 carry target -1, which must
 * not be read. */
static void test_crossentropy_backward(void) {
    for (size_t ri = 0; ri < COUNT(kRows); ri++)
        for (size_t vi = 0; vi < COUNT(kWidths); vi++) {
            int N = kRows[ri], V = kWidths[vi], Vp = V + 5;
            size_t n = (size_t)N * Vp;
            float *logits = randv(n, 8.0f), *dloss = malloc(4 * N), *lse = malloc(4 * N), *losses = malloc(4 * N);
            int32_t *targets = malloc(4 * N);
            for (int i = 0; i < N; i++) {
                for (int j = V; j < Vp; j++) logits[(size_t)i * Vp + j] = 1e30f;
                dloss[i] = i % 4 == 2 ? 0.0f : frand(2.0f);
                targets[i] = dloss[i] == 0.0f ? -1 : (int32_t)(urand() % (uint32_t)V);
            }
            crossentropy_forward(losses, lse, logits, targets, dloss, N, V, Vp);
            float *d_logits = dup_dev(logits, 4 * n), *d_lse = dup_dev(lse, 4 * N), *d_dloss = dup_dev(dloss, 4 * N);
            int32_t *d_targets = dup_dev(targets, 4 * N);
            crossentropy_backward(logits, lse, targets, dloss, N, V, Vp);
            CHECK(cuda_crossentropy_backward(d_logits, d_lse, d_targets, d_dloss, N, V, Vp, 0) == cudaSuccess);
            compare(OP_CE_BWD, "dlogits", N, V, d_logits, logits, n);
            cudaFree(d_logits), cudaFree(d_lse), cudaFree(d_dloss), cudaFree(d_targets);
            free(logits), free(dloss), free(lse), free(losses), free(targets);
        }
}

static void test_layernorm(void) {
    for (size_t ri = 0; ri < COUNT(kRows); ri++)
        for (size_t ci = 0; ci < COUNT(kWidths); ci++) {
            int N = kRows[ri], C = kWidths[ci];
            size_t nc = (size_t)N * C;
            /* An offset mean, so the two-pass variance matters. */
            float *x = randv(nc, 3.0f), *w = randv(C, 1.0f), *b = randv(C, 1.0f), *dout = randv(nc, 1.0f),
                  *dinp = randv(nc, 0.5f), *dw = randv(C, 0.5f), *db = randv(C, 0.5f), *out = malloc(4 * nc),
                  *mean = malloc(4 * N), *rstd = malloc(4 * N);
            for (size_t i = 0; i < nc; i++) x[i] += 5.0f;
            float *d_x = dup_dev(x, 4 * nc), *d_w = dup_dev(w, 4 * C), *d_b = dup_dev(b, 4 * C),
                  *d_dout = dup_dev(dout, 4 * nc), *d_dinp = dup_dev(dinp, 4 * nc), *d_dw = dup_dev(dw, 4 * C),
                  *d_db = dup_dev(db, 4 * C), *d_out = new_dev(4 * nc), *d_mean = new_dev(4 * N),
                  *d_rstd = new_dev(4 * N);
            layernorm_forward(out, mean, rstd, x, w, b, N, C);
            CHECK(cuda_layernorm_forward(d_out, d_mean, d_rstd, d_x, d_w, d_b, N, C, 0) == cudaSuccess);
            compare(OP_LN_FWD, "out", N, C, d_out, out, nc);
            compare(OP_LN_FWD, "mean", N, C, d_mean, mean, N);
            compare(OP_LN_FWD, "rstd", N, C, d_rstd, rstd, N);
            /* The backward from the CPU's mean and rstd, so only its own rounding is measured. */
            cudaMemcpy(d_mean, mean, 4 * N, cudaMemcpyHostToDevice);
            cudaMemcpy(d_rstd, rstd, 4 * N, cudaMemcpyHostToDevice);
            size_t wsb = cuda_layernorm_backward_workspace(N, C);
            void *ws = new_dev(wsb);
            layernorm_backward(dinp, dw, db, dout, x, w, mean, rstd, N, C);
            CHECK(cuda_layernorm_backward(d_dinp, d_dw, d_db, d_dout, d_x, d_w, d_mean, d_rstd, N, C, ws, wsb, 0) ==
                  cudaSuccess);
            CHECK(cuda_layernorm_backward(d_dinp, d_dw, d_db, d_dout, d_x, d_w, d_mean, d_rstd, N, C, ws, wsb - 1,
                                          0) == cudaErrorInvalidValue);
            compare(OP_LN_BWD, "dinp", N, C, d_dinp, dinp, nc);
            compare(OP_LN_BWD, "dw", N, C, d_dw, dw, C);
            compare(OP_LN_BWD, "db", N, C, d_db, db, C);
            cudaFree(ws), cudaFree(d_x), cudaFree(d_w), cudaFree(d_b), cudaFree(d_dout), cudaFree(d_dinp);
            cudaFree(d_dw), cudaFree(d_db), cudaFree(d_out), cudaFree(d_mean), cudaFree(d_rstd);
            free(x), free(w), free(b), free(dout), free(dinp), free(dw), free(db), free(out), free(mean), free(rstd);
        }
}

/* Out of place and in place (out = inp, dinp = dout), as the contract allows. */
static void test_gelu(void) {
    for (size_t k = 0; k < COUNT(kLens); k++) {
        size_t n = kLens[k];
        float *x = randv(n, 6.0f), *dout = randv(n, 1.0f), *out = malloc(4 * n + 1), *dinp = malloc(4 * n + 1);
        float *d_x = dup_dev(x, 4 * n), *d_dout = dup_dev(dout, 4 * n), *d_out = new_dev(4 * n);
        gelu_forward(out, x, n);
        gelu_backward(dinp, x, dout, n);
        CHECK(cuda_gelu_forward(d_out, d_x, n, 0) == cudaSuccess);
        compare(OP_GELU, "out", (int)n, 0, d_out, out, n);
        CHECK(cuda_gelu_backward(d_out, d_x, d_dout, n, 0) == cudaSuccess);
        compare(OP_GELU, "dinp", (int)n, 0, d_out, dinp, n);
        CHECK(cuda_gelu_backward(d_dout, d_x, d_dout, n, 0) == cudaSuccess);
        compare(OP_GELU, "dinp in place", (int)n, 0, d_dout, dinp, n);
        CHECK(cuda_gelu_forward(d_x, d_x, n, 0) == cudaSuccess);
        compare(OP_GELU, "out in place", (int)n, 0, d_x, out, n);
        cudaFree(d_x), cudaFree(d_dout), cudaFree(d_out);
        free(x), free(dout), free(out), free(dinp);
    }
}

/* Rows, vocabulary and batch split (B x T = N) of the embedding cases: repeated tokens (V much
 * smaller than N, and a quarter of the rows on token V - 1), unused rows (V larger than N), a
 * single row, and N beyond one sort tile's worth of pairs. */
typedef struct {
    int B, T, V;
} EmbCase;
static const EmbCase kEmb[] = {{1, 1, 1}, {1, 7, 3}, {3, 11, 1000}, {2, 65, 5}, {4, 75, 50}, {3, 400, 700}};

static int32_t *make_tokens(int N, int V) {
    int32_t *tok = malloc(4 * (size_t)N);
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(urand() % 4 == 0 ? (uint32_t)V - 1 : urand() % (uint32_t)V);
    return tok;
}

static void test_encoder(void) {
    for (size_t k = 0; k < COUNT(kEmb); k++)
        for (size_t ci = 0; ci < COUNT(kWidths); ci++) {
            int B = kEmb[k].B, T = kEmb[k].T, V = kEmb[k].V, C = kWidths[ci], N = B * T;
            if ((size_t)N * C > 400000) continue; /* the emulation's time */
            size_t nc = (size_t)N * C, vc = (size_t)V * C, pc = (size_t)(T + 1) * C; /* wpe: a spare row */
            int32_t *tok = make_tokens(N, V);
            float *wte = randv(vc, 1.0f), *wpe = randv(pc, 1.0f), *dout = randv(nc, 1.0f), *dwte = randv(vc, 0.5f),
                  *dwpe = randv(pc, 0.5f), *out = malloc(4 * nc);
            int32_t *d_tok = dup_dev(tok, 4 * (size_t)N);
            float *d_wte = dup_dev(wte, 4 * vc), *d_wpe = dup_dev(wpe, 4 * pc), *d_dout = dup_dev(dout, 4 * nc),
                  *d_dwte = dup_dev(dwte, 4 * vc), *d_dwpe = dup_dev(dwpe, 4 * pc), *d_out = new_dev(4 * nc);
            encoder_forward(out, tok, wte, wpe, B, T, C);
            CHECK(cuda_encoder_forward(d_out, d_tok, d_wte, d_wpe, B, T, C, 0) == cudaSuccess);
            compare(OP_ENC_FWD, "out", N, C, d_out, out, nc);
            size_t wsb = cuda_encoder_backward_workspace(B, T, C);
            void *ws = new_dev(wsb);
            encoder_backward(dwte, dwpe, dout, tok, B, T, C);
            CHECK(cuda_encoder_backward(d_dwte, d_dwpe, d_dout, d_tok, B, T, C, ws, wsb - 1, 0) ==
                  cudaErrorInvalidValue);
            CHECK(cuda_encoder_backward(d_dwte, d_dwpe, d_dout, d_tok, B, T, C, ws, wsb, 0) == cudaSuccess);
            compare(OP_ENC_BWD, "dwte", N, C, d_dwte, dwte, vc);
            compare(OP_ENC_BWD, "dwpe", N, C, d_dwpe, dwpe, pc);
            cudaFree(ws), cudaFree(d_tok), cudaFree(d_wte), cudaFree(d_wpe), cudaFree(d_dout), cudaFree(d_dwte);
            cudaFree(d_dwpe), cudaFree(d_out);
            free(tok), free(wte), free(wpe), free(dout), free(dwte), free(dwpe), free(out);
        }
}

static void test_embedding(void) {
    for (size_t k = 0; k < COUNT(kEmb); k++)
        for (size_t ci = 0; ci < COUNT(kWidths); ci++) {
            int N = kEmb[k].B * kEmb[k].T, V = kEmb[k].V, C = kWidths[ci];
            if ((size_t)N * C > 400000) continue;
            size_t nc = (size_t)N * C, vc = (size_t)V * C;
            float scale = sqrtf((float)C) + 0.1f; /* rounds, unlike a power of two */
            int32_t *tok = make_tokens(N, V);
            float *wte = randv(vc, 1.0f), *dout = randv(nc, 1.0f), *dwte = randv(vc, 0.5f), *out = malloc(4 * nc);
            int32_t *d_tok = dup_dev(tok, 4 * (size_t)N);
            float *d_wte = dup_dev(wte, 4 * vc), *d_dout = dup_dev(dout, 4 * nc), *d_dwte = dup_dev(dwte, 4 * vc),
                  *d_out = new_dev(4 * nc);
            embedding_forward(out, tok, wte, scale, N, C);
            CHECK(cuda_embedding_forward(d_out, d_tok, d_wte, scale, N, C, 0) == cudaSuccess);
            compare(OP_EMB_FWD, "out", N, C, d_out, out, nc);
            size_t wsb = cuda_embedding_backward_workspace(N, C);
            void *ws = new_dev(wsb);
            embedding_backward(dwte, dout, tok, scale, N, C);
            CHECK(cuda_embedding_backward(d_dwte, d_dout, d_tok, scale, N, C, ws, wsb - 1, 0) ==
                  cudaErrorInvalidValue);
            CHECK(cuda_embedding_backward(d_dwte, d_dout, d_tok, scale, N, C, ws, wsb, 0) == cudaSuccess);
            compare(OP_EMB_BWD, "dwte", N, C, d_dwte, dwte, vc);
            cudaFree(ws), cudaFree(d_tok), cudaFree(d_wte), cudaFree(d_dout), cudaFree(d_dwte), cudaFree(d_out);
            free(tok), free(wte), free(dout), free(dwte), free(out);
        }
}

/* Each scaling; Llama 3.1's with hd 64 and theta 5e5 has pairs in all three of its regimes
 * (unscaled, interpolated, divided); T = 1000 reaches long angles. */
static void test_rope(void) {
    static const int kShapes[][4] = {{1, 1, 1, 2}, {2, 7, 3, 10}, {1, 33, 2, 64}, {2, 70, 1, 6}, {1, 1000, 1, 8}};
    const RopeSpec specs[] = {{10000.0, ROPE_DEFAULT, 0.0, 0.0, 0.0, 0},
                              {1e6, ROPE_LINEAR, 4.0, 0.0, 0.0, 0},
                              {500000.0, ROPE_LLAMA3, 8.0, 1.0, 4.0, 8192}};
    for (size_t si = 0; si < COUNT(specs); si++)
        for (size_t k = 0; k < COUNT(kShapes); k++) {
            int B = kShapes[k][0], T = kShapes[k][1], NH = kShapes[k][2], hd = kShapes[k][3];
            size_t n = (size_t)B * T * NH * hd;
            float *x = randv(n, 3.0f), *dx = randv(n, 1.0f);
            float *d_x = dup_dev(x, 4 * n), *d_dx = dup_dev(dx, 4 * n);
            rope_forward(x, B, T, NH, hd, &specs[si]);
            rope_backward(dx, B, T, NH, hd, &specs[si]);
            CHECK(cuda_rope_forward(d_x, B, T, NH, hd, specs[si], 0) == cudaSuccess);
            CHECK(cuda_rope_backward(d_dx, B, T, NH, hd, specs[si], 0) == cudaSuccess);
            compare(OP_ROPE, "forward", T, hd, d_x, x, n);
            compare(OP_ROPE, "backward", T, hd, d_dx, dx, n);
            cudaFree(d_x), cudaFree(d_dx);
            free(x), free(dx);
        }
}

/* add against residual_forward; sumsq against grad_sumsq, including lengths past the sum's
 * grid (65536 elements a pass) and the CPU's chunk (65536). */
static void test_add_sumsq(void) {
    static const size_t kSumLens[] = {1, 31, 33, 100, 1000, 70001, 300007};
    for (size_t k = 0; k < COUNT(kSumLens); k++) {
        size_t n = kSumLens[k];
        float *a = randv(n, 3.0f), *b = randv(n, 3.0f);
        float *d_a = dup_dev(a, 4 * n), *d_b = dup_dev(b, 4 * n);
        if (k < COUNT(kLens)) {
            CHECK(cuda_add(d_a, d_b, n, 0) == cudaSuccess);
            residual_forward(a, a, b, n);
            compare(OP_ADD, "a", (int)n, 0, d_a, a, n);
        }
        size_t wsb = cuda_sumsq_workspace(n);
        void *ws = new_dev(wsb);
        double got = -1.0, ref = grad_sumsq(a, n);
        CHECK(cuda_sumsq(d_a, n, &got, ws, wsb - 1, 0) == cudaErrorInvalidValue);
        CHECK(cuda_sumsq(d_a, n, &got, ws, wsb, 0) == cudaSuccess);
        double e = fabs(got - ref) / ref;
        if (!(e <= worst[OP_SUMSQ])) worst[OP_SUMSQ] = e;
        CHECK_MSG(e <= kTol[OP_SUMSQ], "sumsq (%zu): %.17g vs %.17g, error %.3g", n, got, ref, e);
        cudaFree(ws), cudaFree(d_a), cudaFree(d_b);
        free(a), free(b);
    }
    double zero = -1.0;
    CHECK(cuda_sumsq(NULL, 0, &zero, NULL, 0, 0) == cudaSuccess && zero == 0.0);
}

static void test_ops(void) {
    test_crossentropy_backward();
    test_layernorm();
    test_gelu();
    test_encoder();
    test_embedding();
    test_rope();
    test_add_sumsq();
}

int main(void) {
    if (cuda_test_run(test_ops, 7, "test_cuda_ops_gpu")) return 77;
    for (int op = 0; op < NOPS; op++)
        printf("%-22s max error %.3g (tolerance %.3g)\n", kOpName[op], worst[op], kTol[op]);
    return test_summary("test_cuda_ops");
}
