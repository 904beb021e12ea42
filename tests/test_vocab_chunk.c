/* The LM head's loss chunked over the vocabulary (model_set_vocab_chunk, model/vocab_chunk.c) on
 * the CPU against the whole-vocabulary path, the reference (itself checked against finite
 * differences in test_gpt and PyTorch in test_llama). For tiny random GPT-2, Gemma 3 (tied head),
 * Llama (untied head) and Qwen3 with 300 tokens (Vp 384) and chunks of 128 (three chunks, the
 * last of 44 columns: divides Vp, not V) and 200 (rounded up to 256: two chunks, dividing neither
 * V nor Vp), one training step from the same state (two micro-batches accumulated, the second
 * smaller than the plan, a loss mask with zeros and weights 0.5, so the backward packs the rows
 * that carry loss) and a step where every row carries loss (no packing) give:
 *   the loss within 1e-6 relative, the token losses within 1e-6 of the largest, the gradients
 *   and their norm within 1e-5 of the largest, the parameters after AdamW within lr/1000 where
 *   the gradient is at least 1e-3 of the largest (and two steps' reach elsewhere), as
 *   test_backend_cuda measures a step done in other summation orders;
 * a chunk covering the vocabulary (384) is the whole path, bit for bit; model_logits_download
 * refuses a chunked plan (RP_EINPUT); model_activation_bytes counts [N, chunk + 3] floats instead
 * of [N, Vp]; model_vocab_chunk_parse reads auto, counts and bad values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ops.h"
#include "tests/test.h"
#include "tests/train_fixture.h"


/* A model of config c from parameters p, its loss chunked by `chunk` columns, planned for B x T. */
static void model_at(Model *m, const ModelConfig *c, const float *p, int chunk, Error *e) {
    CHECK_OK(model_init(m, c, e), e);
    CHECK_OK(model_state_upload(m, 'p', p, e), e);
    CHECK_OK(model_opt_reset(m, e), e);
    model_set_vocab_chunk(m, chunk);
    CHECK_OK(model_plan(m, B, T, e), e);
}

/* Forward and backward of one batch in which every row carries loss (mask NULL), from
 * parameters p: the backward runs on the rows as they are, unpacked. Keeps the loss, token
 * losses and gradients. */
static void full_step(Model *m, const float *p, StepOut *o, Error *e) {
    Rng r;
    rng_seed(&r, 77);
    int32_t in[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)(rng_next(&r) % (uint64_t)m->vocab_size);
        tg[i] = (int32_t)(rng_next(&r) % (uint64_t)m->vocab_size);
    }
    memset(o, 0, sizeof *o);
    CHECK_OK(model_state_upload(m, 'p', p, e), e);
    o->losses = malloc(sizeof(float) * B * T);
    o->grads = malloc(sizeof(float) * m->n_params);
    CHECK_OK(model_zero_grad(m, e), e);
    CHECK_OK(model_forward(m, in, tg, NULL, B, T, &o->loss[0], e), e);
    memcpy(o->losses, model_token_losses(m), sizeof(float) * B * T);
    CHECK_OK(model_backward(m, 1.0f, e), e);
    CHECK_OK(model_state_download(m, 'g', o->grads, e), e);
}

static void test_arch(ModelConfig c) {
    Error e;
    error_clear(&e);
    if (c.arch == ARCH_GPT2) c.gpt2.vocab_size = 300;
    else c.llama.vocab_size = 300;
    CHECK_OK(model_config_check(&c, &e), &e);
    const char *arch = model_arch_name(c.arch);
    Model whole;
    CHECK_OK(model_init(&whole, &c, &e), &e);
    float *p0 = random_params(&whole, &e);
    size_t n = whole.n_params;
    model_free(&whole);
    model_at(&whole, &c, p0, 0, &e);
    StepOut ref, ref_full;
    train_step_logits(&whole, 101, 1, &ref, 1, &e);
    full_step(&whole, p0, &ref_full, &e);
    model_free(&whole);
    const int chunks[2] = {128, 200};
    char what[96];
    for (int k = 0; k < 2; k++) {
        Model m;
        model_at(&m, &c, p0, chunks[k], &e);
        StepOut got, got_full;
        train_step_logits(&m, 101, 1, &got, 0, &e);
        snprintf(what, sizeof what, "%s, chunk %d, masked rows", arch, chunks[k]);
        step_compare(what, &got, &ref, n, 0, (StepTol){1e-6, 1e-6, 0, 1e-5, 1e-5});
        full_step(&m, p0, &got_full, &e);
        double dl = fabs((double)got_full.loss[0] - ref_full.loss[0]) / fabs((double)ref_full.loss[0]);
        double el = rel_max(got_full.losses, ref_full.losses, (size_t)B * T);
        double ed = rel_max(got_full.grads, ref_full.grads, n);
        CHECK_MSG(dl <= 1e-6 && el <= 1e-6 && ed <= 1e-5, "%s, chunk %d, every row: loss %.3g, token losses %.3g, "
                  "gradients %.3g off", arch, chunks[k], dl, el, ed);
        printf("%s, chunk %d, every row: loss %.2g, token losses %.2g, gradients %.2g off\n", arch, chunks[k], dl, el, ed);
        /* No whole logits in a chunked plan. */
        float row[384];
        CHECK(model_logits_download(&m, 0, 1, row, &e) == RP_EINPUT);
        step_out_free(&got), step_out_free(&got_full);
        model_free(&m);
    }
    /* A chunk of 384 covers the 300 columns: the whole path, the same bits (logits too). */
    Model m;
    model_at(&m, &c, p0, 384, &e);
    StepOut same;
    train_step_logits(&m, 101, 1, &same, 1, &e);
    CHECK_MSG(!memcmp(same.loss, ref.loss, sizeof ref.loss) &&
                  !memcmp(same.logits, ref.logits, sizeof(float) * B * T * m.padded_vocab_size) &&
                  !memcmp(same.grads, ref.grads, sizeof(float) * n) && !memcmp(same.params, ref.params, sizeof(float) * n),
              "%s: a chunk covering the vocabulary changed a bit", arch);
    step_out_free(&same), step_out_free(&ref), step_out_free(&ref_full);
    model_free(&m);
    free(p0);
}

/* The plan counts [N, chunk + 3] floats for the head where the whole path counts [N, Vp]. */
static void test_bytes(void) {
    Error e;
    ModelConfig g270 = {.arch = ARCH_GEMMA3, .llama = llama_config_gemma3_270m()};
    ModelConfig g124 = {.arch = ARCH_GPT2,
                        .gpt2 = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024}};
    ModelConfig cs[2] = {g270, g124};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(model_config_check(&cs[i], &e), &e);
        int V = model_arch_is_llama(cs[i].arch) ? cs[i].llama.vocab_size : cs[i].gpt2.vocab_size;
        size_t Vp = (size_t)(V + 127) / 128 * 128, rows = 4 * 256;
        for (int rc = 0; rc < 2; rc++) {
            size_t whole = model_activation_bytes(&cs[i], 4, 256, rc, 0);
            size_t chunked = model_activation_bytes(&cs[i], 4, 256, rc, 32768);
            CHECK_MSG(whole - chunked == rows * (Vp - (32768 + 3)) * sizeof(float),
                      "%s: %zu bytes whole, %zu chunked", model_arch_name(cs[i].arch), whole, chunked);
            CHECK(model_activation_bytes(&cs[i], 4, 256, rc, (int)Vp) == whole);
            if (!rc)
                printf("%s at 4 x 256: %.1f MiB of activations, %.1f MiB with the loss in chunks of 32768\n",
                       model_arch_name(cs[i].arch), whole / 1048576.0, chunked / 1048576.0);
        }
    }
}

static void test_parse(void) {
    Error e;
    int cols = -1;
    CHECK_OK(model_vocab_chunk_parse("auto", &cols, &e), &e);
    CHECK(cols == 0); /* the cpu backend */
    const char *ok[4] = {"0", "1", "128", "32769"};
    const int want[4] = {0, 128, 128, 32896};
    for (int i = 0; i < 4; i++) {
        CHECK_OK(model_vocab_chunk_parse(ok[i], &cols, &e), &e);
        CHECK_MSG(cols == want[i], "'%s' -> %d", ok[i], cols);
    }
    const char *bad[4] = {"", "-1", "12x", "99999999999"};
    for (int i = 0; i < 4; i++) {
        CHECK(model_vocab_chunk_parse(bad[i], &cols, &e) == RP_EINPUT);
        CHECK(strstr(e.msg, "vocab_chunk") != NULL);
    }
}

int main(void) {
    kernels_set_threads(2);
    test_arch(gpt2_tiny());
    test_arch(gemma3_tiny());
    test_arch(llama_tiny());
    test_arch(family_tiny(llama_config_qwen3()));
    test_bytes();
    test_parse();
    return test_summary("test_vocab_chunk");
}
