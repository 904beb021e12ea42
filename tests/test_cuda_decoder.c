/* The CUDA backend's KV-cached decoder (kernels/cuda/decoder*.cu, decode_kernels.cu) against the
 * CPU decoder (kernels/cpu/decoder*.c) on tiny random models: GPT-2 and each Llama-family variant
 * with what its switches exercise (grouped-query attention, 4 query heads on 2 kv heads, head_dim
 * 16 != hidden 48 / 4 in all of them):
 *   gemma3: a sliding layer whose window (5) is shorter than the sequences, (1 + w) norms, post
 *           norms, q/k norms, the embedding scale, GeGLU, a tied head;
 *   llama3: Llama 3.1 RoPE scaling, an untied head, SwiGLU;
 *   qwen2:  q/k/v biases;
 *   qwen3:  per-head q/k norms, an untied head.
 * For each model:
 *  - two prompts (13 and 7 tokens) prefilled, 6 slots (4 on the first, 2 on the second) decoded for
 *    8 steps, starting on different steps and in mixed row orders, every prefill's and step's
 *    logits against the CPU decoder's within max |diff| <= 1e-4 x max(1, max |logit|) per row;
 *  - batch invariance, bitwise: the prompts prefilled again into swapped caches, the candidates
 *    replayed on other slots, alone, in pairs mixing the prompts and all together in another
 *    order, give the first run's bits;
 *  - bf16 weights: against the CPU decoder with bf16 weights, same tolerance;
 *  - bad tokens, an over-long prompt, a full slot, a plan past the model's positions, an unknown
 *    architecture and (Llama) heads wider than CUDA_DECODE_MAX_HD are RP_EINPUT.
 * And the two kernels on their own, under the three thread orders of the SIMT emulation: the
 * batch-invariant product against a double-precision sum and, bitwise, the CPU's decode_matmul
 * (fp32 and bf16 weights, bias, a residual aliasing the output; N, K, OC not tile multiples; each
 * row alone gives the bits it gets among 70), and the decode attention against a double-precision
 * reference (prompt and suffix keys, up to 300 keys in three chunks, sliding windows, head_dim 16,
 * 40 and 256; each row alone gives its bits among the others).
 *
 * Built twice: test_cuda_decoder_emu in the SIMT emulation, test_cuda_decoder_gpu on a device
 * (skipped with 77 without one). Weights are uploaded to device memory; the decoder reads them
 * there. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/rng.h"
#include "kernels/cpu/decode.h"
#include "kernels/cpu/decoder.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/llama.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

enum { NC = 6, STEPS = 8, NP0 = 13, NP1 = 7, MAXT = NP0 + STEPS, NMODELS = 5 };
static const double kTol = 1e-4;

static Rng rng;
static double worst_fp32, worst_bf16, worst_matmul, worst_attn;

static void *to_dev(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    if (bytes) cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}

static float *randn(size_t n, double sd) {
    float *v = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) v[i] = (float)(sd * rng_normal(&rng));
    return v;
}

/* ---- the kernels on their own ---- */

/* The product against the CPU's decode_matmul (bitwise: the same fused multiply-add chains) and a
 * double-precision sum (error relative to the sum of |terms|); each row alone gives its bits. */
static void test_matmul(void) {
    static const int Ns[] = {1, 7, 70}, Ks[] = {1, 31, 33, 100}, OCs[] = {1, 5, 33};
    for (int ni = 0; ni < 3; ni++)
        for (int ki = 0; ki < 4; ki++)
            for (int oi = 0; oi < 3; oi++)
                for (int bf = 0; bf < 2; bf++) {
                    int N = Ns[ni], K = Ks[ki], OC = OCs[oi];
                    size_t nk = (size_t)N * K, no = (size_t)N * OC, ok = (size_t)OC * K;
                    float *a = randn(nk, 1.0), *w = randn(ok, 1.0), *b = randn(OC, 1.0), *res = randn(no, 1.0);
                    float *got = malloc(sizeof(float) * no), *cpu = malloc(sizeof(float) * no);
                    float *wt = malloc(sizeof(float) * ok), *row = malloc(sizeof(float) * OC);
                    uint16_t *w16 = malloc(sizeof(uint16_t) * ok);
                    for (size_t i = 0; i < ok; i++)
                        w16[i] = bf16_from_f32(w[i]), w[i] = bf ? bf16_to_f32(w16[i]) : w[i];
                    cpu_decoder_transpose(wt, bf ? DTYPE_BF16 : DTYPE_F32, w, OC, K);
                    memcpy(cpu, res, sizeof(float) * no);
                    decode_matmul(cpu, a, (DecodeW){wt, bf}, b, cpu, N, K, OC);
                    float *da = to_dev(a, sizeof(float) * nk), *db = to_dev(b, sizeof(float) * OC);
                    float *dout = to_dev(res, sizeof(float) * no), *dres1 = to_dev(res, sizeof(float) * no);
                    void *dw = bf ? to_dev(w16, sizeof(uint16_t) * ok) : to_dev(w, sizeof(float) * ok);
                    /* out aliases resid for the whole call; then each row alone */
                    CHECK(cuda_decode_matmul(dout, da, dw, bf, db, dout, N, K, OC, 0) == cudaSuccess);
                    cudaMemcpy(got, dout, sizeof(float) * no, cudaMemcpyDeviceToHost);
                    double e = 0;
                    for (int i = 0; i < N; i++)
                        for (int j = 0; j < OC; j++) {
                            double ref = 0, mag = fabs(b[j]) + fabs(res[(size_t)i * OC + j]);
                            for (int k = 0; k < K; k++) {
                                double t = (double)a[(size_t)i * K + k] * w[(size_t)j * K + k];
                                ref += t, mag += fabs(t);
                            }
                            ref = ref + b[j] + res[(size_t)i * OC + j];
                            e = fmax(e, fabs(got[(size_t)i * OC + j] - ref) / mag);
                        }
                    worst_matmul = fmax(worst_matmul, e);
                    CHECK_MSG(e <= 1e-6, "matmul N %d K %d OC %d bf16 %d: error %.3g", N, K, OC, bf, e);
                    CHECK_MSG(!memcmp(got, cpu, sizeof(float) * no),
                              "matmul N %d K %d OC %d bf16 %d: not decode_matmul's bits", N, K, OC, bf);
                    int same = 1;
                    for (int i = 0; i < N; i += 3) {
                        float *o = dres1 + (size_t)i * OC;
                        CHECK(cuda_decode_matmul(o, da + (size_t)i * K, dw, bf, db, o, 1, K, OC, 0) == cudaSuccess);
                        cudaMemcpy(row, o, sizeof(float) * OC, cudaMemcpyDeviceToHost);
                        same &= !memcmp(row, got + (size_t)i * OC, sizeof(float) * OC);
                    }
                    CHECK_MSG(same, "matmul N %d K %d OC %d: a row alone differs from the row among %d", N, K, OC, N);
                    cudaFree(da), cudaFree(db), cudaFree(dout), cudaFree(dres1), cudaFree(dw);
                    free(a), free(w), free(b), free(res), free(got), free(cpu), free(wt), free(row), free(w16);
                }
}

/* Double-precision attention of one (row, head) over caches laid out as the kernel reads them. */
static void attn_ref(double *out, const float *q, const float *pk, const float *pv, const float *sk, const float *sv,
                     CudaDecodeRow r, int h, int NH, int NKV, int hd, int Pm, int Sm, int window, float scale) {
    int KV = NKV * hd, kvo = h / (NH / NKV) * hd, pos = r.P + r.ns - 1;
    int first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    double *s = malloc(sizeof(double) * (pos + 1)), mx = -INFINITY, sum = 0;
    for (int t = first; t <= pos; t++) {
        const float *k = t < r.P ? pk + ((size_t)r.prefix * Pm + t) * KV : sk + ((size_t)r.slot * Sm + t - r.P) * KV;
        double d = 0;
        for (int c = 0; c < hd; c++) d += (double)q[h * hd + c] * k[kvo + c];
        s[t] = d * scale;
        mx = fmax(mx, s[t]);
    }
    for (int c = 0; c < hd; c++) out[c] = 0;
    for (int t = first; t <= pos; t++) {
        const float *v = t < r.P ? pv + ((size_t)r.prefix * Pm + t) * KV : sv + ((size_t)r.slot * Sm + t - r.P) * KV;
        double p = exp(s[t] - mx);
        sum += p;
        for (int c = 0; c < hd; c++) out[c] += p * v[kvo + c];
    }
    for (int c = 0; c < hd; c++) out[c] /= sum;
    free(s);
}

static void test_attention(void) {
    enum { NH = 4, NKV = 2, Pm = 300, Sm = 9, NPF = 2, NSL = 3, NR = 5 };
    static const int hds[] = {16, 40, 256}, windows[] = {0, 7, 140};
    const CudaDecodeRow rows[NR] = {{1, 5, -1, 0}, {0, 290, 2, 3}, {1, 1, 0, 1}, {0, 131, 1, 9}, {1, 300, -1, 0}};
    for (int hi = 0; hi < 3; hi++)
        for (int wi = 0; wi < 3; wi++) {
            int hd = hds[hi], KV = NKV * hd, Q = NH * hd, window = windows[wi];
            float scale = 1.0f / sqrtf((float)hd);
            size_t np = (size_t)NPF * Pm * KV, ns = (size_t)NSL * Sm * KV;
            float *pk = randn(np, 1.0), *pv = randn(np, 1.0), *sk = randn(ns, 1.0), *sv = randn(ns, 1.0);
            float *q = randn((size_t)NR * Q, 1.0), *got = malloc(sizeof(float) * NR * Q);
            float *dpk = to_dev(pk, np * 4), *dpv = to_dev(pv, np * 4), *dsk = to_dev(sk, ns * 4),
                  *dsv = to_dev(sv, ns * 4);
            float *dq = to_dev(q, sizeof(float) * NR * Q), *dout = to_dev(got, sizeof(float) * NR * Q);
            CudaDecodeRow *drows = to_dev(rows, sizeof rows);
            CHECK(cuda_decode_attention(dout, Q, dq, Q, dpk, dpv, dsk, dsv, drows, NR, NH, NKV, hd, Pm, Sm, window,
                                        scale, 0) == cudaSuccess);
            cudaMemcpy(got, dout, sizeof(float) * NR * Q, cudaMemcpyDeviceToHost);
            double e = 0, *ref = malloc(sizeof(double) * hd);
            int same = 1;
            for (int r = 0; r < NR; r++) {
                for (int h = 0; h < NH; h++) {
                    attn_ref(ref, q + (size_t)r * Q, pk, pv, sk, sv, rows[r], h, NH, NKV, hd, Pm, Sm, window, scale);
                    for (int c = 0; c < hd; c++) e = fmax(e, fabs(got[(size_t)r * Q + h * hd + c] - ref[c]));
                }
                float *alone = malloc(sizeof(float) * Q);
                CHECK(cuda_decode_attention(dout, Q, dq + (size_t)r * Q, Q, dpk, dpv, dsk, dsv, drows + r, 1, NH, NKV,
                                            hd, Pm, Sm, window, scale, 0) == cudaSuccess);
                cudaMemcpy(alone, dout, sizeof(float) * Q, cudaMemcpyDeviceToHost);
                same &= !memcmp(alone, got + (size_t)r * Q, sizeof(float) * Q);
                free(alone);
            }
            worst_attn = fmax(worst_attn, e);
            CHECK_MSG(e <= 2e-6, "attention hd %d window %d: error %.3g", hd, window, e);
            CHECK_MSG(same, "attention hd %d window %d: a row alone differs from the row among others", hd, window);
            CHECK(cuda_decode_attention(dout, Q, dq, Q, dpk, dpv, dsk, dsv, drows, NR, NH, NKV, 258, Pm, Sm, 0, scale,
                                        0) == cudaErrorInvalidValue);
            cudaFree(dpk), cudaFree(dpv), cudaFree(dsk), cudaFree(dsv), cudaFree(dq), cudaFree(dout), cudaFree(drows);
            free(pk), free(pv), free(sk), free(sv), free(q), free(got), free(ref);
        }
}

/* ---- the decoder against the CPU's ---- */

typedef struct {
    const char *name;
    GPT2Dims gd;
    LlamaConfig lc;
    GPT2Tensors gh, gdev; /* host and device views of one block of weights */
    LlamaTensors lh, ldev;
    DecoderModel host, dev;
    float *hbase, *dbase;
    int V, Vp;
    int32_t seq[NC][MAXT];
    int plen[NC];
    float *rec; /* [NC][1 + STEPS][Vp] the CUDA decoder's logits of run A */
} TModel;

static float *rec_row(TModel *m, int c, int i) { return m->rec + ((size_t)c * (1 + STEPS) + i) * m->Vp; }

/* Lays out tensors of the given sizes in one host block (n[i] floats, 0 = absent) with random
 * values (sd[i] spread around mean[i]; rows past `live[i]` floats zero), uploads the block, and
 * points host[i] and dev[i] at each tensor. */
static void make_weights(TModel *m, int nt, const size_t *n, const double *sd, const double *mean, const size_t *live,
                         float **host, float **dev) {
    size_t total = 0;
    for (int i = 0; i < nt; i++) total += n[i];
    m->hbase = malloc(sizeof(float) * total);
    size_t at = 0;
    for (int i = 0; i < nt; at += n[i], i++) {
        host[i] = n[i] ? m->hbase + at : NULL;
        for (size_t k = 0; k < n[i]; k++)
            host[i][k] = k < live[i] ? (float)(mean[i] + sd[i] * rng_normal(&rng)) : 0.0f;
    }
    m->dbase = to_dev(m->hbase, sizeof(float) * total);
    for (int i = 0; i < nt; i++) dev[i] = host[i] ? m->dbase + (host[i] - m->hbase) : NULL;
}

static void make_gpt2(TModel *m) {
    GPT2Dims d = {2, 4, 48, 40, 300, 384};
    size_t C = 48, L = 2, Vp = 384;
    m->name = "gpt2", m->gd = d, m->V = 300, m->Vp = 384;
    const size_t n[16] = {Vp * C, 40 * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                          L * C, L * C, L * 4 * C * C, L * 4 * C, L * 4 * C * C, L * C, C, C};
    double sd[16], mean[16];
    size_t live[16];
    for (int i = 0; i < 16; i++) {
        int is_ln_w = i == 2 || i == 8 || i == 14, is_mat = i == 4 || i == 6 || i == 10 || i == 12;
        sd[i] = is_mat ? 1.0 / sqrt(i == 12 ? 4.0 * C : (double)C) : i < 2 ? 0.5 : 0.3;
        mean[i] = is_ln_w ? 1.0 : 0.0;
        live[i] = i == 0 ? 300 * C : n[i];
    }
    make_weights(m, 16, n, sd, mean, live, (float **)&m->gh, (float **)&m->gdev);
    m->host = (DecoderModel){ARCH_GPT2, &m->gh, &m->gd, NULL, NULL};
    m->dev = (DecoderModel){ARCH_GPT2, &m->gdev, &m->gd, NULL, NULL};
}

static void make_llama(TModel *m, int variant) {
    LlamaConfig c;
    Error e;
    static const char *names[4] = {"gemma3", "llama3", "qwen2", "qwen3"};
    switch (variant) {
    case 0:
        c = llama_config_gemma3();
        c.sliding_window = 5, c.sliding_window_pattern = 2, c.query_pre_attn_scalar = 24.0f;
        break;
    case 1:
        c = llama_config_llama();
        c.tie_word_embeddings = 0, c.rope_scaling = ROPE_LLAMA3, c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0;
        c.rope_high_freq_factor = 4.0, c.rope_original_max_positions = 16;
        break;
    case 2: c = llama_config_qwen2(); break;
    default: c = llama_config_qwen3(), c.tie_word_embeddings = 0;
    }
    c.vocab_size = 300, c.hidden_size = 48, c.intermediate_size = 96, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2;
    c.head_dim = 16, c.max_positions = 40;
    CHECK_OK(llama_config_check(&c, &e), &e);
    m->name = names[variant], m->lc = c, m->V = c.vocab_size, m->Vp = c.padded_vocab_size;
    size_t C = 48, L = 2, Q = 64, KV = 32, I = 96, hd = 16, Vp = (size_t)c.padded_vocab_size;
    int b = c.qkv_bias, qk = c.qk_norm, post = c.post_norms, untied = !c.tie_word_embeddings;
    /* LlamaTensors' field order */
    const size_t n[19] = {Vp * C, L * C,  L * Q * C, b * L * Q, L * KV * C, b * L * KV, L * KV * C,
                          b * L * KV, qk * L * hd, qk * L * hd, L * C * Q, post * L * C, L * C, L * I * C,
                          L * I * C, L * C * I, post * L * C, C, untied * Vp * C};
    const int is_norm[19] = {0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0};
    const size_t fan_in[19] = {0, 0, C, 0, C, 0, C, 0, 0, 0, Q, 0, 0, C, C, I, 0, 0, 0};
    double sd[19], mean[19];
    size_t live[19];
    for (int i = 0; i < 19; i++) {
        sd[i] = fan_in[i] ? 1.0 / sqrt((double)fan_in[i]) : i == 0 || i == 18 ? 1.0 : 0.3;
        mean[i] = is_norm[i] ? 1.0 - c.norm_offset : 0.0;
        live[i] = i == 0 || i == 18 ? 300 * C : n[i];
    }
    make_weights(m, 19, n, sd, mean, live, (float **)&m->lh, (float **)&m->ldev);
    m->host = (DecoderModel){c.arch, NULL, NULL, &m->lh, &m->lc};
    m->dev = (DecoderModel){c.arch, NULL, NULL, &m->ldev, &m->lc};
}

/* Worst max |diff| / max(1, max |logit|) of n rows of logits over the V real columns. */
static double row_error(const float *got, const float *ref, int n, int V, int Vp) {
    double e = 0;
    for (int r = 0; r < n; r++) {
        double d = 0, big = 1;
        for (int v = 0; v < V; v++) {
            d = fmax(d, fabs((double)got[(size_t)r * Vp + v] - ref[(size_t)r * Vp + v]));
            big = fmax(big, fabs(ref[(size_t)r * Vp + v]));
        }
        e = fmax(e, d / big);
    }
    return e;
}

/* Run A: both decoders prefill the prompts and decode the candidates in the same mixed steps;
 * every output compared, the CUDA decoder's recorded. steps < STEPS for a shorter run (bf16). */
static double run_against_cpu(TModel *m, void *gpu, void *cpu, int steps, int record) {
    Error e;
    const int Vp = m->Vp;
    float *g = malloc(sizeof(float) * NC * Vp), *c = malloc(sizeof(float) * NC * Vp);
    double worst = 0;
    for (int p = 0; p < 2; p++) {
        const int32_t *prompt = m->seq[p ? 4 : 0];
        int n = p ? NP1 : NP0;
        CHECK_OK(cuda_decoder_prefill(gpu, p, prompt, n, g, &e), &e);
        CHECK_OK(cpu_decoder_prefill(cpu, p, prompt, n, c, &e), &e);
        worst = fmax(worst, row_error(g, c, 1, m->V, Vp));
        for (int k = p ? 4 : 0; record && k < (p ? NC : 4); k++) memcpy(rec_row(m, k, 0), g, sizeof(float) * Vp);
    }
    for (int k = 0; k < NC; k++) cuda_decoder_attach(gpu, k, k < 4 ? 0 : 1), cpu_decoder_attach(cpu, k, k < 4 ? 0 : 1);
    static const int start[NC] = {0, 2, 1, 0, 3, 0};
    for (int tick = 0; tick < steps + 3; tick++) {
        int order[NC], n = 0;
        int32_t tok[NC];
        for (int i = 0; i < NC; i++) {
            int k = tick % 2 ? NC - 1 - i : (i * 5 + tick) % NC, s = tick - start[k];
            if (s < 0 || s >= steps) continue;
            order[n] = k;
            tok[n++] = m->seq[k][m->plen[k] + s];
        }
        if (!n) continue;
        CHECK_OK(cuda_decoder_decode(gpu, n, order, tok, g, &e), &e);
        CHECK_OK(cpu_decoder_decode(cpu, n, order, tok, c, &e), &e);
        worst = fmax(worst, row_error(g, c, n, m->V, Vp));
        for (int i = 0; record && i < n; i++)
            memcpy(rec_row(m, order[i], 1 + tick - start[order[i]]), g + (size_t)i * Vp, sizeof(float) * Vp);
    }
    free(g), free(c);
    return worst;
}

/* Run B: the prompts into swapped caches, candidate k on slot 5 - k; steps alternate each
 * candidate alone (last first), pairs mixing the prompts, and all six in another order. */
static void check_invariance(TModel *m, void *gpu) {
    Error e;
    const int Vp = m->Vp;
    float *out = malloc(sizeof(float) * NC * Vp);
    int same = 1;
    CHECK_OK(cuda_decoder_prefill(gpu, 0, m->seq[4], NP1, out, &e), &e);
    same &= !memcmp(out, rec_row(m, 4, 0), sizeof(float) * Vp);
    CHECK_OK(cuda_decoder_prefill(gpu, 1, m->seq[0], NP0, out, &e), &e);
    same &= !memcmp(out, rec_row(m, 0, 0), sizeof(float) * Vp);
    CHECK_MSG(same, "%s: prefill logits differ between two prefills of the same prompt", m->name);
    for (int k = 0; k < NC; k++) cuda_decoder_attach(gpu, 5 - k, k < 4 ? 1 : 0);
    static const int pairs[3][2] = {{5, 0}, {1, 4}, {3, 2}}, all[NC] = {2, 5, 0, 3, 4, 1};
    same = 1;
    for (int s = 0; s < STEPS; s++) {
        int groups = s % 3 == 0 ? NC : s % 3 == 1 ? 3 : 1;
        for (int g = 0; g < groups; g++) {
            int n = s % 3 == 0 ? 1 : s % 3 == 1 ? 2 : NC, cand[NC], slots[NC];
            int32_t tok[NC];
            for (int i = 0; i < n; i++) {
                cand[i] = n == 1 ? NC - 1 - g : n == 2 ? pairs[g][i] : all[i];
                slots[i] = 5 - cand[i], tok[i] = m->seq[cand[i]][m->plen[cand[i]] + s];
            }
            CHECK_OK(cuda_decoder_decode(gpu, n, slots, tok, out, &e), &e);
            for (int i = 0; i < n; i++)
                same &= !memcmp(out + (size_t)i * Vp, rec_row(m, cand[i], 1 + s), sizeof(float) * Vp);
        }
    }
    CHECK_MSG(same, "%s: a slot's logits depend on the rows decoded with it or their order", m->name);
    /* every slot holds max_new tokens: one more is an input error */
    CHECK(cuda_decoder_decode(gpu, 1, (int[]){0}, (int32_t[]){1}, out, &e) == RP_EINPUT);
    free(out);
}

static void check_errors(TModel *m, void *gpu) {
    Error e;
    float *out = malloc(sizeof(float) * m->Vp);
    int32_t bad[2] = {m->V, -1}, prompt[3] = {1, 0, 2}, longp[NP0 + 1] = {0};
    CHECK_OK(cuda_decoder_prefill(gpu, 0, prompt, 3, out, &e), &e);
    cuda_decoder_attach(gpu, 0, 0);
    for (int i = 0; i < 2; i++) {
        CHECK(cuda_decoder_decode(gpu, 1, (int[]){0}, &bad[i], out, &e) == RP_EINPUT);
        prompt[1] = bad[i];
        CHECK(cuda_decoder_prefill(gpu, 1, prompt, 3, out, &e) == RP_EINPUT);
    }
    CHECK(cuda_decoder_prefill(gpu, 1, longp, NP0 + 1, out, &e) == RP_EINPUT);
    CHECK_OK(cuda_decoder_decode(gpu, 1, (int[]){0}, (int32_t[]){3}, out, &e), &e); /* still usable */
    void *other = NULL;
    DecodePlan too_long = {.max_rows = 1, .n_prefixes = 1, .max_prompt = 31, .max_new = 10};
    CHECK(cuda_decoder_init(&other, &m->dev, &too_long, &e) == RP_EINPUT && !other);
    DecoderModel unknown = m->dev;
    unknown.arch = (Arch)7;
    DecodePlan ok = {.max_rows = 1, .n_prefixes = 1, .max_prompt = 4, .max_new = 4};
    CHECK(cuda_decoder_init(&other, &unknown, &ok, &e) == RP_EINPUT && !other);
    CHECK(cuda_decoder_bytes(&unknown, &ok, 1) == 0);
    if (m->dev.llama_cfg) { /* heads wider than the decode attention takes */
        LlamaConfig wide = m->lc;
        wide.head_dim = CUDA_DECODE_MAX_HD + 2;
        DecoderModel wdm = m->dev;
        wdm.llama_cfg = &wide;
        CHECK(cuda_decoder_init(&other, &wdm, &ok, &e) == RP_EINPUT && !other);
    }
    free(out);
}

static void test_model(TModel *m) {
    Error e;
    for (int k = 0; k < NC; k++) {
        m->plen[k] = k < 4 ? NP0 : NP1;
        for (int t = 0; t < MAXT; t++) m->seq[k][t] = (int32_t)(rng_next(&rng) % (uint64_t)m->V);
        if (k % 4) memcpy(m->seq[k], m->seq[k < 4 ? 0 : 4], sizeof(int32_t) * m->plen[k]); /* shared prompts */
    }
    m->rec = malloc(sizeof(float) * NC * (1 + STEPS) * m->Vp);
    for (int bf = 0; bf < 2; bf++) {
        DecodePlan p = {.max_rows = NC, .n_prefixes = 2, .max_prompt = NP0, .max_new = STEPS,
                        .weights = bf ? DTYPE_BF16 : DTYPE_F32};
        void *gpu = NULL, *cpu = NULL;
        CHECK_OK(cuda_decoder_init(&gpu, &m->dev, &p, &e), &e);
        CHECK_OK(cpu_decoder_init(&cpu, &m->host, &p, &e), &e);
        if (!gpu || !cpu) return;
        CHECK(cuda_decoder_bytes(&m->dev, &p, 1) > 0);
        double err = run_against_cpu(m, gpu, cpu, bf ? 3 : STEPS, !bf);
        CHECK_MSG(err <= kTol, "%s (%s weights): error %.3g > %.3g", m->name, bf ? "bf16" : "fp32", err, kTol);
        printf("%s, %s weights: max |diff| / max(1, max |logit|) vs the CPU decoder %.3g\n", m->name,
               bf ? "bf16" : "fp32", err);
        if (bf) worst_bf16 = fmax(worst_bf16, err);
        else worst_fp32 = fmax(worst_fp32, err), check_invariance(m, gpu), check_errors(m, gpu);
        cuda_decoder_free(gpu);
        cpu_decoder_free(cpu);
    }
    free(m->rec);
}

/* The decoder's own kernels, under each thread order. */
static void test_kernels(void) {
    test_matmul();
    test_attention();
}

int main(void) {
    rng_seed(&rng, 20261203);
    kernels_set_threads(1);
    if (cuda_test_run(test_kernels, 7, "test_cuda_decoder_gpu")) return 77;
    for (int i = 0; i < NMODELS; i++) {
#ifdef RESTPG_SIMT_EMU
        simt_emu_set_order((SimtOrder)(i % 3), 100 + i); /* each model under another order */
#endif
        TModel m;
        memset(&m, 0, sizeof m);
        if (i == 0) make_gpt2(&m);
        else make_llama(&m, i - 1);
        test_model(&m);
        cudaFree(m.dbase);
        free(m.hbase);
    }
    printf("product max error %.3g (tolerance 1e-6), attention %.3g (tolerance 2e-6); decoder vs CPU: fp32 %.3g, bf16 "
           "%.3g "
           "(tolerance %.3g)\n",
           worst_matmul, worst_attn, worst_fp32, worst_bf16, kTol);
    return test_summary("test_cuda_decoder");
}
