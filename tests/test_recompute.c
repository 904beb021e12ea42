/* Activation recomputation (model_set_recompute): for a tiny random GPT-2, Gemma 3, Llama (llama3
 * RoPE scaling, untied head) and Qwen3 (q/k norms) (several layers, B = 2, T = 37, a loss mask with zeros and a weight of 0.5), a model
 * planned with recomputation and one planned without give the same bits for the loss, the token
 * losses, the logits and the whole gradient state (two micro-batches accumulated, the second
 * smaller than the plan), the same gradient norm and parameters after AdamW steps; switching the
 * mode re-plans and changes no result; model_activation_bytes is smaller with recomputation for
 * several shapes and equals what model_plan allocates (counted by wrapping the backend's alloc).
 * The reference for "right" is the mode without recomputation, itself checked against finite
 * differences (test_gpt) and PyTorch (test_llama). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/model.h"
#include "tests/test.h"

/* ---- the CPU backend with its allocations counted ---- */
enum { MAX_LIVE = 256 };
static const BackendOps *g_cpu;
static BackendOps g_counting;
static struct {
    void *p;
    size_t bytes;
} g_live[MAX_LIVE];
static size_t g_live_bytes;

static int counting_alloc(size_t bytes, void **out, Error *e) {
    int rc = g_cpu->alloc(bytes, out, e);
    if (rc) return rc;
    for (int i = 0; i < MAX_LIVE; i++)
        if (!g_live[i].p) {
            g_live[i].p = *out, g_live[i].bytes = bytes;
            g_live_bytes += bytes;
            return RP_OK;
        }
    return error_set(e, RP_EINTERNAL, "test: more than %d live allocations", MAX_LIVE);
}

static void counting_free(void *p) {
    for (int i = 0; p && i < MAX_LIVE; i++)
        if (g_live[i].p == p) {
            g_live_bytes -= g_live[i].bytes;
            g_live[i].p = NULL;
        }
    g_cpu->free(p);
}

/* Every model of this test allocates through the counting table: the process's backend object is
 * not const (kernels/backend.c), only the pointer backend_get hands out. */
static void install_counting_backend(void) {
    Backend *be = (Backend *)backend_get();
    g_cpu = be->ops;
    g_counting = *g_cpu;
    g_counting.alloc = counting_alloc;
    g_counting.free = counting_free;
    be->ops = &g_counting;
}

/* ---- models and batches ---- */
enum { B = 2, T = 37, B2 = 1, T2 = 20 };

static ModelConfig gpt2_tiny(void) {
    return (ModelConfig){.arch = ARCH_GPT2,
                         .gpt2 = {.vocab_size = 67, .n_layer = 3, .n_head = 2, .n_embd = 32, .n_positions = 48}};
}

/* The family's sizes on variant v: 4 layers, grouped-query attention, head_dim != hidden / heads. */
static ModelConfig family_tiny(LlamaConfig v) {
    ModelConfig c = {.arch = v.arch, .llama = v};
    LlamaConfig *g = &c.llama;
    g->vocab_size = 300, g->hidden_size = 64, g->intermediate_size = 96, g->n_layer = 4, g->n_head = 4;
    g->n_kv_head = 2, g->head_dim = 32, g->max_positions = 64;
    return c;
}

/* Three sliding layers with a window shorter than T and one global layer. */
static ModelConfig gemma3_tiny(void) {
    ModelConfig c = family_tiny(llama_config_gemma3());
    c.llama.sliding_window = 24, c.llama.sliding_window_pattern = 4, c.llama.query_pre_attn_scalar = 24.0f;
    return c;
}

/* Llama 3.1's RoPE scaling and an untied LM head. */
static ModelConfig llama_tiny(void) {
    ModelConfig c = family_tiny(llama_config_llama());
    c.llama.tie_word_embeddings = 0, c.llama.rope_scaling = ROPE_LLAMA3, c.llama.rope_factor = 8.0;
    c.llama.rope_low_freq_factor = 1.0, c.llama.rope_high_freq_factor = 4.0, c.llama.rope_original_max_positions = 16;
    return c;
}

/* The architecture's initialisation plus N(0, 0.05) on every element (so norm weights and biases
 * are not 0 or 1), padding rows of the embedding left at 0: the same values for every call. */
static float *random_params(Model *m, Error *e) {
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

static void random_batch(Rng *r, int32_t *in, int32_t *tg, float *mask, int n, int V) {
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

static void step_out_free(StepOut *o) {
    free(o->losses), free(o->logits), free(o->grads), free(o->params);
    memset(o, 0, sizeof *o);
}

/* One step: micro-batch 1 (B x T, loss scale 0.6) and micro-batch 2 (B2 x T2, scale 0.4)
 * accumulated, then AdamW with clipping. Keeps the first batch's token losses and logits. */
static void train_step(Model *m, uint64_t seed, int step, StepOut *o, Error *e) {
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
    CHECK_OK(model_logits_download(m, 0, B * T, o->logits, e), e);
    CHECK_OK(model_backward(m, 0.6f, e), e);
    random_batch(&r, in, tg, mask, B2 * T2, m->vocab_size);
    CHECK_OK(model_forward(m, in, tg, mask, B2, T2, &o->loss[1], e), e);
    CHECK_OK(model_backward(m, 0.4f, e), e);
    CHECK_OK(model_state_download(m, 'g', o->grads, e), e);
    const AdamW h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};
    CHECK_OK(model_adamw_step(m, &h, 1.0, step, &o->norm, e), e);
    CHECK_OK(model_state_download(m, 'p', o->params, e), e);
}

static void check_same(const char *what, const StepOut *a, const StepOut *b, const Model *m) {
    size_t n = m->n_params, rows = (size_t)B * T;
    CHECK_MSG(!memcmp(a->loss, b->loss, sizeof a->loss), "%s: losses %.9g %.9g vs %.9g %.9g", what, a->loss[0],
              a->loss[1], b->loss[0], b->loss[1]);
    CHECK_MSG(!memcmp(a->losses, b->losses, sizeof(float) * rows), "%s: token losses differ", what);
    CHECK_MSG(!memcmp(a->logits, b->logits, sizeof(float) * rows * m->padded_vocab_size), "%s: logits differ", what);
    CHECK_MSG(!memcmp(a->grads, b->grads, sizeof(float) * n), "%s: gradients differ", what);
    CHECK_MSG(!memcmp(&a->norm, &b->norm, sizeof a->norm), "%s: gradient norms %.17g vs %.17g", what, a->norm, b->norm);
    CHECK_MSG(!memcmp(a->params, b->params, sizeof(float) * n), "%s: parameters after AdamW differ", what);
}

/* Plans m for (B, T) in mode `recompute` and checks the bytes it allocated (the change in live
 * bytes, plus those of the plan it replaced in mode `had`, -1 for none) against
 * model_activation_bytes. */
static void plan_counted(Model *m, int recompute, int had, Error *e) {
    ModelConfig c = model_config(m);
    size_t before = g_live_bytes - (had < 0 ? 0 : model_activation_bytes(&c, B, T, had));
    model_set_recompute(m, recompute);
    CHECK_OK(model_plan(m, B, T, e), e);
    size_t planned = g_live_bytes - before, want = model_activation_bytes(&c, B, T, recompute);
    CHECK_MSG(planned == want, "%s, recompute %d: model_plan allocated %zu bytes, model_activation_bytes says %zu",
              model_arch_name(c.arch), recompute, planned, want);
}

static void test_arch(ModelConfig c) {
    Error e;
    error_clear(&e);
    CHECK_OK(model_config_check(&c, &e), &e);
    Model m[2];
    float *p0 = NULL;
    for (int k = 0; k < 2; k++) {
        CHECK_OK(model_init(&m[k], &c, &e), &e);
        float *p = random_params(&m[k], &e);
        if (k == 0) p0 = p;
        else {
            CHECK(!memcmp(p, p0, sizeof(float) * m[k].n_params));
            free(p);
        }
        CHECK_OK(model_state_upload(&m[k], 'p', p0, &e), &e);
        CHECK_OK(model_opt_reset(&m[k], &e), &e);
        plan_counted(&m[k], k, -1, &e); /* m[0] off, m[1] recomputing */
    }
    free(p0);
    const char *arch = model_arch_name(c.arch);
    char what[64];
    for (int step = 1; step <= 2; step++) {
        StepOut o[2];
        for (int k = 0; k < 2; k++) train_step(&m[k], 100 + step, step, &o[k], &e);
        snprintf(what, sizeof what, "%s step %d", arch, step);
        check_same(what, &o[0], &o[1], &m[0]);
        printf("%s step %d: loss %.6f / %.6f, gradient norm %.6f, bitwise equal with and without recomputation\n", arch,
               step, o[0].loss[0], o[0].loss[1], o[0].norm);
        for (int k = 0; k < 2; k++) step_out_free(&o[k]);
    }
    /* The mode switched both ways: each plan reallocates (counted) and the models stay equal. */
    size_t live = g_live_bytes;
    plan_counted(&m[0], 1, 0, &e);
    plan_counted(&m[1], 0, 1, &e);
    CHECK(g_live_bytes == live);
    StepOut o[2];
    for (int k = 0; k < 2; k++) train_step(&m[k], 200, 3, &o[k], &e);
    snprintf(what, sizeof what, "%s after switching modes", arch);
    check_same(what, &o[0], &o[1], &m[0]);
    for (int k = 0; k < 2; k++) step_out_free(&o[k]);
    /* A plan of the same shape and mode keeps its buffers. */
    live = g_live_bytes;
    CHECK_OK(model_plan(&m[0], B, T, &e), &e);
    CHECK(g_live_bytes == live);
    for (int k = 0; k < 2; k++) model_free(&m[k]);
}

/* Recomputation saves memory at every shape, by all but one layer's buffers. */
static void test_bytes(void) {
    Error e;
    ModelConfig g124 = {.arch = ARCH_GPT2,
                        .gpt2 = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024}};
    ModelConfig g270 = {.arch = ARCH_GEMMA3, .llama = llama_config_gemma3_270m()};
    ModelConfig cs[6] = {gpt2_tiny(), gemma3_tiny(), g124, g270, llama_tiny(), family_tiny(llama_config_qwen3())};
    const int shapes[4][2] = {{1, 1}, {1, 37}, {2, 48}, {4, 256}};
    for (int i = 0; i < 6; i++) {
        CHECK_OK(model_config_check(&cs[i], &e), &e);
        for (int s = 0; s < 4; s++) {
            size_t off = model_activation_bytes(&cs[i], shapes[s][0], shapes[s][1], 0);
            size_t on = model_activation_bytes(&cs[i], shapes[s][0], shapes[s][1], 1);
            CHECK_MSG(on < off, "%s at %d x %d: %zu bytes with recomputation, %zu without", model_arch_name(cs[i].arch),
                      shapes[s][0], shapes[s][1], on, off);
        }
    }
    size_t off = model_activation_bytes(&g270, 1, 256, 0), on = model_activation_bytes(&g270, 1, 256, 1);
    printf("gemma3 270M at 1 x 256: %.1f MiB of activations, %.1f MiB with recomputation\n", off / 1048576.0,
           on / 1048576.0);
}

int main(void) {
    kernels_set_threads(2);
    install_counting_backend();
    test_arch(gpt2_tiny());
    test_arch(gemma3_tiny());
    test_arch(llama_tiny());
    test_arch(family_tiny(llama_config_qwen3()));
    test_bytes();
    return test_summary("test_recompute");
}
