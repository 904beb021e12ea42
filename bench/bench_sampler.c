/* Benchmark: generated tokens per second of the E-step sampler on ~1,000-token prompts.
 *
 * Model: GPT-2 small's depth with a quarter of its width (12 layers, 4 heads, 256 channels,
 * n_positions 1280, GPT-2's 50,257-token vocabulary + restpg's 3 markers; random weights, so
 * every candidate runs to --max-new-tokens and the token count is exact). Prompts are the
 * synthetic task's with 20 retrieved profile items, GPT-2-tokenized (about 1,000 tokens).
 *
 * Cases (one JSON line each):
 *   kv_shared / kv_recompute   N=32 candidates of one prompt through model/infer directly: the
 *                              prompt prefilled once and shared, versus prefilled once per
 *                              candidate (each candidate decodes over its own copy), plus the
 *                              ratio of the two (speedup_shared_vs_recompute)
 *   run_n32                    sampler_run end to end (prompt building, scheduling, text
 *                              splitting): N=32 on --inputs32 inputs; run under mpiexec -n 2
 *                              for the 2-rank figure (bench/run_sampler.sh)
 *   run_n1                     sampler_run with N=1 on --inputs1 inputs (every prompt prefilled
 *                              for a single candidate)
 * Each figure is the fastest of --repeat runs (the machine this was written on is shared, and other
 * jobs only ever slow a run down).
 * Usage: bench_sampler [--cases kv,run32,run1] [--new 64,128] [--repeat 2] [--threads 1] [--gpt2 DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/log.h"
#include "core/rng.h"
#include "data/synth.h"
#include "launch/runtime.h"
#include "model/infer.h"
#include "sampler/sampler.h"
#ifdef RESTPG_WITH_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

typedef struct {
    Model m;
    Tokenizer *t;
    Dataset d;
    int rank, world, threads, repeat;
} Bench;

static int bench_init(Bench *b, const char *gpt2, Error *e) {
    SynthConfig sc = {.users = 10, .per_user = 24, .seed = 1};
    int rc = synth_build(&sc, &b->d, e);
    if (!rc) rc = tokenizer_load(gpt2, &b->t, e);
    if (rc) return rc;
    GPTConfig c = {.vocab_size = tokenizer_vocab_size(b->t), .n_layer = 12, .n_head = 4, .n_embd = 256, .n_positions = 1280};
    ModelConfig mc = {.arch = ARCH_GPT2, .gpt2 = c};
    if ((rc = model_init(&b->m, &mc, e)) || (rc = model_init_random(&b->m, 1, e))) return rc;
    /* GPT-2's init gives near-uniform next-token distributions, whose 40,000-token nucleus makes
     * the token choice (a sort) cost more than the model; larger token embeddings give peaked
     * distributions like a trained model's, so the figures measure the model and the cache. */
    size_t n = model_tensor(&b->m, 0)->numel;
    float *wte = xmalloc(n * sizeof(float), e);
    if (!wte) return RP_ENOMEM;
    rc = model_tensor_download(&b->m, 'p', 0, wte, e);
    for (size_t i = 0; i < n && !rc; i++) wte[i] *= 4.0f;
    if (!rc) rc = model_tensor_upload(&b->m, 'p', 0, wte, e);
    free(wte);
    return rc;
}

static SamplerOptions options(int n, int max_new, int64_t inputs, int threads) {
    SamplerOptions o;
    sampler_options_default(&o);
    o.n = n;
    o.max_new_tokens = max_new;
    o.limit = inputs;
    o.threads = threads;
    o.prompt.k = 20;
    o.batch = 32;
    o.seed = 1;
    return o;
}

static void json(const Bench *b, const char *name, int n, int64_t inputs, double prompt_tokens, int max_new,
                 int ranks, double seconds, double tokens) {
    const GPTConfig *c = &b->m.gpt2.cfg;
    printf("{\"bench\": \"sampler\", \"case\": \"%s\", \"n\": %d, \"inputs\": %lld, \"prompt_tokens\": %.0f, "
           "\"max_new_tokens\": %d, \"ranks\": %d, \"threads_per_rank\": %d, \"model\": \"L%d H%d C%d V%d T%d\", "
           "\"seconds\": %.3f, \"best_of\": %d, \"generated_tokens\": %.0f, \"tokens_per_s\": %.1f}\n",
           name, n, (long long)inputs, prompt_tokens, max_new, ranks, b->threads, c->n_layer, c->n_head, c->n_embd,
           c->vocab_size, c->n_positions, seconds, b->repeat, tokens, tokens / seconds);
    fflush(stdout);
}

/* N candidates of input 0 for max_new tokens through Infer: one shared prompt cache, or one per
 * candidate (the recompute baseline). Returns seconds; *plen gets the prompt length. */
static int kv_case(Bench *b, int shared, int N, int max_new, double *secs, int *plen, Error *e) {
    SamplerOptions o = options(N, max_new, 1, b->threads);
    BuiltPrompt bp;
    built_prompt_init(&bp);
    int rc = sampler_prompt(&b->m, b->t, &b->d, 0, &o, &bp, e);
    int P = (int)bp.n_prompt, Vp = b->m.padded_vocab_size, V = b->m.vocab_size;
    *plen = P;
    InferPlan plan = {.max_rows = N, .n_prefixes = shared ? 1 : N, .max_prompt = P, .max_new = max_new};
    Infer s;
    memset(&s, 0, sizeof s);
    float *logits = malloc(sizeof(float) * (size_t)N * Vp);
    int *slots = malloc(sizeof(int) * N);
    int32_t *tok = malloc(sizeof(int32_t) * N);
    SamplingWork w;
    memset(&w, 0, sizeof w);
    if (!rc && (!logits || !slots || !tok)) rc = error_set(e, RP_ENOMEM, "bench: out of memory");
    if (!rc) rc = infer_init(&s, &b->m, &plan, e);
    if (!rc) rc = sampling_work_init(&w, V, e);
    double t0 = time_now();
    for (int c = 0; c < N && !rc; c++) {
        if (c == 0 || !shared) rc = infer_prefill(&s, shared ? 0 : c, bp.tokens.v, P, logits + (size_t)c * Vp, e);
        else memcpy(logits + (size_t)c * Vp, logits, sizeof(float) * Vp);
        infer_attach(&s, c, shared ? 0 : c);
        slots[c] = c;
    }
    for (int step = 0; !rc; step++) {
        for (int c = 0; c < N; c++)
            tok[c] = sampling_choose(logits + (size_t)c * Vp, V, &o.sp, rng_to_uniform(rng_hash(9, c, step, 0)), &w, NULL);
        if (step == max_new - 1) break;
        rc = infer_decode(&s, N, slots, tok, logits, e);
    }
    *secs = time_now() - t0;
    sampling_work_free(&w);
    infer_free(&s);
    free(logits), free(slots), free(tok);
    built_prompt_free(&bp);
    return rc;
}

/* sampler_run end to end, the fastest of b->repeat runs; prints on rank 0. */
static int run_case(Bench *b, const char *name, int n, int64_t inputs, int max_new, Error *e) {
    SamplerOptions o = options(n, max_new, inputs, b->threads);
    double plen = 0;
    BuiltPrompt bp;
    built_prompt_init(&bp);
    int64_t seen = 0;
    for (int64_t i = 0; i < b->d.n && seen < inputs; i++) {
        if (strcmp(b->d.split[i], "train")) continue;
        if (sampler_prompt(&b->m, b->t, &b->d, i, &o, &bp, e)) break;
        plen += (double)bp.n_prompt;
        seen++;
    }
    built_prompt_free(&bp);
    int rc = RP_OK;
    double best = 1e30, tokens = 0;
    for (int r = 0; r < b->repeat && !rc; r++) {
        Samples s;
        samples_init(&s);
        double t0 = time_now();
        rc = sampler_run(&b->m, b->t, &b->d, &o, &s, e);
        double secs = time_now() - t0;
        if (secs < best) best = secs;
        tokens = (double)(s.m ? s.token_offset[s.m] : 0);
        samples_free(&s);
    }
    if (!rc && b->rank == 0) json(b, name, n, inputs, plen / (double)(seen ? seen : 1), max_new, b->world, best, tokens);
    return rc;
}

static int run(Bench *b, const char *cases, const char *news, long inputs32, long inputs1, Error *e) {
    int rc = RP_OK;
    if (strstr(cases, "kv") && b->rank == 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", news);
        for (char *tokp = strtok(buf, ","); tokp && !rc; tokp = strtok(NULL, ",")) {
            int M = atoi(tokp), P = 0;
            double shared = 1e30, recompute = 1e30, t;
            for (int r = 0; r < b->repeat && !rc; r++)
                if (!(rc = kv_case(b, 1, 32, M, &t, &P, e)) && t < shared) shared = t;
            for (int r = 0; r < b->repeat && !rc; r++)
                if (!(rc = kv_case(b, 0, 32, M, &t, &P, e)) && t < recompute) recompute = t;
            if (rc) break;
            json(b, "kv_shared", 32, 1, P, M, 1, shared, 32.0 * M);
            json(b, "kv_recompute", 32, 1, P, M, 1, recompute, 32.0 * M);
            printf("{\"bench\": \"sampler\", \"case\": \"speedup_shared_vs_recompute\", \"n\": 32, \"prompt_tokens\": "
                   "%d, \"max_new_tokens\": %d, \"speedup\": %.2f, \"target\": 5}\n",
                   P, M, recompute / shared);
            fflush(stdout);
        }
    }
    if (!rc && strstr(cases, "run32")) rc = run_case(b, "run_n32", 32, inputs32, 64, e);
    if (!rc && strstr(cases, "run1")) rc = run_case(b, "run_n1", 1, inputs1, 64, e);
    return rc;
}

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    const char *cases = "kv,run32,run1", *news = "64", *gpt2 = "data/gpt2", *device = "cpu";
    long threads = 1, inputs32 = 4, inputs1 = 8, repeat = 2;
    ArgSpec specs[] = {
        {"--cases", ARG_STR, &cases, "comma list of kv, run32, run1 (default all)", 0, 0},
        {"--new", ARG_STR, &news, "max_new_tokens values of the kv cases (default 64)", 0, 0},
        {"--repeat", ARG_INT, &repeat, "runs per case; the fastest is reported (default 2)", 0, 0},
        {"--threads", ARG_INT, &threads, "threads per rank (default 1)", 0, 0},
        {"--inputs32", ARG_INT, &inputs32, "inputs of run_n32 (default 4)", 0, 0},
        {"--inputs1", ARG_INT, &inputs1, "inputs of run_n1 (default 8)", 0, 0},
        {"--gpt2", ARG_STR, &gpt2, "GPT-2 tokenizer directory (default data/gpt2)", 0, 0},
        BACKEND_DEVICE_SPEC(device),
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("bench_sampler", "Sampler throughput (JSON lines).", specs, argc, argv, &e);
    if (rc) return rc == RP_HELP ? 0 : rc;
    Runtime rt;
    Bench b;
    memset(&b, 0, sizeof b);
#ifdef RESTPG_WITH_CUDA
    backend_register(cuda_backend());
#endif
    if (!(rc = runtime_init(&rt, &e)) && !(rc = backend_select(device, &e))) {
        b.rank = rt.rank, b.world = rt.world, b.threads = (int)threads, b.repeat = repeat < 1 ? 1 : (int)repeat;
        /* Only JSON lines on stdout: the sampler's log and progress lines print on rank 0 only. */
        log_set_rank(1, b.world);
        backend_get()->ops->set_threads(b.threads);
        if (!(rc = bench_init(&b, gpt2, &e))) rc = run(&b, cases, news, inputs32, inputs1, &e);
    }
    if (rc) fprintf(stderr, "bench_sampler: %s\n", e.msg);
    model_free(&b.m);
    tokenizer_free(b.t);
    dataset_free(&b.d);
    runtime_finalize(&rt);
    return rc;
}
