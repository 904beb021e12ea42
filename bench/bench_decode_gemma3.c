/* Benchmark: KV-cached decode throughput of Gemma 3 270M on the selected backend's decoder.
 *
 * Model: llama_config_gemma3_270m() (18 layers, 4 query heads on 1 kv head of 256, hidden 640, GeGLU
 * 2048, 262,144-token vocabulary and tied head) with random weights: decoding costs the same
 * whatever the weights, and the tokens fed are drawn at random, so the figure is the decoder's
 * alone (no sampling). One random prompt of --prompt tokens is prefilled once and shared by
 * --slots candidate slots, which then decode --new tokens each, all slots in every step.
 *
 * One JSON line per thread count: decoder init (weight transposes), prefill and decode seconds,
 * generated tokens per second of the decode steps (slots * new / decode seconds), and the
 * decoder's bytes. Each figure is the fastest of --repeat runs (other jobs only slow a run down).
 * Usage: bench_decode_gemma3 [--prompt 256] [--slots 8] [--new 32] [--threads 1,2] [--repeat 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/llama.h"
#include "model/model.h"

typedef struct {
    double init, prefill, decode;
} Times;

/* One run: decoder init, prefill of the prompt, then `plan->max_new` steps of every slot. */
static int run_once(const Llama *m, const DecoderModel *dm, const DecodePlan *plan, const int32_t *prompt,
                    Times *t, Error *e) {
    const BackendOps *op = m->store.be->ops;
    const int S = plan->max_rows, Vp = m->cfg.padded_vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)S * Vp);
    int *slots = malloc(sizeof(int) * S);
    int32_t *tok = malloc(sizeof(int32_t) * S);
    void *dec = NULL;
    int rc = logits && slots && tok ? RP_OK : error_set(e, RP_ENOMEM, "bench: out of memory");
    double t0 = time_now();
    if (!rc) rc = op->decoder_init(&dec, dm, plan, e);
    double t1 = time_now();
    if (!rc) rc = op->decoder_prefill(dec, 0, prompt, plan->max_prompt, logits, e);
    double t2 = time_now();
    for (int s = 0; s < S && !rc; s++) op->decoder_attach(dec, s, 0), slots[s] = s;
    for (int step = 0; step < plan->max_new && !rc; step++) {
        for (int s = 0; s < S; s++) tok[s] = (int32_t)(rng_hash(3, (uint64_t)s, (uint64_t)step, 0) % m->cfg.vocab_size);
        rc = op->decoder_decode(dec, S, slots, tok, logits, e);
    }
    double t3 = time_now();
    if (dec) op->decoder_free(dec);
    free(logits), free(slots), free(tok);
    *t = (Times){t1 - t0, t2 - t1, t3 - t2};
    return rc;
}

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    long prompt_len = 256, slots = 8, max_new = 32, repeat = 1;
    const char *threads = "1,2", *dtypes = "fp32,bf16";
    ArgSpec specs[] = {
        {"--prompt", ARG_INT, &prompt_len, "prompt tokens (default 256)", 0, 0},
        {"--slots", ARG_INT, &slots, "candidate slots decoded together (default 8)", 0, 0},
        {"--new", ARG_INT, &max_new, "tokens decoded per slot (default 32)", 0, 0},
        {"--threads", ARG_STR, &threads, "comma list of thread counts (default 1,2)", 0, 0},
        {"--dtypes", ARG_STR, &dtypes, "comma list of decoder weight dtypes (default fp32,bf16)", 0, 0},
        {"--repeat", ARG_INT, &repeat, "runs per thread count; the fastest is reported (default 1)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("bench_decode_gemma3", "Gemma 3 270M KV-cached decode throughput (JSON lines).", specs, argc,
                        argv, &e);
    if (rc) return rc == RP_HELP ? 0 : rc;
    if (prompt_len < 1 || slots < 1 || max_new < 1 || repeat < 1) {
        fprintf(stderr, "bench_decode_gemma3: --prompt, --slots, --new and --repeat must be >= 1\n");
        return RP_EINPUT;
    }
    LlamaConfig c = llama_config_gemma3_270m();
    Llama m;
    memset(&m, 0, sizeof m);
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)prompt_len);
    if (!prompt) rc = error_set(&e, RP_ENOMEM, "bench: out of memory");
    if (!rc) rc = llama_config_check(&c, &e);
    if (!rc) rc = llama_init(&m, &c, &e);
    if (!rc) rc = llama_init_random(&m, 1, &e);
    for (long i = 0; i < prompt_len && !rc; i++) prompt[i] = (int32_t)(rng_hash(2, (uint64_t)i, 0, 0) % c.vocab_size);
    DecoderModel dm = {.arch = ARCH_GEMMA3, .llama = &m.params, .llama_cfg = &m.cfg};
    DecodePlan plan = {.max_rows = (int)slots, .n_prefixes = 1, .max_prompt = (int)prompt_len, .max_new = (int)max_new};
    char dbuf[64], buf[256];
    snprintf(dbuf, sizeof dbuf, "%s", dtypes);
    char *dsave = NULL, *tsave = NULL;
    for (char *dp = strtok_r(dbuf, ",", &dsave); dp && !rc; dp = strtok_r(NULL, ",", &dsave)) {
        if ((rc = model_dtype_parse(dp, &plan.weights, &e))) break;
        snprintf(buf, sizeof buf, "%s", threads);
        for (char *tp = strtok_r(buf, ",", &tsave); tp && !rc; tp = strtok_r(NULL, ",", &tsave)) {
            int nt = atoi(tp);
            if (nt < 1) {
                rc = error_set(&e, RP_EINPUT, "--threads: '%s' is not a thread count", tp);
                break;
            }
            m.store.be->ops->set_threads(nt);
            Times best = {1e30, 1e30, 1e30}, t;
            for (long r = 0; r < repeat && !rc; r++) {
                rc = run_once(&m, &dm, &plan, prompt, &t, &e);
                best.init = t.init < best.init ? t.init : best.init;
                best.prefill = t.prefill < best.prefill ? t.prefill : best.prefill;
                best.decode = t.decode < best.decode ? t.decode : best.decode;
            }
            if (rc) break;
            double tokens = (double)slots * max_new;
            printf("{\"bench\": \"decode_gemma3\", \"model\": \"gemma3-270m random\", \"dtype\": \"%s\", \"threads\": %d, "
                   "\"prompt_tokens\": %ld, "
                   "\"slots\": %ld, \"new_tokens_per_slot\": %ld, \"init_s\": %.3f, \"prefill_s\": %.3f, "
                   "\"prefill_tokens_per_s\": %.1f, \"decode_s\": %.3f, \"generated_tokens\": %.0f, \"tokens_per_s\": %.1f, "
                   "\"decoder_bytes\": %zu, \"model_param_bytes\": %zu, \"best_of\": %ld}\n",
                   dp, nt, prompt_len, slots, max_new, best.init, best.prefill, (double)prompt_len / best.prefill, best.decode,
                   tokens, tokens / best.decode, m.store.be->ops->decoder_bytes(&dm, &plan, nt),
                   m.store.n_params * sizeof(float), repeat);
            fflush(stdout);
        }
    }
    if (rc) fprintf(stderr, "bench_decode_gemma3: %s\n", e.msg);
    llama_free(&m);
    free(prompt);
    return rc;
}
