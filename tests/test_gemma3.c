/* Gemma 3 model tests: forward loss and every parameter gradient against the independent
 * float64 PyTorch implementation in tests/gemma3_ref.py (a tiny config with grouped-query
 * attention, head_dim != hidden/heads, one global and two sliding layers whose window is shorter
 * than T, a loss mask with placeholder targets), bitwise determinism for 1 vs 2 threads, batch
 * independence, the tensor names, config errors, and the AdamW step's decay set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/gemma3.h"
#include "tests/test.h"

static Gemma3Config tiny_config(void) {
    return (Gemma3Config){.vocab_size = 300, .hidden_size = 64, .intermediate_size = 96, .n_layer = 3, .n_head = 4,
                          .n_kv_head = 2, .head_dim = 32, .sliding_window = 24, .sliding_window_pattern = 2,
                          .max_positions = 128, .query_pre_attn_scalar = 24.0f, .rms_norm_eps = 1e-6f,
                          .rope_theta = 1e6, .rope_local_base_freq = 1e4};
}

/* Random parameters large enough that attention is far from uniform and every (1 + w) matters:
 * matrices N(0, 1/fan_in), the embedding N(0, 0.15), norm weights N(0, 0.3); padding rows 0. */
static void random_params(Gemma3 *m, Rng *r, Error *e) {
    float *h = malloc(sizeof(float) * m->store.n_params);
    for (int k = 0; k < GEMMA3_N_TENSORS; k++) {
        const ParamTensor *t = &m->store.t[k];
        const Gemma3TensorInfo *info = gemma3_tensor_info(k);
        double sd = info->is_norm ? 0.3 : k == 0 ? 0.15 : 1.0 / sqrt((double)t->dims[t->ndim - 1]);
        size_t n = k == 0 ? (size_t)m->cfg.vocab_size * m->cfg.hidden_size : t->numel;
        for (size_t i = 0; i < t->numel; i++) h[t->offset + i] = i < n ? (float)(sd * rng_normal(r)) : 0.0f;
    }
    CHECK_OK(params_state_upload(&m->store, 'p', h, e), e);
    free(h);
}

static void random_batch(Rng *r, int32_t *in, int32_t *tg, float *mask, int n, int V) {
    for (int i = 0; i < n; i++) {
        in[i] = (int32_t)(rng_next(r) % (uint64_t)V);
        mask[i] = i % 7 == 3 ? 0.0f : i % 11 == 5 ? 0.5f : 1.0f;
        tg[i] = mask[i] != 0.0f ? (int32_t)(rng_next(r) % (uint64_t)V) : -1; /* placeholder where masked */
    }
}

static const char *tmp_dir(void) {
    const char *t = getenv("RESTPG_TEST_TMP");
    return t ? t : "/tmp";
}

/* Writes the case file tests/gemma3_ref.py reads (its docstring gives the format). */
static int write_case(const char *path, const Gemma3 *m, const int32_t *in, const int32_t *tg, const float *mask, int B,
                      int T) {
    const Gemma3Config *c = &m->cfg;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int32_t head[16] = {0x31334D47, 1, c->vocab_size, c->padded_vocab_size, c->hidden_size, c->intermediate_size,
                        c->n_layer, c->n_head, c->n_kv_head, c->head_dim, c->sliding_window,
                        c->sliding_window_pattern, B, T, 0, 0};
    double hp[4] = {c->query_pre_attn_scalar, c->rms_norm_eps, c->rope_theta, c->rope_local_base_freq};
    size_t n = (size_t)B * T;
    float *p = malloc(sizeof(float) * m->store.n_params);
    Error e;
    int ok = p && params_state_download(&m->store, 'p', p, &e) == RP_OK && fwrite(head, sizeof head, 1, f) == 1 &&
             fwrite(hp, sizeof hp, 1, f) == 1 && fwrite(p, sizeof(float), m->store.n_params, f) == m->store.n_params &&
             fwrite(in, sizeof(int32_t), n, f) == n && fwrite(tg, sizeof(int32_t), n, f) == n &&
             fwrite(mask, sizeof(float), n, f) == n;
    free(p);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_parity(void) {
    enum { B = 2, T = 70 };
    Error e;
    Rng r;
    rng_seed(&r, 7);
    Gemma3Config c = tiny_config();
    Gemma3 m;
    CHECK_OK(gemma3_init(&m, &c, &e), &e);
    CHECK_OK(gemma3_plan(&m, B, T, &e), &e);
    random_params(&m, &r, &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    char case_path[1024], out_path[1024], cmd[4096];
    snprintf(case_path, sizeof case_path, "%s/gemma3_case.bin", tmp_dir());
    snprintf(out_path, sizeof out_path, "%s/gemma3_ref.bin", tmp_dir());
    CHECK(write_case(case_path, &m, in, tg, mask, B, T) == 0);
    const char *src = getenv("RESTPG_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/gemma3_ref.py %s %s", src ? src : ".", case_path, out_path);
    int sys_rc = system(cmd);
    CHECK_MSG(sys_rc == 0, "%s failed (%d): the reference needs Debian's python3-torch", cmd, sys_rc);
    if (sys_rc) {
        gemma3_free(&m);
        return;
    }

    float loss = 0.0f;
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    CHECK_OK(gemma3_forward(&m, in, tg, mask, B, T, &loss, &e), &e);
    CHECK_OK(gemma3_backward(&m, 1.0f, &e), &e);

    size_t n = m.store.n_params;
    float *grads = malloc(sizeof(float) * n);
    CHECK_OK(params_state_download(&m.store, 'g', grads, &e), &e);
    double *ref = malloc(sizeof(double) * (1 + B * T + n));
    FILE *f = fopen(out_path, "rb");
    CHECK(f && fread(ref, sizeof(double), 1 + B * T + n, f) == 1 + B * T + n);
    if (f) fclose(f);
    double rel = fabs(loss - ref[0]) / fabs(ref[0]);
    printf("gemma3 parity: loss %.9f, reference %.9f, relative error %.3g (tolerance 1e-5)\n", loss, ref[0], rel);
    CHECK_MSG(rel <= 1e-5, "loss %.9g vs reference %.9g", loss, ref[0]);
    double worst_tok = 0.0;
    for (int i = 0; i < B * T; i++) worst_tok = fmax(worst_tok, fabs(gemma3_token_losses(&m)[i] - ref[1 + i]));
    printf("gemma3 parity: worst token loss error %.3g (tolerance 1e-4)\n", worst_tok);
    CHECK(worst_tok <= 1e-4);

    /* Per tensor: max |g - g_ref| <= 1e-4 * max |g_ref| + 1e-6. */
    const double *gref = ref + 1 + B * T;
    double worst_ratio = 0.0;
    int worst_k = 0;
    for (int k = 0; k < GEMMA3_N_TENSORS; k++) {
        const ParamTensor *t = &m.store.t[k];
        double gmax = 0.0, err = 0.0;
        for (size_t i = 0; i < t->numel; i++) {
            gmax = fmax(gmax, fabs(gref[t->offset + i]));
            err = fmax(err, fabs(grads[t->offset + i] - gref[t->offset + i]));
        }
        double tol = 1e-4 * gmax + 1e-6;
        printf("  %-28s max|g_ref| %.3e  max abs error %.3e  (error / max|g_ref| %.2e)\n", gemma3_tensor_info(k)->gguf,
               gmax, err, gmax > 0 ? err / gmax : 0.0);
        CHECK_MSG(err <= tol && gmax > 0.0, "tensor %s: gradient error %.3g > %.3g", gemma3_tensor_info(k)->gguf, err,
                  tol);
        if (gmax > 0.0 && err / gmax > worst_ratio) worst_ratio = err / gmax, worst_k = k;
    }
    printf("gemma3 parity: worst gradient error / max|g_ref| = %.3g (%s; tolerance 1e-4)\n", worst_ratio,
           gemma3_tensor_info(worst_k)->gguf);
    free(ref);
    free(grads);
    gemma3_free(&m);
}

/* Bitwise: two runs, 1 vs 2 threads; a sequence's losses alone equal its losses in the batch. */
static void test_determinism_and_independence(void) {
    enum { B = 3, T = 100 };
    Error e;
    Rng r;
    rng_seed(&r, 9);
    Gemma3Config c = tiny_config();
    c.sliding_window = 40;
    Gemma3 m;
    CHECK_OK(gemma3_init(&m, &c, &e), &e);
    random_params(&m, &r, &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T], l[3];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    float *g[3];
    for (int run = 0; run < 3; run++) {
        kernels_set_threads(run == 2 ? 2 : 1);
        /* Plan after setting the threads: the attention workspace is per thread. */
        CHECK_OK(gemma3_plan(&m, B, T, &e), &e);
        CHECK_OK(params_zero_grad(&m.store, &e), &e);
        CHECK_OK(gemma3_forward(&m, in, tg, mask, B, T, &l[run], &e), &e);
        CHECK_OK(gemma3_backward(&m, 1.0f, &e), &e);
        g[run] = malloc(sizeof(float) * m.store.n_params);
        CHECK_OK(params_state_download(&m.store, 'g', g[run], &e), &e);
    }
    size_t bytes = sizeof(float) * m.store.n_params;
    CHECK_MSG(l[0] == l[1] && memcmp(g[0], g[1], bytes) == 0, "two runs differ");
    CHECK_MSG(l[0] == l[2] && memcmp(g[0], g[2], bytes) == 0, "1 vs 2 threads differ");
    for (int run = 0; run < 3; run++) free(g[run]);
    float batch[B * T];
    memcpy(batch, gemma3_token_losses(&m), sizeof batch);
    CHECK_OK(gemma3_forward(&m, in + T, tg + T, mask + T, 1, T, NULL, &e), &e);
    CHECK_MSG(memcmp(batch + T, gemma3_token_losses(&m), sizeof(float) * T) == 0,
              "a sequence's losses depend on the rest of the batch");
    kernels_set_threads(1);
    gemma3_free(&m);
}

static void test_names_and_config(void) {
    Error e;
    char buf[128];
    CHECK_OK(gemma3_tensor_name(2, 5, 0, buf, sizeof buf, &e), &e);
    CHECK_STR(buf, "blk.5.attn_q.weight");
    CHECK_OK(gemma3_tensor_name(9, 0, 1, buf, sizeof buf, &e), &e);
    CHECK_STR(buf, "model.layers.0.pre_feedforward_layernorm.weight");
    CHECK_OK(gemma3_tensor_name(0, 3, 1, buf, sizeof buf, &e), &e);
    CHECK_STR(buf, "model.embed_tokens.weight");
    CHECK_OK(gemma3_tensor_name(14, 0, 0, buf, sizeof buf, &e), &e);
    CHECK_STR(buf, "output_norm.weight");
    CHECK(gemma3_tensor_name(15, 0, 0, buf, sizeof buf, &e) == RP_EINTERNAL);
    CHECK(gemma3_tensor_name(13, 17, 1, buf, 8, &e) == RP_EINTERNAL);

    Gemma3Config c = gemma3_config_270m();
    CHECK_OK(gemma3_config_check(&c, &e), &e);
    CHECK(c.padded_vocab_size == 262144);
    int globals = 0;
    for (int l = 0; l < c.n_layer; l++) globals += gemma3_layer_is_global(&c, l);
    CHECK(globals == 3 && gemma3_layer_is_global(&c, 5) && !gemma3_layer_is_global(&c, 6));
    c.n_kv_head = 3;
    CHECK(gemma3_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'num_attention_heads'"));
    c = gemma3_config_270m();
    c.head_dim = 255;
    CHECK(gemma3_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'head_dim'"));
    c = gemma3_config_270m();
    c.rms_norm_eps = 0.0f;
    CHECK(gemma3_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'rms_norm_eps'"));
    c = gemma3_config_270m();
    c.sliding_window = 0;
    CHECK(gemma3_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'sliding_window'"));
}

/* Input errors, and AdamW: with zero gradients a step changes only the decayed tensors, each by
 * the factor 1 - lr * weight_decay; with real gradients a few steps lower the loss. */
static void test_errors_and_adamw(void) {
    enum { B = 1, T = 30 };
    Error e;
    Rng r;
    rng_seed(&r, 3);
    Gemma3Config c = tiny_config();
    Gemma3 m;
    CHECK_OK(gemma3_init(&m, &c, &e), &e);
    CHECK_OK(gemma3_init_random(&m, 5, &e), &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    CHECK(gemma3_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINTERNAL); /* not planned */
    CHECK(gemma3_plan(&m, 1, 129, &e) == RP_EINPUT && strstr(e.msg, "max_position_embeddings"));
    CHECK_OK(gemma3_plan(&m, B, T, &e), &e);
    in[4] = 300;
    CHECK(gemma3_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'inputs' [0][4] = 300"));
    in[4] = 1;
    mask[2] = NAN;
    CHECK(gemma3_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'mask' [0][2]"));
    mask[2] = 1.0f;
    CHECK(gemma3_backward(&m, 1.0f, &e) == RP_EINTERNAL);

    /* norm weights are 0 after init_random; give them a value so "unchanged" is meaningful */
    float *before = malloc(sizeof(float) * m.store.n_params), *after = malloc(sizeof(float) * m.store.n_params);
    CHECK_OK(params_state_download(&m.store, 'p', before, &e), &e);
    for (int k = 0; k < GEMMA3_N_TENSORS; k++)
        if (gemma3_tensor_info(k)->is_norm)
            for (size_t i = 0; i < m.store.t[k].numel; i++) before[m.store.t[k].offset + i] = 0.25f;
    CHECK_OK(params_state_upload(&m.store, 'p', before, &e), &e);
    CHECK_OK(params_opt_reset(&m.store, &e), &e);
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    AdamW h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    double norm = -1.0;
    CHECK_OK(params_adamw(&m.store, &h, 1.0, 1, &norm, &e), &e);
    CHECK(norm == 0.0);
    CHECK_OK(params_state_download(&m.store, 'p', after, &e), &e);
    int bad = 0;
    for (int k = 0; k < GEMMA3_N_TENSORS; k++) {
        const ParamTensor *t = &m.store.t[k];
        float f = gemma3_tensor_info(k)->decays ? 1.0f - h.lr * h.weight_decay : 1.0f;
        for (size_t i = 0; i < t->numel; i++)
            /* A few ulps: the update rounds p - lr * wd * p, the check p * (1 - lr * wd). */
            bad += fabsf(after[t->offset + i] - before[t->offset + i] * f) > 4e-7f * fabsf(before[t->offset + i]);
    }
    CHECK_MSG(bad == 0, "%d parameters moved other than by their decay", bad);
    float l0 = 0.0f, l1 = 0.0f;
    for (int step = 1; step <= 6; step++) {
        CHECK_OK(params_zero_grad(&m.store, &e), &e);
        CHECK_OK(gemma3_forward(&m, in, tg, mask, B, T, step == 1 ? &l0 : &l1, &e), &e);
        CHECK_OK(gemma3_backward(&m, 1.0f, &e), &e);
        CHECK_OK(params_adamw(&m.store, &h, 1.0, step + 1, &norm, &e), &e);
    }
    CHECK_MSG(l1 < l0, "AdamW steps did not lower the loss: %g -> %g", l0, l1);
    free(before);
    free(after);
    gemma3_free(&m);
}

int main(void) {
    kernels_set_threads(1);
    test_names_and_config();
    test_parity();
    test_determinism_and_independence();
    test_errors_and_adamw();
    return test_summary("test_gemma3");
}
