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
#include "tests/train_fixture.h"

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
    size_t before = g_live_bytes - (had < 0 ? 0 : model_activation_bytes(&c, B, T, had, 0));
    model_set_recompute(m, recompute);
    CHECK_OK(model_plan(m, B, T, e), e);
    size_t planned = g_live_bytes - before, want = model_activation_bytes(&c, B, T, recompute, 0);
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
            size_t off = model_activation_bytes(&cs[i], shapes[s][0], shapes[s][1], 0, 0);
            size_t on = model_activation_bytes(&cs[i], shapes[s][0], shapes[s][1], 1, 0);
            CHECK_MSG(on < off, "%s at %d x %d: %zu bytes with recomputation, %zu without", model_arch_name(cs[i].arch),
                      shapes[s][0], shapes[s][1], on, off);
        }
    }
    size_t off = model_activation_bytes(&g270, 1, 256, 0, 0), on = model_activation_bytes(&g270, 1, 256, 1, 0);
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
