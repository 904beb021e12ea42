/* The loss chunked over the vocabulary on the CUDA backend (kernels/cuda/backend_cuda.cu's
 * crossentropy_chunk_* slots under model/vocab_chunk.c) against the CPU backend's whole-vocabulary
 * step, the reference: for tiny random GPT-2, Gemma 3 (tied head) and Llama (untied head) with 300
 * tokens (Vp 384), chunks of 128 (three, the last of 44 columns) and 200 (rounded to 256: two),
 * one training step from the same state (two micro-batches accumulated, the second smaller than
 * the plan, a loss mask with zeros and weights 0.5) gives the CPU's loss, token losses, gradients,
 * gradient norm and parameters after AdamW within test_backend_cuda's tolerances (losses 2e-5
 * relative; token losses, gradients and the norm 1e-4 of the largest; parameters lr/1000 where the
 * gradient is at least 1e-3 of the largest, two steps' reach elsewhere). And on cuda,
 * vocab_chunk auto is MODEL_VOCAB_CHUNK_DEVICE. Built twice: test_backend_cuda_chunk_emu over the
 * SIMT emulation, test_backend_cuda_chunk_gpu on a device (label gpu; 77 without one). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/backend_cuda.h"
#include "tests/train_fixture.h"


/* One step of config c from parameters p on `device`, the loss chunked by `chunk` columns. */
static void run_step(ModelConfig c, const char *device, const float *p, int chunk, StepOut *out, Error *e) {
    CHECK_OK(backend_select(device, e), e);
    Model m;
    CHECK_OK(model_init(&m, &c, e), e);
    CHECK_OK(model_state_upload(&m, 'p', p, e), e);
    CHECK_OK(model_opt_reset(&m, e), e);
    model_set_vocab_chunk(&m, chunk);
    CHECK_OK(model_plan(&m, B, T, e), e);
    train_step_logits(&m, 101, 1, out, chunk == 0, e);
    model_free(&m);
}

static void test_arch(ModelConfig c) {
    Error e;
    error_clear(&e);
    if (c.arch == ARCH_GPT2) c.gpt2.vocab_size = 300;
    else c.llama.vocab_size = 300;
    CHECK_OK(model_config_check(&c, &e), &e);
    CHECK_OK(backend_select("cpu", &e), &e);
    Model m;
    CHECK_OK(model_init(&m, &c, &e), &e);
    float *p0 = random_params(&m, &e);
    size_t n = m.n_params;
    model_free(&m);
    StepOut ref;
    run_step(c, "cpu", p0, 0, &ref, &e);
    const int chunks[2] = {128, 200};
    for (int k = 0; k < 2; k++) {
        StepOut got;
        run_step(c, "cuda", p0, chunks[k], &got, &e);
        char what[80];
        snprintf(what, sizeof what, "%s on cuda, chunk %d", model_arch_name(c.arch), chunks[k]);
        step_compare(what, &got, &ref, n, 0, (StepTol){2e-5, 1e-4, 0, 1e-4, 1e-4});
        step_out_free(&got);
    }
    step_out_free(&ref);
    free(p0);
}

int main(void) {
    Error e;
    error_clear(&e);
    kernels_set_threads(2);
    backend_register(cuda_backend());
    if (backend_select("cuda", &e)) {
        printf("test_backend_cuda_chunk: skipped: %s\n", e.msg);
        return 77;
    }
    int cols = 0;
    CHECK_OK(model_vocab_chunk_parse("auto", &cols, &e), &e);
    CHECK(cols == MODEL_VOCAB_CHUNK_DEVICE);
    test_arch(gpt2_tiny());
    test_arch(gemma3_tiny());
    test_arch(llama_tiny());
    return test_summary("test_backend_cuda_chunk");
}
