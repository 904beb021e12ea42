/* KV-cached decoding of the Llama family (the CPU backend's decoder ops, kernels/cpu/decoder_llama.c)
 * against llama_forward over the full sequences, on a tiny random model of each variant with
 * what the decoder must get right: grouped-query attention (4 query heads on 2 kv heads) and
 * head_dim 16 != hidden 48 / 4 throughout, and
 *   gemma3: a sliding layer whose window (5) is shorter than every sequence, a global layer;
 *   llama3: Llama 3.1 RoPE scaling, an untied LM head, SwiGLU, plain norms;
 *   qwen2:  q/k/v biases;
 *   qwen3:  per-head q/k norms and an untied head.
 * For each:
 *
 *  - Two prompts (13 and 7 tokens), 6 candidate slots (4 on the first, 2 on the second) decoded
 *    for 10 steps each, starting on different steps (so rows sharing a prompt see different
 *    windows of it), in mixed row orders, alternating 1 and 2 threads: the logits of every prefill
 *    and every step equal llama_forward's logits at that position within
 *    max |diff| <= 1e-4 * max |logit| (float sums taken in another order; measured 7.6e-6 on a
 *    largest logit of 25, 3e-7 relative, for Gemma 3).
 *  - Batch invariance, bitwise: the same candidates replayed on other slots from prompt caches
 *    prefilled on the other thread count, alone on even steps and in pairs that mix the prompts
 *    on odd steps, threads alternating the other way, give the same bits at every step.
 *  - bf16 weights: bitwise the fp32 decoder's logits over the model with its matrices rounded to
 *    bf16 (biases and norms stay fp32), from a weight copy of half the size (with an untied head
 *    the LM head and the embedding's row-major copy both halve).
 *  - Bad token ids, an over-long prompt, a full suffix, a plan past max_positions and an
 *    architecture the CPU cannot decode are RP_EINPUT. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "model/llama.h"
#include "tests/llama_fixture.h"
#include "tests/test.h"

enum { NC = 6, STEPS = 10, NP0 = 13, NP1 = 7, MAXT = NP0 + STEPS };

static LlamaConfig sized(LlamaConfig c) {
    c.vocab_size = 300, c.hidden_size = 48, c.intermediate_size = 96, c.n_layer = 3, c.n_head = 4, c.n_kv_head = 2;
    c.head_dim = 16, c.max_positions = 40;
    return c;
}

static LlamaConfig variant(int i, const char **name) {
    LlamaConfig c;
    switch (i) {
    case 0:
        *name = "gemma3";
        c = sized(llama_config_gemma3());
        c.sliding_window = 5, c.sliding_window_pattern = 2, c.query_pre_attn_scalar = 24.0f;
        return c;
    case 1:
        *name = "llama3";
        c = sized(llama_config_llama());
        c.tie_word_embeddings = 0, c.rope_scaling = ROPE_LLAMA3, c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0;
        c.rope_high_freq_factor = 4.0, c.rope_original_max_positions = 16;
        return c;
    case 2: *name = "qwen2"; return sized(llama_config_qwen2());
    default:
        *name = "qwen3";
        c = sized(llama_config_qwen3());
        c.tie_word_embeddings = 0;
        return c;
    }
}

typedef struct {
    const char *name;
    Llama m;
    const BackendOps *op;
    DecoderModel dm;
    int V, Vp;
    int32_t seq[NC][MAXT]; /* prompt, then the tokens fed at steps 0.. */
    int plen[NC];
    float *logits;         /* [NC][1 + STEPS][Vp]: run A's prefill logits, then each step's */
} Fixture;

static float *row_of(Fixture *f, int c, int i) { return f->logits + ((size_t)c * (1 + STEPS) + i) * f->Vp; }

/* Run A: prefill both prompts on 2 threads, then the candidates in mixed orders, threads
 * alternating 1, 2. Candidates start on different ticks, so rows that share a prompt sit at
 * different positions and their sliding windows start at different prompt keys. Tokens are drawn
 * at random (not from the logits) so every candidate differs from the others. */
static void run_together(Fixture *f, void *dec) {
    Error e;
    float *step = malloc(sizeof(float) * NC * f->Vp);
    kernels_set_threads(2);
    CHECK_OK(f->op->decoder_prefill(dec, 0, f->seq[0], NP0, row_of(f, 0, 0), &e), &e);
    CHECK_OK(f->op->decoder_prefill(dec, 1, f->seq[4], NP1, row_of(f, 4, 0), &e), &e);
    for (int c = 0; c < NC; c++) {
        int src = c < 4 ? 0 : 4;
        if (c != src) memcpy(row_of(f, c, 0), row_of(f, src, 0), sizeof(float) * f->Vp);
        f->op->decoder_attach(dec, c, c < 4 ? 0 : 1);
    }
    static const int start[NC] = {0, 2, 1, 0, 3, 0};
    for (int tick = 0; tick < STEPS + 3; tick++) {
        int order[NC], n = 0;
        int32_t tok[NC];
        for (int i = 0; i < NC; i++) {
            int c = tick % 2 ? NC - 1 - i : (i * 5 + tick) % NC, s = tick - start[c];
            if (s < 0 || s >= STEPS) continue;
            order[n] = c;
            tok[n++] = f->seq[c][f->plen[c] + s];
        }
        kernels_set_threads(1 + tick % 2);
        CHECK_OK(f->op->decoder_decode(dec, n, order, tok, step, &e), &e);
        for (int i = 0; i < n; i++)
            memcpy(row_of(f, order[i], 1 + tick - start[order[i]]), step + (size_t)i * f->Vp, sizeof(float) * f->Vp);
    }
    free(step);
}

/* Every prefill and step against llama_forward of the candidate's full sequence. */
static void check_full_forward(Fixture *f) {
    Error e;
    float *ref = malloc(sizeof(float) * MAXT * f->Vp);
    double worst = 0, biggest = 0;
    kernels_set_threads(1);
    for (int c = 0; c < NC; c++) {
        int T = f->plen[c] + STEPS;
        CHECK_OK(llama_forward(&f->m, f->seq[c], NULL, NULL, 1, T, NULL, &e), &e);
        CHECK_OK(llama_logits_download(&f->m, 0, T, ref, &e), &e);
        for (int i = 0; i <= STEPS; i++) {
            const float *got = row_of(f, c, i), *want = ref + (size_t)(f->plen[c] - 1 + i) * f->Vp;
            for (int v = 0; v < f->V; v++) {
                worst = fmax(worst, fabs((double)got[v] - want[v]));
                biggest = fmax(biggest, fabs((double)want[v]));
            }
        }
    }
    printf("%s: decode vs llama_forward: max |diff| %.3g, max |logit| %.3g, ratio %.3g (tolerance 1e-4)\n", f->name, worst,
           biggest, worst / biggest);
    CHECK_MSG(biggest > 1.0 && worst <= 1e-4 * biggest, "%s: max |diff| %g vs max |logit| %g", f->name, worst, biggest);
    free(ref);
}

/* Run B: fresh prompt caches prefilled on 1 thread, candidate c on slot 7 - c; even steps decode
 * each candidate alone (last first), odd steps in pairs that mix the prompts; threads alternate
 * 2, 1. Every row must equal run A's bits. */
static void check_invariance(Fixture *f, void *dec) {
    Error e;
    float *out = malloc(sizeof(float) * 2 * f->Vp);
    int prefill_same = 1, steps_same = 1;
    kernels_set_threads(1);
    CHECK_OK(f->op->decoder_prefill(dec, 1, f->seq[4], NP1, out, &e), &e);
    prefill_same &= !memcmp(out, row_of(f, 4, 0), sizeof(float) * f->Vp);
    CHECK_OK(f->op->decoder_prefill(dec, 0, f->seq[0], NP0, out, &e), &e);
    prefill_same &= !memcmp(out, row_of(f, 0, 0), sizeof(float) * f->Vp);
    for (int c = 0; c < NC; c++) f->op->decoder_attach(dec, 7 - c, c < 4 ? 0 : 1);
    static const int pairs[3][2] = {{5, 0}, {1, 4}, {3, 2}};
    for (int s = 0; s < STEPS; s++) {
        kernels_set_threads(2 - s % 2);
        for (int g = 0; g < (s % 2 ? 3 : NC); g++) {
            int n = s % 2 ? 2 : 1, cand[2] = {n == 2 ? pairs[g][0] : NC - 1 - g, n == 2 ? pairs[g][1] : -1};
            int slots[2];
            int32_t tok[2];
            for (int i = 0; i < n; i++) slots[i] = 7 - cand[i], tok[i] = f->seq[cand[i]][f->plen[cand[i]] + s];
            CHECK_OK(f->op->decoder_decode(dec, n, slots, tok, out, &e), &e);
            for (int i = 0; i < n; i++)
                steps_same &= !memcmp(out + (size_t)i * f->Vp, row_of(f, cand[i], 1 + s), sizeof(float) * f->Vp);
        }
    }
    CHECK_MSG(prefill_same, "%s: prefill logits depend on the thread count", f->name);
    CHECK_MSG(steps_same, "%s: a slot's logits depend on the rows decoded with it, their order or the threads", f->name);
    /* Every slot now holds STEPS = max_new tokens: one more is an input error. */
    CHECK(f->op->decoder_decode(dec, 1, (int[]){7}, (int32_t[]){1}, out, &e) == RP_EINPUT);
    free(out);
}

static void check_errors(Fixture *f, void *dec) {
    Error e;
    float *out = malloc(sizeof(float) * f->Vp);
    f->op->decoder_attach(dec, 0, 0);
    int32_t bad[2] = {f->V, -1};
    for (int i = 0; i < 2; i++) {
        CHECK(f->op->decoder_decode(dec, 1, (int[]){0}, &bad[i], out, &e) == RP_EINPUT);
        int32_t prompt[3] = {1, bad[i], 2};
        CHECK(f->op->decoder_prefill(dec, 1, prompt, 3, out, &e) == RP_EINPUT);
    }
    int32_t longp[17] = {0};
    CHECK(f->op->decoder_prefill(dec, 1, longp, 17, out, &e) == RP_EINPUT);
    /* The slot still decodes after the rejected calls. */
    CHECK_OK(f->op->decoder_decode(dec, 1, (int[]){0}, (int32_t[]){3}, out, &e), &e);
    void *other = NULL;
    DecodePlan too_long = {.max_rows = 1, .n_prefixes = 1, .max_prompt = 31, .max_new = 10};
    CHECK(f->op->decoder_init(&other, &f->dm, &too_long, &e) == RP_EINPUT && !other);
    printf("plan error: %s\n", e.msg);
    DecoderModel unknown = f->dm;
    unknown.arch = (Arch)7;
    DecodePlan ok = {.max_rows = 1, .n_prefixes = 1, .max_prompt = 4, .max_new = 4};
    CHECK(f->op->decoder_init(&other, &unknown, &ok, &e) == RP_EINPUT && !other);
    free(out);
}

/* bf16 weights (model.dtype bf16): a decoder over bf16 copies of the model gives, bitwise, the
 * logits of an fp32 decoder over the model with its matrices and embedding rounded to bf16 (norm
 * weights stay fp32 in both); its weight copy takes half the bytes. Ends with the model rounded. */
static void check_bf16(Fixture *f, const DecodePlan *fp32_plan) {
    Error e;
    DecodePlan plan = *fp32_plan;
    plan.weights = DTYPE_BF16;
    size_t n = (size_t)NC * (1 + STEPS) * f->Vp;
    float *fp32_run = malloc(sizeof(float) * n), *bf16_run = malloc(sizeof(float) * n);
    memcpy(fp32_run, f->logits, sizeof(float) * n);
    kernels_set_threads(2);
    void *dec = NULL;
    CHECK_OK(f->op->decoder_init(&dec, &f->dm, &plan, &e), &e);
    if (!dec) goto out;
    run_together(f, dec);
    f->op->decoder_free(dec);
    memcpy(bf16_run, f->logits, sizeof(float) * n);
    size_t b32 = f->op->decoder_bytes(&f->dm, fp32_plan, 2), b16 = f->op->decoder_bytes(&f->dm, &plan, 2);
    const LlamaConfig *c = &f->m.cfg;
    size_t C = c->hidden_size, Q = (size_t)c->n_head * c->head_dim, KV = (size_t)c->n_kv_head * c->head_dim;
    size_t mats = (size_t)c->n_layer * (2 * C * Q + 2 * C * KV + 3 * C * c->intermediate_size) +
                  C * c->padded_vocab_size * (c->tie_word_embeddings ? 1 : 2);
    CHECK_MSG(b32 - b16 == mats * 2, "bf16 decoder saves %zu bytes, want %zu", b32 - b16, mats * 2);
    /* Round the model's matrices and embedding, then decode with fp32 copies. */
    float *h = malloc(sizeof(float) * f->m.store.n_params);
    CHECK_OK(params_state_download(&f->m.store, 'p', h, &e), &e);
    for (int k = 0; k < f->m.store.n; k++)
        if (f->m.info[k].kind == LLAMA_MATRIX || f->m.info[k].kind == LLAMA_EMBEDDING)
            for (size_t i = 0; i < f->m.store.t[k].numel; i++) {
                float *x = h + f->m.store.t[k].offset + i;
                *x = bf16_to_f32(bf16_from_f32(*x));
            }
    CHECK_OK(params_state_upload(&f->m.store, 'p', h, &e), &e);
    free(h);
    CHECK_OK(f->op->decoder_init(&dec, &f->dm, fp32_plan, &e), &e);
    if (!dec) goto out;
    run_together(f, dec);
    f->op->decoder_free(dec);
    CHECK_MSG(!memcmp(bf16_run, f->logits, sizeof(float) * n), "%s: bf16 decoder differs from fp32 over rounded weights",
              f->name);
    double diff = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)bf16_run[i] - fp32_run[i]));
        big = fmax(big, fabs((double)fp32_run[i]));
    }
    /* Rounding the weights (relative error <= 2^-9) moves the logits, but by little. */
    CHECK_MSG(diff > 0 && diff <= 2e-2 * big, "bf16 vs fp32 weights: max |diff| %g of max |logit| %g", diff, big);
    printf("%s: bf16 weights: decoder %zu -> %zu bytes; logits max |diff| %.3g vs fp32 weights (max |logit| %.3g), "
           "bitwise the fp32 decoder over rounded weights\n", f->name, b32, b16, diff, big);
out:
    free(fp32_run);
    free(bf16_run);
}

static void test_variant(int i) {
    Error e;
    Fixture f;
    memset(&f, 0, sizeof f);
    LlamaConfig c = variant(i, &f.name);
    CHECK_OK(llama_init(&f.m, &c, &e), &e);
    CHECK_OK(llama_plan(&f.m, 1, MAXT, &e), &e);
    Rng r;
    rng_seed(&r, 21);
    llama_fixture_params(&f.m, &r, 0.5, &e);
    f.op = f.m.store.be->ops;
    f.V = f.m.cfg.vocab_size;
    f.Vp = f.m.cfg.padded_vocab_size;
    f.dm = (DecoderModel){.arch = c.arch, .llama = &f.m.params, .llama_cfg = &f.m.cfg};
    for (int t = 0; t < NP0; t++) f.seq[0][t] = (int32_t)(rng_next(&r) % f.V);
    for (int t = 0; t < NP1; t++) f.seq[4][t] = (int32_t)(rng_next(&r) % f.V);
    for (int k = 0; k < NC; k++) {
        f.plen[k] = k < 4 ? NP0 : NP1;
        if (k != 0 && k != 4) memcpy(f.seq[k], f.seq[k < 4 ? 0 : 4], sizeof(int32_t) * f.plen[k]);
        for (int s = 0; s < STEPS; s++) f.seq[k][f.plen[k] + s] = (int32_t)(rng_next(&r) % f.V);
    }
    f.logits = malloc(sizeof(float) * NC * (1 + STEPS) * f.Vp);
    /* Initialised on 2 threads, so the decoder has scratch for both counts used below. */
    kernels_set_threads(2);
    DecodePlan plan = {.max_rows = 8, .n_prefixes = 2, .max_prompt = 16, .max_new = STEPS};
    void *dec = NULL;
    CHECK_OK(f.op->decoder_init(&dec, &f.dm, &plan, &e), &e);
    if (dec) {
        run_together(&f, dec);
        check_full_forward(&f);
        check_invariance(&f, dec);
        check_errors(&f, dec);
        f.op->decoder_free(dec);
        check_bf16(&f, &plan);
    }
    free(f.logits);
    llama_free(&f.m);
}

int main(void) {
    for (int i = 0; i < 4; i++) test_variant(i);
    return test_summary("test_decode_llama");
}
