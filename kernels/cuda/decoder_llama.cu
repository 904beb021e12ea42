/* The CUDA decoder of the Llama family (Llama, Qwen2, Qwen3, Gemma 3), reached through
 * decoder.cu's ops: prefill and batched decode with prompt and suffix KV caches, reading the
 * LlamaConfig's switches as kernels/cpu/decoder_llama.c does (norm offset, embedding scale, q/k/v
 * biases, q/k norms, post norms, GeGLU or SwiGLU, RoPE per layer, sliding layers, tied or untied
 * head); the contract is model/infer.h's.
 *
 * Device layout of a plan, one allocation: the call's rows, tokens and logits (decoder.cuh); prompt
 * caches [L][n_prefixes][max_prompt][KV] of keys and of values (KV = n_kv_head * head_dim);
 * suffix caches [L][max_rows][max_new][KV]; the activations of max(max_prompt, max_rows) rows (x,
 * ln, q, k, v, att, tmp, gate, up, and rstd for n_head rows each, which the q/k norms need); the
 * RoPE table, cos | sin per position for the local base then the global RoPE, computed on the
 * host in double as the CPU's rope_forward does (so both rotate by the same floats); with bf16
 * weights, copies of every layer's q, k, v, o, gate, up, down matrices, of the LM head and (untied)
 * of the embedding, in nn.Linear's [out, in] layout (with fp32 weights the products read the
 * model's tensors in place). The embedding lookup reads the head's copy when tied, so the lookup
 * and the head use the same values. Norm weights and biases are read in place.
 *
 * Positions are absolute: a slot's token n sits at len(prompt) + n, RoPE rotates by it, and on a
 * sliding layer the row at position i sees keys j with i - j < sliding_window across the prompt
 * and its suffix alike (cuda_decode_attention). */
#include <math.h>
#include <stdlib.h>

#include "kernels/cuda/decoder.cuh"
extern "C" {
#include "kernels/cpu/ops.h"
}

typedef struct {
    DecodeBase b; /* first: decoder.cu dispatches on b.arch */
    LlamaTensors w;
    LlamaConfig d;
    float *pk, *pv, *sk, *sv;
    float *x, *ln, *q, *k, *v, *att, *tmp, *gate, *up, *rstd;
    float *rope;  /* [2][max_prompt + max_new][head_dim]: local, then global */
    uint16_t *wt; /* bf16 copies (layout above), NULL with fp32 weights */
} LlamaDecoder;

typedef struct {
    DecodeMat q, k, v, o, gate, up, down;
} LayerMats;

static size_t layer_wt(const LlamaConfig *d) {
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    return C * (Q + 2 * KV) + Q * C + 3 * C * (size_t)d->intermediate_size;
}

/* Elements of the bf16 copy: the layers, the head, and the embedding unless tied. */
static size_t wt_elems(const LlamaConfig *d) {
    size_t emb = (size_t)d->padded_vocab_size * d->hidden_size;
    return (size_t)d->n_layer * layer_wt(d) + emb * (d->tie_word_embeddings ? 1 : 2);
}

static size_t rope_rows(const DecodePlan *p) { return (size_t)p->max_prompt + (size_t)p->max_new; }

static void carve(DecodeCarve *c, LlamaDecoder *s, const LlamaConfig *d, const DecodePlan *p) {
    size_t C = (size_t)d->hidden_size, L = (size_t)d->n_layer, R = (size_t)decode_act_rows(p), F = sizeof(float);
    size_t Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    size_t I = (size_t)d->intermediate_size;
    decode_base_carve(c, &s->b, p, d->padded_vocab_size);
    size_t prompt = L * p->n_prefixes * p->max_prompt * KV * F, suffix = L * p->max_rows * p->max_new * KV * F;
    s->pk = (float *)decode_carve(c, prompt);
    s->pv = (float *)decode_carve(c, prompt);
    s->sk = (float *)decode_carve(c, suffix);
    s->sv = (float *)decode_carve(c, suffix);
    s->x = (float *)decode_carve(c, R * C * F);
    s->ln = (float *)decode_carve(c, R * C * F);
    s->q = (float *)decode_carve(c, R * Q * F);
    s->k = (float *)decode_carve(c, R * KV * F);
    s->v = (float *)decode_carve(c, R * KV * F);
    s->att = (float *)decode_carve(c, R * Q * F);
    s->tmp = (float *)decode_carve(c, R * C * F);
    s->gate = (float *)decode_carve(c, R * I * F);
    s->up = (float *)decode_carve(c, R * I * F);
    s->rstd = (float *)decode_carve(c, R * d->n_head * F);
    s->rope = (float *)decode_carve(c, 2 * rope_rows(p) * d->head_dim * F);
    s->wt = p->weights == DTYPE_BF16 ? (uint16_t *)decode_carve(c, wt_elems(d) * sizeof(uint16_t)) : NULL;
}

static size_t device_bytes(const LlamaConfig *d, const DecodePlan *p) {
    LlamaDecoder s;
    DecodeCarve c = {NULL, 0};
    carve(&c, &s, d, p);
    return c.off;
}

size_t cuda_decoder_llama_bytes(const LlamaConfig *d, const DecodePlan *p) {
    return sizeof(LlamaDecoder) + decode_host_bytes(p) + device_bytes(d, p);
}

/* The matrices of layer l: the bf16 copies, or the model's tensors. */
static LayerMats layer_mats(const LlamaDecoder *s, int l) {
    const LlamaConfig *d = &s->d;
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    size_t I = (size_t)d->intermediate_size;
    const size_t n[7] = {Q * C, KV * C, KV * C, C * Q, I * C, I * C, C * I};
    const float *t[7] = {s->w.attn_q, s->w.attn_k, s->w.attn_v, s->w.attn_output, s->w.ffn_gate, s->w.ffn_up,
                         s->w.ffn_down};
    LayerMats m;
    DecodeMat *dst[7] = {&m.q, &m.k, &m.v, &m.o, &m.gate, &m.up, &m.down};
    size_t at = (size_t)l * layer_wt(d);
    for (int i = 0; i < 7; i++) {
        *dst[i] = s->wt ? DecodeMat{s->wt + at, 1} : DecodeMat{t[i] + (size_t)l * n[i], 0};
        at += n[i];
    }
    return m;
}

static DecodeMat head_mat(const LlamaDecoder *s) {
    if (s->wt) return DecodeMat{s->wt + (size_t)s->d.n_layer * layer_wt(&s->d), 1};
    return DecodeMat{s->d.tie_word_embeddings ? s->w.token_embd : s->w.output, 0};
}

static DecodeMat embed_mat(const LlamaDecoder *s) {
    if (!s->wt) return DecodeMat{s->w.token_embd, 0};
    if (s->d.tie_word_embeddings) return head_mat(s);
    return DecodeMat{(const uint16_t *)head_mat(s).p + (size_t)s->d.padded_vocab_size * s->d.hidden_size, 1};
}

/* The bf16 copies of the matrices, the head and the untied embedding. */
static cudaError_t copy_bf16(LlamaDecoder *s) {
    const LlamaConfig *d = &s->d;
    size_t C = (size_t)d->hidden_size, Q = (size_t)d->n_head * d->head_dim, KV = (size_t)d->n_kv_head * d->head_dim;
    size_t I = (size_t)d->intermediate_size, emb = (size_t)d->padded_vocab_size * C;
    const size_t n[7] = {Q * C, KV * C, KV * C, C * Q, I * C, I * C, C * I};
    const float *t[7] = {s->w.attn_q, s->w.attn_k, s->w.attn_v, s->w.attn_output, s->w.ffn_gate, s->w.ffn_up,
                         s->w.ffn_down};
    cudaError_t err = cudaSuccess;
    uint16_t *dst = s->wt;
    for (int l = 0; l < d->n_layer; l++)
        for (int i = 0; i < 7 && err == cudaSuccess; i++) {
            err = cuda_to_bf16(dst, t[i] + (size_t)l * n[i], n[i], 0);
            dst += n[i];
        }
    if (err == cudaSuccess)
        err = cuda_to_bf16(dst, d->tie_word_embeddings ? s->w.token_embd : s->w.output, emb, 0);
    if (err == cudaSuccess && !d->tie_word_embeddings) err = cuda_to_bf16(dst + emb, s->w.token_embd, emb, 0);
    return err;
}

/* cos | sin of every position for both RoPEs, as rope_forward computes them (double angles). */
static int fill_rope(LlamaDecoder *s, Error *e) {
    const LlamaConfig *d = &s->d;
    const int hd = d->head_dim, half = hd / 2;
    const size_t T = rope_rows(&s->b.plan), n = 2 * T * hd;
    float *h = (float *)xmalloc(n * sizeof(float), e);
    if (!h) return RP_ENOMEM;
    for (int b = 0; b < 2; b++) {
        RopeSpec rope = llama_rope(d, b);
        for (int i = 0; i < half; i++) {
            double f = rope_inv_freq(&rope, i, hd);
            for (size_t t = 0; t < T; t++) {
                float *cs = h + ((size_t)b * T + t) * hd;
                cs[i] = (float)cos((double)t * f);
                cs[half + i] = (float)sin((double)t * f);
            }
        }
    }
    cudaError_t err = cudaMemcpy(s->rope, h, n * sizeof(float), cudaMemcpyHostToDevice);
    free(h);
    return decode_status(err, "RoPE table to the device", e);
}

void cuda_decoder_llama_free(void *dec) {
    LlamaDecoder *s = (LlamaDecoder *)dec;
    decode_base_free(&s->b);
    free(s);
}

int cuda_decoder_llama_init(void **dec, const LlamaTensors *w, const LlamaConfig *d, const DecodePlan *p, Error *e) {
    if (d->head_dim > CUDA_DECODE_MAX_HD)
        return error_set(e, RP_EINPUT, "the CUDA decoder takes head_dim up to %d, not %d", CUDA_DECODE_MAX_HD,
                         d->head_dim);
    LlamaDecoder *s = (LlamaDecoder *)xcalloc(1, sizeof *s, e);
    if (!s) return RP_ENOMEM;
    int rc = decode_base_init(&s->b, d->arch, p, d->vocab_size, d->padded_vocab_size, d->max_positions,
                              "max_positions", e);
    if (!rc) rc = decode_base_alloc(&s->b, device_bytes(d, p), e);
    if (!rc) {
        s->w = *w;
        s->d = *d;
        DecodeCarve c = {(char *)s->b.mem, 0};
        carve(&c, s, d, p);
        rc = fill_rope(s, e);
        if (!rc && s->wt) rc = decode_status(copy_bf16(s), "bf16 weight copy", e);
    }
    if (rc) {
        cuda_decoder_llama_free(s);
        return rc;
    }
    *dec = s;
    return RP_OK;
}

/* Layer l's slice of a per-layer vector of `per` floats; NULL for a tensor the config lacks. */
static const float *at_layer(const float *t, int l, size_t per) { return t ? t + (size_t)l * per : NULL; }

/* x += post_norm(branch) for n rows, the branch's product into tmp (the norm adds x itself);
 * without post norms the product adds x itself (x = product + x, the CPU's sum). */
static cudaError_t branch(LlamaDecoder *s, DecodeMat m, const float *inp, const float *post_norm, int n, int K) {
    const LlamaConfig *d = &s->d;
    const int C = d->hidden_size;
    if (!d->post_norms) return cuda_decode_matmul(s->x, inp, m.p, m.bf16, NULL, s->x, n, K, C, 0);
    cudaError_t err = cuda_decode_matmul(s->tmp, inp, m.p, m.bf16, NULL, NULL, n, K, C, 0);
    if (err) return err;
    return cuda_rmsnorm_forward(s->x, s->rstd, s->tmp, post_norm, s->x, n, C, d->rms_norm_eps, d->norm_offset, 0);
}

/* One layer over the call's n rows. */
static cudaError_t layer(LlamaDecoder *s, int l, int n) {
    const LlamaConfig *d = &s->d;
    const LlamaTensors *w = &s->w;
    const DecodePlan *p = &s->b.plan;
    const int C = d->hidden_size, hd = d->head_dim, NH = d->n_head, NKV = d->n_kv_head, Q = NH * hd, KV = NKV * hd;
    const int I = d->intermediate_size, global = llama_layer_is_global(d, l);
    const float eps = d->rms_norm_eps, off = d->norm_offset;
    const size_t pstride = (size_t)p->n_prefixes * p->max_prompt * KV, sstride = (size_t)p->max_rows * p->max_new * KV;
    float *pk = s->pk + l * pstride, *pv = s->pv + l * pstride, *sk = s->sk + l * sstride, *sv = s->sv + l * sstride;
    const float *rope = s->rope + (size_t)global * rope_rows(p) * hd;
    const CudaDecodeRow *rows = s->b.d_rows;
    LayerMats m = layer_mats(s, l);
    cudaError_t err = cuda_rmsnorm_forward(s->ln, s->rstd, s->x, at_layer(w->attn_norm, l, C), NULL, n, C, eps, off, 0);
    if (!err) err = cuda_decode_matmul(s->q, s->ln, m.q.p, m.q.bf16, at_layer(w->attn_q_b, l, Q), NULL, n, C, Q, 0);
    if (!err) err = cuda_decode_matmul(s->k, s->ln, m.k.p, m.k.bf16, at_layer(w->attn_k_b, l, KV), NULL, n, C, KV, 0);
    if (!err) err = cuda_decode_matmul(s->v, s->ln, m.v.p, m.v.bf16, at_layer(w->attn_v_b, l, KV), NULL, n, C, KV, 0);
    if (!err && d->qk_norm)
        err = cuda_rmsnorm_forward(s->q, s->rstd, s->q, at_layer(w->attn_q_norm, l, hd), NULL, n * NH, hd, eps, off, 0);
    if (!err && d->qk_norm)
        err = cuda_rmsnorm_forward(s->k, s->rstd, s->k, at_layer(w->attn_k_norm, l, hd), NULL, n * NKV, hd, eps, off,
                                   0);
    if (!err) err = cuda_decode_rope(s->q, Q, n, NH, hd, rope, rows, 0);
    if (!err) err = cuda_decode_rope(s->k, KV, n, NKV, hd, rope, rows, 0);
    if (!err) err = cuda_decode_kv_store(pk, pv, sk, sv, s->k, s->v, KV, rows, n, KV, p->max_prompt, p->max_new, 0);
    if (!err)
        err = cuda_decode_attention(s->att, Q, s->q, Q, pk, pv, sk, sv, rows, n, NH, NKV, hd, p->max_prompt,
                                    p->max_new, global ? 0 : d->sliding_window, llama_attn_scale(d), 0);
    if (!err) err = branch(s, m.o, s->att, at_layer(w->post_attention_norm, l, C), n, Q);
    if (!err) err = cuda_rmsnorm_forward(s->ln, s->rstd, s->x, at_layer(w->ffn_norm, l, C), NULL, n, C, eps, off, 0);
    if (!err) err = cuda_decode_matmul(s->gate, s->ln, m.gate.p, m.gate.bf16, NULL, NULL, n, C, I, 0);
    if (!err) err = cuda_decode_matmul(s->up, s->ln, m.up.p, m.up.bf16, NULL, NULL, n, C, I, 0);
    if (!err)
        err = (d->hidden_act == ACT_SILU ? cuda_swiglu_forward : cuda_geglu_forward)(s->gate, s->gate, s->up,
                                                                                     (size_t)n * I, 0);
    if (!err) err = branch(s, m.down, s->gate, at_layer(w->post_ffw_norm, l, C), n, I);
    return err;
}

/* The layers over the call's n rows, then the final norm and head over rows [r0, r0 + nl). */
static int forward(LlamaDecoder *s, int n, int r0, int nl, Error *e) {
    const LlamaConfig *d = &s->d;
    const int C = d->hidden_size;
    DecodeMat emb = embed_mat(s), head = head_mat(s);
    cudaError_t err = cuda_decode_embed(s->x, s->b.d_tokens, emb.p, emb.bf16, llama_embed_scale(d), NULL, 0,
                                        s->b.d_rows, n, C, 0);
    for (int l = 0; l < d->n_layer && !err; l++) err = layer(s, l, n);
    if (!err)
        err = cuda_rmsnorm_forward(s->ln, s->rstd, s->x + (size_t)r0 * C, s->w.output_norm, NULL, nl, C,
                                   d->rms_norm_eps, d->norm_offset, 0);
    if (!err)
        err = cuda_decode_matmul(s->b.d_logits, s->ln, head.p, head.bf16, NULL, NULL, nl, C, d->padded_vocab_size, 0);
    return decode_status(err, "Llama-family forward", e);
}

int cuda_decoder_llama_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    LlamaDecoder *s = (LlamaDecoder *)dec;
    int rc = decode_prefill_begin(&s->b, prefix, tokens, n, e);
    if (rc) return rc;
    if ((rc = forward(s, n, n - 1, 1, e))) return error_wrap(e, "infer_prefill");
    if ((rc = decode_logits_out(&s->b, 1, logits, e))) return rc;
    s->b.plen[prefix] = n;
    return RP_OK;
}

int cuda_decoder_llama_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    LlamaDecoder *s = (LlamaDecoder *)dec;
    int rc = decode_step_begin(&s->b, n, slots, tokens, e);
    if (rc) return rc;
    if ((rc = forward(s, n, 0, n, e))) return error_wrap(e, "infer_decode");
    for (int r = 0; r < n; r++) s->b.slen[slots[r]]++;
    return decode_logits_out(&s->b, n, logits, e);
}
