/* Tiny models and one training step for the tests that compare two ways of training the same
 * model (test_recompute: with and without recomputation; test_backend_cuda: the CPU and the CUDA
 * backend): the configurations, random parameters, random batches with a loss mask, and a step
 * of two accumulated micro-batches and AdamW with clipping, keeping what it produced; the
 * comparisons two such steps share. test_vocab_chunk and test_backend_cuda_chunk compare the loss
 * chunked over the vocabulary with the whole one. */
#ifndef RESTPG_TESTS_TRAIN_FIXTURE_H
#define RESTPG_TESTS_TRAIN_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/llama.h"
#include "model/model.h"
#include "tests/test.h"

enum { B = 2, T = 37, B2 = 1, T2 = 20 };

/* The learning rate of train_step's AdamW. */
#define TRAIN_FIXTURE_LR 1e-3f

static inline ModelConfig gpt2_tiny(void) {
    return (ModelConfig){.arch = ARCH_GPT2,
                         .gpt2 = {.vocab_size = 67, .n_layer = 3, .n_head = 2, .n_embd = 32, .n_positions = 48}};
}

/* The family's sizes on variant v: 4 layers, grouped-query attention, head_dim != hidden / heads. */
static inline ModelConfig family_tiny(LlamaConfig v) {
    ModelConfig c = {.arch = v.arch, .llama = v};
    LlamaConfig *g = &c.llama;
    g->vocab_size = 300, g->hidden_size = 64, g->intermediate_size = 96, g->n_layer = 4, g->n_head = 4;
    g->n_kv_head = 2, g->head_dim = 32, g->max_positions = 64;
    return c;
}

/* Three sliding layers with a window shorter than T and one global layer. */
static inline ModelConfig gemma3_tiny(void) {
    ModelConfig c = family_tiny(llama_config_gemma3());
    c.llama.sliding_window = 24, c.llama.sliding_window_pattern = 4, c.llama.query_pre_attn_scalar = 24.0f;
    return c;
}

/* Llama 3.1's RoPE scaling and an untied LM head. */
static inline ModelConfig llama_tiny(void) {
    ModelConfig c = family_tiny(llama_config_llama());
    c.llama.tie_word_embeddings = 0, c.llama.rope_scaling = ROPE_LLAMA3, c.llama.rope_factor = 8.0;
    c.llama.rope_low_freq_factor = 1.0, c.llama.rope_high_freq_factor = 4.0, c.llama.rope_original_max_positions = 16;
    return c;
}

/* The architecture's initialisation plus N(0, 0.05) on every element (so norm weights and biases
 * are not 0 or 1), padding rows of the embedding left at 0: the same values for every call. */
static inline float *random_params(Model *m, Error *e) {
    CHECK_OK(model_init_random(m, 11, e), e);
    float *p = malloc(sizeof(float) * m->n_params);
    CHECK_OK(model_state_download(m, 'p', p, e), e);
    Rng r;
    rng_seed(&r, 5);
    const ParamTensor *emb = model_tensor(m, 0);
    for (size_t i = 0; i < m->n_params; i++)
        if (i >= emb->numel || i / emb->dims[1] < (size_t)m->vocab_size) p[i] += 0.05f * (float)rng_normal(&r);
    return p;
}

static inline void random_batch(Rng *r, int32_t *in, int32_t *tg, float *mask, int n, int V) {
    for (int i = 0; i < n; i++) {
        in[i] = (int32_t)(rng_next(r) % (uint64_t)V);
        mask[i] = i % 7 == 3 ? 0.0f : i % 11 == 5 ? 0.5f : 1.0f;
        tg[i] = mask[i] != 0.0f ? (int32_t)(rng_next(r) % (uint64_t)V) : -1;
    }
}

/* What one training step of a model produced, for a bitwise comparison. */
typedef struct {
    float loss[2];
    float *losses, *logits, *grads, *params;
    double norm;
} StepOut;

static inline void step_out_free(StepOut *o) {
    free(o->losses), free(o->logits), free(o->grads), free(o->params);
    memset(o, 0, sizeof *o);
}

/* One step: micro-batch 1 (B x T, loss scale 0.6) and micro-batch 2 (B2 x T2, scale 0.4)
 * accumulated, then AdamW with clipping. Keeps the first batch's token losses and, with
 * keep_logits (a model whose loss is not chunked over the vocabulary), its logits. */
static inline void train_step_logits(Model *m, uint64_t seed, int step, StepOut *o, int keep_logits, Error *e) {
    Rng r;
    rng_seed(&r, seed);
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    size_t Vp = (size_t)m->padded_vocab_size;
    memset(o, 0, sizeof *o);
    o->losses = malloc(sizeof(float) * B * T);
    o->logits = malloc(sizeof(float) * B * T * Vp);
    o->grads = malloc(sizeof(float) * m->n_params);
    o->params = malloc(sizeof(float) * m->n_params);
    CHECK_OK(model_zero_grad(m, e), e);
    random_batch(&r, in, tg, mask, B * T, m->vocab_size);
    CHECK_OK(model_forward(m, in, tg, mask, B, T, &o->loss[0], e), e);
    memcpy(o->losses, model_token_losses(m), sizeof(float) * B * T);
    if (keep_logits) CHECK_OK(model_logits_download(m, 0, B * T, o->logits, e), e);
    CHECK_OK(model_backward(m, 0.6f, e), e);
    random_batch(&r, in, tg, mask, B2 * T2, m->vocab_size);
    CHECK_OK(model_forward(m, in, tg, mask, B2, T2, &o->loss[1], e), e);
    CHECK_OK(model_backward(m, 0.4f, e), e);
    CHECK_OK(model_state_download(m, 'g', o->grads, e), e);
    const AdamW h = {TRAIN_FIXTURE_LR, 0.9f, 0.95f, 1e-8f, 0.1f};
    CHECK_OK(model_adamw_step(m, &h, 1.0, step, &o->norm, e), e);
    CHECK_OK(model_state_download(m, 'p', o->params, e), e);
}

static inline void train_step(Model *m, uint64_t seed, int step, StepOut *o, Error *e) {
    train_step_logits(m, seed, step, o, 1, e);
}

/* max |a - b| / max(max |b|, tiny) over n (these two are inline: not every test uses them). */
static inline double rel_max(const float *a, const float *b, size_t n) {
    double d = 0.0, r = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - b[i]);
        if (!(x <= d)) d = x; /* NaN propagates */
        if (fabs((double)b[i]) > r) r = fabs((double)b[i]);
    }
    return d / r;
}

/* Parameters after AdamW: elements whose reference gradient is at least 1e-3 of the largest,
 * farther apart than tol; *worst gets the largest difference of any element. */
static inline size_t params_off(const StepOut *got, const StepOut *ref, size_t n, double tol, double *worst) {
    double gmax = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)ref->grads[i]) > gmax) gmax = fabs((double)ref->grads[i]);
    size_t off = 0;
    *worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got->params[i] - ref->params[i]);
        if (!(d <= *worst)) *worst = d;
        if (fabs((double)ref->grads[i]) >= 1e-3 * gmax && !(d <= tol)) off++;
    }
    return off;
}

/* Relative tolerances of step_compare (logits 0: not compared). */
typedef struct {
    double loss, token, logits, grad, norm;
} StepTol;

/* One step against a reference step (train_step's outputs): the two losses, the token losses, the
 * logits (rows x Vp, when tol.logits > 0), the gradients and their norm within tol; the parameters
 * after AdamW within lr/1000 wherever the gradient matters and within two learning rates anywhere.
 * Prints the worst errors. */
static inline void step_compare(const char *what, const StepOut *got, const StepOut *ref, size_t n, size_t Vp,
                                StepTol tol) {
    size_t rows = (size_t)B * T;
    for (int i = 0; i < 2; i++) {
        double d = fabs((double)got->loss[i] - ref->loss[i]) / fabs((double)ref->loss[i]);
        CHECK_MSG(d <= tol.loss, "%s: loss %d %.9g vs the reference's %.9g", what, i, got->loss[i], ref->loss[i]);
    }
    double el = rel_max(got->losses, ref->losses, rows);
    double eg = tol.logits > 0 ? rel_max(got->logits, ref->logits, rows * Vp) : 0.0;
    double ed = rel_max(got->grads, ref->grads, n), en = fabs(got->norm - ref->norm) / ref->norm, ep;
    CHECK_MSG(el <= tol.token, "%s: token losses off by %.3g", what, el);
    CHECK_MSG(tol.logits <= 0 || eg <= tol.logits, "%s: logits off by %.3g", what, eg);
    CHECK_MSG(ed <= tol.grad, "%s: gradients off by %.3g", what, ed);
    CHECK_MSG(en <= tol.norm, "%s: gradient norm %.9g vs %.9g", what, got->norm, ref->norm);
    size_t off = params_off(got, ref, n, TRAIN_FIXTURE_LR * 1e-3, &ep);
    CHECK_MSG(off == 0, "%s: %zu parameters with gradients above 1e-3 of the largest off by more than lr/1000", what,
              off);
    CHECK_MSG(ep <= 2.0 * TRAIN_FIXTURE_LR, "%s: a parameter off by %.3g after AdamW, beyond two steps' reach", what, ep);
    printf("%s: loss %.6f vs %.6f; worst token loss %.2g, logit %.2g, gradient %.2g, norm %.2g; parameters within "
           "lr/1000 where the gradient matters, worst anywhere %.2g\n",
           what, got->loss[0], ref->loss[0], el, eg, ed, en, ep);
}

#endif
