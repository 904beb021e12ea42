/* GPT-2 model: config and layout, initialisation, the whole-model gradient against finite
 * differences of a double-precision reference forward written here (tiny model, masked loss),
 * loss masking, padded vocabulary rows, bitwise determinism (two runs, 1 vs 2 threads),
 * per-sequence independence, input errors, and that AdamW steps fit a fixed batch. */
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/gpt.h"
#include "tests/test.h"

static Rng g_rng;

/* ---- double-precision reference forward ---- */
typedef struct {
    const GPT *m;
    const int32_t *in, *tg;
    const float *mask;
    int B, T;
} RefCtx;

static void ref_ln(double *out, const double *x, const double *w, const double *b, int C) {
    double mu = 0.0, var = 0.0;
    for (int c = 0; c < C; c++) mu += x[c];
    mu /= C;
    for (int c = 0; c < C; c++) var += (x[c] - mu) * (x[c] - mu);
    double s = 1.0 / sqrt(var / C + 1e-5);
    for (int c = 0; c < C; c++) out[c] = (x[c] - mu) * s * w[c] + b[c];
}

/* out[OC] (+)= W[OC, C] x + b */
static void ref_linear(double *out, const double *x, const double *W, const double *b, int C, int OC, int add) {
    for (int o = 0; o < OC; o++) {
        double s = b[o];
        for (int c = 0; c < C; c++) s += W[(size_t)o * C + c] * x[c];
        out[o] = add ? out[o] + s : s;
    }
}

/* Weighted mean token loss of the batch under parameters P (layout of k->m). */
static double ref_loss(const double *P, void *vctx) {
    const RefCtx *k = vctx;
    const GPTConfig *cf = &k->m->cfg;
    const ParamTensor *t = k->m->store.t;
    int T = k->T, C = cf->n_embd, NH = cf->n_head, hs = C / NH, V = cf->vocab_size;
    double *x = malloc(sizeof(double) * T * C), *ln = malloc(sizeof(double) * T * C),
           *qkv = malloc(sizeof(double) * T * 3 * C), *att = malloc(sizeof(double) * T * C),
           *h = malloc(sizeof(double) * 4 * C), *sc = malloc(sizeof(double) * T);
    double total = 0.0, wsum = 0.0;
    for (int b = 0; b < k->B; b++) {
        for (int i = 0; i < T; i++)
            for (int c = 0; c < C; c++)
                x[i * C + c] = P[t[0].offset + (size_t)k->in[b * T + i] * C + c] + P[t[1].offset + (size_t)i * C + c];
        for (int l = 0; l < cf->n_layer; l++) {
            size_t lC = (size_t)l * C;
            for (int i = 0; i < T; i++) {
                ref_ln(ln + i * C, x + i * C, P + t[2].offset + lC, P + t[3].offset + lC, C);
                ref_linear(qkv + i * 3 * C, ln + i * C, P + t[4].offset + lC * 3 * C, P + t[5].offset + lC * 3, C,
                           3 * C, 0);
            }
            for (int hh = 0; hh < NH; hh++)
                for (int i = 0; i < T; i++) {
                    double mx = -INFINITY, s = 0.0;
                    for (int j = 0; j <= i; j++) {
                        double d = 0.0;
                        for (int c = 0; c < hs; c++) d += qkv[i * 3 * C + hh * hs + c] * qkv[j * 3 * C + C + hh * hs + c];
                        sc[j] = d / sqrt((double)hs);
                        mx = sc[j] > mx ? sc[j] : mx;
                    }
                    for (int j = 0; j <= i; j++) s += exp(sc[j] - mx);
                    for (int c = 0; c < hs; c++) {
                        double o = 0.0;
                        for (int j = 0; j <= i; j++) o += exp(sc[j] - mx) / s * qkv[j * 3 * C + 2 * C + hh * hs + c];
                        att[i * C + hh * hs + c] = o;
                    }
                }
            for (int i = 0; i < T; i++) {
                ref_linear(x + i * C, att + i * C, P + t[6].offset + lC * C, P + t[7].offset + lC, C, C, 1);
                ref_ln(ln + i * C, x + i * C, P + t[8].offset + lC, P + t[9].offset + lC, C);
                ref_linear(h, ln + i * C, P + t[10].offset + lC * 4 * C, P + t[11].offset + lC * 4, C, 4 * C, 0);
                for (int c = 0; c < 4 * C; c++)
                    h[c] = 0.5 * h[c] * (1.0 + tanh(sqrt(2.0 / M_PI) * (h[c] + 0.044715 * h[c] * h[c] * h[c])));
                ref_linear(x + i * C, h, P + t[12].offset + lC * 4 * C, P + t[13].offset + lC, 4 * C, C, 1);
            }
        }
        for (int i = 0; i < T; i++) {
            double w = k->mask ? k->mask[b * T + i] : 1.0;
            wsum += w;
            if (w == 0.0) continue;
            ref_ln(ln, x + i * C, P + t[14].offset, P + t[15].offset, C);
            double mx = -INFINITY, s = 0.0, tgt = 0.0;
            double *lg = malloc(sizeof(double) * V);
            for (int v = 0; v < V; v++) {
                double d = 0.0;
                for (int c = 0; c < C; c++) d += ln[c] * P[t[0].offset + (size_t)v * C + c];
                lg[v] = d;
                mx = d > mx ? d : mx;
            }
            for (int v = 0; v < V; v++) s += exp(lg[v] - mx);
            tgt = lg[k->tg[b * T + i]];
            total += w * (mx + log(s) - tgt);
            free(lg);
        }
    }
    free(x), free(ln), free(qkv), free(att), free(h), free(sc);
    return wsum > 0.0 ? total / wsum : 0.0;
}

/* ---- helpers ---- */
static GPTConfig tiny_config(void) {
    GPTConfig c = {.vocab_size = 67, .n_layer = 2, .n_head = 2, .n_embd = 16, .n_positions = 12};
    return c;
}

static void random_batch(int32_t *in, int32_t *tg, int n, int V) {
    for (int i = 0; i < n; i++) {
        in[i] = (int32_t)(rng_next(&g_rng) % (uint64_t)V);
        tg[i] = (int32_t)(rng_next(&g_rng) % (uint64_t)V);
    }
}

/* Random init plus noise on every real parameter, so biases and LayerNorm terms are not at
 * their special values 0 and 1 and their gradients are exercised. */
static void init_noisy(GPT *m, uint64_t seed) {
    Error e;
    CHECK_OK(gpt_init_random(m, seed, &e), &e);
    const ParamTensor *w = &m->store.t[0];
    for (size_t i = 0; i < m->store.n_params; i++) {
        if (i >= w->offset + (size_t)m->cfg.vocab_size * m->cfg.n_embd && i < w->offset + w->numel) continue;
        m->store.mem[0][i] += 0.05f * (float)(2.0 * rng_uniform(&g_rng) - 1.0);
    }
}

static int pad_rows_zero(const GPT *m, const float *buf) {
    const ParamTensor *w = &m->store.t[0];
    for (size_t i = w->offset + (size_t)m->cfg.vocab_size * m->cfg.n_embd; i < w->offset + w->numel; i++)
        if (buf[i] != 0.0f) return 0;
    return 1;
}

/* ---- tests ---- */
static void test_config(void) {
    Error e;
    GPTConfig c = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024};
    CHECK_OK(gpt_config_check(&c, &e), &e);
    CHECK(c.padded_vocab_size == 50304);
    GPTConfig t = tiny_config();
    CHECK_OK(gpt_config_check(&t, &e), &e);
    CHECK(t.padded_vocab_size == 128);
    GPTConfig bad = c;
    bad.n_head = 7;
    CHECK(gpt_config_check(&bad, &e) == RP_EINPUT && strstr(e.msg, "'n_embd'"));
    bad = c;
    bad.n_layer = 0;
    CHECK(gpt_config_check(&bad, &e) == RP_EINPUT && strstr(e.msg, "'n_layer'"));
    /* The layout: 16 tensors back to back; GPT-2 124M has 124,475,904 parameters with Vp 50304
     * (= Vp*C + maxT*C + L*(12 C^2 + 13 C) + 2C). */
    size_t C = 768, L = 12, expect = 50304 * C + 1024 * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(expect == 124475904);
    /* Activations of 124M at B=4, T=256 stay under 1 GiB; the count does not need a checked config. */
    size_t bytes = gpt_activation_bytes(&c, 4, 256, 0, 0);
    CHECK_MSG(bytes < (size_t)1 << 30, "124M activations at B=4 T=256 are %zu bytes", bytes);
    CHECK(bytes > (size_t)4 * 256 * 50304 * sizeof(float)); /* at least the logits */
    GPTConfig unchecked = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024};
    CHECK(gpt_activation_bytes(&unchecked, 4, 256, 0, 0) == bytes);
    /* 6 * (params without wpe, real vocabulary) + 12 L C T. */
    double fl = gpt_flops_per_token(&c, 256);
    CHECK_NEAR(fl, 6.0 * (124475904.0 - 47 * 768 - 1024 * 768) + 12.0 * 12 * 768 * 256, 1.0);
    CHECK_STR(gpt_tensor_info(0)->name, "wte");
    CHECK_STR(gpt_tensor_info(12)->name, "fcprojw");
    CHECK(gpt_tensor_info(16) == NULL && gpt_tensor_info(-1) == NULL);
    CHECK(gpt_tensor_info(4)->decays && !gpt_tensor_info(5)->decays && !gpt_tensor_info(14)->decays);
    CHECK(gpt_tensor_info(6)->init == GPT_INIT_NORMAL_RESID && gpt_tensor_info(8)->init == GPT_INIT_ONE);
}

static void test_layout_and_init(void) {
    Error e;
    GPTConfig c = tiny_config();
    GPT a, b;
    CHECK_OK(gpt_init(&a, &c, &e), &e);
    CHECK_OK(gpt_init(&b, &c, &e), &e);
    size_t C = 16, L = 2, expect = 128 * C + 12 * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(a.store.n_params == expect);
    CHECK(a.store.t[4].ndim == 3 && a.store.t[4].dims[1] == 48 && a.store.t[4].dims[2] == 16);
    CHECK(a.store.t[15].offset + a.store.t[15].numel == a.store.n_params);
    CHECK_OK(gpt_init_random(&a, 7, &e), &e);
    CHECK_OK(gpt_init_random(&b, 7, &e), &e);
    CHECK(memcmp(a.store.mem[0], b.store.mem[0], a.store.n_params * sizeof(float)) == 0);
    CHECK_OK(gpt_init_random(&b, 8, &e), &e);
    CHECK(memcmp(a.store.mem[0], b.store.mem[0], a.store.n_params * sizeof(float)) != 0);
    CHECK(pad_rows_zero(&a, a.store.mem[0]));
    CHECK(a.store.mem[0][a.store.t[2].offset] == 1.0f && a.store.mem[0][a.store.t[3].offset] == 0.0f);
    CHECK(a.store.mem[0][a.store.t[14].offset + 3] == 1.0f && a.store.mem[0][a.store.t[13].offset] == 0.0f);
    gpt_free(&a);
    gpt_free(&b);
    /* Standard deviations on a model big enough for the statistics: 0.02, and 0.02/sqrt(2L) on
     * the residual projections. */
    GPTConfig mid = {.vocab_size = 1000, .n_layer = 4, .n_head = 4, .n_embd = 128, .n_positions = 64};
    CHECK_OK(gpt_init(&a, &mid, &e), &e);
    CHECK_OK(gpt_init_random(&a, 1, &e), &e);
    int ks[2] = {4, 12};
    double want[2] = {0.02, 0.02 / sqrt(8.0)};
    for (int q = 0; q < 2; q++) {
        const ParamTensor *t = &a.store.t[ks[q]];
        double s = 0.0, s2 = 0.0;
        for (size_t i = 0; i < t->numel; i++) s += a.store.mem[0][t->offset + i], s2 += (double)a.store.mem[0][t->offset + i] * a.store.mem[0][t->offset + i];
        double mean = s / t->numel, sd = sqrt(s2 / t->numel - mean * mean);
        CHECK_MSG(fabs(sd - want[q]) < 0.02 * want[q] && fabs(mean) < 0.05 * want[q], "tensor %d sd %g mean %g",
                  ks[q], sd, mean);
    }
    gpt_free(&a);
}

static void test_gradcheck(void) {
    enum { B = 2, T = 9 };
    Error e;
    GPTConfig c = tiny_config();
    GPT m;
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    init_noisy(&m, 3);
    CHECK_OK(gpt_plan(&m, B, T, &e), &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(in, tg, B * T, c.vocab_size);
    for (int i = 0; i < B * T; i++) mask[i] = (i % 3 == 1) ? 0.0f : 1.0f;
    mask[0] = 2.0f; /* a weight, not only 0/1 */
    float loss;
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, &loss, &e), &e);
    double *P = malloc(sizeof(double) * m.store.n_params), *fd = malloc(sizeof(double) * m.store.n_params);
    for (size_t i = 0; i < m.store.n_params; i++) P[i] = m.store.mem[0][i];
    RefCtx k = {&m, in, tg, mask, B, T};
    double ref = ref_loss(P, &k);
    CHECK_NEAR(loss, ref, 1e-5 * fabs(ref));
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
    for (size_t i = 0; i < m.store.n_params; i++) {
        double x0 = P[i], h = 1e-5;
        P[i] = x0 + h;
        double fp = ref_loss(P, &k);
        P[i] = x0 - h;
        double fm = ref_loss(P, &k);
        P[i] = x0;
        fd[i] = (fp - fm) / (2 * h);
    }
    /* Tolerance: 2e-6 absolute + 1e-4 relative per parameter (float model vs double model;
     * the measured worst error is about 8e-8); the worst is printed on failure. */
    size_t bad = 0, worst = 0;
    double worst_err = 0.0;
    for (size_t i = 0; i < m.store.n_params; i++) {
        double err = fabs(m.store.mem[1][i] - fd[i]);
        if (err > 2e-6 + 1e-4 * fabs(fd[i])) bad++;
        if (err > worst_err) worst_err = err, worst = i;
    }
    CHECK_MSG(bad == 0, "%zu of %zu gradients off; worst [%zu] %g vs %g", bad, m.store.n_params, worst,
              (double)m.store.mem[1][worst], fd[worst]);
    CHECK(pad_rows_zero(&m, m.store.mem[1]));
    /* Accumulation and loss_scale: adding a backward with scale 0.5 gives 1.5x the gradient. */
    float *g1 = malloc(sizeof(float) * m.store.n_params);
    memcpy(g1, m.store.mem[1], sizeof(float) * m.store.n_params);
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, NULL, &e), &e);
    CHECK_OK(gpt_backward(&m, 0.5f, &e), &e);
    size_t off = 0;
    for (size_t i = 0; i < m.store.n_params; i++)
        if (fabs(m.store.mem[1][i] - 1.5 * g1[i]) > 1e-6 * (1.0 + fabs(g1[i]))) off++;
    CHECK_MSG(off == 0, "%zu gradients are not 1.5x after a second backward with loss_scale 0.5", off);
    CHECK(gpt_backward(&m, 1.0f, &e) == RP_EINTERNAL); /* one backward per forward */
    free(P), free(fd), free(g1);
    gpt_free(&m);
}

/* Targets of unmasked positions are never read: changing them changes neither loss nor grads. */
static void test_mask(void) {
    enum { B = 2, T = 9 };
    Error e;
    GPTConfig c = tiny_config();
    GPT m;
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    CHECK_OK(gpt_init_random(&m, 5, &e), &e);
    CHECK_OK(gpt_plan(&m, B, T, &e), &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(in, tg, B * T, c.vocab_size);
    for (int i = 0; i < B * T; i++) mask[i] = (i % 4 == 0) ? 1.0f : 0.0f;
    float l1, l2;
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, &l1, &e), &e);
    const float *tl = gpt_token_losses(&m);
    double sum = 0.0, cnt = 0.0;
    int zero_elsewhere = 1;
    for (int i = 0; i < B * T; i++) {
        if (mask[i] != 0.0f) sum += tl[i], cnt += 1.0;
        else zero_elsewhere &= tl[i] == 0.0f;
    }
    CHECK(zero_elsewhere);
    CHECK_NEAR(l1, sum / cnt, 1e-6);
    CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
    float *g1 = malloc(sizeof(float) * m.store.n_params);
    memcpy(g1, m.store.mem[1], sizeof(float) * m.store.n_params);
    for (int i = 0; i < B * T; i++)
        if (mask[i] == 0.0f) tg[i] = (i % 2) ? -1 : (tg[i] + 1) % c.vocab_size;
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, &l2, &e), &e);
    CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
    CHECK(l1 == l2);
    CHECK(memcmp(g1, m.store.mem[1], sizeof(float) * m.store.n_params) == 0);
    /* No weighted position: loss 0, nothing added. */
    for (int i = 0; i < B * T; i++) mask[i] = 0.0f;
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, &l2, &e), &e);
    CHECK(l2 == 0.0f);
    CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
    CHECK(memcmp(g1, m.store.mem[1], sizeof(float) * m.store.n_params) == 0);
    free(g1);
    gpt_free(&m);
}

/* Padding rows of wte never reach the loss and stay zero through training with weight decay. */
static void test_padding(void) {
    enum { B = 2, T = 9 };
    Error e;
    GPTConfig c = tiny_config();
    GPT m;
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    CHECK_OK(gpt_init_random(&m, 9, &e), &e);
    CHECK_OK(gpt_plan(&m, B, T, &e), &e);
    int32_t in[B * T], tg[B * T];
    random_batch(in, tg, B * T, c.vocab_size);
    float l0, l1;
    CHECK_OK(gpt_forward(&m, in, tg, NULL, B, T, &l0, &e), &e);
    int pad_logits_zero = 1;
    float logits[B * T * 128];
    CHECK_OK(gpt_logits_download(&m, 0, B * T, logits, &e), &e);
    for (int i = 0; i < B * T; i++)
        for (int v = c.vocab_size; v < 128; v++) pad_logits_zero &= logits[i * 128 + v] == 0.0f;
    CHECK(pad_logits_zero);
    float *wte = m.params.wte;
    for (int i = c.vocab_size * c.n_embd; i < 128 * c.n_embd; i++) wte[i] = 5.0f;
    CHECK_OK(gpt_forward(&m, in, tg, NULL, B, T, &l1, &e), &e);
    CHECK_MSG(l0 == l1, "nonzero padding rows changed the loss: %.9g vs %.9g", (double)l0, (double)l1);
    for (int i = c.vocab_size * c.n_embd; i < 128 * c.n_embd; i++) wte[i] = 0.0f;
    CHECK_OK(params_opt_reset(&m.store, &e), &e);
    const AdamW h = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f};
    float first = 0.0f, last = 0.0f;
    for (int step = 1; step <= 30; step++) {
        CHECK_OK(params_zero_grad(&m.store, &e), &e);
        CHECK_OK(gpt_forward(&m, in, tg, NULL, B, T, &last, &e), &e);
        if (step == 1) first = last;
        CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
        double norm;
        CHECK_OK(params_adamw(&m.store, &h, 0.0, step, &norm, &e), &e);
    }
    CHECK(pad_rows_zero(&m, m.store.mem[1]) && pad_rows_zero(&m, m.store.mem[0]));
    CHECK_MSG(last < 0.5f * first, "30 AdamW steps on one batch: loss %g -> %g", (double)first, (double)last);
    gpt_free(&m);
}

/* A model big enough that OpenBLAS runs sgemm on 2 threads. */
static void run_medium(GPT *m, const int32_t *in, const int32_t *tg, const float *mask, int B, int T, float *loss,
                       Error *e) {
    CHECK_OK(params_zero_grad(&m->store, e), e);
    CHECK_OK(gpt_forward(m, in, tg, mask, B, T, loss, e), e);
    CHECK_OK(gpt_backward(m, 1.0f, e), e);
}

static void test_determinism_and_independence(void) {
    enum { B = 3, T = 64 };
    Error e;
    GPTConfig c = {.vocab_size = 300, .n_layer = 2, .n_head = 4, .n_embd = 64, .n_positions = 64};
    GPT m;
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    CHECK_OK(gpt_init_random(&m, 11, &e), &e);
    CHECK_OK(gpt_plan(&m, B, T, &e), &e);
    int32_t in[B * T], tg[B * T];
    random_batch(in, tg, B * T, c.vocab_size);
    float mask[B * T];
    for (int i = 0; i < B * T; i++) mask[i] = i % 5 < 2 ? 0.0f : 1.0f;
    /* Without and with a mask (the backward packs the weighted rows of the LM head). */
    for (int masked = 0; masked < 2; masked++) {
        float l[3];
        float *g[3];
        for (int run = 0; run < 3; run++) {
            kernels_set_threads(run == 2 ? 2 : 1);
            run_medium(&m, in, tg, masked ? mask : NULL, B, T, &l[run], &e);
            g[run] = malloc(sizeof(float) * m.store.n_params);
            memcpy(g[run], m.store.mem[1], sizeof(float) * m.store.n_params);
        }
        CHECK_MSG(l[0] == l[1] && memcmp(g[0], g[1], sizeof(float) * m.store.n_params) == 0, "two runs differ (mask %d)",
                  masked);
        CHECK_MSG(l[0] == l[2] && memcmp(g[0], g[2], sizeof(float) * m.store.n_params) == 0,
                  "1 vs 2 threads differ (mask %d)", masked);
        for (int run = 0; run < 3; run++) free(g[run]);
    }
    /* Sequence 1's token losses are the same alone (B = 1) and inside the batch, on 2 threads. */
    float *batch = malloc(sizeof(float) * B * T);
    CHECK_OK(gpt_forward(&m, in, tg, NULL, B, T, NULL, &e), &e);
    memcpy(batch, gpt_token_losses(&m), sizeof(float) * B * T);
    CHECK_OK(gpt_forward(&m, in + T, tg + T, NULL, 1, T, NULL, &e), &e);
    CHECK_MSG(memcmp(batch + T, gpt_token_losses(&m), sizeof(float) * T) == 0,
              "a sequence's losses depend on the rest of the batch");
    kernels_set_threads(1);
    free(batch);
    gpt_free(&m);
}

static void test_errors(void) {
    enum { B = 1, T = 4 };
    Error e;
    GPTConfig c = tiny_config();
    GPT m;
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    CHECK_OK(gpt_init_random(&m, 1, &e), &e);
    int32_t in[B * T] = {1, 2, 3, 4}, tg[B * T] = {2, 3, 4, 5};
    float mask[B * T] = {1, 1, 1, 1};
    CHECK(gpt_forward(&m, in, tg, NULL, B, T, NULL, &e) == RP_EINTERNAL); /* not planned */
    CHECK(gpt_plan(&m, 1, 13, &e) == RP_EINPUT && strstr(e.msg, "n_positions"));
    CHECK_OK(gpt_plan(&m, B, T, &e), &e);
    CHECK(gpt_forward(&m, in, tg, NULL, 2, T, NULL, &e) == RP_EINPUT);
    in[2] = 67;
    CHECK(gpt_forward(&m, in, tg, NULL, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'inputs' [0][2] = 67"));
    in[2] = 3;
    tg[3] = -2;
    CHECK(gpt_forward(&m, in, tg, NULL, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'targets' [0][3]"));
    mask[3] = 0.0f;
    CHECK_OK(gpt_forward(&m, in, tg, mask, B, T, NULL, &e), &e);
    mask[1] = -1.0f;
    CHECK(gpt_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'mask' [0][1]"));
    mask[1] = 1.0f;
    CHECK_OK(gpt_forward(&m, in, NULL, NULL, B, T, NULL, &e), &e);
    CHECK(gpt_backward(&m, 1.0f, &e) == RP_EINTERNAL); /* no targets, no loss to differentiate */
    gpt_free(&m);
}

/* Inference holds parameters only: no gradients until the first backward (or zero_grad), which
 * allocates them zeroed; an AdamW step without them is refused. */
static void test_lazy_grads(void) {
    Error e;
    GPT m;
    GPTConfig c = {.vocab_size = 50, .n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 8};
    CHECK_OK(gpt_init(&m, &c, &e), &e);
    CHECK_OK(gpt_init_random(&m, 1, &e), &e);
    CHECK_OK(gpt_plan(&m, 1, 8, &e), &e);
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float loss;
    CHECK_OK(gpt_forward(&m, in, tg, NULL, 1, 8, &loss, &e), &e);
    CHECK(params_mem(&m.store, 'g') == NULL && m.grads.wte == NULL);
    CHECK_OK(params_opt_reset(&m.store, &e), &e);
    double norm;
    CHECK(params_adamw(&m.store, &(AdamW){1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f}, 1.0, 1, &norm, &e) == RP_EINTERNAL);
    CHECK_OK(gpt_backward(&m, 1.0f, &e), &e);
    CHECK(params_mem(&m.store, 'g') != NULL && m.grads.wte == params_mem(&m.store, 'g'));
    double sq = 0;
    CHECK_OK(m.store.be->ops->sumsq(params_mem(&m.store, 'g'), m.store.n_params, &sq, &e), &e);
    CHECK(sq > 0);
    CHECK_OK(params_adamw(&m.store, &(AdamW){1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f}, 1.0, 1, &norm, &e), &e);
    gpt_free(&m);
}

int main(void) {
    rng_seed(&g_rng, 2024);
    kernels_set_threads(1);
    test_config();
    test_layout_and_init();
    test_gradcheck();
    test_mask();
    test_padding();
    test_determinism_and_independence();
    test_errors();
    test_lazy_grads();
    return test_summary("test_gpt");
}
