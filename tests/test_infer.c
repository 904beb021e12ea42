/* KV-cached inference (model/infer.c over the CPU decoder, kernels/cpu/decoder.c and decode.c)
 * against the training forward.
 *
 *  - decode_gemm_nn and decode_matmul are batch-invariant: a row's result is bitwise the same
 *    alone or inside any batch, at any offset, with 1 or 2 threads, and with vectors of 16, 8 or
 *    1 columns (AVX-512, AVX2, portable: all compute the same chain); and within 1e-5
 *    relative of a double-precision reference.
 *  - For candidates sharing a prompt (and rows of a second prompt mixed into the same steps),
 *    the logits of every step of a whole generation equal gpt_forward's logits at the last
 *    position of the full sequence within |diff| <= 2e-5 + 2e-4 |ref| (float sums taken in
 *    another order; measured worst 1e-5 to 1.5e-5 on logits of standard deviation about 4),
 *    and the decode logits of a slot are bitwise equal whatever rows share its step, their
 *    order, and the thread count.
 *  - Greedy decoding equals the argmax of the full forward, step by step.
 *  - bf16 weight copies give the bits of fp32 ones over bf16-rounded weights. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/rng.h"
#include "kernels/cpu/decode.h"
#include "kernels/cpu/ops.h"
#include "model/model.h"
#include "model/infer.h"
#include "tests/test.h"

static void fill(float *x, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

static void test_gemm_invariance(void) {
    Rng r;
    rng_seed(&r, 5);
    /* (K, N): column counts that exercise 16- and 8-wide vectors and single columns. */
    const int shapes[][2] = {{64, 96}, {37, 50}, {8, 7}, {200, 130}, {1, 5}, {300, 1100}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int K = shapes[s][0], N = shapes[s][1], M = 23;
        float *a = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
        float *one = malloc(sizeof(float) * M * N), *many = malloc(sizeof(float) * M * N);
        fill(a, (size_t)M * K, &r);
        fill(w, (size_t)N * K, &r);
        fill(b, (size_t)N, &r);
        /* w read as a [K, N] matrix. */
        for (int i = 0; i < M; i++) decode_gemm_nn(one + (size_t)i * N, N, a + (size_t)i * K, K, w, N, 1, N, K);
        double worst = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    ref += (double)a[i * K + k] * w[k * N + j];
                    mag += fabs((double)a[i * K + k] * w[k * N + j]);
                }
                double err = fabs(one[i * N + j] - ref) / (mag + 1e-30);
                if (err > worst) worst = err;
            }
        CHECK_MSG(worst < 1e-5, "K %d N %d: relative error %g vs double", K, N, worst);
        int same = 1;
        for (int m = 1; m <= M; m++)
            for (int off = 0; off + m <= M; off += 5) {
                decode_gemm_nn(many, N, a + (size_t)off * K, K, w, N, m, N, K);
                same &= !memcmp(many, one + (size_t)off * N, sizeof(float) * m * N);
            }
        CHECK_MSG(same, "K %d N %d: rows depend on the batch", K, N);
        for (int width = 8; width >= 1; width /= 8) {
            decode_set_max_width(width);
            decode_gemm_nn(many, N, a, K, w, N, M, N, K);
            CHECK_MSG(!memcmp(many, one, sizeof(float) * M * N), "K %d N %d: vector width %d differs", K, N, width);
        }
        decode_set_max_width(0);
        /* decode_matmul with bias and an in-place residual: row by row on 1 thread, all rows on 2
         * threads, and the portable path. */
        float *res1 = malloc(sizeof(float) * M * N), *res2 = malloc(sizeof(float) * M * N);
        float *res3 = malloc(sizeof(float) * M * N);
        fill(res1, (size_t)M * N, &r);
        memcpy(res2, res1, sizeof(float) * M * N);
        memcpy(res3, res1, sizeof(float) * M * N);
        kernels_set_threads(1);
        for (int i = 0; i < M; i++)
            decode_matmul(res1 + (size_t)i * N, a + (size_t)i * K, (DecodeW){w, 0}, b, res1 + (size_t)i * N, 1, K, N);
        kernels_set_threads(2);
        decode_matmul(res2, a, (DecodeW){w, 0}, b, res2, M, K, N);
        kernels_set_threads(1);
        decode_set_max_width(1);
        decode_matmul(res3, a, (DecodeW){w, 0}, b, res3, M, K, N);
        decode_set_max_width(0);
        CHECK_MSG(!memcmp(res1, res2, sizeof(float) * M * N), "K %d N %d: decode_matmul depends on batch/threads", K, N);
        CHECK_MSG(!memcmp(res1, res3, sizeof(float) * M * N), "K %d N %d: decode_matmul portable path differs", K, N);
        /* bf16 weights: the products over the bf16 copy are the bits of the fp32 products over
         * the rounded values, on every vector path (widening bf16 is exact). */
        uint16_t *wh = malloc(sizeof(uint16_t) * N * K);
        for (size_t i = 0; i < (size_t)N * K; i++) {
            wh[i] = bf16_from_f32(w[i]);
            w[i] = bf16_to_f32(wh[i]);
        }
        for (int width = 16; width >= 1; width = width == 16 ? 8 : width / 8) {
            decode_set_max_width(width);
            decode_matmul(res1, a, (DecodeW){w, 0}, b, NULL, M, K, N);
            decode_matmul(res2, a, (DecodeW){wh, 1}, b, NULL, M, K, N);
            CHECK_MSG(!memcmp(res1, res2, sizeof(float) * M * N), "K %d N %d: bf16 weights differ at width %d", K, N, width);
            decode_gemm_nn(res1, N, a, K, w, N, M, N, K);
            decode_gemm_nn_w(res2, N, a, K, (DecodeW){wh, 1}, N, M, N, K);
            CHECK_MSG(!memcmp(res1, res2, sizeof(float) * M * N), "K %d N %d: bf16 gemm differs at width %d", K, N, width);
        }
        decode_set_max_width(0);
        free(wh);
        free(a), free(w), free(b), free(one), free(many), free(res1), free(res2), free(res3);
    }
}

/* bf16 rounding: nearest even, NaN kept, against a double-precision reference. */
static void test_bf16_round(void) {
    Rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < 100000; i++) {
        float f = (float)((2.0 * rng_uniform(&r) - 1.0) * pow(2.0, (int)(rng_uniform(&r) * 60) - 30));
        float h = bf16_to_f32(bf16_from_f32(f));
        /* The neighbours of f on the bf16 grid: truncation and one step away from zero. */
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        float lo = bf16_to_f32((uint16_t)(u >> 16)), hi = bf16_to_f32((uint16_t)((u >> 16) + 1));
        double dlo = fabs((double)f - lo), dhi = fabs((double)hi - f);
        float want = dlo < dhi ? lo : dhi < dlo ? hi : (((u >> 16) & 1) ? hi : lo);
        CHECK_MSG(h == want, "bf16 of %a: got %a, want %a", f, h, want);
    }
    CHECK(isnan(bf16_to_f32(bf16_from_f32(NAN))));
    uint32_t snan = 0x7f800001u; /* a NaN whose payload is only in the low half */
    float fs;
    memcpy(&fs, &snan, sizeof fs);
    CHECK(isnan(bf16_to_f32(bf16_from_f32(fs))));
    CHECK(isinf(bf16_to_f32(bf16_from_f32(INFINITY))));
}

typedef struct {
    Model m;
    int V, Vp;
    float *ref; /* [Vp]: one row of gpt_forward's logits */
} TinyModel;

static void model_make(TinyModel *mo, int n_positions) {
    Error e;
    GPTConfig c = {.vocab_size = 300, .n_layer = 2, .n_head = 4, .n_embd = 64, .n_positions = n_positions};
    CHECK_OK(model_init(&mo->m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, &e), &e);
    CHECK_OK(model_init_random(&mo->m, 17, &e), &e);
    /* GPT-2's init gives near-uniform logits; larger embeddings make greedy choices clear-cut. */
    for (size_t i = 0; i < mo->m.gpt2.store.t[0].numel; i++) mo->m.gpt2.params.wte[i] *= 25.0f;
    mo->V = c.vocab_size;
    mo->Vp = mo->m.gpt2.cfg.padded_vocab_size;
    mo->ref = malloc(sizeof(float) * mo->Vp);
}

/* gpt_forward's logits at the last position of seq[0..n), into mo->ref. */
static const float *full_logits(TinyModel *mo, const int32_t *seq, int n) {
    Error e;
    CHECK_OK(model_forward(&mo->m, seq, NULL, NULL, 1, n, NULL, &e), &e);
    CHECK_OK(model_logits_download(&mo->m, n - 1, 1, mo->ref, &e), &e);
    return mo->ref;
}

static double g_worst = 0;

/* Compares logits[Vp] with gpt_forward's last-position logits of seq[0..n). */
static int matches_full(TinyModel *mo, const int32_t *seq, int n, const float *logits) {
    const float *ref = full_logits(mo, seq, n);
    int ok = 1;
    for (int v = 0; v < mo->V; v++) {
        double err = fabs((double)logits[v] - ref[v]);
        if (err > g_worst) g_worst = err;
        if (!(err <= 2e-5 + 2e-4 * fabs(ref[v]))) ok = 0;
    }
    return ok;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Two prompts (lengths 21 and 9); 4 candidates of the first and 2 of the second decode together
 * for 30 steps. Candidates 0..3 choose tokens at random from the cached logits, candidates 4, 5
 * greedily; every step is checked against the full forward. */
static void test_against_full_forward(void) {
    TinyModel mo;
    const int T = 64, NP0 = 21, NP1 = 9, STEPS = 30, NC = 6;
    model_make(&mo, T);
    Error e;
    CHECK_OK(model_plan(&mo.m, 1, T, &e), &e);
    Rng r;
    rng_seed(&r, 9);
    int32_t seq[NC][64], p1[NP1];
    for (int t = 0; t < NP0; t++) seq[0][t] = (int32_t)(rng_next(&r) % mo.V);
    for (int t = 0; t < NP1; t++) p1[t] = (int32_t)(rng_next(&r) % mo.V);
    for (int c = 0; c < NC; c++) memcpy(seq[c], c < 4 ? seq[0] : p1, sizeof(int32_t) * (c < 4 ? NP0 : NP1));
    InferPlan plan = {.max_rows = 8, .n_prefixes = 2, .max_prompt = 24, .max_new = 40};
    Infer s;
    CHECK_OK(infer_init(&s, &mo.m, &plan, &e), &e);
    float *pl0 = malloc(sizeof(float) * mo.Vp), *pl1 = malloc(sizeof(float) * mo.Vp);
    float *logits = malloc(sizeof(float) * NC * mo.Vp), *solo = malloc(sizeof(float) * mo.Vp);
    CHECK_OK(infer_prefill(&s, 0, seq[0], NP0, pl0, &e), &e);
    CHECK_OK(infer_prefill(&s, 1, p1, NP1, pl1, &e), &e);
    CHECK(matches_full(&mo, seq[0], NP0, pl0));
    CHECK(matches_full(&mo, p1, NP1, pl1));
    int len[NC], rows_ok = 1, greedy_ok = 1, invariant = 1;
    int32_t next[NC];
    for (int c = 0; c < NC; c++) {
        len[c] = c < 4 ? NP0 : NP1;
        infer_attach(&s, c, c < 4 ? 0 : 1);
        next[c] = c < 4 ? (int32_t)(rng_next(&r) % mo.V) : argmax(pl1, mo.V);
    }
    for (int step = 0; step < STEPS; step++) {
        for (int c = 0; c < NC; c++) seq[c][len[c]++] = next[c];
        /* Alternate the row order so groups of one prompt are split and rejoined. */
        int order[NC], tok[NC];
        for (int i = 0; i < NC; i++) order[i] = step % 2 ? NC - 1 - i : (i * 5) % NC;
        for (int i = 0; i < NC; i++) tok[i] = next[order[i]];
        kernels_set_threads(1 + step % 2);
        CHECK_OK(infer_decode(&s, NC, order, tok, logits, &e), &e);
        for (int i = 0; i < NC; i++) {
            int c = order[i];
            const float *lg = logits + (size_t)i * mo.Vp;
            if (!matches_full(&mo, seq[c], len[c], lg)) rows_ok = 0;
            if (c >= 4) {
                int full = argmax(full_logits(&mo, seq[c], len[c]), mo.V);
                next[c] = argmax(lg, mo.V);
                if (full != next[c]) greedy_ok = 0;
            } else {
                next[c] = (int32_t)(rng_next(&r) % mo.V);
            }
        }
        /* Candidate 2 decoded alone must give the same bits: replay its step on a spare slot. */
        if (step == STEPS - 1) {
            infer_attach(&s, 7, 0);
            for (int t = NP0; t < len[2]; t++) CHECK_OK(infer_decode(&s, 1, (int[]){7}, &seq[2][t], solo, &e), &e);
            for (int i = 0; i < NC; i++)
                if (order[i] == 2) invariant = !memcmp(solo, logits + (size_t)i * mo.Vp, sizeof(float) * mo.Vp);
        }
    }
    kernels_set_threads(1);
    CHECK_MSG(rows_ok, "cached logits differ from the full forward (worst %g)", g_worst);
    CHECK_MSG(greedy_ok, "greedy decoding differs from the full forward's argmax");
    CHECK_MSG(invariant, "a slot's logits depend on the rows decoded with it");
    printf("worst |cached - full| logit difference: %.3g\n", g_worst);
    /* A full slot and a bad token are input errors. */
    int32_t bad = mo.V;
    CHECK(infer_decode(&s, 1, (int[]){0}, &bad, logits, &e) == RP_EINPUT);
    CHECK(infer_prefill(&s, 0, seq[0], 25, pl0, &e) == RP_EINPUT);
    infer_free(&s);
    free(pl0), free(pl1), free(logits), free(solo), free(mo.ref);
    model_free(&mo.m);
}

/* bf16 weights: a GPT-2 decoder over bf16 copies gives, bitwise, an fp32 decoder's logits over
 * the model with its embeddings and weight matrices rounded to bf16 (biases and LayerNorm
 * weights stay fp32), prefill and decode steps alike. */
static void test_bf16_weights(void) {
    TinyModel mo;
    model_make(&mo, 64);
    Error e;
    const int NP = 11, STEPS = 12;
    Rng r;
    rng_seed(&r, 3);
    int32_t seq[11 + 12];
    for (int t = 0; t < NP + STEPS; t++) seq[t] = (int32_t)(rng_next(&r) % mo.V);
    float *run[2];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* round the model, then decode with fp32 copies */
            for (int k = 0; k < model_tensor_count(&mo.m); k++) {
                if (!gpt_tensor_info(k)->decays) continue;
                const ParamTensor *t = model_tensor(&mo.m, k);
                float *h = malloc(sizeof(float) * t->numel);
                CHECK_OK(model_tensor_download(&mo.m, 'p', k, h, &e), &e);
                for (size_t i = 0; i < t->numel; i++) h[i] = bf16_to_f32(bf16_from_f32(h[i]));
                CHECK_OK(model_tensor_upload(&mo.m, 'p', k, h, &e), &e);
                free(h);
            }
        }
        InferPlan plan = {.max_rows = 2, .n_prefixes = 1, .max_prompt = NP, .max_new = STEPS,
                          .weights = pass == 0 ? DTYPE_BF16 : DTYPE_F32};
        Infer s;
        CHECK_OK(infer_init(&s, &mo.m, &plan, &e), &e);
        run[pass] = malloc(sizeof(float) * (1 + 2 * STEPS) * mo.Vp);
        CHECK_OK(infer_prefill(&s, 0, seq, NP, run[pass], &e), &e);
        infer_attach(&s, 0, 0);
        infer_attach(&s, 1, 0);
        for (int st = 0; st < STEPS; st++) {
            int slots[2] = {st % 2, 1 - st % 2};
            int32_t tok[2] = {seq[NP + st], seq[NP + STEPS - 1 - st]};
            CHECK_OK(infer_decode(&s, 2, slots, tok, run[pass] + (size_t)(1 + 2 * st) * mo.Vp, &e), &e);
        }
        infer_free(&s);
    }
    CHECK_MSG(!memcmp(run[0], run[1], sizeof(float) * (1 + 2 * STEPS) * mo.Vp),
              "GPT-2 bf16 decoder differs from fp32 over rounded weights");
    free(run[0]);
    free(run[1]);
    free(mo.ref);
    model_free(&mo.m);
}

int main(void) {
    kernels_set_threads(1);
    test_gemm_invariance();
    test_bf16_round();
    test_against_full_forward();
    test_bf16_weights();
    return test_summary("test_infer");
}
