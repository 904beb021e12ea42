/* The CPU decoder: the decoder ops' dispatch on the model's architecture, and GPT-2's prefill and
 * batched decode with prompt and suffix KV caches (see decoder.h; the contract is model/infer.h's;
 * the Llama family's decoder is decoder_llama.c).
 *
 * Every product takes its second operand with the output columns contiguous, the form of the
 * batch-invariant kernel (kernels/cpu/decode.h): the weight matrices and the token embedding are
 * copied transposed ([in, out]) at init (one more copy of the parameters), and the prompt's keys
 * are stored channel-major, so queries x keys and probabilities x values are that form too.
 * Activation buffers are sized for max(max_prompt, max_rows) rows and shared by prefill and
 * decode; the residual stream x is updated in place (decode_matmul allows resid == out). */
#include "kernels/cpu/decoder.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "kernels/cpu/decode.h"
#include "kernels/cpu/decoder_llama.h"
#include "kernels/cpu/ops.h"

typedef struct {
    Arch arch;          /* ARCH_GPT2, first: the ops dispatch on it */
    GPT2Tensors w;      /* the model's weights (vectors read in place) */
    GPT2Dims d;
    DecodePlan plan;
    int n_threads;      /* threads the attention tasks may use (scratch is per thread) */
    int ld_scratch;     /* max_prompt + max_new + 1 */
    float *mem;         /* every float buffer below */
    float *attn_ws;     /* the prefill's attention_forward workspace, attn_ws_bytes */
    size_t attn_ws_bytes;
    float *pkt, *pv;    /* prompt caches, [L][n_prefixes]: keys [C][max_prompt], values [max_prompt][C] */
    float *sk, *sv;     /* suffix caches: [L][max_rows][max_new * C] each */
    float *x, *ln, *qkv, *att, *fch, *mean, *rstd, *lse, *scratch;
    void *wt;           /* per layer qkv, proj, fc, fcproj weights transposed, then wte transposed, in plan.weights */
    int *plen;          /* [n_prefixes] prompt length, 0 = empty */
    int *slen, *sprefix; /* [max_rows] suffix length and attached prompt (-1 = none) */
    int *ns, *mark, *starts; /* per-step scratch: [max_rows], [max_rows], [max_rows + 1] */
    const float **ks, **vs;
} Decoder;

/* Parameter pointers of layer l: vectors from the weights (backend.h's [L, ...] views), the four
 * weight matrices from the transposed copies ([in, out]). */
typedef struct {
    const float *ln1w, *ln1b, *qkvb, *projb, *ln2w, *ln2b, *fcb, *fcprojb;
    DecodeW qkvw, projw, fcw, fcprojw;
} LayerParams;

/* Floats of one layer's transposed matrices: qkv [C][3C], proj [C][C], fc [C][4C], fcproj [4C][C]. */
static size_t layer_wt_floats(size_t C) { return 12 * C * C; }

static void layer_params(const Decoder *s, int l, LayerParams *p) {
    const GPT2Tensors *w = &s->w;
    size_t C = (size_t)s->d.n_embd, lC = (size_t)l * C, W = (size_t)l * layer_wt_floats(C);
    p->ln1w = w->ln1w + lC;
    p->ln1b = w->ln1b + lC;
    p->qkvw = cpu_decoder_weights(s->wt, s->plan.weights, W);
    p->qkvb = w->qkvb + lC * 3;
    p->projw = cpu_decoder_weights(s->wt, s->plan.weights, W + 3 * C * C);
    p->projb = w->attprojb + lC;
    p->ln2w = w->ln2w + lC;
    p->ln2b = w->ln2b + lC;
    p->fcw = cpu_decoder_weights(s->wt, s->plan.weights, W + 4 * C * C);
    p->fcb = w->fcb + lC * 4;
    p->fcprojw = cpu_decoder_weights(s->wt, s->plan.weights, W + 8 * C * C);
    p->fcprojb = w->fcprojb + lC;
}

DecodeW cpu_decoder_weights(void *wt, DType dt, size_t offset) {
    DecodeW w = {dt == DTYPE_BF16 ? (const void *)((uint16_t *)wt + offset) : (const void *)((float *)wt + offset),
                 dt == DTYPE_BF16};
    return w;
}

size_t cpu_decoder_weight_floats(DType dt, size_t n) { return dt == DTYPE_BF16 ? (n + 1) / 2 : n; }

void cpu_decoder_transpose(void *dst, DType dt, const float *src, size_t rows, size_t cols) {
    const size_t TB = 32;
    float *f = dst;
    uint16_t *h = dst;
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (size_t r0 = 0; r0 < rows; r0 += TB)
        for (size_t c0 = 0; c0 < cols; c0 += TB)
            for (size_t r = r0; r < r0 + TB && r < rows; r++)
                for (size_t c = c0; c < c0 + TB && c < cols; c++) {
                    if (dt == DTYPE_BF16) h[c * rows + r] = bf16_from_f32(src[r * cols + c]);
                    else f[c * rows + r] = src[r * cols + c];
                }
}

/* The transposed weight matrices of every layer, then the transposed token embedding (LM head). */
static void transpose_weights(Decoder *s) {
    const size_t C = (size_t)s->d.n_embd;
    const GPT2Tensors *w = &s->w;
    const DType dt = s->plan.weights;
    for (int l = 0; l < s->d.n_layer; l++) {
        size_t W = (size_t)l * layer_wt_floats(C);
        cpu_decoder_transpose((void *)cpu_decoder_weights(s->wt, dt, W).p, dt, w->qkvw + (size_t)l * 3 * C * C, 3 * C, C);
        cpu_decoder_transpose((void *)cpu_decoder_weights(s->wt, dt, W + 3 * C * C).p, dt, w->attprojw + (size_t)l * C * C,
                              C, C);
        cpu_decoder_transpose((void *)cpu_decoder_weights(s->wt, dt, W + 4 * C * C).p, dt, w->fcw + (size_t)l * 4 * C * C,
                              4 * C, C);
        cpu_decoder_transpose((void *)cpu_decoder_weights(s->wt, dt, W + 8 * C * C).p, dt,
                              w->fcprojw + (size_t)l * 4 * C * C, C, 4 * C);
    }
    cpu_decoder_transpose((void *)cpu_decoder_weights(s->wt, dt, (size_t)s->d.n_layer * layer_wt_floats(C)).p, dt, w->wte,
                          (size_t)s->d.padded_vocab_size, C);
}

/* x = wte[token] + wpe[pos], the token's row read from the transposed copy (the tied LM head), so
 * that with bf16 weights the lookup and the head use the same values, and wpe rounded like every
 * other weight matrix (with fp32 weights these are encoder_forward's bits: the same addition). */
static void embed_row(const Decoder *s, float *x, int32_t tok, int pos) {
    const size_t C = (size_t)s->d.n_embd, Vp = (size_t)s->d.padded_vocab_size;
    DecodeW wte_t = cpu_decoder_weights(s->wt, s->plan.weights, (size_t)s->d.n_layer * layer_wt_floats(C));
    const float *pe = s->w.wpe + (size_t)pos * C;
    for (size_t c = 0; c < C; c++) {
        size_t at = c * Vp + (size_t)tok;
        float te = wte_t.bf16 ? bf16_to_f32(((const uint16_t *)wte_t.p)[at]) : ((const float *)wte_t.p)[at];
        float p = wte_t.bf16 ? bf16_to_f32(bf16_from_f32(pe[c])) : pe[c];
        x[c] = te + p;
    }
}

static int act_rows(const DecodePlan *p) { return p->max_prompt > p->max_rows ? p->max_prompt : p->max_rows; }

#define N_PIECES 13

/* Float counts of the pieces of s->mem, in allocation order. The attention workspace comes first
 * and is rounded to 64 bytes, so it and every piece after it keep the allocation's alignment. */
static void plan_sizes(const GPT2Dims *d, const DecodePlan *p, int threads, size_t sz[N_PIECES]) {
    size_t C = (size_t)d->n_embd, L = (size_t)d->n_layer, R = (size_t)act_rows(p);
    size_t ld = (size_t)p->max_prompt + (size_t)p->max_new + 1;
    sz[0] = (attention_workspace(p->max_prompt) + 63) / 64 * 16;    /* attn_ws */
    sz[1] = sz[2] = L * p->n_prefixes * (size_t)p->max_prompt * C; /* pkt, pv */
    sz[3] = sz[4] = L * p->max_rows * (size_t)p->max_new * C;      /* sk, sv */
    sz[5] = R * C;                                                 /* x */
    sz[6] = R * C;                                                 /* ln */
    sz[7] = R * 3 * C;                                             /* qkv */
    sz[8] = R * C;                                                 /* att */
    sz[9] = R * 4 * C;                                             /* fch */
    sz[10] = R * (2 + (size_t)d->n_head);                          /* mean, rstd, lse */
    sz[11] = (size_t)threads * p->max_rows * ld;                   /* decode attention scratch */
    sz[12] = cpu_decoder_weight_floats(p->weights, L * layer_wt_floats(C) + C * (size_t)d->padded_vocab_size); /* wt */
}

static size_t gpt2_decoder_bytes(const GPT2Dims *d, const DecodePlan *p, int threads) {
    size_t sz[N_PIECES], n = 0;
    plan_sizes(d, p, threads, sz);
    for (int i = 0; i < N_PIECES; i++) n += sz[i];
    return sizeof(Decoder) + n * sizeof(float) + (size_t)p->n_prefixes * sizeof(int) +
           ((size_t)p->max_rows * 5 + 1) * sizeof(int) + (size_t)p->max_rows * 2 * sizeof(float *);
}

static void gpt2_decoder_free(Decoder *s) {
    free(s->mem);
    free(s->plen);
    free(s->slen);
    free(s->ks);
    free(s);
}

int cpu_decoder_plan_check(const DecodePlan *p, int positions, const char *what, Error *e) {
    if (p->max_rows < 1 || p->n_prefixes < 1 || p->max_prompt < 1 || p->max_new < 1)
        return error_set(e, RP_EINPUT, "infer plan: rows %d, prompt caches %d, prompt %d and new tokens %d must be >= 1",
                         p->max_rows, p->n_prefixes, p->max_prompt, p->max_new);
    if ((long)p->max_prompt + p->max_new > positions)
        return error_set(e, RP_EINPUT, "infer plan: prompt %d + new tokens %d exceed the model's %s %d", p->max_prompt,
                         p->max_new, what, positions);
    return RP_OK;
}

static int gpt2_decoder_init(void **dec, const GPT2Tensors *w, const GPT2Dims *d, const DecodePlan *p, Error *e) {
    int rc = cpu_decoder_plan_check(p, d->n_positions, "n_positions", e);
    if (rc) return rc;
    Decoder *s = xcalloc(1, sizeof *s, e);
    if (!s) return RP_ENOMEM;
    s->arch = ARCH_GPT2;
    s->w = *w;
    s->d = *d;
    s->plan = *p;
    s->n_threads = kernels_threads();
    s->ld_scratch = p->max_prompt + p->max_new + 1;
    size_t sz[N_PIECES], total = 0;
    plan_sizes(d, p, s->n_threads, sz);
    for (int i = 0; i < N_PIECES; i++) total += sz[i];
    s->mem = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    s->plen = xcalloc((size_t)p->n_prefixes, sizeof(int), e);
    s->slen = xcalloc((size_t)p->max_rows * 5 + 1, sizeof(int), e);
    s->ks = xcalloc((size_t)p->max_rows * 2, sizeof(float *), e);
    if (!s->mem || !s->plen || !s->slen || !s->ks) {
        gpt2_decoder_free(s);
        return error_set(e, RP_ENOMEM, "KV-cache inference: out of memory for %zu bytes (%d rows, %d prompt caches of %d "
                                       "tokens, %d new tokens); lower the batch",
                         gpt2_decoder_bytes(d, p, kernels_threads()), p->max_rows, p->n_prefixes, p->max_prompt,
                         p->max_new);
    }
    float *f = s->mem;
    float **dst[] = {&s->attn_ws, &s->pkt, &s->pv,  &s->sk,   &s->sv,      &s->x, &s->ln,
                     &s->qkv,     &s->att, &s->fch, &s->mean, &s->scratch};
    for (int i = 0; i < N_PIECES - 1; i++) {
        *dst[i] = f;
        f += sz[i];
    }
    s->wt = f;
    s->attn_ws_bytes = sz[0] * sizeof(float);
    s->rstd = s->mean + act_rows(p);
    s->lse = s->rstd + act_rows(p);
    s->sprefix = s->slen + p->max_rows;
    s->ns = s->sprefix + p->max_rows;
    s->mark = s->ns + p->max_rows;
    s->starts = s->mark + p->max_rows;
    s->vs = s->ks + p->max_rows;
    for (int i = 0; i < p->max_rows; i++) s->sprefix[i] = -1;
    transpose_weights(s);
    *dec = s;
    return RP_OK;
}

int cpu_decoder_check_token(int32_t tok, int V, const char *what, int i, Error *e) {
    if (tok < 0 || tok >= V)
        return error_set(e, RP_EINPUT, "%s: token [%d] = %d is not a token id (vocabulary %d)", what, i, tok, V);
    return RP_OK;
}

/* The part of a transformer block after attention, over n rows of x (in place). */
static void block_tail(Decoder *s, const LayerParams *lp, int n) {
    const int C = s->d.n_embd;
    decode_matmul(s->x, s->att, lp->projw, lp->projb, s->x, n, C, C);
    layernorm_forward(s->ln, s->mean, s->rstd, s->x, lp->ln2w, lp->ln2b, n, C);
    decode_matmul(s->fch, s->ln, lp->fcw, lp->fcb, NULL, n, C, 4 * C);
    gelu_forward(s->fch, s->fch, (size_t)n * 4 * C);
    decode_matmul(s->x, s->fch, lp->fcprojw, lp->fcprojb, s->x, n, 4 * C, C);
}

/* Final LayerNorm of rows [r0, r0+n) of x and their logits. */
static void lm_head(Decoder *s, int r0, int n, float *logits) {
    const int C = s->d.n_embd;
    layernorm_forward(s->ln, s->mean, s->rstd, s->x + (size_t)r0 * C, s->w.lnfw, s->w.lnfb, n, C);
    DecodeW wte_t = cpu_decoder_weights(s->wt, s->plan.weights, (size_t)s->d.n_layer * layer_wt_floats((size_t)C));
    decode_matmul(logits, s->ln, wte_t, NULL, NULL, n, C, s->d.padded_vocab_size);
}

static int gpt2_decoder_prefill(Decoder *s, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    const int C = s->d.n_embd, L = s->d.n_layer, Pm = s->plan.max_prompt;
    if (prefix < 0 || prefix >= s->plan.n_prefixes)
        return error_set(e, RP_EINTERNAL, "infer_prefill: prompt cache %d of %d", prefix, s->plan.n_prefixes);
    if (n < 1 || n > Pm) return error_set(e, RP_EINPUT, "infer_prefill: prompt of %d tokens (planned 1..%d)", n, Pm);
    for (int i = 0; i < n; i++)
        if (cpu_decoder_check_token(tokens[i], s->d.vocab_size, "infer_prefill: prompt", i, e)) return RP_EINPUT;
    for (int t = 0; t < n; t++) embed_row(s, s->x + (size_t)t * C, tokens[t], t);
    for (int l = 0; l < L; l++) {
        LayerParams lp;
        layer_params(s, l, &lp);
        layernorm_forward(s->ln, s->mean, s->rstd, s->x, lp.ln1w, lp.ln1b, n, C);
        decode_matmul(s->qkv, s->ln, lp.qkvw, lp.qkvb, NULL, n, C, 3 * C);
        size_t cache = ((size_t)l * s->plan.n_prefixes + prefix) * (size_t)Pm * C;
        float *kt = s->pkt + cache, *v = s->pv + cache;
        for (int t = 0; t < n; t++) {
            const float *row = s->qkv + (size_t)t * 3 * C;
            for (int c = 0; c < C; c++) kt[(size_t)c * Pm + t] = row[C + c];
            memcpy(v + (size_t)t * C, row + 2 * C, sizeof(float) * C);
        }
        int rc = attention_forward(s->att, s->lse, s->qkv, 1, n, C, s->d.n_head, s->attn_ws, s->attn_ws_bytes, e);
        if (rc) return error_wrap(e, "infer_prefill layer %d", l);
        block_tail(s, &lp, n);
    }
    s->plen[prefix] = n;
    lm_head(s, n - 1, 1, logits);
    return RP_OK;
}

static void gpt2_decoder_attach(Decoder *s, int slot, int prefix) {
    s->sprefix[slot] = prefix;
    s->slen[slot] = 0;
}

/* Checks the step's rows and fills the embeddings x[r] = wte[token] + wpe[position]. */
static int decode_begin(Decoder *s, int n, const int *slots, const int32_t *tokens, Error *e) {
    const int C = s->d.n_embd;
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
        if (s->mark[sl] >= 0) return error_set(e, RP_EINTERNAL, "infer_decode: slot %d appears in rows %d and %d", sl, s->mark[sl], r);
        s->mark[sl] = r;
        if (cpu_decoder_check_token(tokens[r], s->d.vocab_size, "infer_decode: step", r, e)) return RP_EINPUT;
        if (s->slen[sl] >= s->plan.max_new || pos >= s->d.n_positions)
            return error_set(e, RP_EINPUT, "infer_decode: slot %d is full (position %d, %d new tokens planned, n_positions %d)",
                             sl, pos, s->plan.max_new, s->d.n_positions);
        embed_row(s, s->x + (size_t)r * C, tokens[r], pos);
    }
    return RP_OK;
}
/* Attention of layer l for the step's rows: rows with the same prompt cache that are adjacent
 * form a group whose prompt part is one product per head. */
static void decode_attention(Decoder *s, int l, int n, const int *slots) {
    const int C = s->d.n_embd, NH = s->d.n_head, hs = C / NH;
    const size_t Pm = (size_t)s->plan.max_prompt, Sm = (size_t)s->plan.max_new;
    int *starts = s->starts, ng = 0;
    for (int r = 0; r < n; r++) {
        int sl = slots[r];
        size_t suf = ((size_t)l * s->plan.max_rows + sl) * Sm * C;
        const float *row = s->qkv + (size_t)r * 3 * C;
        memcpy(s->sk + suf + (size_t)s->slen[sl] * C, row + C, sizeof(float) * C);
        memcpy(s->sv + suf + (size_t)s->slen[sl] * C, row + 2 * C, sizeof(float) * C);
        s->ks[r] = s->sk + suf;
        s->vs[r] = s->sv + suf;
        s->ns[r] = s->slen[sl] + 1;
        if (r == 0 || s->sprefix[sl] != s->sprefix[slots[r - 1]]) starts[ng++] = r;
    }
    starts[ng] = n;
    const int ntasks = ng * NH;
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->n_threads) if (ntasks > 1)
    for (int task = 0; task < ntasks; task++) {
        int g = task / NH, h = task % NH, r0 = starts[g], mrows = starts[g + 1] - r0;
        int p = s->sprefix[slots[r0]];
        size_t cache = ((size_t)l * s->plan.n_prefixes + p) * Pm * C;
        float *scratch = s->scratch + (size_t)omp_get_thread_num() * s->plan.max_rows * s->ld_scratch;
        decode_attention_head(s->att + (size_t)r0 * C, C, s->qkv + (size_t)r0 * 3 * C, 3 * C, mrows, s->pkt + cache, (int)Pm,
                              s->pv + cache, C, s->plen[p], s->ks + r0, s->vs + r0, C, s->ns + r0, h, hs,
                              scratch, s->ld_scratch);
    }
}

static int gpt2_decoder_decode(Decoder *s, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    int rc = decode_begin(s, n, slots, tokens, e);
    if (rc) return rc;
    const int C = s->d.n_embd;
    for (int l = 0; l < s->d.n_layer; l++) {
        LayerParams lp;
        layer_params(s, l, &lp);
        layernorm_forward(s->ln, s->mean, s->rstd, s->x, lp.ln1w, lp.ln1b, n, C);
        decode_matmul(s->qkv, s->ln, lp.qkvw, lp.qkvb, NULL, n, C, 3 * C);
        decode_attention(s, l, n, slots);
        block_tail(s, &lp, n);
    }
    for (int r = 0; r < n; r++) s->slen[slots[r]]++;
    lm_head(s, 0, n, logits);
    return RP_OK;
}

/* Every handle starts with its Arch (Decoder here, the Llama family's in decoder_llama.c), so the
 * ops below reach the right decoder without knowing the other's layout. */
static int is_llama(const void *dec) { return *(const Arch *)dec != ARCH_GPT2; }

/* Whether the Llama family's decoder serves arch. */
static int llama_arch(Arch a) { return a == ARCH_GEMMA3 || a == ARCH_LLAMA || a == ARCH_QWEN2 || a == ARCH_QWEN3; }

size_t cpu_decoder_bytes(const DecoderModel *dm, const DecodePlan *p, int threads) {
    if (dm->arch == ARCH_GPT2) return gpt2_decoder_bytes(dm->gpt2_dims, p, threads);
    if (llama_arch(dm->arch)) return cpu_decoder_llama_bytes(dm->llama_cfg, p, threads);
    return 0; /* an architecture this backend cannot decode: cpu_decoder_init says so */
}

int cpu_decoder_init(void **dec, const DecoderModel *dm, const DecodePlan *p, Error *e) {
    *dec = NULL;
    if (dm->arch == ARCH_GPT2) return gpt2_decoder_init(dec, dm->gpt2, dm->gpt2_dims, p, e);
    if (llama_arch(dm->arch)) return cpu_decoder_llama_init(dec, dm->llama, dm->llama_cfg, p, e);
    return error_set(e, RP_EINPUT, "the CPU decoder cannot decode architecture %d", (int)dm->arch);
}

void cpu_decoder_free(void *dec) {
    if (!dec) return;
    if (is_llama(dec)) cpu_decoder_llama_free(dec);
    else gpt2_decoder_free(dec);
}

int cpu_decoder_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    if (is_llama(dec)) return cpu_decoder_llama_prefill(dec, prefix, tokens, n, logits, e);
    return gpt2_decoder_prefill(dec, prefix, tokens, n, logits, e);
}

void cpu_decoder_attach(void *dec, int slot, int prefix) {
    if (is_llama(dec)) cpu_decoder_llama_attach(dec, slot, prefix);
    else gpt2_decoder_attach(dec, slot, prefix);
}

int cpu_decoder_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    if (is_llama(dec)) return cpu_decoder_llama_decode(dec, n, slots, tokens, logits, e);
    return gpt2_decoder_decode(dec, n, slots, tokens, logits, e);
}
