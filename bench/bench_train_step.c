/* Benchmark: one full training step (zero grads, forward, backward, global grad norm, AdamW) of
 * GPT-2 124M (d=768, 12 layers, 12 heads, V=50257) at B=4 with T=64 and T=256, of a tiny GPT, and
 * (shape gemma3-270m:T) of Gemma 3 270M, (llama3.2-1b:T) of Llama 3.2 1B and (qwen3-0.6b:T) of
 * Qwen3 0.6B at B=1 (their published configs; the last two need 20 and 10 GB for training state),
 * on 1 and 2 threads; weights are random.
 *
 * MFU here is model FLOPs/s (model_flops_per_token: 6 x matmul params + 12 L C T per token) divided by
 * the sgemm rate of this machine at the same thread count, measured in the same run just before
 * and just after the steps (a 2048^3 sgemm through OpenBLAS's own threading); the machine may be
 * shared, so both sgemm figures are printed and the larger is the denominator (noise from other
 * users lowers one of them; taking the larger never flatters the MFU).
 * On a GPU (--device cuda, CUDA builds) the products run in --dtype (bf16: mixed precision) and the
 * MFU's denominator is --peak-tflops, the device's nominal dense bf16 peak (989 for H100/H200
 * SXM; bench_cuda measures what cuBLASLt reaches on it); the thread counts then only size the
 * host's share.
 * Usage: bench_train_step [--threads 1,2] [--shapes tiny,124M:64,124M:256,gemma3-270m:256,llama3.2-1b:64] [--steps N]
 *        [--recompute] (activations recomputed per layer in the backward; activation_mb counts that plan)
 *        [--vocab-chunk 0,32768] (the loss chunked over the vocabulary by each value in turn, 0 = whole
 *        logits: a line per value, so activation_mb and ms_per_step compare chunked and whole)
 *        [--device cpu|cuda] [--dtype fp32|bf16] [--peak-tflops X] [--batch B]
 * Prints one JSON line per (shape, thread count). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/args.h"
#include "core/log.h"
#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/model.h"
#ifdef RESTPG_WITH_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

/* GFLOP/s of a 2048 x 2048 x 2048 sgemm at the current OpenBLAS thread count (median of 5). */
static double sgemm_rate(void) {
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = (float)(i % 97) * 1e-3f, b[i] = (float)(i % 89) * 1e-3f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double r[5];
    for (int k = 0; k < 5; k++) {
        double t = time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        r[k] = 2.0 * n * n * n / (time_now() - t) * 1e-9;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (r[j] < r[i]) {
                double x = r[i];
                r[i] = r[j], r[j] = x;
            }
    free(a), free(b), free(c);
    return r[2];
}

typedef struct {
    const char *name;
    ModelConfig cfg;
    int B, T;
    int recompute; /* activations recomputed per layer in the backward (model_set_recompute) */
    int vocab_chunk; /* vocabulary columns per loss chunk (model_set_vocab_chunk), 0: whole */
} Shape;

typedef struct {
    double fwd, bwd, opt;
} Phases;

static int train_step(Model *m, const int32_t *in, const int32_t *tg, int B, int T, int step, Phases *ph, float *loss,
                      Error *e) {
    double t0 = time_now();
    int rc = model_zero_grad(m, e);
    if (!rc) rc = model_forward(m, in, tg, NULL, B, T, loss, e);
    double t1 = time_now();
    if (!rc) rc = model_backward(m, 1.0f, e);
    if (rc) return rc;
    double t2 = time_now();
    double norm = 0;
    const AdamW h = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f};
    if ((rc = model_adamw_step(m, &h, 1.0, step, &norm, e))) return rc;
    double t3 = time_now();
    ph->fwd += t1 - t0, ph->bwd += t2 - t1, ph->opt += t3 - t2;
    return RP_OK;
}

/* The device side of a run: on a GPU the MFU's denominator is the nominal peak. */
typedef struct {
    int cuda;
    DType dtype;
    double peak_tflops;
} Device;

static int run_shape(const Shape *s, int threads, int steps, const Device *dev, Error *e) {
    backend_get()->ops->set_threads(threads);
    Model m;
    int rc = model_init(&m, &s->cfg, e);
    if (rc) return rc;
    DType dt = DTYPE_F32;
    if ((rc = model_set_compute_dtype(&m, dev->dtype, &dt, e))) {
        model_free(&m);
        return rc;
    }
    model_set_recompute(&m, s->recompute);
    model_set_vocab_chunk(&m, s->vocab_chunk);
    if (!(rc = model_init_random(&m, 1, e)) && !(rc = model_opt_reset(&m, e))) rc = model_plan(&m, s->B, s->T, e);
    int32_t *in = malloc(sizeof(int32_t) * s->B * s->T), *tg = malloc(sizeof(int32_t) * s->B * s->T);
    if (!rc && (!in || !tg)) rc = error_set(e, RP_ENOMEM, "bench: out of memory");
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; !rc && i < s->B * s->T; i++) {
        in[i] = (int32_t)(rng_next(&r) % (uint64_t)m.vocab_size);
        tg[i] = (int32_t)(rng_next(&r) % (uint64_t)m.vocab_size);
    }
    Phases warm = {0}, ph = {0};
    float loss = 0.0f;
    double sg0 = 0.0, sg1 = 0.0, secs = 0.0;
    int done = 0;
    if (!rc) rc = train_step(&m, in, tg, s->B, s->T, 1, &warm, &loss, e);
    if (!rc) {
        if (!dev->cuda) sg0 = sgemm_rate();
        double t0 = time_now();
        /* At least `steps` steps, and at least half a second for shapes whose steps are short. */
        while (!rc && (done < steps || time_now() - t0 < 0.5)) rc = train_step(&m, in, tg, s->B, s->T, 2 + done++, &ph, &loss, e);
        secs = time_now() - t0;
        if (!dev->cuda) sg1 = sgemm_rate();
    }
    if (!rc) {
        double per = secs / done, tokens = (double)s->B * s->T;
        double model_gflop = model_flops_per_token(&s->cfg, s->T) * tokens * 1e-9;
        double sg = dev->cuda ? dev->peak_tflops * 1e3 : sg0 > sg1 ? sg0 : sg1;
        printf("{\"bench\":\"train_step\",\"device\":\"%s\",\"dtype\":\"%s\",\"peak_gflops\":%.1f,", dev->cuda ? "cuda" : "cpu",
               model_dtype_name(dt), sg);
        printf("\"shape\":\"%s\",\"B\":%d,\"T\":%d,\"recompute\":%d,\"vocab_chunk\":%d,\"threads\":%d,\"params\":%zu,"
               "\"steps\":%d,\"ms_per_step\":%.1f,\"tokens_per_s\":%.1f,\"fwd_ms\":%.1f,\"bwd_ms\":%.1f,"
               "\"opt_ms\":%.1f,\"model_gflop_per_step\":%.2f,\"achieved_gflops\":%.1f,\"sgemm_gflops_before\":%.1f,"
               "\"sgemm_gflops_after\":%.1f,\"mfu\":%.3f,\"activation_mb\":%.1f,\"loss\":%.4f}\n",
               s->name, s->B, s->T, s->recompute, s->vocab_chunk, threads, m.n_params, done, 1e3 * per, tokens / per, 1e3 * ph.fwd / done,
               1e3 * ph.bwd / done, 1e3 * ph.opt / done, model_gflop, model_gflop / per, sg0, sg1,
               model_gflop / per / sg, model_activation_bytes(&s->cfg, s->B, s->T, s->recompute, s->vocab_chunk) / 1048576.0, (double)loss);
        fflush(stdout);
    }
    free(in), free(tg);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    const char *threads = "1,2", *shapes = "tiny,124M:64,124M:256";
    long steps = 2, batch = 0;
    int recompute = 0;
    const char *device = "cpu", *dtype = "fp32", *chunks = "0";
    double peak = 989.4;
    ArgSpec specs[] = {{"--threads", ARG_STR, &threads, "comma-separated thread counts", 0, 0},
                       {"--shapes", ARG_STR, &shapes, "comma-separated: tiny, 124M:T, gemma3-270m:T, llama3.2-1b:T, qwen3-0.6b:T",
                        0, 0},
                       {"--steps", ARG_INT, &steps, "timed steps per configuration (after one warm-up)", 0, 0},
                       {"--recompute", ARG_FLAG, &recompute, "recompute activations per layer in the backward", 0, 0},
                       {"--vocab-chunk", ARG_STR, &chunks, "comma-separated vocabulary chunks of the loss, one line each "
                        "(0 = whole logits; default 0)", 0, 0},
                       BACKEND_DEVICE_SPEC(device),
                       {"--dtype", ARG_STR, &dtype, "products on a GPU: fp32 or bf16 (mixed precision)", 0,
                        ARG_ONE_OF("fp32", "bf16")},
                       {"--peak-tflops", ARG_DOUBLE, &peak, "the GPU's dense bf16 peak, the MFU's denominator on cuda", 0, 0},
                       {"--batch", ARG_INT, &batch, "sequences per step (default: 4 for GPT-2 shapes, 1 for the others)", 0, 0},
                       {NULL, 0, NULL, NULL, 0, 0}};
    Error e;
    error_clear(&e);
    int rc = args_parse("bench_train_step", "Times training steps; prints JSON lines.", specs, argc, argv, &e);
    if (rc == RP_HELP) return 0;
    if (rc) {
        fprintf(stderr, "error: %s\n", e.msg);
        return rc;
    }
#ifdef RESTPG_WITH_CUDA
    backend_register(cuda_backend());
#endif
    Device dev = {.cuda = !strcmp(device, "cuda"), .peak_tflops = peak};
    if ((rc = backend_select(device, &e)) || (rc = model_dtype_parse(dtype, &dev.dtype, &e))) {
        fprintf(stderr, "error: %s\n", e.msg);
        return rc;
    }
    ModelConfig gpt2 = {.arch = ARCH_GPT2, .gpt2 = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024}};
    ModelConfig tiny = {.arch = ARCH_GPT2, .gpt2 = {.vocab_size = 512, .n_layer = 4, .n_head = 4, .n_embd = 128, .n_positions = 256}};
    ModelConfig g3 = {.arch = ARCH_GEMMA3, .llama = llama_config_gemma3_270m()};
    /* Llama 3.2 1B and Qwen3 0.6B as published (config.json). */
    ModelConfig l1 = {.arch = ARCH_LLAMA, .llama = llama_config_llama()}, q06 = {.arch = ARCH_QWEN3, .llama = llama_config_qwen3()};
    LlamaConfig *c = &l1.llama;
    c->vocab_size = 128256, c->hidden_size = 2048, c->intermediate_size = 8192, c->n_layer = 16, c->n_head = 32;
    c->n_kv_head = 8, c->head_dim = 64, c->max_positions = 131072, c->rope_scaling = ROPE_LLAMA3, c->rope_factor = 32;
    c->rope_low_freq_factor = 1, c->rope_high_freq_factor = 4, c->rope_original_max_positions = 8192;
    c = &q06.llama;
    c->vocab_size = 151936, c->hidden_size = 1024, c->intermediate_size = 3072, c->n_layer = 28, c->n_head = 16;
    c->n_kv_head = 8, c->head_dim = 128, c->max_positions = 40960;
    if ((rc = model_config_check(&gpt2, &e)) || (rc = model_config_check(&tiny, &e)) || (rc = model_config_check(&g3, &e)) ||
        (rc = model_config_check(&l1, &e)) || (rc = model_config_check(&q06, &e))) {
        fprintf(stderr, "error: %s\n", e.msg);
        return rc;
    }
    char tbuf[256];
    snprintf(tbuf, sizeof tbuf, "%s", threads);
    for (char *ts = strtok(tbuf, ","); ts; ts = strtok(NULL, ",")) {
        int nt = atoi(ts);
        char sbuf[256];
        snprintf(sbuf, sizeof sbuf, "%s", shapes);
        char *save = NULL;
        for (char *sh = strtok_r(sbuf, ",", &save); sh; sh = strtok_r(NULL, ",", &save)) {
            Shape s;
            if (!strcmp(sh, "tiny")) s = (Shape){"tiny", tiny, 4, 64, recompute, 0};
            else if (!strncmp(sh, "124M:", 5)) s = (Shape){sh, gpt2, 4, atoi(sh + 5), recompute, 0};
            else if (!strncmp(sh, "gemma3-270m:", 12)) s = (Shape){sh, g3, 1, atoi(sh + 12), recompute, 0};
            else if (!strncmp(sh, "llama3.2-1b:", 12)) s = (Shape){sh, l1, 1, atoi(sh + 12), recompute, 0};
            else if (!strncmp(sh, "qwen3-0.6b:", 11)) s = (Shape){sh, q06, 1, atoi(sh + 11), recompute, 0};
            else {
                fprintf(stderr, "error: --shapes: unknown shape '%s'\n", sh);
                return RP_EINPUT;
            }
            if (batch > 0) s.B = (int)batch;
            if (nt < 1 || s.T < 1 || (s.cfg.arch == ARCH_GPT2 && s.T > s.cfg.gpt2.n_positions)) {
                fprintf(stderr, "error: bad thread count or T in '%s' / '%s'\n", ts, sh);
                return RP_EINPUT;
            }
            char cbuf[256];
            snprintf(cbuf, sizeof cbuf, "%s", chunks);
            char *csave = NULL;
            for (char *cs = strtok_r(cbuf, ",", &csave); cs && !rc; cs = strtok_r(NULL, ",", &csave))
                if (!(rc = model_vocab_chunk_parse(cs, &s.vocab_chunk, &e))) rc = run_shape(&s, nt, (int)steps, &dev, &e);
            if (rc) {
                fprintf(stderr, "error: %s\n", e.msg);
                return rc;
            }
        }
    }
    return 0;
}
