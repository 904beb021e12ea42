/* The Llama family's model tests (model/llama.c): for a tiny random config of each variant,
 * forward loss, token losses and every parameter gradient against the independent float64
 * PyTorch implementation in tests/llama_ref.py (grouped-query attention, T = 70 (two query tiles,
 * not a power of two), a loss mask with weights 0, 0.5 and 1 and placeholder targets):
 *   gemma3  head_dim != hidden/heads, one global and two sliding layers with a window < T;
 *   llama3  Llama 3.1 RoPE scaling (pairs in all three bands) and an untied LM head;
 *   llama   linear RoPE scaling and a tied head;
 *   qwen2   q/k/v biases, 3 query heads per kv head;
 *   qwen3   per-head q/k norms, one kv head, head_dim != hidden/heads, untied head.
 * Also bitwise determinism for 1 vs 2 threads and batch independence, the tensor tables and names
 * of every variant, config errors, and the AdamW step's decay set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/llama.h"
#include "tests/llama_fixture.h"
#include "tests/test.h"

static LlamaConfig sized(LlamaConfig c, int C, int NH, int NKV, int hd) {
    c.vocab_size = 300, c.hidden_size = C, c.intermediate_size = 96, c.n_layer = 3, c.n_head = NH;
    c.n_kv_head = NKV, c.head_dim = hd, c.max_positions = 128;
    return c;
}

static LlamaConfig gemma3_tiny(void) {
    LlamaConfig c = sized(llama_config_gemma3(), 64, 4, 2, 32);
    c.sliding_window = 24, c.sliding_window_pattern = 2, c.query_pre_attn_scalar = 24.0f;
    return c;
}

/* hd 16, theta 5e5: wavelengths 6.3, 32, 168, ...; with an original context of 64, low 1 and high
 * 4 the first pair keeps its frequency, the second is blended and the others divided by 8. */
static LlamaConfig llama3_tiny(void) {
    LlamaConfig c = sized(llama_config_llama(), 64, 4, 2, 16);
    c.tie_word_embeddings = 0, c.rope_scaling = ROPE_LLAMA3, c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0;
    c.rope_high_freq_factor = 4.0, c.rope_original_max_positions = 64;
    return c;
}

static LlamaConfig llama_tied_tiny(void) {
    LlamaConfig c = sized(llama_config_llama(), 64, 4, 2, 16);
    c.rope_theta = 1e4, c.rope_scaling = ROPE_LINEAR, c.rope_factor = 2.0;
    return c;
}

static LlamaConfig qwen2_tiny(void) { return sized(llama_config_qwen2(), 48, 6, 2, 8); }

static LlamaConfig qwen3_tiny(void) {
    LlamaConfig c = sized(llama_config_qwen3(), 64, 4, 1, 32);
    c.tie_word_embeddings = 0;
    return c;
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

/* Writes the case file tests/llama_ref.py reads (its docstring gives the format). */
static int write_case(const char *path, const Llama *m, const int32_t *in, const int32_t *tg, const float *mask, int B,
                      int T) {
    const LlamaConfig *c = &m->cfg;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int32_t head[24] = {0x4C4C4D41, 2, c->vocab_size, c->padded_vocab_size, c->hidden_size, c->intermediate_size,
                        c->n_layer, c->n_head, c->n_kv_head, c->head_dim, c->sliding_window,
                        c->sliding_window_pattern, B, T, c->post_norms, c->qk_norm, c->qkv_bias,
                        c->tie_word_embeddings, c->hidden_act == ACT_SILU, c->scale_embeddings, (int)c->rope_scaling,
                        c->rope_original_max_positions, 0, 0};
    double hp[8] = {c->query_pre_attn_scalar, c->rms_norm_eps, c->rope_theta, c->rope_local_base_freq,
                    c->norm_offset, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor};
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

/* Loss within 1e-5 relative, token losses within 1e-4, every tensor's gradient within
 * 1e-4 * max |g_ref| + 1e-6 of the reference. */
static void test_parity(const char *name, LlamaConfig c) {
    enum { B = 2, T = 70 };
    Error e;
    Rng r;
    rng_seed(&r, 7);
    Llama m;
    CHECK_OK(llama_init(&m, &c, &e), &e);
    CHECK_OK(llama_plan(&m, B, T, &e), &e);
    llama_fixture_params(&m, &r, 0.15, &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    char case_path[1024], out_path[1024], cmd[4096];
    snprintf(case_path, sizeof case_path, "%s/llama_case_%s.bin", tmp_dir(), name);
    snprintf(out_path, sizeof out_path, "%s/llama_ref_%s.bin", tmp_dir(), name);
    CHECK(write_case(case_path, &m, in, tg, mask, B, T) == 0);
    const char *src = getenv("RESTPG_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/llama_ref.py %s %s", src ? src : ".", case_path, out_path);
    int sys_rc = system(cmd);
    CHECK_MSG(sys_rc == 0, "%s failed (%d): the reference needs Debian's python3-torch", cmd, sys_rc);
    if (sys_rc) {
        llama_free(&m);
        return;
    }
    float loss = 0.0f;
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    CHECK_OK(llama_forward(&m, in, tg, mask, B, T, &loss, &e), &e);
    CHECK_OK(llama_backward(&m, 1.0f, &e), &e);
    size_t n = m.store.n_params;
    float *grads = malloc(sizeof(float) * n);
    CHECK_OK(params_state_download(&m.store, 'g', grads, &e), &e);
    double *ref = malloc(sizeof(double) * (1 + B * T + n));
    FILE *f = fopen(out_path, "rb");
    CHECK(f && fread(ref, sizeof(double), 1 + B * T + n, f) == 1 + B * T + n);
    if (f) fclose(f);
    double rel = fabs(loss - ref[0]) / fabs(ref[0]);
    double worst_tok = 0.0;
    for (int i = 0; i < B * T; i++) worst_tok = fmax(worst_tok, fabs(llama_token_losses(&m)[i] - ref[1 + i]));
    printf("%s parity: %d tensors, loss %.9f, reference %.9f, relative error %.3g (tolerance 1e-5); worst token "
           "loss error %.3g (1e-4)\n", name, m.store.n, loss, ref[0], rel, worst_tok);
    CHECK_MSG(rel <= 1e-5, "%s: loss %.9g vs reference %.9g", name, loss, ref[0]);
    CHECK(worst_tok <= 1e-4);
    const double *gref = ref + 1 + B * T;
    double worst_ratio = 0.0;
    int worst_k = 0;
    for (int k = 0; k < m.store.n; k++) {
        const ParamTensor *t = &m.store.t[k];
        double gmax = 0.0, err = 0.0;
        for (size_t i = 0; i < t->numel; i++) {
            gmax = fmax(gmax, fabs(gref[t->offset + i]));
            err = fmax(err, fabs(grads[t->offset + i] - gref[t->offset + i]));
        }
        double tol = 1e-4 * gmax + 1e-6;
        CHECK_MSG(err <= tol && gmax > 0.0, "%s tensor %s: gradient error %.3g > %.3g (max |g_ref| %.3g)", name,
                  m.info[k].gguf, err, tol, gmax);
        if (gmax > 0.0 && err / gmax > worst_ratio) worst_ratio = err / gmax, worst_k = k;
    }
    printf("%s parity: worst gradient error / max|g_ref| = %.3g (%s; tolerance 1e-4)\n", name, worst_ratio,
           m.info[worst_k].gguf);
    free(ref);
    free(grads);
    llama_free(&m);
}

/* Bitwise: two runs, 1 vs 2 threads; a sequence's losses alone equal its losses in the batch. */
static void test_determinism_and_independence(const char *name, LlamaConfig c) {
    enum { B = 3, T = 100 };
    Error e;
    Rng r;
    rng_seed(&r, 9);
    Llama m;
    CHECK_OK(llama_init(&m, &c, &e), &e);
    llama_fixture_params(&m, &r, 0.15, &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T], l[3];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    float *g[3];
    for (int run = 0; run < 3; run++) {
        kernels_set_threads(run == 2 ? 2 : 1);
        /* Plan after setting the threads: the attention workspace is per thread. */
        CHECK_OK(llama_plan(&m, B, T, &e), &e);
        CHECK_OK(params_zero_grad(&m.store, &e), &e);
        CHECK_OK(llama_forward(&m, in, tg, mask, B, T, &l[run], &e), &e);
        CHECK_OK(llama_backward(&m, 1.0f, &e), &e);
        g[run] = malloc(sizeof(float) * m.store.n_params);
        CHECK_OK(params_state_download(&m.store, 'g', g[run], &e), &e);
    }
    size_t bytes = sizeof(float) * m.store.n_params;
    CHECK_MSG(l[0] == l[1] && memcmp(g[0], g[1], bytes) == 0, "%s: two runs differ", name);
    CHECK_MSG(l[0] == l[2] && memcmp(g[0], g[2], bytes) == 0, "%s: 1 vs 2 threads differ", name);
    for (int run = 0; run < 3; run++) free(g[run]);
    float batch[B * T];
    memcpy(batch, llama_token_losses(&m), sizeof batch);
    CHECK_OK(llama_forward(&m, in + T, tg + T, mask + T, 1, T, NULL, &e), &e);
    CHECK_MSG(memcmp(batch + T, llama_token_losses(&m), sizeof(float) * T) == 0,
              "%s: a sequence's losses depend on the rest of the batch", name);
    kernels_set_threads(1);
    llama_free(&m);
}

/* Tensor k's name in the table of config c. */
static const char *name_of(const LlamaConfig *c, int k, int layer, int hf, char *buf, size_t n) {
    LlamaTensorInfo t[LLAMA_MAX_TENSORS];
    int count = llama_tensor_table(c, t);
    Error e;
    if (k >= count || llama_tensor_name(&t[k], layer, hf, buf, n, &e)) snprintf(buf, n, "?");
    return buf;
}

static void test_names_and_config(void) {
    Error e;
    char buf[128];
    LlamaTensorInfo t[LLAMA_MAX_TENSORS];
    LlamaConfig g = gemma3_tiny(), l3 = llama3_tiny(), lt = llama_tied_tiny(), q2 = qwen2_tiny(), q3 = qwen3_tiny();
    CHECK(llama_tensor_table(&g, t) == 15 && llama_tensor_table(&l3, t) == 12 && llama_tensor_table(&lt, t) == 11 &&
          llama_tensor_table(&q2, t) == 14 && llama_tensor_table(&q3, t) == 14);
    /* Gemma 3: its former table, in its former order. */
    CHECK_STR(name_of(&g, 2, 5, 0, buf, sizeof buf), "blk.5.attn_q.weight");
    CHECK_STR(name_of(&g, 9, 0, 1, buf, sizeof buf), "model.layers.0.pre_feedforward_layernorm.weight");
    CHECK_STR(name_of(&g, 8, 2, 1, buf, sizeof buf), "model.layers.2.post_attention_layernorm.weight");
    CHECK_STR(name_of(&g, 0, 3, 1, buf, sizeof buf), "model.embed_tokens.weight");
    CHECK_STR(name_of(&g, 14, 0, 0, buf, sizeof buf), "output_norm.weight");
    /* Without post norms HF's pre-MLP norm is post_attention_layernorm; the untied head lm_head. */
    CHECK_STR(name_of(&l3, 6, 1, 1, buf, sizeof buf), "model.layers.1.post_attention_layernorm.weight");
    CHECK_STR(name_of(&l3, 11, 0, 1, buf, sizeof buf), "lm_head.weight");
    CHECK_STR(name_of(&l3, 11, 0, 0, buf, sizeof buf), "output.weight");
    CHECK_STR(name_of(&q2, 3, 4, 1, buf, sizeof buf), "model.layers.4.self_attn.q_proj.bias");
    CHECK_STR(name_of(&q2, 7, 0, 0, buf, sizeof buf), "blk.0.attn_v.bias");
    CHECK_STR(name_of(&q3, 6, 2, 1, buf, sizeof buf), "model.layers.2.self_attn.k_norm.weight");
    llama_tensor_table(&g, t);
    CHECK(llama_tensor_name(&t[13], 17, 1, buf, 8, &e) == RP_EINTERNAL);

    LlamaConfig c = llama_config_gemma3_270m();
    CHECK_OK(llama_config_check(&c, &e), &e);
    CHECK(c.padded_vocab_size == 262144);
    int globals = 0;
    for (int l = 0; l < c.n_layer; l++) globals += llama_layer_is_global(&c, l);
    CHECK(globals == 3 && llama_layer_is_global(&c, 5) && !llama_layer_is_global(&c, 6));
    CHECK(llama_layer_is_global(&l3, 0) && llama_layer_is_global(&l3, 1));
    c.n_kv_head = 3;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'num_attention_heads'"));
    c = llama_config_gemma3_270m();
    c.head_dim = 255;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'head_dim'"));
    c = llama_config_gemma3_270m();
    c.rms_norm_eps = 0.0f;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'rms_norm_eps'"));
    c = llama_config_gemma3_270m();
    c.sliding_window = 0;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "Gemma 3 config: field 'sliding_window'"));
    c = llama3_tiny();
    c.sliding_window = 8;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "Llama config: field 'sliding_window'"));
    c = llama3_tiny();
    c.rope_high_freq_factor = 1.0;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'rope_scaling.high_freq_factor'"));
    c = llama3_tiny();
    c.rope_original_max_positions = 0;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT &&
          strstr(e.msg, "'rope_scaling.original_max_position_embeddings'"));
    c = qwen2_tiny();
    c.rope_scaling = ROPE_LINEAR;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "Qwen2 config: field 'rope_scaling.factor'"));
    c = qwen3_tiny();
    c.arch = ARCH_GPT2;
    CHECK(llama_config_check(&c, &e) == RP_EINPUT);
}

/* Input errors, and AdamW: with zero gradients a step changes only the decayed tensors (matrices
 * and embeddings, not norms or biases), each by the factor 1 - lr * weight_decay; with real
 * gradients a few steps lower the loss. */
static void test_errors_and_adamw(LlamaConfig c) {
    enum { B = 1, T = 30 };
    Error e;
    Rng r;
    rng_seed(&r, 3);
    Llama m;
    CHECK_OK(llama_init(&m, &c, &e), &e);
    CHECK_OK(llama_init_random(&m, 5, &e), &e);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    random_batch(&r, in, tg, mask, B * T, c.vocab_size);
    CHECK(llama_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINTERNAL); /* not planned */
    CHECK(llama_plan(&m, 1, 129, &e) == RP_EINPUT && strstr(e.msg, "max_position_embeddings"));
    CHECK_OK(llama_plan(&m, B, T, &e), &e);
    in[4] = 300;
    CHECK(llama_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'inputs' [0][4] = 300"));
    in[4] = 1;
    mask[2] = NAN;
    CHECK(llama_forward(&m, in, tg, mask, B, T, NULL, &e) == RP_EINPUT && strstr(e.msg, "'mask' [0][2]"));
    mask[2] = 1.0f;
    CHECK(llama_backward(&m, 1.0f, &e) == RP_EINTERNAL);

    /* After init_random norm weights are 1 - norm_offset and biases 0; give every vector a value
     * so "unchanged" is meaningful. */
    float *before = malloc(sizeof(float) * m.store.n_params), *after = malloc(sizeof(float) * m.store.n_params);
    CHECK_OK(params_state_download(&m.store, 'p', before, &e), &e);
    for (int k = 0; k < m.store.n; k++) {
        const ParamTensor *t = &m.store.t[k];
        int norm = m.info[k].kind == LLAMA_NORM, bias = m.info[k].kind == LLAMA_BIAS;
        for (size_t i = 0; i < t->numel; i++) {
            if (norm) CHECK(before[t->offset + i] == 1.0f - c.norm_offset);
            if (bias) CHECK(before[t->offset + i] == 0.0f);
            if (norm || bias) before[t->offset + i] = 0.25f;
        }
    }
    CHECK_OK(params_state_upload(&m.store, 'p', before, &e), &e);
    CHECK_OK(params_opt_reset(&m.store, &e), &e);
    CHECK_OK(params_zero_grad(&m.store, &e), &e);
    AdamW h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    double norm = -1.0;
    CHECK_OK(params_adamw(&m.store, &h, 1.0, 1, &norm, &e), &e);
    CHECK(norm == 0.0);
    CHECK_OK(params_state_download(&m.store, 'p', after, &e), &e);
    int bad = 0;
    for (int k = 0; k < m.store.n; k++) {
        const ParamTensor *t = &m.store.t[k];
        float f = m.info[k].decays ? 1.0f - h.lr * h.weight_decay : 1.0f;
        for (size_t i = 0; i < t->numel; i++)
            /* A few ulps: the update rounds p - lr * wd * p, the check p * (1 - lr * wd). */
            bad += fabsf(after[t->offset + i] - before[t->offset + i] * f) > 4e-7f * fabsf(before[t->offset + i]);
    }
    CHECK_MSG(bad == 0, "%d parameters moved other than by their decay", bad);
    float l0 = 0.0f, l1 = 0.0f;
    for (int step = 1; step <= 6; step++) {
        CHECK_OK(params_zero_grad(&m.store, &e), &e);
        CHECK_OK(llama_forward(&m, in, tg, mask, B, T, step == 1 ? &l0 : &l1, &e), &e);
        CHECK_OK(llama_backward(&m, 1.0f, &e), &e);
        CHECK_OK(params_adamw(&m.store, &h, 1.0, step + 1, &norm, &e), &e);
    }
    CHECK_MSG(l1 < l0, "AdamW steps did not lower the loss: %g -> %g", l0, l1);
    free(before);
    free(after);
    llama_free(&m);
}

int main(void) {
    kernels_set_threads(1);
    test_names_and_config();
    test_parity("gemma3", gemma3_tiny());
    test_parity("llama3", llama3_tiny());
    test_parity("llama", llama_tied_tiny());
    test_parity("qwen2", qwen2_tiny());
    test_parity("qwen3", qwen3_tiny());
    LlamaConfig g = gemma3_tiny();
    g.sliding_window = 40;
    test_determinism_and_independence("gemma3", g);
    test_determinism_and_independence("llama3", llama3_tiny());
    test_determinism_and_independence("qwen2", qwen2_tiny());
    test_errors_and_adamw(gemma3_tiny());
    test_errors_and_adamw(qwen2_tiny());
    test_errors_and_adamw(llama3_tiny());
    return test_summary("test_llama");
}
