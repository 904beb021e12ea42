/* The CUDA backend's table (kernels/cuda/backend_cuda.cu) against the CPU backend on whole
 * training steps: for a tiny random GPT-2, Gemma 3 (sliding layers), Llama (llama3 RoPE, untied
 * head), Qwen2 (q/k/v biases) and Qwen3 (q/k norms), the same parameters and batches give on the
 * CUDA backend the CPU's loss, token losses, logits, accumulated gradients (two micro-batches, the
 * second smaller than the plan), gradient norm and parameters after AdamW, within the tolerances
 * below; the state moves across backends (the CUDA model's parameters saved as a checkpoint,
 * loaded by a CPU model, give back the same bits, and the CPU model's loss on them is the CUDA
 * model's). Built twice: test_backend_cuda_emu over the SIMT emulation (no GPU needed), and
 * test_backend_cuda_gpu on a device (label gpu; skips with 77 when there is none).
 *
 * Tolerances (float rounding: other summation orders, FMA on the device): losses 2e-5 relative;
 * logits, gradients and the norm within 1e-4 of the reference's largest magnitude; parameters
 * after AdamW within lr/1000 wherever the gradient is at least 1e-3 of the largest, and within
 * two steps' reach (2 lr) elsewhere: AdamW divides each gradient by its own running RMS (plus
 * eps 1e-8), so a gradient near 0, whose rounding is a large share of it, can move its parameter
 * by a visibly different fraction of a step. The update itself is bitwise the CPU's
 * (test_cuda_emu). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/backend_cuda.h"
#include "core/h5.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "tests/train_fixture.h"

static Tokenizer *g_tok;       /* a small trained tokenizer the checkpoints carry */

/* A bf16 mixed-precision step (bf16 matmuls, tensor-core attention) against the CPU's fp32 one. bf16 keeps 8 significant bits (a
 * relative rounding of 2^-9 per operand), so the tolerances are those of the rounding spread
 * over the products' sums and four layers, not of float: losses 1e-3 relative, logits and
 * gradients 3e-2 of the largest magnitude (measured in the emulation: losses 1e-4, logits and
 * gradients 4e-3 to 1.6e-2; an fp32 product would be 1e-6). */
static void compare_bf16(const char *name, const StepOut *got, const StepOut *ref, size_t n, size_t Vp) {
    size_t rows = (size_t)B * T;
    double dl = fabs((double)got->loss[0] - ref->loss[0]) / fabs((double)ref->loss[0]);
    double eg = rel_max(got->logits, ref->logits, rows * Vp), ed = rel_max(got->grads, ref->grads, n);
    CHECK_MSG(dl <= 1e-3, "%s bf16: loss %.6f vs the CPU's fp32 %.6f", name, got->loss[0], ref->loss[0]);
    CHECK_MSG(eg <= 3e-2, "%s bf16: logits off by %.3g", name, eg);
    CHECK_MSG(ed <= 3e-2, "%s bf16: gradients off by %.3g", name, ed);
    printf("%s bf16 mixed precision: loss %.6f vs fp32 %.6f (%.2g), logits %.2g, gradients %.2g\n", name, got->loss[0],
           ref->loss[0], dl, eg, ed);
}

/* The optimizer state a step starts from: parameters and AdamW moments (m, v NULL: fresh). */
typedef struct {
    float *p, *m, *v;
} State;

/* Training step `step` of config c on the backend `device`, products in dt, from state in; out
 * gets what it produced, and next (if given) the state after it. */
static void run_step(ModelConfig c, const char *device, DType dt, const State *in, int step, StepOut *out, State *next,
                     Error *e) {
    CHECK_OK(backend_select(device, e), e);
    Model m;
    CHECK_OK(model_init(&m, &c, e), e);
    DType in_force;
    CHECK_OK(model_set_compute_dtype(&m, dt, &in_force, e), e);
    CHECK_OK(model_state_upload(&m, 'p', in->p, e), e);
    CHECK_OK(model_opt_reset(&m, e), e);
    if (in->m) {
        CHECK_OK(model_state_upload(&m, 'm', in->m, e), e);
        CHECK_OK(model_state_upload(&m, 'v', in->v, e), e);
    }
    CHECK_OK(model_plan(&m, B, T, e), e);
    train_step(&m, 100 + step, step, out, e);
    if (next) {
        size_t bytes = sizeof(float) * m.n_params;
        next->p = malloc(bytes), next->m = malloc(bytes), next->v = malloc(bytes);
        memcpy(next->p, out->params, bytes);
        CHECK_OK(model_state_download(&m, 'm', next->m, e), e);
        CHECK_OK(model_state_download(&m, 'v', next->v, e), e);
    }
    model_free(&m);
}

static void state_free(State *s) { free(s->p), free(s->m), free(s->v); }

/* A checkpoint written by a CUDA model after a training step, loaded by a CPU model: the same
 * parameter bits, and the CPU's loss on a batch is the CUDA model's within tolerance. The
 * config's vocabulary is the tokenizer's, which the checkpoint carries. */
static void check_across(ModelConfig c, Error *e) {
    if (c.arch == ARCH_GPT2) c.gpt2.vocab_size = tokenizer_vocab_size(g_tok);
    else c.llama.vocab_size = tokenizer_vocab_size(g_tok);
    CHECK_OK(model_config_check(&c, e), e);
    char path[] = "/tmp/restpg_backend_cudaXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    float loss[2];
    int32_t in[B * T], tg[B * T];
    float mask[B * T];
    float *p = NULL;
    Rng r;
    for (int k = 0; k < 2; k++) {
        CHECK_OK(backend_select(k ? "cpu" : "cuda", e), e);
        Model m;
        if (k == 0) {
            CHECK_OK(model_init(&m, &c, e), e);
            p = malloc(sizeof(float) * m.n_params);
            CHECK_OK(model_init_random(&m, 3, e), e);
            CHECK_OK(model_opt_reset(&m, e), e);
            CHECK_OK(model_plan(&m, B, T, e), e);
            StepOut o;
            train_step(&m, 5, 1, &o, e);
            step_out_free(&o);
            CheckpointMeta meta;
            checkpoint_meta_init(&meta);
            CHECK_OK(checkpoint_save(path, &m, g_tok, &meta, e), e);
            CHECK_OK(model_state_download(&m, 'p', p, e), e);
        } else {
            CheckpointMeta meta;
            Tokenizer *t = NULL; /* checkpoint_load initialises m from the file's config */
            CHECK_OK(checkpoint_load(path, &m, &t, &meta, e), e);
            tokenizer_free(t);
            float *q = malloc(sizeof(float) * m.n_params);
            CHECK_OK(model_state_download(&m, 'p', q, e), e);
            CHECK_MSG(!memcmp(p, q, sizeof(float) * m.n_params), "%s: a CUDA checkpoint loaded on the CPU changed",
                      model_arch_name(c.arch));
            free(q);
            CHECK_OK(model_plan(&m, B, T, e), e);
        }
        rng_seed(&r, 7);
        random_batch(&r, in, tg, mask, B * T, m.vocab_size);
        CHECK_OK(model_forward(&m, in, tg, mask, B, T, &loss[k], e), e);
        model_free(&m);
    }
    free(p);
    unlink(path);
    CHECK_MSG(fabs((double)loss[0] - loss[1]) <= 2e-5 * fabs((double)loss[1]), "%s: loss %.9g on cuda, %.9g on the cpu",
              model_arch_name(c.arch), loss[0], loss[1]);
    printf("%s: a checkpoint written on cuda loads on the cpu bit for bit; loss %.6f there, %.6f on cuda\n",
           model_arch_name(c.arch), loss[1], loss[0]);
}

static void test_arch(const char *name, ModelConfig c) {
    Error e;
    error_clear(&e);
    CHECK_OK(model_config_check(&c, &e), &e);
    CHECK_OK(backend_select("cpu", &e), &e);
    Model m;
    CHECK_OK(model_init(&m, &c, &e), &e);
    float *p0 = random_params(&m, &e);
    size_t n = m.n_params, Vp = (size_t)m.padded_vocab_size;
    model_free(&m);
    /* Each step starts both backends from the CPU's state after the previous one, so a step's
     * comparison measures that step's rounding only (AdamW would otherwise carry a near-zero
     * gradient's difference from step to step). */
    StepOut ref[2], got[2];
    State st[3] = {{p0, NULL, NULL}};
    char what[80];
    for (int s = 0; s < 2; s++) {
        run_step(c, "cpu", DTYPE_F32, &st[s], s + 1, &ref[s], &st[s + 1], &e);
        run_step(c, "cuda", DTYPE_F32, &st[s], s + 1, &got[s], NULL, &e);
        snprintf(what, sizeof what, "%s step %d", name, s + 1);
        step_compare(what, &got[s], &ref[s], n, Vp, (StepTol){2e-5, 1e-4, 1e-4, 1e-4, 1e-4});
    }
    /* Mixed precision: bf16 products against the CPU's fp32 step. */
    StepOut half;
    run_step(c, "cuda", DTYPE_BF16, &st[0], 1, &half, NULL, &e);
    compare_bf16(name, &half, &ref[0], n, Vp);
    step_out_free(&half);
    check_across(c, &e);
    for (int s = 0; s < 2; s++) step_out_free(&ref[s]), step_out_free(&got[s]);
    for (int s = 0; s < 3; s++) state_free(&st[s]);
}

int main(void) {
    Error e;
    error_clear(&e);
    kernels_set_threads(2);
    h5_init();
    backend_register(cuda_backend());
    if (backend_select("cuda", &e)) {
        printf("test_backend_cuda: skipped: %s\n", e.msg);
        return 77;
    }
    char *texts[] = {"the quick brown fox jumps over the lazy dog", "the lazy dog sleeps", "quick quick fox"};
    CHECK_OK(tokenizer_train(texts, 3, 300, &g_tok, &e), &e);
    test_arch("gpt2", gpt2_tiny());
    test_arch("gemma3", gemma3_tiny());
    test_arch("llama", llama_tiny());
    ModelConfig q2 = family_tiny(llama_config_qwen2());
    test_arch("qwen2", q2);
    test_arch("qwen3", family_tiny(llama_config_qwen3()));
    tokenizer_free(g_tok);
    return test_summary("test_backend_cuda");
}
