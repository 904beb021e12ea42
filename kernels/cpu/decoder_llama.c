/* The CPU decoder of the Llama family (Llama, Qwen2, Qwen3, Gemma 3): prefill and batched decode
 * with prompt and suffix KV caches (see decoder_llama.h; the contract is model/infer.h's, the
 * architecture model/llama.h's). It reads the config's switches as the training forward does:
 * norm offset, embedding scale, optional q/k/v biases, q/k norms and post norms, GeGLU or SwiGLU,
 * RoPE scaling, sliding layers or none, a tied or untied LM head.
 *
 * Batch invariance, as in the GPT-2 decoder (decoder.c): every product is decode_gemm_nn over
 * transposed weights, and every bias, norm, RoPE rotation, softmax and GLU works on one row at a
 * time, so a slot's logits are the same bits whatever rows share its step. The one place rows
 * meet is the attention over a shared prompt: the rows of a group are one product per head over
 * the keys from the earliest position any of them sees. With a sliding window the
 * rows see different prompt ranges; a row's probabilities before its own first key are exact
 * zeros, and a fused multiply-add chain that starts at +0 stays +0 over zero terms, so the
 * values product gives that row the bits it gets alone.
 *
 * Weight layout: each matrix is copied as panels of PANEL output columns, each panel [in][PANEL]
 * contiguous, rather than as one [in][out] matrix. A product's task then streams one contiguous
 * panel instead of a few cache lines from each of `in` rows a whole matrix row apart (4 bytes x
 * 262,144 for the LM head), which the prefetcher cannot follow; the LM head of Gemma 3 270M runs
 * about twice as fast. Each output element is the same fused multiply-add chain as with
 * decode_matmul, so the layout changes no bit.
 *
 * Activation buffers hold max(max_prompt, max_rows) rows and serve prefill and decode; the
 * residual stream x is updated in place. */
#include "kernels/cpu/decoder_llama.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "kernels/cpu/decode.h"
#include "kernels/cpu/decoder.h"
#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

typedef struct {
    Arch arch; /* ARCH_GEMMA3, first: decoder.c dispatches on it */
    LlamaTensors w;
    LlamaConfig d;
    DecodePlan plan;
    int n_threads;      /* threads the attention tasks may use (scratch is per thread) */
    int ld_scratch;     /* max_prompt + max_new + 1 */
    float *mem;         /* every float buffer below */
    float *attn_ws;     /* the prefill's attention_gqa_forward workspace, attn_ws_bytes */
    size_t attn_ws_bytes;
    float *pkt, *pv;    /* prompt caches [L][n_prefixes]: keys [NKV][hd][max_prompt], values [max_prompt][KV] */
    float *sk, *sv;     /* suffix caches: [L][max_rows][max_new][KV] each */
    float *x, *ln, *q, *k, *v, *att, *tmp, *gate, *up, *rstd, *lse;
    float *rope;        /* per decode row: cos | sin of the local base, then of the global one, [2][hd] */
    float *scratch;
    void *wt;           /* panels (panel_pack) of every layer's q, k, v, o, gate, up, down, then of the LM head,
                         * then (untied head) token_embd row-major, in plan.weights */
    int *plen;          /* [n_prefixes] prompt length, 0 = empty */
    int *slen, *sprefix; /* [max_rows] suffix length and attached prompt (-1 = none) */
    int *mark, *starts; /* per-step scratch: [max_rows], [max_rows + 1] */
} LlamaDecoder;

/* A layer's parameters: norm weights and biases in place (NULL where the config has none),
 * matrices from the panel copies. */
typedef struct {
    const float *attn_norm, *q_norm, *k_norm, *post_attn_norm, *ffn_norm, *post_ffw_norm, *q_b, *k_b, *v_b;
    DecodeW q, k, v, o, gate, up, down;
} LayerW;

/* Layer l's slice of a per-layer vector of `per` floats; NULL for a tensor the config lacks. */
static const float *at_layer(const float *t, int l, size_t per) { return t ? t + (size_t)l * per : NULL; }

static size_t layer_wt_floats(const LlamaConfig *d) {
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    return C * (Q + 2 * KV) + Q * C + 3 * C * (size_t)d->intermediate_size;
}

static void layer_w(const LlamaDecoder *s, int l, LayerW *lw) {
    const LlamaConfig *d = &s->d;
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    size_t I = (size_t)d->intermediate_size;
    lw->attn_norm = at_layer(s->w.attn_norm, l, C);
    lw->q_norm = at_layer(s->w.attn_q_norm, l, (size_t)d->head_dim);
    lw->k_norm = at_layer(s->w.attn_k_norm, l, (size_t)d->head_dim);
    lw->post_attn_norm = at_layer(s->w.post_attention_norm, l, C);
    lw->ffn_norm = at_layer(s->w.ffn_norm, l, C);
    lw->post_ffw_norm = at_layer(s->w.post_ffw_norm, l, C);
    lw->q_b = at_layer(s->w.attn_q_b, l, Q);
    lw->k_b = at_layer(s->w.attn_k_b, l, KV);
    lw->v_b = at_layer(s->w.attn_v_b, l, KV);
    size_t at = (size_t)l * layer_wt_floats(d);
    const size_t n[7] = {C * Q, C * KV, C * KV, Q * C, C * I, C * I, I * C};
    DecodeW *m[7] = {&lw->q, &lw->k, &lw->v, &lw->o, &lw->gate, &lw->up, &lw->down};
    for (int i = 0; i < 7; i++) {
        *m[i] = cpu_decoder_weights(s->wt, s->plan.weights, at);
        at += n[i];
    }
}

/* Output columns per weight panel: a multiple of every vector tile width of decode.c (48, 24). */
#define PANEL 96
/* Rows per product task, so a step's few rows read each panel once. */
#define ROW_BLOCK 64

/* Packs w [out, in] (nn.Linear) as panels: panel j holds output columns [j*PANEL, j*PANEL + pw)
 * as [in][pw] (pw = PANEL but for the last), at dst + j*PANEL*in. Panel j's source rows are
 * contiguous, so each panel is one transpose. */
static void panel_pack(DecodeW dst, const float *w, size_t out, size_t in) {
    const size_t np = (out + PANEL - 1) / PANEL;
    const DType dt = dst.bf16 ? DTYPE_BF16 : DTYPE_F32;
#pragma omp parallel for schedule(static) if (np > 1 && out * in > 65536)
    for (size_t j = 0; j < np; j++) {
        size_t pw = out - j * PANEL < PANEL ? out - j * PANEL : PANEL;
        cpu_decoder_transpose((void *)cpu_decoder_weights((void *)dst.p, dt, j * PANEL * in).p, dt, w + j * PANEL * in,
                              pw, in);
    }
}

/* out[N, OC] = inp[N, K] @ W^T for W packed by panel_pack, each element decode_gemm_nn's chain,
 * on the kernels' thread count (any thread computes a task the same way). */
static void panel_matmul(float *out, const float *inp, DecodeW wp, int N, int K, int OC) {
    const DType dt = wp.bf16 ? DTYPE_BF16 : DTYPE_F32;
    const int np = (OC + PANEL - 1) / PANEL, nrb = (N + ROW_BLOCK - 1) / ROW_BLOCK, ntasks = np * nrb;
#pragma omp parallel for schedule(dynamic, 1) if (ntasks > 1 && (size_t)N * OC * K > 200000)
    for (int t = 0; t < ntasks; t++) {
        int j = t % np, i0 = t / np * ROW_BLOCK, pw = OC - j * PANEL < PANEL ? OC - j * PANEL : PANEL;
        int rows = N - i0 < ROW_BLOCK ? N - i0 : ROW_BLOCK;
        decode_gemm_nn_w(out + (size_t)i0 * OC + (size_t)j * PANEL, OC, inp + (size_t)i0 * K, K,
                         cpu_decoder_weights((void *)wp.p, dt, (size_t)j * PANEL * K), pw, rows, pw, K);
    }
}

/* Offsets (in weight elements) of the LM head's panels, after every layer's matrices, and of the
 * untied model's row-major embedding copy after them. */
static size_t head_at(const LlamaConfig *d) { return (size_t)d->n_layer * layer_wt_floats(d); }
static size_t embed_at(const LlamaConfig *d) { return head_at(d) + (size_t)d->padded_vocab_size * d->hidden_size; }

/* Elements of the whole weight copy: the layers, the head, and the embedding unless tied. */
static size_t wt_elems(const LlamaConfig *d) {
    return embed_at(d) + (d->tie_word_embeddings ? 0 : (size_t)d->padded_vocab_size * d->hidden_size);
}

static void pack_weights(LlamaDecoder *s) {
    const LlamaConfig *d = &s->d;
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    size_t I = (size_t)d->intermediate_size;
    for (int l = 0; l < d->n_layer; l++) {
        LayerW lw;
        layer_w(s, l, &lw);
        panel_pack(lw.q, s->w.attn_q + l * Q * C, Q, C);
        panel_pack(lw.k, s->w.attn_k + l * KV * C, KV, C);
        panel_pack(lw.v, s->w.attn_v + l * KV * C, KV, C);
        panel_pack(lw.o, s->w.attn_output + l * C * Q, C, Q);
        panel_pack(lw.gate, s->w.ffn_gate + l * I * C, I, C);
        panel_pack(lw.up, s->w.ffn_up + l * I * C, I, C);
        panel_pack(lw.down, s->w.ffn_down + l * C * I, C, I);
    }
    const float *head = d->tie_word_embeddings ? s->w.token_embd : s->w.output;
    panel_pack(cpu_decoder_weights(s->wt, s->plan.weights, head_at(d)), head, (size_t)d->padded_vocab_size, C);
    if (d->tie_word_embeddings) return;
    /* The untied model's embedding, row-major so that a lookup reads one contiguous row. */
    size_t n = (size_t)d->padded_vocab_size * C;
    if (s->plan.weights == DTYPE_BF16) {
        uint16_t *dst = (uint16_t *)s->wt + embed_at(d);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) dst[i] = bf16_from_f32(s->w.token_embd[i]);
    } else {
        memcpy((float *)s->wt + embed_at(d), s->w.token_embd, n * sizeof(float));
    }
}

/* Element `at` of a weight copy as fp32 (a bf16 element widens exactly). */
static float weight_at(DecodeW w, size_t at) {
    return w.bf16 ? bf16_to_f32(((const uint16_t *)w.p)[at]) : ((const float *)w.p)[at];
}

/* x[i] = scale * token_embd[tokens[i]] for n rows, read from the weight copy in the plan's dtype
 * (with fp32 weights these are the bits of embedding_forward: the same multiply): with a tied
 * head from the head's panels, so that with bf16 weights the lookup and the head use the same
 * values; otherwise from the row-major embedding copy. */
static void embed(LlamaDecoder *s, const int32_t *tokens, int n) {
    const LlamaConfig *d = &s->d;
    const size_t C = (size_t)d->hidden_size;
    const float scale = llama_embed_scale(d);
    for (int i = 0; i < n; i++) {
        size_t t = (size_t)tokens[i], j = t / PANEL, pw = (size_t)d->padded_vocab_size - j * PANEL;
        pw = pw < PANEL ? pw : PANEL;
        float *x = s->x + (size_t)i * C;
        if (!d->tie_word_embeddings) {
            DecodeW row = cpu_decoder_weights(s->wt, s->plan.weights, embed_at(d) + t * C);
            for (size_t c = 0; c < C; c++) x[c] = weight_at(row, c) * scale;
            continue;
        }
        DecodeW panel = cpu_decoder_weights(s->wt, s->plan.weights, head_at(d) + j * PANEL * C);
        for (size_t c = 0; c < C; c++) x[c] = weight_at(panel, c * pw + t % PANEL) * scale;
    }
}

static int act_rows(const DecodePlan *p) { return p->max_prompt > p->max_rows ? p->max_prompt : p->max_rows; }

enum { P_WS, P_PKT, P_PV, P_SK, P_SV, P_X, P_LN, P_Q, P_K, P_V, P_ATT, P_TMP, P_GATE, P_UP, P_RSTD, P_LSE, P_ROPE,
       P_SCRATCH, P_WT, N_PIECES };

/* Float counts of the pieces of s->mem, in allocation order (the workspace first, rounded to 64
 * bytes, so it keeps the allocation's alignment). */
static void plan_sizes(const LlamaConfig *d, const DecodePlan *p, int threads, size_t sz[N_PIECES]) {
    size_t C = (size_t)d->hidden_size, L = (size_t)d->n_layer, R = (size_t)act_rows(p), NH = (size_t)d->n_head;
    size_t Q = NH * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim, I = (size_t)d->intermediate_size;
    size_t ld = (size_t)p->max_prompt + (size_t)p->max_new + 1;
    sz[P_WS] = (attention_gqa_workspace(1, p->max_prompt, d->n_head) + 63) / 64 * 16;
    sz[P_PKT] = sz[P_PV] = L * p->n_prefixes * (size_t)p->max_prompt * KV;
    sz[P_SK] = sz[P_SV] = L * p->max_rows * (size_t)p->max_new * KV;
    sz[P_X] = sz[P_LN] = sz[P_TMP] = R * C;
    sz[P_Q] = sz[P_ATT] = R * Q;
    sz[P_K] = sz[P_V] = R * KV;
    sz[P_GATE] = sz[P_UP] = R * I;
    sz[P_RSTD] = sz[P_LSE] = R * NH;
    sz[P_ROPE] = (size_t)p->max_rows * 2 * d->head_dim;
    sz[P_SCRATCH] = (size_t)threads * p->max_rows * ld;
    sz[P_WT] = cpu_decoder_weight_floats(p->weights, wt_elems(d));
}

static size_t n_ints(const DecodePlan *p) { return (size_t)p->n_prefixes + (size_t)p->max_rows * 4 + 1; }

size_t cpu_decoder_llama_bytes(const LlamaConfig *d, const DecodePlan *p, int threads) {
    size_t sz[N_PIECES], n = 0;
    plan_sizes(d, p, threads, sz);
    for (int i = 0; i < N_PIECES; i++) n += sz[i];
    return sizeof(LlamaDecoder) + n * sizeof(float) + n_ints(p) * sizeof(int);
}

void cpu_decoder_llama_free(void *dec) {
    LlamaDecoder *s = dec;
    if (!s) return;
    free(s->mem);
    free(s->plen);
    free(s);
}

int cpu_decoder_llama_init(void **dec, const LlamaTensors *w, const LlamaConfig *d, const DecodePlan *p, Error *e) {
    *dec = NULL;
    int prc = cpu_decoder_plan_check(p, d->max_positions, "max_positions", e);
    if (prc) return prc;
    LlamaDecoder *s = xcalloc(1, sizeof *s, e);
    if (!s) return RP_ENOMEM;
    s->arch = d->arch;
    s->w = *w;
    s->d = *d;
    s->plan = *p;
    s->n_threads = kernels_threads();
    s->ld_scratch = p->max_prompt + p->max_new + 1;
    size_t sz[N_PIECES], total = 0;
    plan_sizes(d, p, s->n_threads, sz);
    for (int i = 0; i < N_PIECES; i++) total += sz[i];
    s->mem = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    s->plen = xcalloc(n_ints(p), sizeof(int), e);
    if (!s->mem || !s->plen) {
        cpu_decoder_llama_free(s);
        return error_set(e, RP_ENOMEM, "KV-cache inference: out of memory for %zu bytes (%d rows, %d prompt caches of %d "
                                       "tokens, %d new tokens); lower the batch",
                         cpu_decoder_llama_bytes(d, p, kernels_threads()), p->max_rows, p->n_prefixes, p->max_prompt,
                         p->max_new);
    }
    float *f = s->mem;
    float **dst[N_PIECES - 1] = {&s->attn_ws, &s->pkt, &s->pv,  &s->sk,   &s->sv,   &s->x,    &s->ln,
                             &s->q,       &s->k,   &s->v,   &s->att,  &s->tmp,  &s->gate, &s->up,
                             &s->rstd,    &s->lse, &s->rope, &s->scratch};
    for (int i = 0; i < N_PIECES - 1; i++) {
        *dst[i] = f;
        f += sz[i];
    }
    s->wt = f; /* the last piece */
    s->attn_ws_bytes = sz[P_WS] * sizeof(float);
    s->slen = s->plen + p->n_prefixes;
    s->sprefix = s->slen + p->max_rows;
    s->mark = s->sprefix + p->max_rows;
    s->starts = s->mark + p->max_rows;
    for (int i = 0; i < p->max_rows; i++) s->sprefix[i] = -1;
    pack_weights(s);
    *dec = s;
    return RP_OK;
}

/* y[r] += b for n rows of width w (no bias: nothing). */
static void add_bias(float *y, const float *b, int n, int w) {
    if (!b) return;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < w; c++) y[(size_t)r * w + c] += b[c];
}

/* The attention norm of n rows of x, their q, k, v (with biases), and the per-head q/k norms (in
 * place) when the config has them. */
static void project_qkv(LlamaDecoder *s, const LayerW *lw, int n) {
    const LlamaConfig *d = &s->d;
    const int C = d->hidden_size, hd = d->head_dim, Q = d->n_head * hd, KV = d->n_kv_head * hd;
    const float eps = d->rms_norm_eps, off = d->norm_offset;
    rmsnorm_forward(s->ln, s->rstd, s->x, lw->attn_norm, NULL, n, C, eps, off);
    panel_matmul(s->q, s->ln, lw->q, n, C, Q);
    panel_matmul(s->k, s->ln, lw->k, n, C, KV);
    panel_matmul(s->v, s->ln, lw->v, n, C, KV);
    add_bias(s->q, lw->q_b, n, Q);
    add_bias(s->k, lw->k_b, n, KV);
    add_bias(s->v, lw->v_b, n, KV);
    if (!d->qk_norm) return;
    rmsnorm_forward(s->q, s->rstd, s->q, lw->q_norm, NULL, n * d->n_head, hd, eps, off);
    rmsnorm_forward(s->k, s->rstd, s->k, lw->k_norm, NULL, n * d->n_kv_head, hd, eps, off);
}

/* x += post_norm(branch) for n rows (branch in tmp; the norm adds x itself), or x += branch
 * without post norms. */
static void add_branch(LlamaDecoder *s, const float *post_norm, int n) {
    const int C = s->d.hidden_size;
    if (s->d.post_norms)
        rmsnorm_forward(s->x, s->rstd, s->tmp, post_norm, s->x, n, C, s->d.rms_norm_eps, s->d.norm_offset);
    else
        residual_forward(s->x, s->tmp, s->x, (size_t)n * C);
}

/* The block after attention (output projection, its post-norm and residual, then the MLP). */
static void block_tail(LlamaDecoder *s, const LayerW *lw, int n) {
    const LlamaConfig *d = &s->d;
    const int C = d->hidden_size, Q = d->n_head * d->head_dim, I = d->intermediate_size;
    panel_matmul(s->tmp, s->att, lw->o, n, Q, C);
    add_branch(s, lw->post_attn_norm, n);
    rmsnorm_forward(s->ln, s->rstd, s->x, lw->ffn_norm, NULL, n, C, d->rms_norm_eps, d->norm_offset);
    panel_matmul(s->gate, s->ln, lw->gate, n, C, I);
    panel_matmul(s->up, s->ln, lw->up, n, C, I);
    (d->hidden_act == ACT_SILU ? swiglu_forward : geglu_forward)(s->gate, s->gate, s->up, (size_t)n * I);
    panel_matmul(s->tmp, s->gate, lw->down, n, I, C);
    add_branch(s, lw->post_ffw_norm, n);
}

/* Final norm of rows [r0, r0+n) of x and their logits. */
static void lm_head(LlamaDecoder *s, int r0, int n, float *logits) {
    const LlamaConfig *d = &s->d;
    const int C = d->hidden_size;
    rmsnorm_forward(s->ln, s->rstd, s->x + (size_t)r0 * C, s->w.output_norm, NULL, n, C, d->rms_norm_eps,
                    d->norm_offset);
    panel_matmul(logits, s->ln, cpu_decoder_weights(s->wt, s->plan.weights, head_at(d)), n, C, d->padded_vocab_size);
}

int cpu_decoder_llama_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    LlamaDecoder *s = dec;
    const LlamaConfig *d = &s->d;
    const int Pm = s->plan.max_prompt, hd = d->head_dim, KV = d->n_kv_head * hd;
    if (prefix < 0 || prefix >= s->plan.n_prefixes)
        return error_set(e, RP_EINTERNAL, "infer_prefill: prompt cache %d of %d", prefix, s->plan.n_prefixes);
    if (n < 1 || n > Pm) return error_set(e, RP_EINPUT, "infer_prefill: prompt of %d tokens (planned 1..%d)", n, Pm);
    for (int i = 0; i < n; i++)
        if (cpu_decoder_check_token(tokens[i], s->d.vocab_size, "infer_prefill: prompt", i, e)) return RP_EINPUT;
    /* A failed prefill leaves the cache empty rather than half-written. */
    s->plen[prefix] = 0;
    embed(s, tokens, n);
    for (int l = 0; l < d->n_layer; l++) {
        LayerW lw;
        layer_w(s, l, &lw);
        int global = llama_layer_is_global(d, l);
        RopeSpec rope = llama_rope(d, global);
        project_qkv(s, &lw, n);
        rope_forward(s->q, 1, n, d->n_head, hd, &rope);
        rope_forward(s->k, 1, n, d->n_kv_head, hd, &rope);
        size_t cache = ((size_t)l * s->plan.n_prefixes + prefix) * (size_t)Pm * KV;
        float *kt = s->pkt + cache, *v = s->pv + cache;
        for (int t = 0; t < n; t++) {
            const float *row = s->k + (size_t)t * KV;
            for (int c = 0; c < KV; c++) kt[(size_t)c * Pm + t] = row[c];
            memcpy(v + (size_t)t * KV, s->v + (size_t)t * KV, sizeof(float) * KV);
        }
        if (attention_gqa_forward(s->att, s->lse, s->q, s->k, s->v, 1, n, d->n_head, d->n_kv_head, hd,
                                  global ? 0 : d->sliding_window, llama_attn_scale(d), s->attn_ws, s->attn_ws_bytes, e))
            return error_wrap(e, "infer_prefill layer %d", l);
        block_tail(s, &lw, n);
    }
    s->plen[prefix] = n;
    lm_head(s, n - 1, 1, logits);
    return RP_OK;
}

void cpu_decoder_llama_attach(void *dec, int slot, int prefix) {
    LlamaDecoder *s = dec;
    s->sprefix[slot] = prefix;
    s->slen[slot] = 0;
}

/* Checks the step's rows, fills their scaled embeddings and their RoPE cosines and sines (for
 * both bases, in double as rope_forward computes them, so a position rotates the same way in
 * prefill and decode). */
static int decode_begin(LlamaDecoder *s, int n, const int *slots, const int32_t *tokens, Error *e) {
    const LlamaConfig *d = &s->d;
    const int hd = d->head_dim, half = hd / 2;
    if (n < 1 || n > s->plan.max_rows)
        return error_set(e, RP_EINTERNAL, "infer_decode: %d rows (planned 1..%d)", n, s->plan.max_rows);
    for (int r = 0; r < n; r++) {
        int sl = slots[r];
        if (sl < 0 || sl >= s->plan.max_rows || s->sprefix[sl] < 0 || s->plen[s->sprefix[sl]] == 0)
            return error_set(e, RP_EINTERNAL, "infer_decode: row %d: slot %d is not attached to a filled prompt", r, sl);
        s->mark[sl] = -1;
    }
    for (int r = 0; r < n; r++) {
        int sl = slots[r], pos = s->plen[s->sprefix[sl]] + s->slen[sl];
        if (s->mark[sl] >= 0)
            return error_set(e, RP_EINTERNAL, "infer_decode: slot %d appears in rows %d and %d", sl, s->mark[sl], r);
        s->mark[sl] = r;
        if (cpu_decoder_check_token(tokens[r], s->d.vocab_size, "infer_decode: step", r, e)) return RP_EINPUT;
        if (s->slen[sl] >= s->plan.max_new || pos >= d->max_positions)
            return error_set(e, RP_EINPUT,
                             "infer_decode: slot %d is full (position %d, %d new tokens planned, max_positions %d)", sl,
                             pos, s->plan.max_new, d->max_positions);
        float *cs = s->rope + (size_t)r * 2 * hd;
        for (int b = 0; b < 2; b++, cs += hd) {
            RopeSpec rope = llama_rope(d, b);
            for (int i = 0; i < half; i++) {
                double a = (double)pos * rope_inv_freq(&rope, i, hd);
                cs[i] = (float)cos(a);
                cs[half + i] = (float)sin(a);
            }
        }
    }
    embed(s, tokens, n);
    return RP_OK;
}

/* Rotate-half RoPE of the step's rows (nh heads each) by their positions (b: 0 local, 1 global). */
static void rope_rows(const LlamaDecoder *s, float *x, int n, int nh, int b) {
    const int hd = s->d.head_dim, half = hd / 2;
    for (int r = 0; r < n; r++) {
        const float *c = s->rope + ((size_t)r * 2 + b) * hd, *sn = c + half;
        for (int h = 0; h < nh; h++) {
            float *v = x + ((size_t)r * nh + h) * hd;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c[i] - x2 * sn[i];
                v[i + half] = x2 * c[i] + x1 * sn[i];
            }
        }
    }
}

/* Query head h for the m rows of one group (rows r0.., all attached to prompt cache p) in layer
 * l: scores against the prompt keys [lo, P) as one product, then each row's own suffix, a
 * softmax over the row's visible positions [first, pos], and the values. */
static void attend_head(const LlamaDecoder *s, int l, int window, int r0, int m, const int *slots, int h,
                        float *scratch) {
    const LlamaConfig *d = &s->d;
    const int hd = d->head_dim, Q = d->n_head * hd, KV = d->n_kv_head * hd, kvo = h / (d->n_head / d->n_kv_head) * hd;
    const int p = s->sprefix[slots[0]], P = s->plen[p], ld = s->ld_scratch;
    const size_t Pm = (size_t)s->plan.max_prompt, Sm = (size_t)s->plan.max_new;
    const size_t cache = ((size_t)l * s->plan.n_prefixes + p) * Pm * KV;
    const float *kt = s->pkt + cache + (size_t)kvo * Pm, *pv = s->pv + cache + kvo;
    const float *q = s->q + (size_t)r0 * Q + (size_t)h * hd;
    float *out = s->att + (size_t)r0 * Q + (size_t)h * hd;
    const float scale = llama_attn_scale(d);
    int lo = P;
    for (int i = 0; i < m; i++) {
        int pos = P + s->slen[slots[i]], first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        lo = first < lo ? first : lo;
    }
    if (lo < P) decode_gemm_nn(scratch + lo, ld, q, Q, kt + lo, (int)Pm, m, P - lo, hd);
    for (int i = 0; i < m; i++) {
        const float *qi = q + (size_t)i * Q;
        const size_t suf = ((size_t)l * s->plan.max_rows + slots[i]) * Sm * KV;
        float *row = scratch + (size_t)i * ld;
        int pos = P + s->slen[slots[i]], first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        for (int t = first > P ? first : P; t <= pos; t++)
            row[t] = fm_dot(qi, s->sk + suf + (size_t)(t - P) * KV + kvo, hd);
        int nvis = pos - first + 1;
        for (int t = first; t <= pos; t++) row[t] *= scale;
        row[ld - 1] = 1.0f / fm_exp_shift_sum(row + first, nvis, fm_max(row + first, nvis));
        for (int t = lo; t < first && t < P; t++) row[t] = 0.0f;
    }
    if (lo < P) decode_gemm_nn(out, Q, scratch + lo, ld, pv + (size_t)lo * KV, KV, m, hd, P - lo);
    for (int i = 0; i < m; i++) {
        const size_t suf = ((size_t)l * s->plan.max_rows + slots[i]) * Sm * KV;
        const float *row = scratch + (size_t)i * ld;
        float *o = out + (size_t)i * Q;
        int pos = P + s->slen[slots[i]], first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        if (lo >= P) memset(o, 0, sizeof(float) * (size_t)hd);
        for (int t = first > P ? first : P; t <= pos; t++) {
            const float *vt = s->sv + suf + (size_t)(t - P) * KV + kvo;
            for (int c = 0; c < hd; c++) o[c] = o[c] + row[t] * vt[c];
        }
        for (int c = 0; c < hd; c++) o[c] *= row[ld - 1];
    }
}

/* Attention of layer l for the step's rows: appends each row's key and value to its suffix, then
 * one task per (group of adjacent rows with the same prompt cache, query head). */
static void decode_attention(LlamaDecoder *s, int l, int n, const int *slots) {
    const LlamaConfig *d = &s->d;
    const int NH = d->n_head, KV = d->n_kv_head * d->head_dim;
    const int window = llama_layer_is_global(d, l) ? 0 : d->sliding_window;
    const size_t Sm = (size_t)s->plan.max_new;
    int *starts = s->starts, ng = 0;
    for (int r = 0; r < n; r++) {
        int sl = slots[r];
        size_t at = (((size_t)l * s->plan.max_rows + sl) * Sm + (size_t)s->slen[sl]) * KV;
        memcpy(s->sk + at, s->k + (size_t)r * KV, sizeof(float) * KV);
        memcpy(s->sv + at, s->v + (size_t)r * KV, sizeof(float) * KV);
        if (r == 0 || s->sprefix[sl] != s->sprefix[slots[r - 1]]) starts[ng++] = r;
    }
    starts[ng] = n;
    const int ntasks = ng * NH, threads = kernels_threads() < s->n_threads ? kernels_threads() : s->n_threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (ntasks > 1 && threads > 1)
    for (int task = 0; task < ntasks; task++) {
        int g = task / NH, r0 = starts[g];
        float *scratch = s->scratch + (size_t)omp_get_thread_num() * s->plan.max_rows * s->ld_scratch;
        attend_head(s, l, window, r0, starts[g + 1] - r0, slots + r0, task % NH, scratch);
    }
}

int cpu_decoder_llama_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    LlamaDecoder *s = dec;
    int rc = decode_begin(s, n, slots, tokens, e);
    if (rc) return rc;
    const LlamaConfig *d = &s->d;
    for (int l = 0; l < d->n_layer; l++) {
        LayerW lw;
        layer_w(s, l, &lw);
        int global = llama_layer_is_global(d, l);
        project_qkv(s, &lw, n);
        rope_rows(s, s->q, n, d->n_head, global);
        rope_rows(s, s->k, n, d->n_kv_head, global);
        decode_attention(s, l, n, slots);
        block_tail(s, &lw, n);
    }
    for (int r = 0; r < n; r++) s->slen[slots[r]]++;
    lm_head(s, 0, n, logits);
    return RP_OK;
}
